/**
 * Browser side of `npm run eval` (tools/eval.ts drives it through Puppeteer),
 * `window.evalPage`:
 *
 *   open({weights, tfjsModelUrl?, backend, resolution})  our net (WebGPU) and TF.js PoseNet
 *   addImage({name, b64})                                decode an image once (platform().decodeImage)
 *   degrade({scenario, seed})                            a degraded copy of every image (tools/lib/degrade.ts)
 *   dropScenario(scenario)                               frees a scenario's copies
 *   run({impl, resolution, names, options, warmup})      multi-pose on each image, ms per frame
 *   heads({name, resolution})                            ours: the four heads on one image (npm run weights-report)
 *   runModes({resolution, settings, scenario?, names, options, warmup})
 *                                                        ours in several modes, image by image
 *   close()                                              dispose; returns the GPU errors seen
 *
 * `runModes` gives each mode (tools/lib/eval-modes.ts: a fixed size or `{ longSide }`, with
 * or without the flip test) a net of its own on the one device and runs every mode on an
 * image before the next image: the modes' times are paired image by image, so a load that
 * changes during the run (a shared machine) moves them alike. Its nets run the kernels'
 * default variants (tuning off): online tuning would time candidate variants during the
 * timed frames, and every mode and input size then runs the same kernels.
 *
 * Both implementations get the same ImageBitmap (in Node, the same decoded RGBA pixels)
 * and the same settings; a frame is end to
 * end (source to poses on the CPU): ours `net.estimateMultiplePoses`, TF.js
 * `posenet.estimateMultiplePoses` (fromPixels, pad and resize, graph model, its CPU decode).
 */
import type { LoadedWeights } from '../../src/model/model.ts';
import { createPoseNet, type PoseNet } from '../../src/posenet.ts';
import type { MultiPoseOptions } from '../../src/pose/multi.ts';
import type { Pose } from '../../src/pose/types.ts';
import { degradePixels, imageSeed, JPEG_QUALITY, type ScenarioName } from '../lib/degrade.ts';
import type { ModeSetting } from '../lib/eval-modes.ts';
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
  /** Ours: the input size the image ran at (`513x385`). */
  inputSize?: string;
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

export interface EvalModesRequest {
  /** For the record: the resolution the settings are made from. */
  resolution: Res;
  /** Our net's mode settings, each with the key its results come back under. */
  settings: { key: string; setting: ModeSetting }[];
  /** Run on a degraded copy of the images (made by `degrade`). */
  scenario?: ScenarioName;
  names: string[];
  options: MultiPoseOptions;
  /** Untimed frames on the first image in every mode first. */
  warmup: number;
  /** Times each image runs in each mode (interleaved); its ms is the least (default 1). */
  repeat?: number;
}

export interface EvalModesResult {
  runs: Record<string, ImageRun[]>;
  errors: string[];
}

let ours: PoseNet | null = null;
/** runModes' nets, one per mode key, on the same device. */
const modeNets = new Map<string, PoseNet>();
let guard: GpuErrorGuard | null = null;
let device: GPUDevice | null = null;
let tfjs: TfjsPoseNet | null = null;
let backendInfo = '';
const images = new Map<string, PageImage>();
/** Degraded copies, by scenario then image name. */
const scenarioImages = new Map<ScenarioName, Map<string, PageImage>>();
/** The weights, fetched once for every net. */
let weights: LoadedWeights | null = null;

async function open(req: EvalOpenRequest): Promise<{ adapter: string; backend: string }> {
  await close();
  const granted = await platform().requestDevice();
  device = granted.device;
  const adapter = granted.adapter;
  guard = new GpuErrorGuard(device);
  weights = await platform().loadWeights(req.weights);
  ours = await createPoseNet({ weights, resolution: req.resolution, device });
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

/** Makes the scenario's copy of every image (deterministic: seeded per image name). */
async function degrade(req: { scenario: ScenarioName; seed: number }): Promise<{ images: number; ms: number }> {
  const t0 = performance.now();
  dropScenario(req.scenario);
  const out = new Map<string, PageImage>();
  const p = platform();
  for (const [name, image] of images) {
    const rgba = await p.pixels(image);
    if (req.scenario === 'jpeg') {
      out.set(name, await p.decodeImage(await p.encodeJpeg(rgba, JPEG_QUALITY)));
    } else {
      const d = degradePixels(req.scenario, rgba, imageSeed(req.seed, name));
      out.set(name, await p.fromPixels({ data: d.data as Uint8ClampedArray<ArrayBuffer>, width: d.width, height: d.height }));
    }
  }
  scenarioImages.set(req.scenario, out);
  return { images: out.size, ms: performance.now() - t0 };
}

function dropScenario(scenario: ScenarioName): void {
  for (const b of scenarioImages.get(scenario)?.values() ?? []) b.close();
  scenarioImages.delete(scenario);
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

/** Our four heads on one image, each as base64 float32 with its [h, w, c] shape (GPU errors throw). */
async function heads(req: { name: string; resolution: Res }): Promise<Record<string, { data: string; shape: number[] }>> {
  if (!ours) throw new Error('evalPage.heads before evalPage.open');
  const image = images.get(req.name);
  if (!image) throw new Error(`evalPage.heads: image ${req.name} was not added`);
  ours.setResolution(req.resolution.width, req.resolution.height);
  await ours.estimateSinglePose(image.source);
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

async function runModes(req: EvalModesRequest): Promise<EvalModesResult> {
  if (!device) throw new Error('evalPage.runModes before evalPage.open');
  const pool = req.scenario ? scenarioImages.get(req.scenario) : images;
  if (!pool) throw new Error(`evalPage.runModes: scenario ${req.scenario} was not made (call degrade first)`);
  const nets: [string, PoseNet][] = [];
  for (const { key, setting } of req.settings) {
    let net = modeNets.get(key);
    if (!net) {
      if (!weights) throw new Error('evalPage.runModes before evalPage.open');
      net = await createPoseNet({ weights, resolution: setting.resolution, device, flipTest: setting.flipTest, tuning: 'off' });
      modeNets.set(key, net);
    }
    net.setResolution(setting.resolution);
    net.setFlipTest(setting.flipTest);
    nets.push([key, net]);
  }
  const bitmaps = req.names.map((name) => {
    const b = pool.get(name);
    if (!b) throw new Error(`evalPage.runModes: image ${name} was not added`);
    return b;
  });
  for (const [, net] of nets)
    for (let i = 0; i < req.warmup && bitmaps.length; i++) await net.estimateMultiplePoses(bitmaps[0]!.source, req.options);
  const runs: Record<string, ImageRun[]> = Object.fromEntries(nets.map(([key]) => [key, []]));
  const repeat = Math.max(1, req.repeat ?? 1);
  for (const [i, bitmap] of bitmaps.entries()) {
    for (let r = 0; r < repeat; r++) {
      for (const [key, net] of nets) {
        const t0 = performance.now();
        const poses = await net.estimateMultiplePoses(bitmap.source, req.options);
        const ms = performance.now() - t0;
        if (r > 0) {
          // The same poses again (the pipeline is deterministic): only the time counts.
          const run = runs[key]![i]!;
          run.ms = Math.min(run.ms, ms);
          continue;
        }
        runs[key]!.push({
          name: req.names[i]!,
          ms,
          poses: compact(poses),
          candidates: [net.lastMultiPoseStats.gpuCandidates, net.lastMultiPoseStats.candidates],
          inputSize: `${net.lastInputSize!.width}x${net.lastInputSize!.height}`,
        });
      }
    }
  }
  const errors = guard
    ? await guard.check(`modes ${req.settings.map((s) => s.key).join(',')}${req.scenario ? ` on ${req.scenario}` : ''}`)
    : [];
  return { runs, errors };
}

async function close(): Promise<string[]> {
  const errors: string[] = [];
  for (const [key, net] of modeNets) {
    net.dispose();
    if (net.ledger.count) errors.push(`ours (${key}): ${net.ledger.count} GPU resources still alive after dispose()`);
  }
  modeNets.clear();
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
  for (const s of [...scenarioImages.keys()]) dropScenario(s);
  return errors;
}

const evalPage = { open, addImage, degrade, dropScenario, run, runModes, heads, close };
exposePage('evalPage', evalPage);
export type EvalPage = typeof evalPage;
