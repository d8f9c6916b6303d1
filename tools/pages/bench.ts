/**
 * Browser side of `npm run bench` (tools/bench.ts drives it through Puppeteer): one
 * implementation per page, `window.bench`:
 *
 *   open({impl, weights?, resolution, image})  load the model and the image
 *   time({resolution, frames, warmup, budgetMs})  end-to-end ms of each frame
 *   profile({resolution, frames, warmup})      our per-pass GPU times (timestamp queries)
 *   close()                                    dispose; returns the GPU errors seen
 *
 * A frame is end to end, from the source image to keypoints on the CPU: for ours
 * `await net.estimateSinglePose(bitmap)` (upload, preprocess, network, decode, readback),
 * for TF.js `await posenet.estimateSinglePose(bitmap)` (fromPixels, pad and resize, the
 * graph model, its CPU decode). Both get the same ImageBitmap. Our profiler stays off
 * while timing (with it on every pass becomes its own compute pass).
 */
import { requestPoseNetDevice } from '../../src/gpu/device.ts';
import { createPoseNet, type PoseNet } from '../../src/posenet.ts';
import type { Pose } from '../../src/pose/types.ts';
import { isOurs, modeOfImpl, modeSetting, type OursImpl } from '../lib/eval-modes.ts';
import { GpuErrorGuard } from './gpu-guard.ts';
import type { TfjsBackendName, TfjsPoseNet } from './tfjs-reference.ts';
import { drawFigure } from './synthetic-figure.ts';

/** `ours` is our net on square inputs; `ours-aspect`, `ours-flip`, `ours-aspect+flip` its other modes (tools/lib/eval-modes.ts). */
export type Impl = OursImpl | 'tfjs-webgpu' | 'tfjs-webgl' | 'tfjs-wasm';

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
  resolution: Res;
  /** URL of the source image; absent or failing: a generated image. */
  image?: string;
  /** The source image's bytes in base64 (instead of a URL). */
  imageB64?: string;
}

export interface OpenInfo {
  impl: Impl;
  image: { url: string | null; width: number; height: number; generated: boolean };
  /** Ours: adapter description and whether timestamp queries are available. */
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
  /** Ours: the input size the frames ran at (an aspect mode follows the image). */
  inputSize?: string;
  errors: string[];
}

export interface ProfileRow {
  name: string;
  shapes: string;
  meanMs: number;
  sdMs: number;
  samples: number;
}

export interface ProfileResult {
  /** False: no timestamp-query, the rows are one whole-frame row. */
  timestamps: boolean;
  rows: ProfileRow[];
  errors: string[];
}

interface Runner {
  setResolution(r: Res): void;
  estimate(source: ImageBitmap): Promise<Pose>;
  /** Ours: the input size of the last frame (`513x385`). */
  inputSize?(): string;
  /** GPU errors since the last call. */
  check(context: string): Promise<string[]>;
  close(): Promise<string[]>;
}

let runner: Runner | null = null;
let ours: PoseNet | null = null;
let source: ImageBitmap | null = null;

/** A stand-in picture (a figure on a gradient) when the coco-mini photographs are absent. */
async function generatedImage(): Promise<ImageBitmap> {
  const canvas = new OffscreenCanvas(640, 480);
  drawFigure(canvas.getContext('2d')!, 640, 480);
  return createImageBitmap(canvas);
}

async function loadSource(url: string | undefined, b64: string | undefined): Promise<OpenInfo['image']> {
  source?.close();
  source = null;
  if (b64) {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    try {
      source = await createImageBitmap(new Blob([bytes]));
    } catch {
      throw new Error('bench.open: the given image cannot be decoded');
    }
    return { url: null, width: source.width, height: source.height, generated: false };
  }
  if (url) {
    try {
      const res = await fetch(url);
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      source = await createImageBitmap(await res.blob());
      return { url, width: source.width, height: source.height, generated: false };
    } catch (err) {
      console.warn(`bench: cannot load ${url} (${(err as Error).message}); using a generated image`);
    }
  }
  source = await generatedImage();
  return { url: null, width: source.width, height: source.height, generated: true };
}

/** Our net in the impl's mode: square (`ours`), `{ longSide }` inputs and/or the flip test. */
async function openOurs(req: OpenRequest, impl: OursImpl): Promise<Runner & { adapter: string; timestamps: boolean }> {
  if (!req.weights) throw new Error('bench.open: ours needs a weights URL');
  const mode = modeOfImpl(impl);
  const device = await requestPoseNetDevice();
  const guard = new GpuErrorGuard(device);
  const first = modeSetting(mode, req.resolution);
  const net = await createPoseNet({ weights: req.weights, resolution: first.resolution, flipTest: first.flipTest, device });
  ours = net;
  const info = (device as GPUDevice & { adapterInfo?: GPUAdapterInfo }).adapterInfo;
  return {
    adapter: info ? [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' / ') : 'unknown',
    timestamps: net.profiler.supported,
    setResolution: (r) => net.setResolution(modeSetting(mode, r).resolution),
    estimate: (s) => net.estimateSinglePose(s),
    inputSize: () => `${net.resolution.width}x${net.resolution.height}`,
    check: (context) => guard.check(context),
    async close() {
      net.dispose();
      const leaked = net.ledger.count;
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

async function open(req: OpenRequest): Promise<OpenInfo> {
  if (runner) await close();
  const t0 = performance.now();
  const image = await loadSource(req.image, req.imageB64);
  let info: OpenInfo;
  if (isOurs(req.impl)) {
    const r = await openOurs(req, req.impl);
    runner = r;
    info = { impl: req.impl, image, adapter: r.adapter, timestamps: r.timestamps, loadMs: 0 };
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
  runner.setResolution(req.resolution);
  const start = performance.now();
  const over = () => performance.now() - start > req.budgetMs;
  const warmupMs: number[] = [];
  const samplesMs: number[] = [];
  let pose: Pose | null = null;
  let cut = false;
  for (let i = 0; i < req.warmup; i++) {
    const t0 = performance.now();
    pose = await runner.estimate(source);
    warmupMs.push(performance.now() - t0);
    if (i + 1 < req.warmup && over()) {
      cut = true;
      break;
    }
  }
  for (let i = 0; i < req.frames; i++) {
    const t0 = performance.now();
    pose = await runner.estimate(source);
    samplesMs.push(performance.now() - t0);
    if (i + 1 < req.frames && over()) {
      cut = true;
      break;
    }
  }
  assertPose(pose!, context);
  const errors = await runner.check(context);
  return { samplesMs, warmupMs, cut, poseScore: pose!.score, inputSize: runner.inputSize?.(), errors };
}

async function profile(req: { resolution: Res; frames: number; warmup: number }): Promise<ProfileResult> {
  if (!runner || !source || !ours) throw new Error('bench.profile needs ours open');
  const net = ours;
  runner.setResolution(req.resolution);
  for (let i = 0; i < req.warmup; i++) await net.estimateSinglePose(source);
  net.profiler.setEnabled(true);
  try {
    for (let i = 0; i < req.frames; i++) await net.estimateSinglePose(source);
    const rows = net.profiler.stats().map(({ name, shapes, meanMs, sdMs, samples }) => ({ name, shapes, meanMs, sdMs, samples }));
    return {
      timestamps: net.profiler.timestampsActive,
      rows,
      errors: await runner.check(`profile ${req.resolution.width}x${req.resolution.height}`),
    };
  } finally {
    net.profiler.setEnabled(false);
  }
}

async function close(): Promise<string[]> {
  const r = runner;
  runner = null;
  const errors = r ? await r.close() : [];
  source?.close();
  source = null;
  return errors;
}

const bench = { open, time, profile, close };
(window as unknown as { bench: typeof bench }).bench = bench;
export type BenchPage = typeof bench;
