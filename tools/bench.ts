/**
 * bench (`npm run bench`): end-to-end milliseconds per frame, from the source image to
 * keypoints on the CPU, for this project and for @tensorflow-models/posenet 2.2.2 on the
 * same model with TF.js's webgpu, webgl and wasm backends, in one headless Chromium
 * session; then this project's GPU time per pass (timestamp queries) at one resolution.
 * A benchmark, not a test: it reports, it does not judge.
 *
 *   npm run bench -- [--resolutions 161,257,321,481,641,801] [--impls ours,tfjs-webgpu,tfjs-webgl,tfjs-wasm]
 *                    [--modes square,aspect,flip,aspect+flip]
 *                    [--models <name,...>] [--frames 10] [--warmup 2] [--budget 150]
 *                    [--profile-resolution 257] [--profile-frames 10] [--profile first|all|none]
 *                    [--image <file>] [--json out.json]
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
 * - Our profiler is off while timing end to end (on, every pass gets its own compute pass);
 *   the per-pass profile is taken afterwards.
 * - --modes (tools/lib/eval-modes.ts; default square): our net in each mode, as implementations
 *   `ours` (square), `ours-aspect` (`{ longSide }`: the input follows the image, 513x385 for
 *   the 640x474 photograph at 513), `ours-flip`, `ours-aspect+flip` (the flip test); their
 *   columns show (x square): the mode's ms over square's. Rows carry the input size.
 * - --json writes { rows: [{ impl, model, resolution, msPerFrame, n, input, ... }], passes: [{ name,
 *   gpuMs, ... }], failures, environment, settings }.
 *
 * Exit status 1 when a cell failed (a backend that does not start, a WebGPU error) after
 * printing and writing what was measured.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

import { checkResolution } from '../src/plan/shapes.ts';
import type { Impl, OpenInfo, ProfileResult, TimeResult } from './pages/bench.ts';
import { SYNTHETIC_MODELS, ensureSyntheticModel } from './lib/synthetic-models.ts';
import { EVAL_MODES, isOurs, oursImpl, parseModes } from './lib/eval-modes.ts';
import { listWeights, openSession, parseResolution, repoRoot, resolveModel, runTool, ToolError, type ToolPage } from './lib/browser-run.ts';

/** --impls names; `ours` expands to one implementation per --modes mode. */
const IMPLS: readonly Impl[] = ['ours', 'tfjs-webgpu', 'tfjs-webgl', 'tfjs-wasm'];
const DEFAULT_RESOLUTIONS = '161,257,321,481,641,801';
/** A photograph with one large person (640x474), from ../shared/coco-mini. */
const BENCH_IMAGE = '000000488571.jpg';
const COCO_IMAGES = path.resolve(repoRoot, '../shared/coco-mini/images');

const USAGE = `usage: npm run bench -- [--resolutions ${DEFAULT_RESOLUTIONS}] [--impls ${IMPLS.join(',')}] [--modes ${EVAL_MODES.join(',')}]
                      [--models <name,...>] [--frames 10] [--warmup 2] [--budget <seconds per impl per model>]
                      [--profile-resolution 257] [--profile-frames 10] [--profile first|all|none]
                      [--image <file>] [--json out.json]`;

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
  /** Ours: the input size the frames ran at. */
  input?: string;
}

export interface BenchPass {
  model: string;
  resolution: string;
  name: string;
  shapes: string;
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

export interface BenchJson {
  rows: BenchRow[];
  passes: BenchPass[];
  failures: BenchFailure[];
  environment: Record<string, unknown>;
  settings: Record<string, unknown>;
}

const resText = (r: Res): string => `${r.width}x${r.height}`;

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

/** The table of one model: a row per resolution, a column per impl, ours/peer after each peer. */
function modelTable(model: string, resolutions: Res[], impls: Impl[], rows: BenchRow[], failures: BenchFailure[], frames: number): string {
  const cols = impls.filter(
    (impl) => rows.some((r) => r.model === model && r.impl === impl) || failures.some((f) => f.model === model && f.impl === impl),
  );
  if (!cols.length) return '';
  const header = ['resolution', ...cols.map((c) => (c === 'ours' ? 'ours ms' : isOurs(c) ? `${c} ms (x square)` : `${c} ms (ours/peer)`))];
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
      if (isOurs(c) && c !== 'ours' && ours) cell += ` (${(row.msPerFrame / ours.msPerFrame).toFixed(2)})`;
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
    p.shapes,
    `${p.gpuMs.toFixed(3)} ± ${p.sdMs.toFixed(3)}`,
    `${(p.share * 100).toFixed(1)}%`,
  ]);
  const header = ['#', 'rank', 'pass', 'shapes', 'gpu ms (mean ± sd)', 'share'];
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (l: string[]) => l.map((c, i) => pad(c, widths[i]!, i === 2 || i === 3)).join('  ');
  const first = passes[0]!;
  const out = [
    `GPU time per pass, ${first.model} at ${first.resolution} (${timestamps ? 'timestamp queries' : 'no timestamp-query: whole frame only'}, ${first.samples} frames)`,
    fmt(header),
    fmt(widths.map((w) => '-'.repeat(w))),
    ...lines.map(fmt),
    `sum of passes ${total.toFixed(2)} ms GPU${e2eMs !== undefined ? `; end-to-end median ${e2eMs.toFixed(1)} ms (profiler off)` : ''}`,
  ];
  // By kernel (first word of the pass name), sorted by cost.
  const byKernel = new Map<string, { ms: number; count: number }>();
  for (const p of passes) {
    const k = p.name.split(' ')[0]!;
    const e = byKernel.get(k) ?? { ms: 0, count: 0 };
    e.ms += p.gpuMs;
    e.count++;
    byKernel.set(k, e);
  }
  out.push('by kernel, most costly first:');
  for (const [k, e] of [...byKernel].sort((a, b) => b[1].ms - a[1].ms)) {
    out.push(
      `  ${k.padEnd(16)} ${String(e.count).padStart(3)} passes  ${e.ms.toFixed(2).padStart(9)} ms  ${((e.ms / total) * 100).toFixed(1).padStart(5)}%`,
    );
  }
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
        impls: { type: 'string', default: IMPLS.join(',') },
        modes: { type: 'string', default: 'square' },
        models: { type: 'string' },
        frames: { type: 'string', default: '10' },
        warmup: { type: 'string', default: '2' },
        budget: { type: 'string', default: '150' },
        'profile-resolution': { type: 'string', default: '257' },
        'profile-frames': { type: 'string', default: '10' },
        profile: { type: 'string', default: 'first' },
        image: { type: 'string' },
        json: { type: 'string' },
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
  const profileMode = values.profile;
  if (!['first', 'all', 'none'].includes(profileMode))
    throw new ToolError(`invalid --profile "${profileMode}": expected first, all or none`);

  const impls = list(values.impls) as Impl[];
  for (const i of impls)
    if (!IMPLS.includes(i)) throw new ToolError(`unknown implementation "${i}" in --impls (expected ${IMPLS.join(', ')})`);
  if (!impls.length) throw new ToolError('--impls is empty');
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
  const profileRes = parseResolution(values['profile-resolution'], '--profile-resolution');

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
    try {
      imageB64 = fs.readFileSync(values.image).toString('base64');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new ToolError(`cannot read ${values.image}: ${code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
    }
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
  const failures: BenchFailure[] = [];
  const environment: Record<string, unknown> = {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model,
    loadAverageStart: os.loadavg(),
    node: process.version,
    image: imageLabel,
  };
  let profileTimestamps = true;
  const started = Date.now();

  const usesTfjs = impls.some((i) => !isOurs(i));
  log(
    `bench: starting Vite and Chromium${usesTfjs ? ' (pre-bundling TF.js)' : ''}; load average ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  const session = await openSession({ tfjs: usesTfjs });
  environment.browser = await session.browser.version();
  try {
    for (const [mi, model] of models.entries()) {
      const manifest = refs.get(model)!;
      // TF.js peers run only where the model has a TF.js copy.
      const modelImpls = impls.filter((impl) => isOurs(impl) || manifest.tfjsUrl);
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
      for (const impl of modelImpls) {
        if (!valid.length) continue;
        let page: ToolPage | null = null;
        try {
          page = await session.openPage('tools/pages/bench.html', 'bench');
          const info = await page.call<OpenInfo>('open', {
            impl,
            weights: manifest.url,
            tfjsModelUrl: manifest.tfjsUrl ?? undefined,
            resolution: valid[0],
            image: imageUrl,
            imageB64,
          });
          const detail = isOurs(impl)
            ? `adapter ${info.adapter}, timestamp-query ${info.timestamps ? 'yes' : 'no'}`
            : `backend ${info.backend}`;
          log(
            `bench: ${model} ${impl}: loaded in ${info.loadMs.toFixed(0)} ms (${detail}); image ${info.image.width}x${info.image.height}`,
          );
          (environment[impl] as Record<string, unknown> | undefined) ??= isOurs(impl)
            ? { adapter: info.adapter, timestamps: info.timestamps }
            : { backend: info.backend };
          if (info.image.generated) environment.image = 'generated 640x480 picture';
          let budgetLeftMs = budgetS * 1000;
          for (const [ri, r] of valid.entries()) {
            const cellBudget = budgetLeftMs / (valid.length - ri);
            const t0 = Date.now();
            try {
              const t = await page.call<TimeResult>('time', { resolution: r, frames, warmup, budgetMs: cellBudget });
              if (t.errors.length) throw new Error(t.errors.join('\n'));
              const row: BenchRow = {
                impl,
                model,
                resolution: resText(r),
                msPerFrame: median(t.samplesMs),
                n: t.samplesMs.length,
                warmup: t.warmupMs.length,
                cut: t.cut,
                meanMs: t.samplesMs.reduce((a, b) => a + b, 0) / t.samplesMs.length,
                minMs: Math.min(...t.samplesMs),
                maxMs: Math.max(...t.samplesMs),
                poseScore: t.poseScore,
                load1: os.loadavg()[0]!,
                ...(t.inputSize ? { input: t.inputSize } : {}),
              };
              rows.push(row);
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
          const profileThis = impl === 'ours' && (profileMode === 'all' || (profileMode === 'first' && mi === 0));
          if (profileThis) {
            try {
              checkResolution(profileRes.width, profileRes.height, manifest.outputStride);
              const p = await page.call<ProfileResult>('profile', { resolution: profileRes, frames: profileFrames, warmup: 1 });
              if (p.errors.length) throw new Error(p.errors.join('\n'));
              profileTimestamps &&= p.timestamps;
              const total = p.rows.reduce((a, x) => a + x.meanMs, 0);
              for (const x of p.rows) {
                passes.push({
                  model,
                  resolution: resText(profileRes),
                  name: x.name,
                  shapes: x.shapes,
                  gpuMs: x.meanMs,
                  sdMs: x.sdMs,
                  share: total > 0 ? x.meanMs / total : 0,
                  samples: x.samples,
                });
              }
              log(`bench: ${model} ours: profiled ${p.rows.length} passes at ${resText(profileRes)} over ${profileFrames} frames`);
            } catch (err) {
              failures.push({ impl, model, resolution: resText(profileRes), error: `profile: ${(err as Error).message}` });
              log(`bench: ${model} ours profile: FAILED: ${(err as Error).message}`);
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
    await session.close();
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
  out.push(
    `image ${environment.image}; ${environment.browser}; ${os.cpus().length} CPUs; load average ${loads(environment.loadAverageStart as number[])} at the start,` +
      ` ${loads(os.loadavg())} at the end, ${environment.wallSeconds} s`,
  );
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
    const ps = passes.filter((p) => p.model === m);
    const e2e = rows.find((r) => r.model === m && r.impl === 'ours' && r.resolution === ps[0]!.resolution)?.msPerFrame;
    out.push('', passTable(ps, e2e, profileTimestamps));
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
      failures,
      environment,
      settings: {
        resolutions: resolutions.map(resText),
        impls,
        modes,
        models,
        frames,
        warmup,
        budgetSeconds: budgetS,
        profileResolution: resText(profileRes),
        profileFrames,
      },
    };
    const file = path.resolve(values.json);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(`${file}.tmp`, `${JSON.stringify(json, null, 2)}\n`);
    fs.renameSync(`${file}.tmp`, file);
    log(`bench: wrote ${values.json}`);
  }
  if (failures.length) throw new ToolError(`${failures.length} failure(s); see above`);
}

runTool('bench', main);
