/**
 * Browser side of `npm run bench` (tools/bench.ts drives it through Puppeteer): one
 * implementation per page, `window.bench`:
 *
 *   open({impl, weights?, resolution, image})  load the model and the image
 *   time({resolution, frames, warmup, budgetMs})  end-to-end ms of each frame
 *   profile({resolution, frames, warmup})      our per-pass GPU times (timestamp queries)
 *   firstPose({weights, resolution, image})    ours: time to first pose on a fresh device
 *   close()                                    dispose; returns the GPU errors seen
 *
 * `ours` is tuned: at each resolution `await net.tune()` first (its time reported apart as
 * tuningMs, never in a frame's time), from an empty cache; `ours-untuned` runs the
 * kernels' default variants (tuning 'off'), the fixed choice of earlier versions. Opened
 * with `pairUntuned`, the `ours` page holds both nets on one device and alternates their
 * frames (ABBA order), so that load drifting on a shared machine weighs on both alike.
 * `ours-aspect`, `ours-flip` and `ours-aspect+flip` are ours, tuned, in eval's other modes
 * (tools/lib/eval-modes.ts): `{ longSide }` inputs (tuned at the image's input size, after
 * one untimed frame makes that plan) and/or the flip test.
 *
 * A frame is end to end, from the source image to keypoints on the CPU: for ours
 * `await net.estimateSinglePose(bitmap)` (upload, preprocess, network, decode, readback),
 * for ORT our upload, preprocessing and decoding around ORT's network (tools/pages/ort-peer.ts),
 * for TF.js `await posenet.estimateSinglePose(bitmap)` (fromPixels, pad and resize, the
 * graph model, its CPU decode). Both get the same ImageBitmap (in Node, the same decoded
 * RGBA pixels). Our profiler stays off
 * while timing (with it on every pass becomes its own compute pass).
 */
import { shapeKey, type TuningCandidate } from '../../src/gpu/tuning.ts';
import { memoryTuningStore } from '../../src/gpu/tuning-store.ts';
import { createPoseNet, type PoseNet } from '../../src/posenet.ts';
import type { Pose } from '../../src/pose/types.ts';
import { isAspect, modeSetting, type EvalMode } from '../lib/eval-modes.ts';
import { isOurs, modeOfImpl, type Impl, type OursImpl } from '../lib/impls.ts';
import { GpuErrorGuard } from './gpu-guard.ts';
import type { OrtProvider } from './ort-peer.ts';
import { exposePage, platform, type PageImage } from './platform.ts';
import type { TfjsBackendName, TfjsPoseNet } from './tfjs-reference.ts';
import { drawFigure } from './synthetic-figure.ts';

export type { Impl };

/** One layer's tuning at one resolution, as the bench reports it. */
export interface TuningLayer {
  name: string;
  kernel: string;
  shapes: string;
  candidates: { variant: string; ms: number | null }[];
  choice: string;
}

export interface TuningResult {
  /** Wall ms of net.tune() (compiling the candidates included). */
  ms: number;
  /** Tuning frames it ran. */
  frames: number;
  timing: 'pass' | 'frame';
  layers: TuningLayer[];
}

export interface Res {
  width: number;
  height: number;
}

export interface OpenRequest {
  impl: Impl;
  /** Our weights folder URL (ours only). */
  weights?: string;
  /** The TF.js graph model's model.json URL (tfjs only; default the default model's TF.js copy). */
  tfjsModelUrl?: string;
  /** The ONNX file our weights were converted from (ort only). */
  onnxUrl?: string;
  resolution: Res;
  /** URL of the source image; absent or failing: a generated image. */
  image?: string;
  /** The source image's bytes in base64 (instead of a URL). */
  imageB64?: string;
  /** Ours: also open `ours-untuned` on the same device and alternate frames with it. */
  pairUntuned?: boolean;
}

export interface OpenInfo {
  impl: Impl;
  image: { url: string | null; width: number; height: number; generated: boolean };
  /** Ours and ORT: adapter description; ours: whether timestamp queries are available. */
  adapter?: string;
  timestamps?: boolean;
  /** TF.js: the active backend and its notable flags. */
  backend?: string;
  loadMs: number;
}

export interface TimeRequest {
  resolution: Res;
  frames: number;
  warmup: number;
  /** Stop early (after at least one warm-up and one timed frame) when this much time has passed. */
  budgetMs: number;
}

export interface TimeResult {
  samplesMs: number[];
  warmupMs: number[];
  /** Whether the budget cut the warm-up or the timed frames. */
  cut: boolean;
  /** Pose score of the last frame (a sanity check: every impl sees the same image). */
  poseScore: number;
  /** Ours tuned: the tuning done at this resolution before timing. */
  tuning?: TuningResult;
  /** With pairUntuned: the untuned net's frames, alternated with these. */
  paired?: { samplesMs: number[]; warmupMs: number[]; poseScore: number };
  /** Ours: the input size the frames ran at (an aspect mode follows the image). */
  inputSize?: string;
  errors: string[];
}

export interface ProfileRow {
  name: string;
  shapes: string;
  variant?: string;
  meanMs: number;
  sdMs: number;
  samples: number;
}

export interface ProfileResult {
  /** False: no timestamp-query, the rows are one whole-frame row. */
  timestamps: boolean;
  rows: ProfileRow[];
  /** With pairUntuned: the untuned net's rows, from frames alternated with these. */
  pairedRows?: ProfileRow[];
  errors: string[];
}

type Source = PageImage['source'];

interface Runner {
  setResolution(r: Res): void;
  /** Ours tuned: tunes the input size this source runs at (before timing). */
  tune?(source: Source): Promise<TuningResult>;
  estimate(source: Source): Promise<Pose>;
  /** Ours: the input size of the last frame (`513x385`). */
  inputSize?(): string;
  /** GPU errors since the last call. */
  check(context: string): Promise<string[]>;
  close(): Promise<string[]>;
}

let runner: Runner | null = null;
let ours: PoseNet | null = null;
/** With pairUntuned: the untuned net and its runner. */
let partner: { runner: Runner; net: PoseNet } | null = null;
let image: PageImage | null = null;
let source: Source | null = null;

/** A stand-in picture (a figure on a gradient) when the coco-mini photographs are absent. */
async function generatedImage(): Promise<PageImage> {
  if (typeof OffscreenCanvas === 'undefined') throw new Error('bench.open: no image given, and no canvas here to draw one (pass --image)');
  const canvas = new OffscreenCanvas(640, 480);
  drawFigure(canvas.getContext('2d')!, 640, 480);
  const bitmap = await createImageBitmap(canvas);
  return { source: bitmap, width: 640, height: 480, close: () => bitmap.close() };
}

function releaseSource(): void {
  image?.close();
  image = null;
  source = null;
}

async function loadSource(url: string | undefined, b64: string | undefined): Promise<OpenInfo['image']> {
  releaseSource();
  let loaded: PageImage | null = null;
  let generated = false;
  if (b64) {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    try {
      loaded = await platform().decodeImage(bytes);
    } catch {
      throw new Error('bench.open: the given image cannot be decoded');
    }
  } else if (url) {
    try {
      loaded = await platform().loadImage(url);
    } catch (err) {
      console.warn(`bench: cannot load ${url} (${(err as Error).message}); using a generated image`);
    }
  }
  if (!loaded) {
    loaded = await generatedImage();
    generated = true;
  }
  image = loaded;
  source = loaded.source;
  return { url: generated || b64 ? null : (url ?? null), width: loaded.width, height: loaded.height, generated };
}

/** The tuning of each layer of the current plan, from the net's table. */
function tuningLayers(net: PoseNet): TuningLayer[] {
  const entries = net.tuningTable().entries;
  const layers: TuningLayer[] = [];
  for (const step of net.plan.steps) {
    if (!step.shape) continue;
    const e = entries.find((x) => x.shape === shapeKey(step.kernel, step.shape!));
    const candidates = e ? e.candidates.map((c: TuningCandidate) => ({ variant: c.variant, ms: c.ms })) : [];
    layers.push({ name: step.name, kernel: step.kernel, shapes: step.shapes, candidates, choice: step.variant });
  }
  return layers;
}

function netRunner(net: PoseNet, tuned: boolean, mode: EvalMode): Pick<Runner, 'setResolution' | 'tune' | 'estimate' | 'inputSize'> {
  return {
    setResolution: (r) => net.setResolution(modeSetting(mode, r).resolution),
    tune: tuned
      ? async (source) => {
          const t0 = performance.now();
          // With { longSide } the plan is made by a frame (its size follows the source).
          if (isAspect(mode)) await net.estimateSinglePose(source);
          await net.tune();
          const ms = performance.now() - t0;
          const p = net.tuning;
          return { ms, frames: p.frame, timing: p.timing, layers: tuningLayers(net) };
        }
      : undefined,
    estimate: (s) => net.estimateSinglePose(s),
    inputSize: () => {
      const size = net.lastInputSize ?? net.resolution;
      return `${size.width}x${size.height}`;
    },
  };
}

/** Our net in the impl's mode: square (`ours`), `{ longSide }` inputs and/or the flip test. */
async function openOurs(req: OpenRequest, impl: OursImpl): Promise<Runner & { adapter: string; timestamps: boolean }> {
  if (!req.weights) throw new Error('bench.open: ours needs a weights URL');
  const { device, adapter } = await platform().requestDevice();
  const guard = new GpuErrorGuard(device);
  const mode = modeOfImpl(impl);
  const tuned = impl !== 'ours-untuned';
  const first = modeSetting(mode, req.resolution);
  const weights = await platform().loadWeights(req.weights);
  const open = (tuning: 'auto' | 'off') =>
    // An empty cache: the bench measures tuning from scratch.
    createPoseNet({
      weights,
      resolution: first.resolution,
      flipTest: first.flipTest,
      device,
      tuning,
      tuningStore: memoryTuningStore(),
    });
  const net = await open(tuned ? 'auto' : 'off');
  ours = net;
  if (impl === 'ours' && req.pairUntuned) {
    const other = await open('off');
    partner = {
      net: other,
      runner: { ...netRunner(other, false, 'square'), check: async () => [], close: async () => [] },
    };
  }
  return {
    adapter,
    timestamps: net.profiler.supported,
    ...netRunner(net, tuned, mode),
    check: (context) => guard.check(context),
    async close() {
      net.dispose();
      const pairNet = partner?.net;
      partner = null;
      pairNet?.dispose();
      const leaked = net.ledger.count + (pairNet?.ledger.count ?? 0);
      const errors = await guard.release('ours');
      device.destroy();
      ours = null;
      if (leaked) errors.push(`ours: ${leaked} GPU resources still alive after dispose()`);
      return errors;
    },
  };
}

/** The WebGL renderer the page gets (e.g. ANGLE on SwiftShader where there is no GPU). */
function webglRenderer(): string {
  if (typeof OffscreenCanvas === 'undefined') return 'no WebGL here';
  const gl = new OffscreenCanvas(1, 1).getContext('webgl2');
  if (!gl) return 'no WebGL2 context';
  const ext = gl.getExtension('WEBGL_debug_renderer_info');
  const name = String(gl.getParameter(ext ? ext.UNMASKED_RENDERER_WEBGL : gl.RENDERER));
  gl.getExtension('WEBGL_lose_context')?.loseContext();
  return name;
}

async function openTfjs(req: OpenRequest, backend: TfjsBackendName): Promise<Runner & { backend: string }> {
  const { loadTfjsPoseNet, tfCore } = await import('./tfjs-reference.ts');
  const ref: TfjsPoseNet = await loadTfjsPoseNet({ backend, resolution: req.resolution, modelUrl: req.tfjsModelUrl });
  const tf = await tfCore();
  const flags = tf.env().getFlags();
  const notable = Object.entries(flags)
    .filter(([k]) => /WASM_HAS|WEBGL_VERSION|WEBGPU_|WEBGL_RENDER_FLOAT32|WEBGL_PACK$/.test(k))
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(' ');
  const renderer = backend === 'webgl' ? webglRenderer() : '';
  return {
    backend: `${tf.getBackend()}${notable ? ` (${notable})` : ''}${renderer ? ` on ${renderer}` : ''}`,
    setResolution: (r) => ref.setResolution(r.width, r.height),
    estimate: (s) => ref.estimateSinglePose(s) as Promise<Pose>,
    check: async () => [],
    async close() {
      ref.dispose();
      return [];
    },
  };
}

/**
 * ONNX Runtime Web's network between our preprocessing and decoding (tools/pages/ort-peer.ts):
 * our PoseNet on our device does the rest of the frame.
 */
async function openOrt(req: OpenRequest, provider: OrtProvider): Promise<Runner & { backend: string; adapter: string }> {
  if (!req.weights || !req.onnxUrl) throw new Error(`bench.open: ort-${provider} needs our weights and the ONNX file`);
  const { openOrtPeer } = await import('./ort-peer.ts');
  const { device, adapter } = await platform().requestDevice();
  const guard = new GpuErrorGuard(device);
  let net: PoseNet | null = null;
  try {
    net = await createPoseNet({ weights: await platform().loadWeights(req.weights), resolution: req.resolution, device });
    const n = net;
    const peer = await openOrtPeer(provider, req.onnxUrl, n);
    return {
      backend: peer.backend,
      adapter: provider === 'webgpu' ? adapter : `our pre- and post-processing on ${adapter}`,
      setResolution: (r) => n.setResolution(r.width, r.height),
      estimate: (s) => peer.estimate(s),
      check: (context) => guard.check(context),
      async close() {
        await peer.dispose();
        n.dispose();
        const errors = await guard.release(`ort-${provider}`);
        device.destroy();
        return errors;
      },
    };
  } catch (err) {
    net?.dispose();
    await guard.release(`ort-${provider}`);
    device.destroy();
    throw err;
  }
}

async function open(req: OpenRequest): Promise<OpenInfo> {
  if (runner) await close();
  const t0 = performance.now();
  const image = await loadSource(req.image, req.imageB64);
  let info: OpenInfo;
  if (isOurs(req.impl)) {
    const r = await openOurs(req, req.impl);
    runner = r;
    info = { impl: req.impl, image, adapter: r.adapter, timestamps: r.timestamps, loadMs: 0 };
  } else if (req.impl === 'ort-webgpu' || req.impl === 'ort-wasm') {
    const r = await openOrt(req, req.impl === 'ort-webgpu' ? 'webgpu' : 'wasm');
    runner = r;
    info = { impl: req.impl, image, backend: r.backend, adapter: r.adapter, loadMs: 0 };
  } else {
    const backend = req.impl.slice('tfjs-'.length) as TfjsBackendName;
    const r = await openTfjs(req, backend);
    runner = r;
    info = { impl: req.impl, image, backend: r.backend, loadMs: 0 };
  }
  info.loadMs = performance.now() - t0;
  return info;
}

function assertPose(pose: Pose, context: string): void {
  const ok =
    pose.keypoints.length === 17 &&
    pose.keypoints.every((k) => Number.isFinite(k.position.x) && Number.isFinite(k.position.y) && Number.isFinite(k.score));
  if (!ok) throw new Error(`${context}: the pose is not 17 finite keypoints: ${JSON.stringify(pose).slice(0, 300)}`);
}

async function time(req: TimeRequest): Promise<TimeResult> {
  if (!runner || !source) throw new Error('bench.time before bench.open');
  if (ours?.profiler.enabled) throw new Error('bench.time: the profiler is on; end-to-end timing needs it off');
  const context = `${req.resolution.width}x${req.resolution.height}`;
  const img = source;
  runner.setResolution(req.resolution);
  partner?.runner.setResolution(req.resolution);
  // Tuning is reported apart and never counted in the budget or the frames.
  const tuning = runner.tune ? await runner.tune(img) : undefined;
  const start = performance.now();
  const over = () => performance.now() - start > req.budgetMs;
  const main = { warmupMs: [] as number[], samplesMs: [] as number[], pose: null as Pose | null };
  const pair = { warmupMs: [] as number[], samplesMs: [] as number[], pose: null as Pose | null };
  const frame = async (r: Runner, into: typeof main, list: 'warmupMs' | 'samplesMs') => {
    const t0 = performance.now();
    into.pose = await r.estimate(img);
    into[list].push(performance.now() - t0);
  };
  // One round: a frame of each net, in ABBA order across rounds.
  const round = async (i: number, list: 'warmupMs' | 'samplesMs') => {
    const order: [Runner, typeof main][] = partner
      ? i % 2
        ? [
            [partner.runner, pair],
            [runner!, main],
          ]
        : [
            [runner!, main],
            [partner.runner, pair],
          ]
      : [[runner!, main]];
    for (const [r, into] of order) await frame(r, into, list);
  };
  let cut = false;
  for (let i = 0; i < req.warmup; i++) {
    await round(i, 'warmupMs');
    if (i + 1 < req.warmup && over()) {
      cut = true;
      break;
    }
  }
  for (let i = 0; i < req.frames; i++) {
    await round(i, 'samplesMs');
    if (i + 1 < req.frames && over()) {
      cut = true;
      break;
    }
  }
  assertPose(main.pose!, context);
  if (partner) assertPose(pair.pose!, `${context} (untuned)`);
  const errors = await runner.check(context);
  return {
    samplesMs: main.samplesMs,
    warmupMs: main.warmupMs,
    cut,
    poseScore: main.pose!.score,
    tuning,
    ...(partner ? { paired: { samplesMs: pair.samplesMs, warmupMs: pair.warmupMs, poseScore: pair.pose!.score } } : {}),
    inputSize: runner.inputSize?.(),
    errors,
  };
}

const statsRows = (net: PoseNet): ProfileRow[] =>
  net.profiler.stats().map(({ name, shapes, variant, meanMs, sdMs, samples }) => ({ name, shapes, variant, meanMs, sdMs, samples }));

async function profile(req: { resolution: Res; frames: number; warmup: number }): Promise<ProfileResult> {
  if (!runner || !source || !ours) throw new Error('bench.profile needs ours open');
  const nets = [ours, ...(partner ? [partner.net] : [])];
  const img = source;
  runner.setResolution(req.resolution);
  partner?.runner.setResolution(req.resolution);
  await runner.tune?.(img);
  for (let i = 0; i < req.warmup; i++) for (const net of nets) await net.estimateSinglePose(img);
  for (const net of nets) net.profiler.setEnabled(true);
  try {
    // Frames alternate between the nets (ABBA), as in time().
    for (let i = 0; i < req.frames; i++) for (const net of i % 2 ? [...nets].reverse() : nets) await net.estimateSinglePose(img);
    return {
      timestamps: ours.profiler.timestampsActive,
      rows: statsRows(ours),
      ...(partner ? { pairedRows: statsRows(partner.net) } : {}),
      errors: await runner.check(`profile ${req.resolution.width}x${req.resolution.height}`),
    };
  } finally {
    for (const net of nets) net.profiler.setEnabled(false);
  }
}

export interface FirstPoseRequest {
  weights: string;
  resolution: Res;
  image?: string;
  imageB64?: string;
}

export interface FirstPoseResult {
  /** requestPoseNetDevice + createPoseNet (weights fetched, pipelines compiled). */
  createMs: number;
  /** The first estimateSinglePose. */
  firstFrameMs: number;
  /** createMs + firstFrameMs: from nothing to the first pose on the CPU. */
  totalMs: number;
  errors: string[];
}

/**
 * Time to first pose, as a page that starts from nothing sees it: a new device, the
 * model fetched and built, and the first frame on the CPU (the image is decoded before).
 * Default tuning ('auto') with an empty cache: a first visit.
 */
async function firstPose(req: FirstPoseRequest): Promise<FirstPoseResult> {
  if (runner) await close();
  await loadSource(req.image, req.imageB64);
  const t0 = performance.now();
  const { device } = await platform().requestDevice();
  const guard = new GpuErrorGuard(device);
  const weights = await platform().loadWeights(req.weights);
  const net = await createPoseNet({ weights, resolution: req.resolution, device, tuningStore: memoryTuningStore() });
  const t1 = performance.now();
  const pose = await net.estimateSinglePose(source!);
  const t2 = performance.now();
  assertPose(pose, 'firstPose');
  // The first frame started compiling the tuning candidates: let them finish, so that the
  // next measurement does not share the GPU process with them.
  const until = performance.now() + 300_000;
  while (['waiting', 'compiling'].includes(net.tuning.state) && performance.now() < until) await new Promise((r) => setTimeout(r, 100));
  net.dispose();
  const errors = await guard.release('firstPose');
  device.destroy();
  return { createMs: t1 - t0, firstFrameMs: t2 - t1, totalMs: t2 - t0, errors };
}

async function close(): Promise<string[]> {
  const r = runner;
  runner = null;
  const errors = r ? await r.close() : [];
  releaseSource();
  return errors;
}

const bench = { open, time, profile, firstPose, close };
exposePage('bench', bench);
export type BenchPage = typeof bench;
