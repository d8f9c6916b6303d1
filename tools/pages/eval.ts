/**
 * Browser side of `npm run eval` (tools/eval.ts drives it through Puppeteer),
 * `window.evalPage`:
 *
 *   open({weights, tfjsModelUrl?, backend, resolution})  our net (WebGPU) and TF.js PoseNet
 *   addImage({name, b64})                                decode an image once (ImageBitmap)
 *   run({impl, resolution, names, options, warmup})      multi-pose on each image, ms per frame
 *   close()                                              dispose; returns the GPU errors seen
 *
 * Both implementations get the same ImageBitmap (in Node, the same decoded RGBA pixels) and the same settings; a frame is end to
 * end (source to poses on the CPU): ours `net.estimateMultiplePoses`, TF.js
 * `posenet.estimateMultiplePoses` (fromPixels, pad and resize, graph model, its CPU decode).
 */
import { createPoseNet, type PoseNet } from '../../src/posenet.ts';
import type { MultiPoseOptions } from '../../src/pose/multi.ts';
import type { Pose } from '../../src/pose/types.ts';
import { GpuErrorGuard } from './gpu-guard.ts';
import { exposePage, platform, type PageImage } from './platform.ts';
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
const images = new Map<string, PageImage>();

async function open(req: EvalOpenRequest): Promise<{ adapter: string; backend: string }> {
  await close();
  const granted = await platform().requestDevice();
  device = granted.device;
  const adapter = granted.adapter;
  guard = new GpuErrorGuard(device);
  ours = await createPoseNet({ weights: await platform().loadWeights(req.weights), resolution: req.resolution, device });
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
  let image: PageImage;
  try {
    image = await platform().decodeImage(bytes);
  } catch {
    throw new Error(`eval: image ${req.name} cannot be decoded`);
  }
  images.get(req.name)?.close();
  images.set(req.name, image);
  return { width: image.width, height: image.height };
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
  const estimate = (image: PageImage): Promise<Pose[]> =>
    req.impl === 'ours'
      ? net.estimateMultiplePoses(image.source, req.options)
      : (ref!.estimateMultiplePoses(image.source, {
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

const evalPage = { open, addImage, run, close };
exposePage('evalPage', evalPage);
export type EvalPage = typeof evalPage;
