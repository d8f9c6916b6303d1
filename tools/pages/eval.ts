/**
 * Browser side of `npm run eval` (tools/eval.ts drives it through Puppeteer),
 * `window.evalPage`:
 *
 *   open({weights, tfjsModelUrl?, backend, resolution})  our net (WebGPU) and TF.js PoseNet
 *   addImage({name, b64})                                decode an image once (ImageBitmap)
 *   run({impl, resolution, names, options, warmup})      multi-pose on each image, ms per frame
 *   heads({name, resolution})                            ours: the four heads on one image (npm run weights-report)
 *   close()                                              dispose; returns the GPU errors seen
 *
 * Both implementations get the same ImageBitmap and the same settings; a frame is end to
 * end (source to poses on the CPU): ours `net.estimateMultiplePoses`, TF.js
 * `posenet.estimateMultiplePoses` (fromPixels, pad and resize, graph model, its CPU decode).
 */
import { requestPoseNetDevice } from '../../src/gpu/device.ts';
import { createPoseNet, type PoseNet } from '../../src/posenet.ts';
import type { MultiPoseOptions } from '../../src/pose/multi.ts';
import type { Pose } from '../../src/pose/types.ts';
import { GpuErrorGuard } from './gpu-guard.ts';
import type { TfjsBackendName, TfjsPoseNet } from './tfjs-reference.ts';

export type EvalImpl = 'ours' | 'tfjs';

export interface Res {
  width: number;
  height: number;
}

export interface EvalOpenRequest {
  weights: string;
  tfjsModelUrl?: string;
  /** TF.js backend; null: no TF.js. */
  backend: TfjsBackendName | null;
  resolution: Res;
}

/** A pose as plain numbers: 17 x (x, y, score) in source pixels, and the pose score. */
export interface CompactPose {
  score: number;
  keypoints: number[];
}

export interface ImageRun {
  name: string;
  ms: number;
  poses: CompactPose[];
  /** Ours: root candidates the GPU found and the decoder kept. */
  candidates?: [number, number];
}

export interface EvalRunRequest {
  impl: EvalImpl;
  resolution: Res;
  names: string[];
  options: MultiPoseOptions;
  /** Untimed frames on the first image first (pipeline and plan warm-up). */
  warmup: number;
}

export interface EvalRunResult {
  images: ImageRun[];
  errors: string[];
}

let ours: PoseNet | null = null;
let guard: GpuErrorGuard | null = null;
let device: GPUDevice | null = null;
let tfjs: TfjsPoseNet | null = null;
let backendInfo = '';
const images = new Map<string, ImageBitmap>();

async function open(req: EvalOpenRequest): Promise<{ adapter: string; backend: string }> {
  await close();
  device = await requestPoseNetDevice();
  guard = new GpuErrorGuard(device);
  ours = await createPoseNet({ weights: req.weights, resolution: req.resolution, device });
  const info = (device as GPUDevice & { adapterInfo?: GPUAdapterInfo }).adapterInfo;
  const adapter = info ? [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' / ') : 'unknown';
  if (req.backend) {
    const { loadTfjsPoseNet, tfCore } = await import('./tfjs-reference.ts');
    tfjs = await loadTfjsPoseNet({ backend: req.backend, resolution: req.resolution, modelUrl: req.tfjsModelUrl });
    const tf = await tfCore();
    const flags = Object.entries(tf.env().getFlags())
      .filter(([k]) => /WASM_HAS/.test(k))
      .map(([k, v]) => `${k}=${String(v)}`)
      .join(' ');
    backendInfo = `${tf.getBackend()}${flags ? ` (${flags})` : ''}`;
  }
  return { adapter, backend: backendInfo };
}

async function addImage(req: { name: string; b64: string }): Promise<{ width: number; height: number }> {
  const bytes = Uint8Array.from(atob(req.b64), (c) => c.charCodeAt(0));
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(new Blob([bytes]));
  } catch {
    throw new Error(`eval: image ${req.name} cannot be decoded`);
  }
  images.get(req.name)?.close();
  images.set(req.name, bitmap);
  return { width: bitmap.width, height: bitmap.height };
}

const compact = (poses: Pose[]): CompactPose[] =>
  poses.map((p) => ({ score: p.score, keypoints: p.keypoints.flatMap((k) => [k.position.x, k.position.y, k.score]) }));

async function run(req: EvalRunRequest): Promise<EvalRunResult> {
  if (!ours) throw new Error('evalPage.run before evalPage.open');
  const net = ours;
  const ref = tfjs;
  if (req.impl === 'tfjs' && !ref) throw new Error('evalPage.run: TF.js was not opened');
  const { width, height } = req.resolution;
  if (req.impl === 'ours') {
    net.setResolution(width, height);
    // Kernel variants tuned before the images (its frames are not timed).
    await net.tune();
  } else ref!.setResolution(width, height);
  const estimate = (bitmap: ImageBitmap): Promise<Pose[]> =>
    req.impl === 'ours'
      ? net.estimateMultiplePoses(bitmap, req.options)
      : (ref!.estimateMultiplePoses(bitmap, {
          maxDetections: req.options.maxDetections,
          scoreThreshold: req.options.scoreThreshold,
          nmsRadius: req.options.nmsRadius,
          flipHorizontal: !!req.options.flipHorizontal,
        }) as Promise<Pose[]>);
  const bitmaps = req.names.map((name) => {
    const b = images.get(name);
    if (!b) throw new Error(`evalPage.run: image ${name} was not added`);
    return b;
  });
  for (let i = 0; i < req.warmup && bitmaps.length; i++) await estimate(bitmaps[0]!);
  const out: ImageRun[] = [];
  for (const [i, bitmap] of bitmaps.entries()) {
    const t0 = performance.now();
    const poses = await estimate(bitmap);
    const ms = performance.now() - t0;
    const run: ImageRun = { name: req.names[i]!, ms, poses: compact(poses) };
    if (req.impl === 'ours') run.candidates = [net.lastMultiPoseStats.gpuCandidates, net.lastMultiPoseStats.candidates];
    out.push(run);
  }
  const errors = guard ? await guard.check(`${req.impl} ${width}x${height}`) : [];
  return { images: out, errors };
}

/** Our four heads on one image, each as base64 float32 with its [h, w, c] shape (GPU errors throw). */
async function heads(req: { name: string; resolution: Res }): Promise<Record<string, { data: string; shape: number[] }>> {
  if (!ours) throw new Error('evalPage.heads before evalPage.open');
  const bitmap = images.get(req.name);
  if (!bitmap) throw new Error(`evalPage.heads: image ${req.name} was not added`);
  ours.setResolution(req.resolution.width, req.resolution.height);
  await ours.estimateSinglePose(bitmap);
  const out = await ours.readHeads();
  const errors = guard ? await guard.check(`heads ${req.name}`) : [];
  if (errors.length) throw new Error(errors.join('\n'));
  const b64 = (a: Float32Array) => {
    const bytes = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    let s = '';
    for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    return btoa(s);
  };
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, { data: b64(v.data), shape: v.shape }]));
}

async function close(): Promise<string[]> {
  const errors: string[] = [];
  if (ours) {
    ours.dispose();
    if (ours.ledger.count) errors.push(`ours: ${ours.ledger.count} GPU resources still alive after dispose()`);
    ours = null;
  }
  if (guard) errors.push(...(await guard.release('ours')));
  guard = null;
  device?.destroy();
  device = null;
  tfjs?.dispose();
  tfjs = null;
  for (const b of images.values()) b.close();
  images.clear();
  return errors;
}

const evalPage = { open, addImage, run, heads, close };
(window as unknown as { evalPage: typeof evalPage }).evalPage = evalPage;
export type EvalPage = typeof evalPage;
