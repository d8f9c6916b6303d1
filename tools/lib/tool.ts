/**
 * What the headless tools (infer, bench, eval) share whatever runs their pages
 * (tools/lib/runtime.ts): user errors, the run-and-exit wrapper with clean-up on failure
 * and Ctrl-C, the models under weights/, and flag parsing.
 *
 * Tool errors that are the user's (a missing file, a bad flag) are `ToolError`s: the tools
 * print their message alone and exit 1; anything else is one line too (tools/lib/cli.ts,
 * which also holds how tools read and write the user's files).
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { validateManifest } from '../../src/model/validate.ts';
import { discardOutputs, installSignalHandlers, MiB, onInterrupt, readInputFile, reportError, ToolError, userPath } from './cli.ts';

export { ToolError };

/**
 * The repository (or, for the bundled GPU benchmark, the unpacked archive: its run.sh sets
 * POSENET_WEBGPU_ROOT) that holds weights/.
 */
export const repoRoot = process.env.POSENET_WEBGPU_ROOT
  ? path.resolve(process.env.POSENET_WEBGPU_ROOT)
  : path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

const exitHandlers = new Set<() => Promise<void>>();
let interruptHooked = false;

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
  if (!interruptHooked) {
    interruptHooked = true;
    onInterrupt(runExitHandlers);
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

/** The largest model.json a tool reads in Node (a ResNet50 manifest is about 40 KB). */
const MAX_MANIFEST_BYTES = 64 * MiB;

interface ManifestSummary {
  outputStride: number;
  architecture: string;
  name: string;
}

/**
 * The fields of a model.json the tools need before starting a page, read and checked in
 * Node; `shown` names the file in errors. The whole manifest is validated here, as the
 * page will: a broken one fails before a browser or a device starts.
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
  const m = validateManifest(json, shown);
  return { outputStride: m.outputStride, architecture: m.architecture, name: m.name };
}

/** A weights folder's manifest (read in Node, to validate flags before starting a page). */
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
  /** URL of the ONNX file the weights were converted from (weights/<name>.onnx, or <folder>.onnx beside a folder given by path), when there is one. */
  onnxUrl: string | null;
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
      onnxUrl: fs.existsSync(path.join(repoRoot, 'weights', `${arg}.onnx`)) ? `/weights/${arg}.onnx` : null,
      outputStride: m.outputStride,
      architecture: m.architecture,
    };
  }
  const dir = asPath;
  const file = path.join(dir, 'model.json');
  if (!fs.existsSync(file)) throw new ToolError(`no model at ${arg}: ${file} does not exist`);
  const m = readManifestFile(file, path.join(arg, 'model.json'));
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

/**
 * Runs a tool's main: every error is one line `<tool>: <message>` (tools/lib/cli.ts) and
 * exit status 1, after the clean-up registered with onToolExit (closing the browser);
 * outputs not yet written are discarded. A number returned by main is the exit status.
 */
export function runTool(tool: string, main: () => Promise<number | undefined> | Promise<void>): void {
  installSignalHandlers();
  main().then(
    (code) => process.exit(typeof code === 'number' ? code : 0),
    (err: unknown) => {
      discardOutputs();
      reportError(tool, err);
      void runExitHandlers().then(() => process.exit(1));
    },
  );
}
