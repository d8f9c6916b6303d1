/**
 * bench (`npm run bench`): end-to-end milliseconds per frame, from the source image to
 * keypoints on the CPU, for this project (tuned, `ours`, and on the default kernel
 * variants, `ours-untuned`) and its peers on the same model, in one session; then our GPU
 * time per pass (timestamp queries), tuned and untuned, with totals per kernel. A
 * benchmark, not a test: it reports, it does not judge.
 *
 *   npm run bench -- [--resolutions 161,257,321,481,641,801] [--impls ours,ours-untuned,tfjs-webgpu,...]
 *                    [--modes square,aspect,flip,aspect+flip]
 *                    [--models <name,...>] [--frames 10] [--warmup 2] [--budget 150]
 *                    [--profile-resolution 257[,481,...]] [--profile-frames 10] [--profile first|all|none]
 *                    [--first-pose 3] [--image <file>] [--json out.json]
 *                    [--runtime browser|node] [--adapter list | <adapter>]
 *
 * - `ours` tunes each resolution first (`await net.tune()`, from an empty cache): the
 *   tuning's wall time and frames are reported apart (rows' tuningMs, tuningFrames, and
 *   the top-level `tuning`), never inside ms per frame or the budget. `ours-untuned` runs
 *   the kernels' default variants (tuning 'off'), the fixed choice of earlier versions.
 *   Asked for together, they run in one page on one device with their frames (and their
 *   profiled frames) alternated, so that a load that drifts over minutes on a shared
 *   machine weighs on both alike; the table's ratio is then the median over rounds of
 *   ours / untuned (`pairedRatio`), each round's two frames having run back to back.
 *
 * Peers, by runtime (tools/lib/runtime.ts); the default is every implementation of the runtime:
 * - browser (headless Chromium): @tensorflow-models/posenet 2.2.2 on TF.js's webgpu, webgl
 *   and wasm backends (`tfjs-*`), and ONNX Runtime Web on our ONNX file with its WebGPU and
 *   wasm execution providers (`ort-webgpu`, `ort-wasm`: our preprocessing and decoding
 *   around ORT's network, so that only the network differs; tools/pages/ort-peer.ts).
 * - node (Dawn): TF.js PoseNet on tfjs-backend-webgpu over the same Dawn adapter
 *   (`tfjs-webgpu`).
 * A peer that cannot run (not in this runtime, no TF.js or ONNX copy of the model, a
 * backend that does not start) is left out, and the bench prints why; no number is made up.
 *
 * - ms per frame is the median of --frames timed frames after --warmup untimed ones, each
 *   `await estimateSinglePose(imageBitmap)` on the same ImageBitmap (a coco-mini photograph,
 *   or a generated picture when ../shared/coco-mini is absent, or --image).
 * - --budget S: seconds each implementation may spend timing one model, shared among the
 *   resolutions (what a fast resolution leaves over goes to the next ones). A resolution
 *   always gets at least one warm-up and one timed frame; when the budget cuts the count,
 *   the table shows n=<frames timed>.
 * - --models: weights folder names under weights/, or paths to converted model folders
 *   (default: every weights/<name>/model.json, those with a TF.js copy in
 *   weights/tfjs/<name>/ first, after making the random-weight ResNet50 (stride 16, 32)
 *   and MobileNetV1 1.0 / 0.5 stride-8 models of tools/lib/synthetic-models.ts there). TF.js peers run only on models that have such a copy
 *   (the real MobileNet); the others (random-weight ResNet50, stride 8) have no TF.js graph.
 * - --first-pose N: time to first pose of ours on the first model at the first resolution,
 *   N times, each on a fresh page and device: device request, createPoseNet (fetch, build,
 *   compile) and the first frame (0: skip).
 * - Our profiler is off while timing end to end (on, every pass gets its own compute pass);
 *   the per-pass profile is taken afterwards.
 * - --modes (tools/lib/eval-modes.ts; default square): our tuned net in each mode, as implementations
 *   `ours` (square), `ours-aspect` (`{ longSide }`: the input follows the image, 513x385 for
 *   the 640x474 photograph at 513), `ours-flip`, `ours-aspect+flip` (the flip test); their
 *   columns show (x square): the mode's ms over square's. Rows carry the input size.
 * - --json writes { rows: [{ impl, model, resolution, msPerFrame, n, input, ... }], passes: [{ name,
 *   gpuMs, ... }], tuning, firstPose, failures, unavailable: [{ impl, model, reason }], environment, settings }.
 *
 * Exit status 1 when a cell failed (ours failing, a WebGPU error, a peer that started and
 * then failed) after printing and writing what was measured.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

import { checkResolution } from '../src/plan/shapes.ts';
import type { FirstPoseResult, Impl, OpenInfo, ProfileResult, TimeResult, TuningLayer } from './pages/bench.ts';
import { isOrt, isOurs, isTfjs, oursImpl } from './lib/impls.ts';
import {
  maybeListAdapters,
  openRuntime,
  RUNTIME_OPTIONS,
  RUNTIME_USAGE,
  runtimeOptions,
  type RuntimeName,
  type ToolPage,
} from './lib/runtime.ts';
import { SYNTHETIC_MODELS, ensureSyntheticModel } from './lib/synthetic-models.ts';
import { listWeights, parseResolution, repoRoot, resolveModel, runTool, ToolError } from './lib/tool.ts';
import { jsonIsOurs, MiB, OutputFile, readInputFile, userPath } from './lib/cli.ts';
import { EVAL_MODES, parseModes } from './lib/eval-modes.ts';

/** Every implementation --impls takes, in table order; `ours` expands to one implementation per --modes mode. */
const IMPLS: readonly Impl[] = ['ours', 'ours-untuned', 'tfjs-webgpu', 'tfjs-webgl', 'tfjs-wasm', 'ort-webgpu', 'ort-wasm'];
/** What each runtime can run (and runs by default); the GPU archive's run.sh runs the node list. Ours runs in every mode. */
const RUNTIME_IMPLS: Record<RuntimeName, readonly Impl[]> = {
  browser: IMPLS,
  node: ['ours', 'ours-untuned', 'tfjs-webgpu'],
};
const DEFAULT_RESOLUTIONS = '161,257,321,481,641,801';
/** A photograph with one large person (640x474), from ../shared/coco-mini. */
const BENCH_IMAGE = '000000488571.jpg';
const COCO_IMAGES = path.resolve(repoRoot, '../shared/coco-mini/images');

const USAGE = `usage: npm run bench -- [--resolutions ${DEFAULT_RESOLUTIONS}] [--impls ${IMPLS.join(',')}] [--modes ${EVAL_MODES.join(',')}]
                      [--models <name,...>] [--frames 10] [--warmup 2] [--budget <seconds per impl per model>]
                      [--profile-resolution 257[,481,...]] [--profile-frames 10] [--profile first|all|none]
                      [--first-pose 3] [--image <file>] [--json out.json] ${RUNTIME_USAGE}`;

interface Res {
  width: number;
  height: number;
}

export interface BenchRow {
  impl: Impl;
  model: string;
  /** "WxH" */
  resolution: string;
  /** Median end-to-end ms per frame. */
  msPerFrame: number;
  /** Timed frames (fewer than asked when the budget cut them). */
  n: number;
  warmup: number;
  cut: boolean;
  meanMs: number;
  minMs: number;
  maxMs: number;
  /** Pose score of the last frame (every impl sees the same image: a sanity check). */
  poseScore: number;
  /** 1-minute load average when the cell finished (other processes disturb timings). */
  load1: number;
  /** Every timed frame, in order (for ours and ours-untuned run paired, frame i of each is one round). */
  samplesMs: number[];
  /** Ours tuned, run paired with ours-untuned: the median over rounds of ours / untuned frame time. */
  pairedRatio?: number;
  /** Ours tuned: wall ms of tuning this resolution before timing (never in msPerFrame). */
  tuningMs?: number;
  /** Ours tuned: tuning frames run. */
  tuningFrames?: number;
  /** Ours: the input size the frames ran at. */
  input?: string;
}

export interface BenchPass {
  /** `ours` (tuned) or `ours-untuned`. */
  impl: Impl;
  model: string;
  resolution: string;
  name: string;
  shapes: string;
  /** The kernel variant the pass ran. */
  variant: string;
  /** Mean GPU ms of the pass over the profiled frames. */
  gpuMs: number;
  sdMs: number;
  /** Share of the sum of all passes. */
  share: number;
  samples: number;
}

export interface BenchFailure {
  impl: Impl;
  model: string;
  resolution: string | null;
  error: string;
}

export interface BenchFirstPose {
  model: string;
  resolution: string;
  /** One entry per fresh page. */
  runs: { createMs: number; firstFrameMs: number; totalMs: number }[];
  medianTotalMs: number;
}

/** What tuning did for one model at one resolution (`ours`). */
export interface BenchTuning {
  model: string;
  resolution: string;
  /** Wall ms of net.tune(), compiling the candidates included. */
  ms: number;
  frames: number;
  /** `pass`: each layer timed by timestamp-query; `frame`: whole frames. */
  timing: 'pass' | 'frame';
  layers: TuningLayer[];
}

/** A peer left out, and why (it never got a number). */
export interface BenchUnavailable {
  impl: Impl;
  model: string | null;
  reason: string;
}

export interface BenchJson {
  rows: BenchRow[];
  passes: BenchPass[];
  /** Per model and resolution, per layer: name, kernel, candidates [{variant, ms}], choice. */
  tuning: { adapter: string | null; runs: BenchTuning[] };
  firstPose: BenchFirstPose | null;
  failures: BenchFailure[];
  unavailable: BenchUnavailable[];
  environment: Record<string, unknown>;
  settings: Record<string, unknown>;
}

const resText = (r: Res): string => `${r.width}x${r.height}`;

/** An earlier bench --json output, which a new run may replace. */
const isBenchJson = jsonIsOurs(
  (j) => typeof j === 'object' && j !== null && Array.isArray((j as BenchJson).rows) && Array.isArray((j as BenchJson).passes),
);

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function positiveInt(text: string, flag: string, min = 1): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) throw new ToolError(`invalid ${flag} "${text}": expected an integer >= ${min}`);
  return n;
}

function list(text: string): string[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

const hasTfjsCopy = (model: string): boolean => fs.existsSync(path.join(repoRoot, 'weights/tfjs', model, 'model.json'));

function fmtMs(ms: number): string {
  if (ms >= 1000) return ms.toFixed(0);
  if (ms >= 100) return ms.toFixed(1);
  return ms.toFixed(2);
}

function pad(s: string, n: number, right = false): string {
  return right ? s.padEnd(n) : s.padStart(n);
}

/** A column's heading and the ratio its cells show: ours/untuned, a mode's ms over square's, or ours/peer. */
function columnHeader(c: Impl): string {
  if (c === 'ours') return 'ours ms';
  if (c === 'ours-untuned') return `${c} ms (ours/untuned)`;
  return isOurs(c) ? `${c} ms (x square)` : `${c} ms (ours/peer)`;
}

/** The table of one model: a row per resolution, a column per impl, ours/peer after each peer. */
function modelTable(model: string, resolutions: Res[], impls: Impl[], rows: BenchRow[], failures: BenchFailure[], frames: number): string {
  const cols = impls.filter(
    (impl) => rows.some((r) => r.model === model && r.impl === impl) || failures.some((f) => f.model === model && f.impl === impl),
  );
  if (!cols.length) return '';
  const header = ['resolution', ...cols.map(columnHeader)];
  const body: string[][] = [];
  for (const r of resolutions) {
    const key = resText(r);
    const ours = rows.find((x) => x.model === model && x.impl === 'ours' && x.resolution === key);
    const line = [key];
    for (const c of cols) {
      const row = rows.find((x) => x.model === model && x.impl === c && x.resolution === key);
      const failed = failures.find((f) => f.model === model && f.impl === c && (f.resolution === key || f.resolution === null));
      if (!row) {
        line.push(failed ? 'failed' : '-');
        continue;
      }
      let cell = fmtMs(row.msPerFrame);
      if (row.n < frames) cell += ` n=${row.n}`;
      if (c === 'ours-untuned' && ours?.pairedRatio !== undefined) cell += ` (${ours.pairedRatio.toFixed(2)} paired)`;
      else if (isOurs(c) && c !== 'ours' && c !== 'ours-untuned' && ours) cell += ` (${(row.msPerFrame / ours.msPerFrame).toFixed(2)})`;
      else if (c !== 'ours' && ours) cell += ` (${(ours.msPerFrame / row.msPerFrame).toFixed(2)})`;
      line.push(cell);
    }
    body.push(line);
  }
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((l) => l[i]!.length)));
  const fmt = (l: string[]) => l.map((c, i) => pad(c, widths[i]!, i === 0)).join('  ');
  return [`model ${model}`, fmt(header), fmt(widths.map((w) => '-'.repeat(w))), ...body.map(fmt)].join('\n');
}

/**
 * Pass names for the table: `kernel layer` with the layer path prefix shared by every layer
 * (e.g. `MobilenetV1/MobilenetV1/`) dropped, cut to 64 characters. The JSON keeps the full names.
 */
function shortPassNames(names: string[]): string[] {
  const layers = names.map((n) => (n.includes(' ') ? n.slice(n.indexOf(' ') + 1) : '')).filter((l) => l.includes('/'));
  let prefix = layers[0] ?? '';
  for (const l of layers) while (prefix && !l.startsWith(prefix)) prefix = prefix.slice(0, prefix.lastIndexOf('/', prefix.length - 2) + 1);
  if (layers.length < 2) prefix = '';
  return names.map((n) => {
    const space = n.indexOf(' ');
    let s = n;
    if (prefix && space > 0 && n.slice(space + 1).startsWith(prefix)) s = `${n.slice(0, space)} ${n.slice(space + 1 + prefix.length)}`;
    return s.length > 64 ? `${s.slice(0, 61)}...` : s;
  });
}

/** Per-pass GPU times: plan order with a cost rank, then totals per kernel sorted by cost. */
function passTable(passes: BenchPass[], e2eMs: number | undefined, timestamps: boolean): string {
  if (!passes.length) return '';
  const total = passes.reduce((a, p) => a + p.gpuMs, 0);
  const ranked = [...passes].sort((a, b) => b.gpuMs - a.gpuMs);
  const rank = new Map(ranked.map((p, i) => [p, i + 1]));
  const short = shortPassNames(passes.map((p) => p.name));
  const lines: string[][] = passes.map((p, i) => [
    String(i),
    String(rank.get(p)),
    short[i]!,
    p.variant,
    p.shapes,
    `${p.gpuMs.toFixed(3)} ± ${p.sdMs.toFixed(3)}`,
    `${(p.share * 100).toFixed(1)}%`,
  ]);
  const header = ['#', 'rank', 'pass', 'variant', 'shapes', 'gpu ms (mean ± sd)', 'share'];
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (l: string[]) => l.map((c, i) => pad(c, widths[i]!, i >= 2 && i <= 4)).join('  ');
  const first = passes[0]!;
  const out = [
    `GPU time per pass, ${first.impl}, ${first.model} at ${first.resolution} (${timestamps ? 'timestamp queries' : 'no timestamp-query: whole frame only'}, ${first.samples} frames)`,
    fmt(header),
    fmt(widths.map((w) => '-'.repeat(w))),
    ...lines.map(fmt),
    `sum of passes ${total.toFixed(2)} ms GPU${e2eMs !== undefined ? `; end-to-end median ${e2eMs.toFixed(1)} ms (profiler off)` : ''}`,
  ];
  out.push('by kernel, most costly first:');
  for (const [k, e] of [...kernelTotals(passes)].sort((a, b) => b[1].ms - a[1].ms)) {
    out.push(
      `  ${k.padEnd(16)} ${String(e.count).padStart(3)} passes  ${e.ms.toFixed(2).padStart(9)} ms  ${((e.ms / total) * 100).toFixed(1).padStart(5)}%`,
    );
  }
  return out.join('\n');
}

/** GPU ms and pass count per kernel (the first word of a pass name). */
function kernelTotals(passes: BenchPass[]): Map<string, { ms: number; count: number }> {
  const byKernel = new Map<string, { ms: number; count: number }>();
  for (const p of passes) {
    const k = p.name.split(' ')[0]!;
    const e = byKernel.get(k) ?? { ms: 0, count: 0 };
    e.ms += p.gpuMs;
    e.count++;
    byKernel.set(k, e);
  }
  return byKernel;
}

/** Per resolution: GPU ms per kernel, tuned / untuned, from the profiles of both. */
function tunedVsUntunedTable(model: string, passes: BenchPass[]): string {
  const mine = passes.filter((p) => p.model === model);
  const resolutions = [...new Set(mine.map((p) => p.resolution))];
  const kernels = [...new Set(mine.map((p) => p.name.split(' ')[0]!))];
  const header = ['resolution', ...kernels.map((k) => `${k} ms`), 'sum ms'];
  const body: string[][] = [];
  for (const r of resolutions) {
    const t = kernelTotals(mine.filter((p) => p.resolution === r && p.impl === 'ours'));
    const u = kernelTotals(mine.filter((p) => p.resolution === r && p.impl === 'ours-untuned'));
    if (!t.size || !u.size) continue;
    const cell = (a: number | undefined, b: number | undefined) => `${a?.toFixed(2) ?? '-'} / ${b?.toFixed(2) ?? '-'}`;
    const sum = (m: Map<string, { ms: number }>) => [...m.values()].reduce((a, e) => a + e.ms, 0);
    body.push([r, ...kernels.map((k) => cell(t.get(k)?.ms, u.get(k)?.ms)), cell(sum(t), sum(u))]);
  }
  if (!body.length) return '';
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((l) => l[i]!.length)));
  const fmt = (l: string[]) => l.map((c, i) => pad(c, widths[i]!, i === 0)).join('  ');
  return [
    `GPU ms per kernel, tuned / untuned (sum of per-pass means), ${model}`,
    fmt(header),
    fmt(widths.map((w) => '-'.repeat(w))),
    ...body.map(fmt),
  ].join('\n');
}

/** The layers whose tuned choice is not the default, and how each candidate timed. */
function tuningSummary(t: BenchTuning): string {
  const out = [
    `tuning ${t.model} at ${t.resolution}: ${t.ms.toFixed(0)} ms, ${t.frames} frames (${t.timing === 'pass' ? 'per-pass timestamps' : 'whole frames'})`,
  ];
  const short = shortPassNames(t.layers.map((l) => l.name));
  t.layers.forEach((l, i) => {
    const c = l.candidates
      .map((x) => `${x.variant}${x.variant === l.choice ? '*' : ''} ${x.ms === null ? '-' : x.ms.toFixed(3)}`)
      .join(', ');
    out.push(`  ${short[i]!.padEnd(48)} ${c}`);
  });
  return out.join('\n');
}

const log = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        resolutions: { type: 'string', default: DEFAULT_RESOLUTIONS },
        impls: { type: 'string' },
        modes: { type: 'string', default: 'square' },
        models: { type: 'string' },
        frames: { type: 'string', default: '10' },
        warmup: { type: 'string', default: '2' },
        budget: { type: 'string', default: '150' },
        'profile-resolution': { type: 'string', default: '257' },
        'profile-frames': { type: 'string', default: '10' },
        profile: { type: 'string', default: 'first' },
        'first-pose': { type: 'string', default: '3' },
        image: { type: 'string' },
        json: { type: 'string' },
        ...RUNTIME_OPTIONS,
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: false,
    }));
  } catch (err) {
    throw new ToolError(`${(err as Error).message}\n${USAGE}`);
  }
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const frames = positiveInt(values.frames, '--frames');
  const warmup = positiveInt(values.warmup, '--warmup', 0);
  const budgetS = Number(values.budget);
  if (!(budgetS > 0)) throw new ToolError(`invalid --budget "${values.budget}": expected seconds > 0`);
  const profileFrames = positiveInt(values['profile-frames'], '--profile-frames');
  const firstPoseRuns = positiveInt(values['first-pose'], '--first-pose', 0);
  const profileMode = values.profile;
  if (!['first', 'all', 'none'].includes(profileMode))
    throw new ToolError(`invalid --profile "${profileMode}": expected first, all or none`);

  const runtimeChoice = runtimeOptions(values);
  if (await maybeListAdapters('bench', runtimeChoice)) return;
  const unavailable: BenchUnavailable[] = [];
  const leaveOut = (impl: Impl, model: string | null, reason: string) => {
    unavailable.push({ impl, model, reason });
    log(`bench: ${impl}${model ? ` on ${model}` : ''} cannot run: ${reason}; left out`);
  };
  const runnable = RUNTIME_IMPLS[runtimeChoice.runtime];
  const asked = (values.impls === undefined ? [...runnable] : list(values.impls)) as Impl[];
  for (const i of asked)
    if (!IMPLS.includes(i)) throw new ToolError(`unknown implementation "${i}" in --impls (expected ${IMPLS.join(', ')})`);
  if (!asked.length) throw new ToolError('--impls is empty');
  const impls = asked.filter((impl) => {
    if (runnable.includes(impl)) return true;
    leaveOut(impl, null, `not available under --runtime ${runtimeChoice.runtime} (it runs ${runnable.join(', ')})`);
    return false;
  });
  let modes;
  try {
    modes = parseModes(values.modes);
  } catch (err) {
    throw new ToolError((err as Error).message);
  }
  // `ours` runs once per mode.
  if (impls.includes('ours')) impls.splice(impls.indexOf('ours'), 1, ...modes.map(oursImpl));
  const resolutions = list(values.resolutions).map((t) => parseResolution(t, '--resolutions'));
  if (!resolutions.length) throw new ToolError('--resolutions is empty');
  const profileResolutions = list(values['profile-resolution']).map((t) => parseResolution(t, '--profile-resolution'));
  if (!profileResolutions.length) throw new ToolError('--profile-resolution is empty');
  // Checked and reserved now: a bad --json fails before minutes of measuring, not after.
  const jsonOut = values.json
    ? OutputFile.reserve(userPath(values.json), values.json, {
        what: '--json',
        isOurs: isBenchJson,
        notOursReason: 'is not an earlier bench output',
      })
    : null;

  // The ResNet50 and stride-8 MobileNets (random weights: speed only), made once into weights/
  // when they are asked for (by default, all of them).
  const requested = values.models ? list(values.models) : null;
  for (const m of SYNTHETIC_MODELS) {
    if (!requested || requested.includes(m.name))
      await ensureSyntheticModel(m, path.join(repoRoot, 'weights'), (line) => console.error(`bench: ${line}`));
  }
  const models = [
    ...new Set(
      values.models
        ? list(values.models)
        : listWeights().sort((a, b) => Number(hasTfjsCopy(b)) - Number(hasTfjsCopy(a)) || a.localeCompare(b)),
    ),
  ];
  if (!models.length) throw new ToolError('no models: weights/ has no <name>/model.json (run `npm run weights`)');
  const refs = new Map(models.map((m) => [m, resolveModel(m)]));

  let imageB64: string | undefined;
  let imageLabel: string;
  if (values.image) {
    imageB64 = readInputFile(userPath(values.image), values.image, 256 * MiB).toString('base64');
    imageLabel = values.image;
  } else if (fs.existsSync(path.join(COCO_IMAGES, BENCH_IMAGE))) {
    imageLabel = `coco-mini/images/${BENCH_IMAGE}`;
  } else {
    imageLabel = 'generated 640x480 picture (../shared/coco-mini is absent)';
  }
  const imageUrl = values.image
    ? undefined
    : fs.existsSync(path.join(COCO_IMAGES, BENCH_IMAGE))
      ? `/coco-mini/images/${BENCH_IMAGE}`
      : undefined;

  const rows: BenchRow[] = [];
  const passes: BenchPass[] = [];
  const tuningRuns: BenchTuning[] = [];
  let tuningAdapter: string | null = null;
  const failures: BenchFailure[] = [];
  let firstPose: BenchFirstPose | null = null;
  const environment: Record<string, unknown> = {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model,
    loadAverageStart: os.loadavg(),
    node: process.version,
    runtime: runtimeChoice.runtime,
    image: imageLabel,
  };
  let profileTimestamps = true;
  const started = Date.now();

  const usesTfjs = impls.some(isTfjs);
  const starting = runtimeChoice.runtime === 'browser' ? `Vite and Chromium${usesTfjs ? ' (pre-bundling TF.js)' : ''}` : 'Dawn';
  log(
    `bench: starting ${starting}; load average ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  const runtime = await openRuntime({ ...runtimeChoice, tfjs: usesTfjs });
  environment[runtime.name === 'browser' ? 'browser' : 'dawn'] = runtime.description;
  try {
    if (firstPoseRuns > 0 && impls.some(isOurs)) {
      const model = models[0]!;
      const r = resolutions.find((x) => {
        try {
          checkResolution(x.width, x.height, refs.get(model)!.outputStride);
          return true;
        } catch {
          return false;
        }
      });
      if (r) {
        const runs: BenchFirstPose['runs'] = [];
        for (let i = 0; i < firstPoseRuns; i++) {
          const page = await runtime.openPage('tools/pages/bench.html', 'bench');
          try {
            const f = await page.call<FirstPoseResult>('firstPose', {
              weights: refs.get(model)!.url,
              resolution: r,
              image: imageUrl,
              imageB64,
            });
            if (f.errors.length) throw new Error(f.errors.join('\n'));
            runs.push({ createMs: f.createMs, firstFrameMs: f.firstFrameMs, totalMs: f.totalMs });
          } catch (err) {
            failures.push({ impl: 'ours', model, resolution: resText(r), error: `first pose: ${(err as Error).message}` });
          } finally {
            await page.close().catch(() => undefined);
          }
        }
        if (runs.length) {
          firstPose = { model, resolution: resText(r), runs, medianTotalMs: median(runs.map((x) => x.totalMs)) };
          log(
            `bench: ${model} ours: time to first pose at ${resText(r)}: median ${firstPose.medianTotalMs.toFixed(0)} ms of ` +
              runs.map((x) => `${x.totalMs.toFixed(0)} (create ${x.createMs.toFixed(0)} + frame ${x.firstFrameMs.toFixed(0)})`).join(', '),
          );
        }
      }
    }
    for (const [mi, model] of models.entries()) {
      const manifest = refs.get(model)!;
      // Peers run only where the model has a copy in their format: TF.js's graph model, our ONNX file.
      const modelImpls = impls.filter((impl) => {
        if (isTfjs(impl) && !manifest.tfjsUrl) {
          leaveOut(impl, model, 'the model has no TF.js copy (weights/tfjs/<name>/model.json)');
          return false;
        }
        if (isOrt(impl) && !manifest.onnxUrl) {
          leaveOut(impl, model, `the model has no ONNX file (weights/${model}.onnx)`);
          return false;
        }
        return true;
      });
      const valid: Res[] = [];
      for (const r of resolutions) {
        try {
          checkResolution(r.width, r.height, manifest.outputStride);
          valid.push(r);
        } catch (err) {
          for (const impl of modelImpls) failures.push({ impl, model, resolution: resText(r), error: (err as Error).message });
          log(`bench: ${model}: skipping ${resText(r)}: ${(err as Error).message}`);
        }
      }
      // ours and ours-untuned run paired in one page, their frames alternated (see tools/pages/bench.ts).
      const paired = modelImpls.includes('ours') && modelImpls.includes('ours-untuned');
      for (const impl of modelImpls) {
        if (!valid.length || (paired && impl === 'ours-untuned')) continue;
        let page: ToolPage | null = null;
        try {
          page = await runtime.openPage('tools/pages/bench.html', 'bench');
          let info: OpenInfo;
          try {
            info = await page.call<OpenInfo>('open', {
              impl,
              weights: manifest.url,
              tfjsModelUrl: manifest.tfjsUrl ?? undefined,
              onnxUrl: manifest.onnxUrl ?? undefined,
              resolution: valid[0],
              image: imageUrl,
              imageB64,
              pairUntuned: paired && impl === 'ours',
            });
          } catch (err) {
            // A peer that does not start is left out (with its reason); ours not starting is a failure.
            if (isOurs(impl)) throw err;
            leaveOut(impl, model, (err as Error).message);
            continue;
          }
          const detail = isOurs(impl)
            ? `adapter ${info.adapter}, timestamp-query ${info.timestamps ? 'yes' : 'no'}`
            : `backend ${info.backend}${info.adapter ? ` on ${info.adapter}` : ''}`;
          if (isOurs(impl)) tuningAdapter ??= info.adapter ?? null;
          log(
            `bench: ${model} ${impl}: loaded in ${info.loadMs.toFixed(0)} ms (${detail}); image ${info.image.width}x${info.image.height}`,
          );
          (environment[impl] as Record<string, unknown> | undefined) ??= isOurs(impl)
            ? { adapter: info.adapter, timestamps: info.timestamps }
            : { backend: info.backend, ...(info.adapter ? { adapter: info.adapter } : {}) };
          if (info.image.generated) environment.image = 'generated 640x480 picture';
          let budgetLeftMs = budgetS * 1000;
          for (const [ri, r] of valid.entries()) {
            const cellBudget = budgetLeftMs / (valid.length - ri);
            const t0 = Date.now();
            try {
              const t = await page.call<TimeResult>('time', { resolution: r, frames, warmup, budgetMs: cellBudget });
              if (t.errors.length) throw new Error(t.errors.join('\n'));
              const makeRow = (rowImpl: Impl, samplesMs: number[], warmupMs: number[], poseScore: number): BenchRow => ({
                impl: rowImpl,
                model,
                resolution: resText(r),
                msPerFrame: median(samplesMs),
                n: samplesMs.length,
                warmup: warmupMs.length,
                cut: t.cut,
                meanMs: samplesMs.reduce((a, b) => a + b, 0) / samplesMs.length,
                minMs: Math.min(...samplesMs),
                maxMs: Math.max(...samplesMs),
                poseScore,
                load1: os.loadavg()[0]!,
                samplesMs,
              });
              const row: BenchRow = {
                ...makeRow(impl, t.samplesMs, t.warmupMs, t.poseScore),
                ...(t.inputSize ? { input: t.inputSize } : {}),
                ...(t.tuning ? { tuningMs: t.tuning.ms, tuningFrames: t.tuning.frames } : {}),
              };
              rows.push(row);
              if (t.paired) {
                const u = makeRow('ours-untuned', t.paired.samplesMs, t.paired.warmupMs, t.paired.poseScore);
                rows.push(u);
                // Frames i of both nets ran back to back: their ratio sees the same load.
                row.pairedRatio = median(t.samplesMs.map((ms, i) => ms / t.paired!.samplesMs[i]!));
                log(
                  `bench: ${model} ours-untuned ${u.resolution} (frames alternated with ours): ${fmtMs(u.msPerFrame)} ms median of ${u.n}` +
                    ` (min ${fmtMs(u.minMs)}, max ${fmtMs(u.maxMs)}); pose score ${u.poseScore.toFixed(3)}`,
                );
              }
              if (t.tuning) {
                tuningRuns.push({
                  model,
                  resolution: resText(r),
                  ms: t.tuning.ms,
                  frames: t.tuning.frames,
                  timing: t.tuning.timing,
                  layers: t.tuning.layers,
                });
                log(
                  `bench: ${model} ${impl} ${row.resolution}: tuned in ${t.tuning.ms.toFixed(0)} ms, ${t.tuning.frames} frames; ` +
                    `${t.tuning.layers.filter((l) => l.candidates.length > 1).length} layers had candidates`,
                );
              }
              log(
                `bench: ${model} ${impl} ${row.resolution}${row.input && row.input !== row.resolution ? ` (input ${row.input})` : ''}: ${fmtMs(row.msPerFrame)} ms median of ${row.n}` +
                  ` (min ${fmtMs(row.minMs)}, max ${fmtMs(row.maxMs)}; warm-up ${t.warmupMs.map((w) => w.toFixed(0)).join(', ')} ms)` +
                  `${t.cut ? ' [cut by budget]' : ''}; pose score ${row.poseScore.toFixed(3)}; load ${row.load1.toFixed(2)}`,
              );
            } catch (err) {
              const msg = (err as Error).message;
              failures.push({ impl, model, resolution: resText(r), error: msg });
              log(`bench: ${model} ${impl} ${resText(r)}: FAILED: ${msg}`);
            }
            budgetLeftMs = Math.max(0, budgetLeftMs - (Date.now() - t0));
          }
          const profileThis = isOurs(impl) && (profileMode === 'all' || (profileMode === 'first' && mi === 0));
          for (const profileRes of profileThis ? profileResolutions : []) {
            try {
              checkResolution(profileRes.width, profileRes.height, manifest.outputStride);
              const p = await page.call<ProfileResult>('profile', { resolution: profileRes, frames: profileFrames, warmup: 1 });
              if (p.errors.length) throw new Error(p.errors.join('\n'));
              profileTimestamps &&= p.timestamps;
              const sets: [Impl, typeof p.rows][] = [
                [impl, p.rows],
                ...(p.pairedRows ? [['ours-untuned', p.pairedRows] as [Impl, typeof p.rows]] : []),
              ];
              for (const [rowImpl, profileRows] of sets) {
                const total = profileRows.reduce((a, x) => a + x.meanMs, 0);
                for (const x of profileRows) {
                  passes.push({
                    impl: rowImpl,
                    model,
                    resolution: resText(profileRes),
                    name: x.name,
                    shapes: x.shapes,
                    variant: x.variant ?? 'default',
                    gpuMs: x.meanMs,
                    sdMs: x.sdMs,
                    share: total > 0 ? x.meanMs / total : 0,
                    samples: x.samples,
                  });
                }
              }
              log(
                `bench: ${model} ${sets.map(([i]) => i).join(' and ')}: profiled ${p.rows.length} passes at ${resText(profileRes)} over ${profileFrames} frames${p.pairedRows ? ' each, alternated' : ''}`,
              );
            } catch (err) {
              failures.push({ impl, model, resolution: resText(profileRes), error: `profile: ${(err as Error).message}` });
              log(`bench: ${model} ${impl} profile: FAILED: ${(err as Error).message}`);
            }
          }
          const closeErrors = await page.call<string[]>('close');
          if (closeErrors.length) throw new Error(closeErrors.join('\n'));
        } catch (err) {
          const msg = (err as Error).message;
          failures.push({ impl, model, resolution: null, error: msg });
          log(`bench: ${model} ${impl}: FAILED: ${msg}`);
        } finally {
          if (page?.errors.length) log(`bench: ${model} ${impl}: page errors:\n  ${page.errors.join('\n  ')}`);
          await page?.close().catch(() => undefined);
        }
      }
    }
  } finally {
    await runtime.close();
  }
  environment.loadAverageEnd = os.loadavg();
  environment.wallSeconds = (Date.now() - started) / 1000;

  // The report.
  const out: string[] = [];
  out.push(
    `end-to-end ms per frame (source image to keypoints on the CPU), median of ${frames} after ${warmup} warm-up` +
      ` unless n= says a ${budgetS} s budget per implementation and model cut it; (x) = ours/peer, below 1: ours is faster`,
  );
  const loads = (l: number[]) => l.map((x) => x.toFixed(2)).join(' ');
  const oursEnv = environment.ours as { adapter?: string } | undefined;
  out.push(`adapter: ${oursEnv?.adapter ?? 'unknown (ours did not run)'}; runtime ${runtime.name}: ${runtime.description}`);
  out.push(
    `image ${environment.image}; ${os.cpus().length} CPUs; load average ${loads(environment.loadAverageStart as number[])} at the start,` +
      ` ${loads(os.loadavg())} at the end, ${environment.wallSeconds} s`,
  );
  if (firstPose) {
    out.push(
      `time to first pose (ours, ${firstPose.model} at ${firstPose.resolution}, fresh page and device each): median ` +
        `${firstPose.medianTotalMs.toFixed(0)} ms of ${firstPose.runs.map((x) => x.totalMs.toFixed(0)).join(', ')}`,
    );
  }
  for (const model of models) {
    const t = modelTable(model, resolutions, impls, rows, failures, frames);
    if (t) out.push('', t);
  }
  // Every impl sees the same image through the same model: their pose scores should agree.
  for (const row of rows) {
    const ours = rows.find((r) => r.impl === 'ours' && r.model === row.model && r.resolution === row.resolution);
    if (!isOurs(row.impl) && ours && Math.abs(ours.poseScore - row.poseScore) > 0.02) {
      out.push(
        `note: ${row.model} ${row.resolution}: pose score ${ours.poseScore.toFixed(3)} (ours) vs ${row.poseScore.toFixed(3)} (${row.impl})`,
      );
    }
  }
  const passModels = [...new Set(passes.map((p) => p.model))];
  for (const m of passModels) {
    for (const impl of ['ours', 'ours-untuned'] as const) {
      for (const res of [...new Set(passes.map((p) => p.resolution))]) {
        const ps = passes.filter((p) => p.model === m && p.impl === impl && p.resolution === res);
        if (!ps.length) continue;
        const e2e = rows.find((r) => r.model === m && r.impl === impl && r.resolution === res)?.msPerFrame;
        out.push('', passTable(ps, e2e, profileTimestamps));
      }
    }
    const t = tunedVsUntunedTable(m, passes);
    if (t) out.push('', t);
  }
  for (const t of tuningRuns) out.push('', tuningSummary(t));
  if (unavailable.length) {
    out.push('', 'left out (cannot run here):');
    for (const u of unavailable) out.push(`  ${u.impl}${u.model ? ` on ${u.model}` : ''}: ${u.reason.split('\n').join('\n    ')}`);
  }
  if (failures.length) {
    out.push('', 'failures:');
    for (const f of failures)
      out.push(`  ${f.model} ${f.impl}${f.resolution ? ` ${f.resolution}` : ''}: ${f.error.split('\n').join('\n    ')}`);
  }
  console.log(out.join('\n'));

  if (values.json) {
    const json: BenchJson = {
      rows,
      passes,
      tuning: { adapter: tuningAdapter, runs: tuningRuns },
      firstPose,
      failures,
      unavailable,
      environment,
      settings: {
        resolutions: resolutions.map(resText),
        impls,
        modes,
        models,
        frames,
        warmup,
        budgetSeconds: budgetS,
        profileResolutions: profileResolutions.map(resText),
        profileFrames,
        firstPoseRuns,
      },
    };
    jsonOut?.write(`${JSON.stringify(json, null, 2)}\n`);
    log(`bench: wrote ${values.json}`);
  }
  if (failures.length) throw new ToolError(`${failures.length} failure(s); see above`);
}

runTool('bench', main);
