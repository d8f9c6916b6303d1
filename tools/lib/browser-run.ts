/**
 * Node side of the headless tools (infer, bench, and eval): one Vite server and one
 * Chromium (tools/lib/browser.ts) for the whole run, pages under tools/pages that expose
 * their entry points on `window`, calls into them, and clean-up on exit or Ctrl-C.
 *
 * Tool errors that are the user's (a missing file, a bad flag) are `ToolError`s: the tools
 * print their message alone and exit 1; anything else is one line too (tools/lib/cli.ts).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'puppeteer';
import type { InlineConfig, ViteDevServer } from 'vite';

import { collectPageErrors, launchBrowser, repoRoot, startServer } from './browser.ts';
import { discardOutputs, fromPage, MiB, onInterrupt, readInputFile, reportError, ToolError, userPath } from './cli.ts';
import { validateManifest } from '../../src/model/validate.ts';

export { repoRoot, ToolError };

/**
 * TF.js imports CommonJS packages (long, seedrandom), which the browser cannot load as they
 * are: the Vite server pre-bundles TF.js for pages that use tools/pages/tfjs-reference.ts.
 * A cache folder of its own keeps it from rewriting the test servers' pre-bundled files.
 */
export const TFJS_DEPS = [
  '@tensorflow/tfjs-core',
  '@tensorflow/tfjs-converter',
  '@tensorflow/tfjs-backend-cpu',
  '@tensorflow/tfjs-backend-wasm',
  '@tensorflow/tfjs-backend-webgl',
  '@tensorflow/tfjs-backend-webgpu',
  '@tensorflow-models/posenet',
];
export const TFJS_VITE_CONFIG: InlineConfig = {
  cacheDir: path.join(repoRoot, 'node_modules/.vite-tools'),
  optimizeDeps: { noDiscovery: true, include: TFJS_DEPS },
};

export interface SessionOptions {
  /** Pre-bundle TF.js (pages that load tools/pages/tfjs-reference.ts). */
  tfjs?: boolean;
  /** Extra Chromium flags. */
  extraArgs?: string[];
}

export interface ToolPage {
  page: Page;
  /** Console errors and uncaught exceptions on the page so far. */
  errors: string[];
  /** Calls `window[global][fn](arg)` on the page and returns its (JSON-able) result. */
  call<T>(fn: string, arg?: unknown): Promise<T>;
  close(): Promise<void>;
}

export interface BrowserSession {
  url: string;
  browser: Browser;
  server: ViteDevServer;
  /** Opens a page under the repository root (e.g. `tools/pages/bench.html`) and waits for `window[global]`. */
  openPage(pagePath: string, global: string): Promise<ToolPage>;
  close(): Promise<void>;
}

const sessions = new Set<BrowserSession>();
let handlersInstalled = false;

/** Closes Chromium and the server when the process is interrupted (no orphaned browsers). */
function installSignalHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  onInterrupt(async () => {
    await Promise.allSettled([...sessions].map((s) => s.close()));
  });
}

export async function openSession(options: SessionOptions = {}): Promise<BrowserSession> {
  installSignalHandlers();
  let server: ViteDevServer | undefined;
  let browser: Browser | undefined;
  try {
    const s = await startServer(options.tfjs ? { vite: TFJS_VITE_CONFIG } : {});
    server = s.server;
    browser = await launchBrowser({ extraArgs: options.extraArgs });
    const b = browser;
    const srv = server;
    let closed = false;
    const session: BrowserSession = {
      url: s.url,
      browser: b,
      server: srv,
      async openPage(pagePath, global) {
        const page = await b.newPage();
        const errors = collectPageErrors(page);
        await page.goto(`${s.url}/${pagePath.replace(/^\//, '')}`);
        try {
          await page.waitForFunction((g) => g in window, { timeout: 180_000 }, global);
        } catch {
          throw new Error(`page ${pagePath} never defined window.${global}${errors.length ? `:\n${errors.join('\n')}` : ''}`);
        }
        return {
          page,
          errors,
          call: async <T>(fn: string, arg?: unknown) => {
            try {
              return (await page.evaluate(
                (g, f, a) => (window as unknown as Record<string, Record<string, (x: unknown) => Promise<unknown>>>)[g]![f]!(a),
                global,
                fn,
                arg as never,
              )) as T;
            } catch (err) {
              throw fromPage(err);
            }
          },
          close: () => page.close(),
        };
      },
      async close() {
        if (closed) return;
        closed = true;
        sessions.delete(session);
        await b.close().catch(() => undefined);
        await srv.close().catch(() => undefined);
      },
    };
    sessions.add(session);
    return session;
  } catch (err) {
    await browser?.close().catch(() => undefined);
    await server?.close().catch(() => undefined);
    throw err;
  }
}

/** The weights folders under weights/ that hold a model.json (converter output), by name. */
export function listWeights(): string[] {
  const dir = path.join(repoRoot, 'weights');
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && fs.existsSync(path.join(dir, d.name, 'model.json')))
    .map((d) => d.name)
    .filter((name) => {
      try {
        const json = JSON.parse(fs.readFileSync(path.join(dir, name, 'model.json'), 'utf8')) as { format?: unknown };
        return json.format === 'posenet-webgpu/manifest';
      } catch {
        return false;
      }
    })
    .sort();
}

export const DEFAULT_MODEL = 'posenet-mobilenet-v1-075-s16';

/** The largest model.json a tool reads in Node (a ResNet50 manifest is about 40 KB). */
const MAX_MANIFEST_BYTES = 64 * MiB;

interface ManifestSummary {
  outputStride: number;
  architecture: string;
  name: string;
}

/**
 * The fields of a model.json the tools need before starting a browser, read and checked
 * in Node; `shown` names the file in errors. The page validates the whole manifest.
 */
function readManifestFile(file: string, shown: string): ManifestSummary {
  const text = readInputFile(file, shown, MAX_MANIFEST_BYTES).toString('utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ToolError(`${shown}: not JSON (${(err as Error).message})`);
  }
  const format = (json as { format?: unknown } | null)?.format;
  if (format !== 'posenet-webgpu/manifest')
    throw new ToolError(`${shown}: not a posenet-webgpu manifest (make one with \`npm run convert\`)`);
  // The whole manifest, as the page will check it: a broken one fails here, before a browser starts.
  const m = validateManifest(json, shown);
  return { outputStride: m.outputStride, architecture: m.architecture, name: m.name };
}

/** A weights folder's manifest (read in Node, to validate flags before starting a browser). */
export function readManifest(name: string): ManifestSummary {
  const file = path.join(repoRoot, 'weights', name, 'model.json');
  if (!fs.existsSync(file)) {
    const known = listWeights();
    throw new ToolError(
      `no model "${name}": ${path.relative(process.cwd(), file)} does not exist ` +
        (known.length ? `(models: ${known.join(', ')})` : '(run `npm run weights`)'),
    );
  }
  return readManifestFile(file, path.relative(process.cwd(), file));
}

export interface ModelRef {
  /** The folder's name (weights/<name>) or the path given. */
  name: string;
  /** Absolute path of the folder holding model.json + weights.bin. */
  dir: string;
  /** URL of that folder on the tools' Vite server. */
  url: string;
  /** URL of the TF.js copy's model.json (weights/tfjs/<name>/), when there is one. */
  tfjsUrl: string | null;
  outputStride: number;
  architecture: string;
}

/**
 * A model given as a weights folder name (weights/<name>) or as a path to a folder with
 * model.json + weights.bin anywhere on disk (served through Vite's /@fs/), relative to
 * the folder the command was typed in.
 */
export function resolveModel(arg: string): ModelRef {
  const named = path.join(repoRoot, 'weights', arg);
  const asPath = userPath(arg);
  const isName = !arg.includes('/') && !arg.includes(path.sep) && arg !== '.' && arg !== '..';
  const hasHere = fs.existsSync(path.join(asPath, 'model.json'));
  const hasNamed = fs.existsSync(path.join(named, 'model.json'));
  // A bare name is a folder under weights/, unless only a folder of that name here has a model;
  // a path is a folder here, unless only weights/<path> has one.
  if (isName ? hasNamed || !hasHere : hasNamed && !hasHere) {
    const m = readManifest(arg);
    const tfjs = path.join(repoRoot, 'weights/tfjs', arg, 'model.json');
    return {
      name: arg,
      dir: named,
      url: `/weights/${arg}`,
      tfjsUrl: fs.existsSync(tfjs) ? `/weights/tfjs/${arg}/model.json` : null,
      outputStride: m.outputStride,
      architecture: m.architecture,
    };
  }
  const dir = asPath;
  const file = path.join(dir, 'model.json');
  if (!fs.existsSync(file)) throw new ToolError(`no model at ${arg}: ${file} does not exist`);
  const m = readManifestFile(file, path.join(arg, 'model.json'));
  const rel = path.relative(repoRoot, dir);
  const url = !rel.startsWith('..') && !path.isAbsolute(rel) ? `/${rel.split(path.sep).join('/')}` : `/@fs${dir}`;
  return { name: arg, dir, url, tfjsUrl: null, outputStride: m.outputStride, architecture: m.architecture };
}

/** Parses `257` or `513x385` into {width, height}; throws a ToolError naming the value otherwise. */
export function parseResolution(text: string, flag = '--resolution'): { width: number; height: number } {
  const m = /^\s*(\d+)\s*(?:[x×]\s*(\d+))?\s*$/i.exec(text);
  if (!m) throw new ToolError(`invalid ${flag} "${text}": expected N or WxH (e.g. 257 or 513x385)`);
  const width = Number(m[1]);
  const height = m[2] === undefined ? width : Number(m[2]);
  return { width, height };
}

/**
 * Runs a tool's main: every error is one line `<tool>: <message>` (tools/lib/cli.ts) and
 * exit status 1, after closing the browser; outputs not yet written are discarded. A
 * number returned by main is the exit status.
 */
export function runTool(tool: string, main: () => Promise<number | undefined> | Promise<void>): void {
  installSignalHandlers();
  main().then(
    (code) => process.exit(typeof code === 'number' ? code : 0),
    (err: unknown) => {
      discardOutputs();
      reportError(tool, err);
      void Promise.allSettled([...sessions].map((s) => s.close())).then(() => process.exit(1));
    },
  );
}
