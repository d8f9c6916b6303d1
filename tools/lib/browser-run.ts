/**
 * The browser runtime of the headless tools (infer, bench, and eval): one Vite server and
 * one Chromium (tools/lib/browser.ts) for the whole run, pages under tools/pages that
 * expose their entry points on `window`, calls into them, and clean-up on exit or Ctrl-C.
 * tools/lib/runtime.ts chooses between this and the Node runtime; tools/lib/tool.ts holds
 * what tools share whatever the runtime (errors, models, flags).
 */
import path from 'node:path';
import type { Browser, Page } from 'puppeteer';
import type { InlineConfig, ViteDevServer } from 'vite';

import { collectPageErrors, launchBrowser, startServer } from './browser.ts';
import { fromPage } from './cli.ts';
import { onToolExit, repoRoot } from './tool.ts';

export {
  DEFAULT_MODEL,
  listWeights,
  parseResolution,
  readManifest,
  repoRoot,
  resolveModel,
  runTool,
  ToolError,
  type ModelRef,
} from './tool.ts';

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

export async function openSession(options: SessionOptions = {}): Promise<BrowserSession> {
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
        forget();
        await b.close().catch(() => undefined);
        await srv.close().catch(() => undefined);
      },
    };
    // Closes Chromium and the server when the tool fails or is interrupted (no orphaned browsers).
    const forget = onToolExit(() => session.close());
    return session;
  } catch (err) {
    await browser?.close().catch(() => undefined);
    await server?.close().catch(() => undefined);
    throw err;
  }
}
