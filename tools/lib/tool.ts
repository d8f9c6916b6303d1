/**
 * What the headless tools (infer, bench, eval) share whatever runs their pages
 * (tools/lib/runtime.ts): user errors, the run-and-exit wrapper with clean-up on failure
 * and Ctrl-C, the models under weights/, and flag parsing.
 *
 * Tool errors that are the user's (a missing file, a bad flag) are `ToolError`s: the tools
 * print their message alone and exit 1; anything else is printed with its stack.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The repository (or, for the bundled GPU benchmark, the unpacked archive: its run.sh sets
 * POSENET_WEBGPU_ROOT) that holds weights/.
 */
export const repoRoot = process.env.POSENET_WEBGPU_ROOT
  ? path.resolve(process.env.POSENET_WEBGPU_ROOT)
  : path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** An error meant for the user as it is: the tool prints `<tool>: <message>` and exits 1. */
export class ToolError extends Error {
  override name = 'ToolError';
}

const exitHandlers = new Set<() => Promise<void>>();
let signalsInstalled = false;

async function runExitHandlers(): Promise<void> {
  const all = [...exitHandlers];
  exitHandlers.clear();
  await Promise.allSettled(all.map((h) => h()));
}

/**
 * Registers clean-up (closing a browser, say) to run when the tool fails or is interrupted;
 * returns a function that unregisters it.
 */
export function onToolExit(handler: () => Promise<void>): () => void {
  if (!signalsInstalled) {
    signalsInstalled = true;
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.once(signal, () => {
        process.stderr.write(`\n${signal}: cleaning up\n`);
        void runExitHandlers().then(() => process.exit(130));
      });
    }
  }
  exitHandlers.add(handler);
  return () => exitHandlers.delete(handler);
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

/** A weights folder's manifest (read in Node, to validate flags before starting a browser). */
export function readManifest(name: string): { outputStride: number; architecture: string; name: string } {
  const file = path.join(repoRoot, 'weights', name, 'model.json');
  if (!fs.existsSync(file)) {
    const known = listWeights();
    throw new ToolError(
      `no model "${name}": ${path.relative(process.cwd(), file)} does not exist ` +
        (known.length ? `(models: ${known.join(', ')})` : '(run `npm run weights`)'),
    );
  }
  const json = JSON.parse(fs.readFileSync(file, 'utf8')) as { outputStride: number; architecture: string; name: string };
  return json;
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
  /** URL of the ONNX file the weights were converted from (weights/<name>.onnx, or <folder>.onnx beside a folder given by path), when there is one. */
  onnxUrl: string | null;
  outputStride: number;
  architecture: string;
}

/**
 * A model given as a weights folder name (weights/<name>) or as a path to a folder with
 * model.json + weights.bin anywhere on disk (served through Vite's /@fs/).
 */
export function resolveModel(arg: string): ModelRef {
  const named = path.join(repoRoot, 'weights', arg);
  if (!arg.includes('/') || fs.existsSync(path.join(named, 'model.json'))) {
    const m = readManifest(arg);
    const tfjs = path.join(repoRoot, 'weights/tfjs', arg, 'model.json');
    return {
      name: arg,
      dir: named,
      url: `/weights/${arg}`,
      tfjsUrl: fs.existsSync(tfjs) ? `/weights/tfjs/${arg}/model.json` : null,
      onnxUrl: fs.existsSync(path.join(repoRoot, 'weights', `${arg}.onnx`)) ? `/weights/${arg}.onnx` : null,
      outputStride: m.outputStride,
      architecture: m.architecture,
    };
  }
  const dir = path.resolve(arg);
  const file = path.join(dir, 'model.json');
  if (!fs.existsSync(file)) throw new ToolError(`no model at ${arg}: ${file} does not exist`);
  const m = JSON.parse(fs.readFileSync(file, 'utf8')) as { outputStride: number; architecture: string; format?: string };
  if (m.format !== 'posenet-webgpu/manifest')
    throw new ToolError(`${file} is not a posenet-webgpu manifest (make one with \`npm run convert\`)`);
  const served = (p: string) => {
    const r = path.relative(repoRoot, p);
    return !r.startsWith('..') && !path.isAbsolute(r) ? `/${r.split(path.sep).join('/')}` : `/@fs${p}`;
  };
  const onnx = `${dir}.onnx`;
  return {
    name: arg,
    dir,
    url: served(dir),
    tfjsUrl: null,
    onnxUrl: fs.existsSync(onnx) ? served(onnx) : null,
    outputStride: m.outputStride,
    architecture: m.architecture,
  };
}

/** Parses `257` or `513x385` into {width, height}; throws a ToolError naming the value otherwise. */
export function parseResolution(text: string, flag = '--resolution'): { width: number; height: number } {
  const m = /^\s*(\d+)\s*(?:[x×]\s*(\d+))?\s*$/i.exec(text);
  if (!m) throw new ToolError(`invalid ${flag} "${text}": expected N or WxH (e.g. 257 or 513x385)`);
  const width = Number(m[1]);
  const height = m[2] === undefined ? width : Number(m[2]);
  return { width, height };
}

/** Runs a tool's main: ToolErrors print as `<tool>: <message>` and exit 1, other errors with their stack. */
export function runTool(tool: string, main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      if (err instanceof ToolError || (err instanceof Error && err.name === 'ResolutionError')) {
        process.stderr.write(`${tool}: ${err.message}\n`);
      } else {
        process.stderr.write(`${tool}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      }
      void runExitHandlers().then(() => process.exit(1));
    },
  );
}
