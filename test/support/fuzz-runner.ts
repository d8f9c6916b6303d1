/**
 * The child process of test/fuzz.test.ts: runs fuzz cases (test/support/fuzz-cases.ts) one
 * after another and prints one JSON line as each starts and ends, so that the parent can
 * time each case and kill this process when one hangs.
 *
 * - ONNX cases go through `convertOnnxFile` exactly as `npm run convert` does, into a case
 *   folder that sometimes already holds an earlier conversion and a file of the user's. A
 *   case ends `converted` (the result must then pass the validator, the weights checks and
 *   shape inference at 257x257 and 513x385) or `refused` (a ConvertError: one line,
 *   naming the input file). Before and after, every file in the case folder is hashed: a
 *   refusal must change nothing; a conversion may only write out/model.json and
 *   out/weights.bin.
 * - Manifest cases go through `fetchWeights`, the runtime's loader, with `fetch` served
 *   from memory: `loaded` (then shape inference must accept it) or `refused` (a
 *   ModelLoadError: one line naming the URL); the loader may fetch only model.json and a
 *   file in the model's own folder.
 *
 * Anything else (another exception, a multi-line message, a write outside the output, a
 * changed or deleted file) is a problem, listed in the case's line.
 *
 *   node --import tsx test/support/fuzz-runner.ts '<json config>'
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ModelLoadError, fetchWeights } from '../../src/model/model.ts';
import { checkWeightsSize, checkWeightsValues, validateManifest } from '../../src/model/validate.ts';
import { inferShapes } from '../../src/plan/shapes.ts';
import { convertOnnxFile } from '../../tools/lib/convert.ts';
import { caseRng, manifestCase, onnxCase } from './fuzz-cases.ts';

export interface FuzzConfig {
  seed: number;
  /** The source ONNX, a valid conversion of it (folder with model.json + weights.bin), and a scratch folder. */
  onnxPath: string;
  convertedDir: string;
  root: string;
  /** Case indices to run, in order. */
  cases: { kind: 'onnx' | 'manifest'; index: number }[];
}

export type Outcome = 'converted' | 'refused' | 'loaded' | 'problem';

export interface CaseLine {
  event: 'done';
  kind: 'onnx' | 'manifest';
  index: number;
  mutation: string;
  outcome: Outcome;
  ms: number;
  message: string;
  problems: string[];
}

const config = JSON.parse(process.argv[2]!) as FuzzConfig;
const source = fs.readFileSync(config.onnxPath);
const convertedText = fs.readFileSync(path.join(config.convertedDir, 'model.json'), 'utf8');
const convertedWeights = fs.readFileSync(path.join(config.convertedDir, 'weights.bin'));

const emit = (line: object): void => {
  process.stdout.write(`${JSON.stringify(line)}\n`);
};

/** Every file under `dir`, relative, with its sha256 (folders as "dir/"). */
function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string, rel: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        out.set(`${r}/`, '');
        walk(path.join(d, e.name), r);
      } else {
        out.set(
          r,
          createHash('sha256')
            .update(fs.readFileSync(path.join(d, e.name)))
            .digest('hex'),
        );
      }
    }
  };
  walk(dir, '');
  return out;
}

function changes(before: Map<string, string>, after: Map<string, string>): string[] {
  const out: string[] = [];
  for (const [k, v] of before) {
    if (!after.has(k)) out.push(`deleted ${k}`);
    else if (after.get(k) !== v) out.push(`changed ${k}`);
  }
  for (const k of after.keys()) if (!before.has(k)) out.push(`added ${k}`);
  return out;
}

function oneLine(message: string, mustName: string, problems: string[]): void {
  if (message.includes('\n')) problems.push('the message has more than one line');
  if (!message.includes(mustName)) problems.push(`the message does not name ${mustName}`);
}

async function runOnnx(index: number): Promise<CaseLine> {
  const c = onnxCase(source, config.seed, index);
  const rng = caseRng(config.seed, index + 1_000_000);
  const dir = path.join(config.root, `onnx-${index}`);
  fs.mkdirSync(dir);
  const input = path.join(dir, 'in.onnx');
  fs.writeFileSync(input, c.bytes);
  const out = path.join(dir, 'out');
  // The output folder: absent, the user's (a file of theirs), or an earlier conversion too.
  const setup = rng.int(3);
  if (setup > 0) {
    fs.mkdirSync(out);
    fs.writeFileSync(path.join(out, 'keep.txt'), `the user's file ${index}`);
  }
  if (setup > 1) {
    fs.writeFileSync(path.join(out, 'model.json'), convertedText);
    fs.writeFileSync(path.join(out, 'weights.bin'), convertedWeights);
  }
  const before = snapshot(dir);
  const problems: string[] = [];
  let outcome: Outcome;
  let message = '';
  const t0 = performance.now();
  try {
    const m = await convertOnnxFile(input, out, { log: () => {} });
    outcome = 'converted';
    message = `${m.layers.length} layers, output stride ${m.outputStride}`;
    try {
      const json = validateManifest(JSON.parse(fs.readFileSync(path.join(out, 'model.json'), 'utf8')), 'model.json');
      const bin = fs.readFileSync(path.join(out, 'weights.bin'));
      checkWeightsSize(json, bin.byteLength, 'weights.bin');
      checkWeightsValues(json, bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength), 'weights.bin');
      inferShapes(json, 257, 257);
      inferShapes(json, 513, 385);
    } catch (err) {
      problems.push(`converted a model the runtime refuses: ${(err as Error).message}`);
    }
  } catch (err) {
    outcome = 'refused';
    message = (err as Error).message ?? String(err);
    if ((err as Error).name !== 'ConvertError')
      problems.push(`${(err as Error).name}: ${(err as Error).stack?.split('\n').slice(0, 3).join(' | ')}`);
    else oneLine(message, input, problems);
  }
  const ms = performance.now() - t0;
  const diff = changes(before, snapshot(dir));
  const allowed =
    outcome === 'converted'
      ? new Set(['added out/', 'added out/model.json', 'added out/weights.bin', 'changed out/model.json', 'changed out/weights.bin'])
      : new Set<string>();
  for (const d of diff) if (!allowed.has(d)) problems.push(`file system: ${d}`);
  fs.rmSync(dir, { recursive: true, force: true });
  return {
    event: 'done',
    kind: 'onnx',
    index,
    mutation: c.mutation,
    outcome: problems.length ? 'problem' : outcome,
    ms,
    message,
    problems,
  };
}

const BASE = 'http://fuzz.test/models/m';

async function runManifest(index: number): Promise<CaseLine> {
  const c = manifestCase(convertedText, convertedWeights, config.seed, index);
  const files = new Map<string, Uint8Array>([
    [`${BASE}/model.json`, new TextEncoder().encode(c.text)],
    [`${BASE}/weights.bin`, c.weights],
  ]);
  const fetched: string[] = [];
  globalThis.fetch = (async (url: string | URL) => {
    const u = String(url);
    fetched.push(u);
    const body = files.get(u);
    if (!body) return new Response('not found', { status: 404, statusText: 'Not Found' });
    return new Response(new Uint8Array(body), { status: 200, headers: { 'content-type': 'application/octet-stream' } });
  }) as typeof fetch;
  const problems: string[] = [];
  let outcome: Outcome;
  let message = '';
  const t0 = performance.now();
  try {
    const loaded = await fetchWeights(BASE);
    outcome = 'loaded';
    message = `${loaded.manifest.layers.length} layers`;
    try {
      inferShapes(loaded.manifest, 257, 257);
      inferShapes(loaded.manifest, 513, 385);
    } catch (err) {
      problems.push(`loaded a manifest the plan refuses: ${(err as Error).message}`);
    }
  } catch (err) {
    outcome = 'refused';
    message = (err as Error).message ?? String(err);
    if (!(err instanceof ModelLoadError))
      problems.push(`${(err as Error).name}: ${(err as Error).stack?.split('\n').slice(0, 3).join(' | ')}`);
    else oneLine(message, BASE, problems);
  }
  const ms = performance.now() - t0;
  for (const u of fetched) {
    if (!u.startsWith(`${BASE}/`) || u.slice(BASE.length + 1).includes('/')) problems.push(`fetched ${u}, outside the model's folder`);
  }
  return {
    event: 'done',
    kind: 'manifest',
    index,
    mutation: c.mutation,
    outcome: problems.length ? 'problem' : outcome,
    ms,
    message,
    problems,
  };
}

for (const { kind, index } of config.cases) {
  emit({ event: 'start', kind, index });
  emit(kind === 'onnx' ? await runOnnx(index) : await runManifest(index));
}
