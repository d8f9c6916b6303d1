/**
 * Browser side of the GPU tests: each entry point gets a fresh device, runs its GPU
 * work inside validation / out-of-memory / internal error scopes, destroys what it made
 * and returns its results (tensors as base64 float32) with every GPU error seen. Node
 * tests (Puppeteer) call these through `window.harness`.
 */
import { requestPoseNetDevice } from '../../src/gpu/device.ts';
import { drawFigure } from '../../tools/pages/synthetic-figure.ts';
import { loadImage } from './images.ts';
import { countCreations } from './count-creations.ts';
import { withDevice } from './with-device.ts';
import { KernelCache } from '../../src/gpu/kernels.ts';
import { GpuLedger } from '../../src/gpu/resources.ts';
import type { Manifest } from '../../src/model/manifest.ts';
import { Model } from '../../src/model/model.ts';
import { computeFit } from '../../src/pose/fit.ts';
import type { FitMode, Pose } from '../../src/pose/types.ts';
import { Plan, SINGLE_RESULT_FLOATS } from '../../src/plan/plan.ts';
import { createPoseNet } from '../../src/posenet.ts';
import { b64ToBytes, b64ToF32, bytesToB64, f32ToB64 } from '../support/b64.ts';

export type { GpuResult } from './with-device.ts';
import type { GpuResult } from './with-device.ts';

async function readBuffer(device: GPUDevice, buffer: GPUBuffer, bytes: number): Promise<Float32Array> {
  const staging = device.createBuffer({ label: 'harness.readback', size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const encoder = device.createCommandEncoder();
  encoder.copyBufferToBuffer(buffer, 0, staging, 0, bytes);
  device.queue.submit([encoder.finish()]);
  await staging.mapAsync(GPUMapMode.READ);
  const out = new Float32Array(staging.getMappedRange().slice(0));
  staging.unmap();
  staging.destroy();
  return out;
}

function compileErrors(kernels: KernelCache): string[] {
  return kernels.compileErrors.map((e) => `compile: ${e}`);
}

export interface LayersCase {
  manifest: Manifest;
  /** weights.bin as base64 */
  weights: string;
  /** Input tensor, NHWC with channels padded to 4, base64 float32. */
  input: string;
  width: number;
  height: number;
  reference?: boolean;
}

export interface LayerVariantsResult {
  /** The tested (last) layer's output, padded NHWC base64, per variant run. */
  outputs: Record<string, string>;
  /** The same from the reference path. */
  reference: string;
  /** The device's features (to tell which variants could run). */
  features: string[];
  adapter: string;
}

/**
 * Runs the last layer of a manifest on every variant its kernel offers on this device
 * (and the reference path), on one device: returns the layer's output for each.
 */
async function layerVariants(c: LayersCase): Promise<GpuResult<LayerVariantsResult>> {
  return withDevice(async (device) => {
    const ledger = new GpuLedger();
    const kernels = new KernelCache(device);
    const weights = b64ToBytes(c.weights);
    const model = new Model(device, { manifest: c.manifest, weights: weights.slice().buffer, source: 'test' }, ledger);
    const run = async (reference: boolean, each: (plan: Plan, step: Plan['steps'][number]) => Promise<void>) => {
      const plan = new Plan(device, kernels, model, c.width, c.height, ledger, { retainAll: true, unchecked: true, reference });
      device.queue.writeBuffer(plan.inputBuffer, 0, b64ToF32(c.input));
      await each(plan, plan.steps[plan.steps.length - 2]!);
      plan.dispose();
    };
    const read = async (plan: Plan) => {
      const encoder = device.createCommandEncoder();
      plan.encode(encoder, null, 'layers');
      device.queue.submit([encoder.finish()]);
      const out = c.manifest.layers[c.manifest.layers.length - 1]!.output;
      const shape = plan.shapes.tensors.get(out)!;
      return f32ToB64(await readBuffer(device, plan.tensorBuffers.get(out)!, shape.h * shape.w * shape.c4 * 16));
    };
    const outputs: Record<string, string> = {};
    await run(false, async (plan, step) => {
      for (const option of step.options) {
        plan.setVariant(step, option.variant);
        outputs[option.variant] = await read(plan);
      }
    });
    let reference = '';
    await run(true, async (plan) => {
      reference = await read(plan);
    });
    model.dispose();
    if (ledger.count !== 0) throw new Error(`leak: ${JSON.stringify(ledger.entries())}`);
    const ce = compileErrors(kernels);
    if (ce.length) throw new Error(ce.join('\n'));
    const info = device.adapterInfo;
    return { outputs, reference, features: [...kernels.features], adapter: `${info?.vendor} ${info?.architecture}` };
  });
}

/** A manifest with a single zero pointwise layer from the input to a 120-channel heads tensor. */
function stubManifest(outputStride: 8 | 16 | 32, preprocess: { mean: number[]; scale: number[] }): Manifest {
  const heads = {
    heatmap: { tensor: 'heads', channelOffset: 0, channels: 17, sourceName: 'heatmap' },
    offsets: { tensor: 'heads', channelOffset: 20, channels: 34, sourceName: 'offsets' },
    displacementFwd: { tensor: 'heads', channelOffset: 56, channels: 32, sourceName: 'fwd' },
    displacementBwd: { tensor: 'heads', channelOffset: 88, channels: 32, sourceName: 'bwd' },
  };
  return {
    format: 'posenet-webgpu/manifest',
    version: 1,
    name: 'stub',
    architecture: 'MobileNetV1',
    outputStride,
    input: { sourceName: 'image', sourceLayout: 'NHWC', tensor: 'image', channels: 3 },
    preprocess: {
      kind: 'custom',
      mean: preprocess.mean as [number, number, number],
      scale: preprocess.scale as [number, number, number],
      from: 'flag',
    },
    layers: [
      {
        name: 'heads',
        kind: 'pointwise',
        input: 'image',
        output: 'heads',
        kernel: [1, 1],
        stride: [1, 1],
        dilation: [1, 1],
        padding: { mode: 'explicit', pads: [0, 0, 0, 0] },
        activation: 'none',
        inChannels: 3,
        outChannels: 120,
        weights: { offset: 0, length: 4 * 120 * 4 },
        bias: { offset: 4 * 120 * 4, length: 120 * 4 },
      },
    ],
    heads,
    weights: { file: 'weights.bin', bytes: 4 * 120 * 4 + 120 * 4, sha256: '' },
    source: { file: 'stub', sha256: '' },
  };
}

function stubModel(device: GPUDevice, ledger: GpuLedger, manifest: Manifest): Model {
  return new Model(device, { manifest, weights: new ArrayBuffer(manifest.weights.bytes), source: 'stub' }, ledger);
}

export interface PreprocessCase {
  /** RGBA8 pixels, base64. */
  rgba: string;
  srcW: number;
  srcH: number;
  width: number;
  height: number;
  fit: FitMode;
  mean: number[];
  scale: number[];
}

/** Runs the preprocess kernel on an RGBA image; returns the input tensor (NHWC x4) and the fit. */
async function preprocess(c: PreprocessCase) {
  return withDevice(async (device) => {
    const ledger = new GpuLedger();
    const kernels = new KernelCache(device);
    const model = stubModel(device, ledger, stubManifest(16, c));
    const plan = new Plan(device, kernels, model, c.width, c.height, ledger, { unchecked: true });
    const texture = device.createTexture({
      size: { width: c.srcW, height: c.srcH },
      format: 'rgba8unorm',
      usage: GPUTextureUsage.TEXTURE_BINDING | GPUTextureUsage.COPY_DST,
    });
    device.queue.writeTexture({ texture }, b64ToBytes(c.rgba), { bytesPerRow: c.srcW * 4 }, { width: c.srcW, height: c.srcH });
    const fit = computeFit(c.fit, c.srcW, c.srcH, c.width, c.height);
    plan.setSource(texture.createView());
    plan.writeFrameParams(fit, c.srcW, c.srcH, false);
    const encoder = device.createCommandEncoder();
    plan.encode(encoder, null, 'preprocess');
    device.queue.submit([encoder.finish()]);
    const input = await readBuffer(device, plan.inputBuffer, c.width * c.height * 16);
    texture.destroy();
    plan.dispose();
    model.dispose();
    const ce = compileErrors(kernels);
    if (ce.length) throw new Error(ce.join('\n'));
    return { input: f32ToB64(input), fit };
  });
}

export interface DecodeCase {
  /** Heads tensor, NHWC with 120 channels (30 vec4), base64. */
  heads: string;
  gridW: number;
  gridH: number;
  outputStride: 8 | 16 | 32;
  srcW: number;
  srcH: number;
  inputW: number;
  inputH: number;
  fit: FitMode;
  flip: boolean;
}

/** Runs decode_single on given heads; returns the 52 result floats. */
async function decode(c: DecodeCase) {
  return withDevice(async (device) => {
    const ledger = new GpuLedger();
    const kernels = new KernelCache(device);
    const model = stubModel(device, ledger, stubManifest(c.outputStride, { mean: [0, 0, 0], scale: [1, 1, 1] }));
    const plan = new Plan(device, kernels, model, c.gridW, c.gridH, ledger, { unchecked: true });
    device.queue.writeBuffer(plan.headsBuffer, 0, b64ToF32(c.heads));
    const fit = computeFit(c.fit, c.srcW, c.srcH, c.inputW, c.inputH);
    plan.writeFrameParams(fit, c.srcW, c.srcH, c.flip);
    const encoder = device.createCommandEncoder();
    plan.encode(encoder, null, 'decode');
    device.queue.submit([encoder.finish()]);
    const result = await readBuffer(device, plan.resultBuffer, SINGLE_RESULT_FLOATS * 4);
    plan.dispose();
    model.dispose();
    const ce = compileErrors(kernels);
    if (ce.length) throw new Error(ce.join('\n'));
    return { result: Array.from(result), fit };
  });
}

export interface ModelCase {
  weightsUrl: string;
  imageUrl: string;
  resolutions: { width: number; height: number }[];
  fit?: FitMode;
  flip?: boolean;
  reference?: boolean;
  /** Read back every tensor (runs with a buffer per tensor). */
  dumpTensors?: boolean;
}

export interface ModelRun {
  /** With dumpTensors: every tensor, [h, w, c] in base64. */
  tensors: Record<string, { data: string; shape: number[] }>;
  width: number;
  height: number;
  pose: Pose;
  /** Heads as [h, w, c] arrays in base64. */
  heads: Record<string, { data: string; shape: number[] }>;
  /** Preprocessed input [h, w, 3], base64. */
  input: string;
  fit: ReturnType<typeof computeFit>;
  imageW: number;
  imageH: number;
}

/** Runs the whole net on an image at several resolutions; returns pose, heads and the input read back. */
async function model(c: ModelCase) {
  return withDevice(async (device) => {
    const img = await loadImage(c.imageUrl);
    const first = c.resolutions[0]!;
    const net = await createPoseNet({
      weights: c.weightsUrl,
      resolution: first,
      device,
      fit: c.fit,
      debug: { reference: !!c.reference, retainAll: !!c.dumpTensors },
      // The default variants: each variant is checked by the kernel tests, the tuned path
      // by test/tuning-gpu.test.ts; compiling and timing candidates here only costs time.
      tuning: 'off',
    });
    const runs: ModelRun[] = [];
    for (const r of c.resolutions) {
      net.setResolution(r.width, r.height);
      const pose = await net.estimateSinglePose(img, { flipHorizontal: !!c.flip });
      const heads = await net.readHeads();
      const input = await net.readTensor(net.manifest.input.tensor);
      const tensors: Record<string, { data: string; shape: number[] }> = {};
      if (c.dumpTensors) {
        for (const name of net.plan.shapes.tensors.keys()) {
          const t = await net.readTensor(name);
          tensors[name] = { data: f32ToB64(t.data), shape: t.shape };
        }
      }
      runs.push({
        tensors,
        width: r.width,
        height: r.height,
        pose,
        heads: Object.fromEntries(Object.entries(heads).map(([k, v]) => [k, { data: f32ToB64(v.data), shape: v.shape }])),
        input: f32ToB64(input.data),
        fit: computeFit(c.fit ?? 'pad', img.naturalWidth, img.naturalHeight, r.width, r.height),
        imageW: img.naturalWidth,
        imageH: img.naturalHeight,
      });
    }
    const ce = compileErrors(net.kernels);
    net.dispose();
    if (ce.length) throw new Error(ce.join('\n'));
    if (net.ledger.count !== 0) throw new Error(`leak after dispose: ${JSON.stringify(net.ledger.entries())}`);
    return runs;
  });
}

/** Single poses of many images at several resolutions with one net (runtime parity: test/node-parity.test.ts). */
async function poses(c: { weightsUrl: string; imageUrls: string[]; resolutions: { width: number; height: number }[] }) {
  return withDevice(async (device) => {
    const net = await createPoseNet({ weights: c.weightsUrl, resolution: c.resolutions[0], device });
    const out: { imageUrl: string; width: number; height: number; pose: Pose }[] = [];
    for (const imageUrl of c.imageUrls) {
      const img = await loadImage(imageUrl);
      for (const r of c.resolutions) {
        net.setResolution(r.width, r.height);
        out.push({ imageUrl, width: r.width, height: r.height, pose: await net.estimateSinglePose(img) });
      }
    }
    const ce = compileErrors(net.kernels);
    net.dispose();
    if (ce.length) throw new Error(ce.join('\n'));
    return out;
  });
}

/** The RGB pixels of an image as the browser decodes it (for TF.js on the CPU in Node). */
async function imagePixels(url: string): Promise<{ width: number; height: number; rgb: string }> {
  const img = await loadImage(url);
  const canvas = document.createElement('canvas');
  canvas.width = img.naturalWidth;
  canvas.height = img.naturalHeight;
  const g = canvas.getContext('2d', { willReadFrequently: true })!;
  g.drawImage(img, 0, 0);
  const rgba = g.getImageData(0, 0, canvas.width, canvas.height).data;
  const rgb = new Uint8Array(canvas.width * canvas.height * 3);
  for (let i = 0, j = 0; i < rgba.length; i += 4, j += 3) {
    rgb[j] = rgba[i]!;
    rgb[j + 1] = rgba[i + 1]!;
    rgb[j + 2] = rgba[i + 2]!;
  }
  return { width: canvas.width, height: canvas.height, rgb: bytesToB64(rgb) };
}

/**
 * Counts GPU object creations per frame after warm-up (through a wrapped device), with
 * the profiler off and on. A frame must create none.
 */
async function allocations(c: { weightsUrl: string; imageUrl: string; resolution: number; frames: number }) {
  return withDevice(async (device) => {
    const { counts, reset } = countCreations(device);
    const img = await loadImage(c.imageUrl);
    const net = await createPoseNet({ weights: c.weightsUrl, resolution: c.resolution, device });
    const result: Record<string, Record<string, number>> = {};
    for (const profiling of [false, true]) {
      net.profiler.setEnabled(profiling);
      await net.estimateSinglePose(img);
      await net.estimateSinglePose(img);
      reset();
      for (let i = 0; i < c.frames; i++) await net.estimateSinglePose(img);
      result[profiling ? 'profiling' : 'plain'] = { ...counts };
    }
    const bytesBefore = net.gpuBytes();
    net.setResolution(161);
    await net.estimateSinglePose(img);
    net.setResolution(c.resolution);
    await net.estimateSinglePose(img);
    const bytesAfter = net.gpuBytes();
    net.dispose();
    return { counts: result, bytesBefore, bytesAfter, liveAfterDispose: net.ledger.count };
  });
}

/**
 * The contract across input sizes: `{ longSide }` frames of sources of several aspect
 * ratios, the flip test on and off, and back to a fixed size. Counts GPU object creations
 * (a video, one source size, must create nothing per frame; alternating two aspects must
 * build no plan again), the plans held (never more than the cache's capacity) and the
 * bytes (the same whenever the same sizes are held; what the flip test adds goes when it
 * is turned off; a fixed size after all this holds what it held before).
 */
async function allocationsAcrossSizes(c: { weightsUrl: string; longSide: number; aspects: [number, number][]; frames: number }) {
  return withDevice(async (device) => {
    const { counts, reset } = countCreations(device);
    const sources = c.aspects.map(([w, h]) => {
      const canvas = document.createElement('canvas');
      canvas.width = w;
      canvas.height = h;
      drawFigure(canvas.getContext('2d')!, w, h);
      return canvas;
    });
    const net = await createPoseNet({ weights: c.weightsUrl, resolution: c.longSide, device });
    const [first, second] = sources as [HTMLCanvasElement, HTMLCanvasElement];
    await net.estimateSinglePose(first);
    const bytesFixed = net.gpuBytes();

    net.setResolution({ longSide: c.longSide });
    await net.estimateSinglePose(first);
    await net.estimateSinglePose(first);
    reset();
    for (let i = 0; i < c.frames; i++) await net.estimateSinglePose(first);
    const video = { ...counts };
    const videoSize = net.resolution;

    // Warm-up: both sizes' plans built, the source texture grown to hold both sources.
    await net.estimateSinglePose(second);
    await net.estimateSinglePose(first);
    reset();
    for (let i = 0; i < c.frames; i++) await net.estimateSinglePose(i % 2 ? first : second);
    const alternating = { ...counts };
    // Multi-pose too: its candidate and staging buffers are kept per plan.
    await net.estimateMultiplePoses(second);
    await net.estimateMultiplePoses(first);
    reset();
    for (let i = 0; i < c.frames; i++) await net.estimateMultiplePoses(i % 2 ? first : second);
    const multiAlternating = { ...counts };

    const heldPerCycle: string[][] = [];
    const bytesPerCycle: number[] = [];
    const sizesSeen = new Set<string>();
    for (let cycle = 0; cycle < 2; cycle++) {
      for (const source of sources) {
        await net.estimateSinglePose(source);
        sizesSeen.add(`${net.resolution.width}x${net.resolution.height}`);
      }
      heldPerCycle.push(net.planSizes());
      bytesPerCycle.push(net.gpuBytes());
    }

    await net.estimateSinglePose(first);
    const bytesBeforeFlip = net.gpuBytes();
    net.setFlipTest(true);
    await net.estimateSinglePose(first);
    await net.estimateSinglePose(first);
    reset();
    for (let i = 0; i < c.frames; i++) await net.estimateSinglePose(first);
    const flipVideo = { ...counts };
    const bytesWithFlip = net.gpuBytes();
    net.setFlipTest(false);
    await net.estimateSinglePose(first);
    const bytesAfterFlip = net.gpuBytes();

    net.setResolution(c.longSide);
    await net.estimateSinglePose(first);
    const bytesFixedAgain = net.gpuBytes();
    const heldFixed = net.planSizes();
    net.dispose();
    return {
      video,
      videoSize,
      alternating,
      multiAlternating,
      flipVideo,
      sizesSeen: [...sizesSeen],
      heldPerCycle,
      bytesPerCycle,
      bytes: {
        fixed: bytesFixed,
        beforeFlip: bytesBeforeFlip,
        withFlip: bytesWithFlip,
        afterFlip: bytesAfterFlip,
        fixedAgain: bytesFixedAgain,
      },
      heldFixed,
      liveAfterDispose: net.ledger.count,
    };
  });
}

/**
 * The same picture through every source type estimateSinglePose takes; returns each
 * pose (and, for the image, the flipped pose) so a test can compare them.
 */
async function sources(c: { weightsUrl: string; imageUrl: string; resolution: number; upload: 'auto' | 'copy' | 'cpu'; skip?: string[] }) {
  return withDevice(async (device) => {
    const img = await loadImage(c.imageUrl);
    const w = img.naturalWidth;
    const h = img.naturalHeight;
    const canvas = document.createElement('canvas');
    canvas.width = w;
    canvas.height = h;
    canvas.getContext('2d')!.drawImage(img, 0, 0);
    const offscreen = new OffscreenCanvas(w, h);
    offscreen.getContext('2d')!.drawImage(img, 0, 0);
    const imageData = canvas.getContext('2d')!.getImageData(0, 0, w, h);
    const bitmap = await createImageBitmap(img);
    const frame = new VideoFrame(bitmap, { timestamp: 0 });
    const texture = device.createTexture({
      label: 'harness.sourceTexture',
      size: { width: w, height: h },
      format: 'rgba8unorm',
      usage: GPUTextureUsage.TEXTURE_BINDING | GPUTextureUsage.COPY_DST | GPUTextureUsage.RENDER_ATTACHMENT,
    });
    device.queue.copyExternalImageToTexture({ source: bitmap }, { texture }, { width: w, height: h });
    // A playing video of the canvas (a MediaStream track, no encoding).
    const video = document.createElement('video');
    video.muted = true;
    video.srcObject = canvas.captureStream(30);
    await video.play();
    const redraw = setInterval(() => canvas.getContext('2d')!.drawImage(img, 0, 0), 20);
    while (!video.videoWidth) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 200));

    const net = await createPoseNet({ weights: c.weightsUrl, resolution: c.resolution, device, upload: c.upload, tuning: 'off' });
    const poses: Record<string, Pose> = {};
    const all: [string, Parameters<typeof net.estimateSinglePose>[0]][] = [
      ['image', img],
      ['canvas', canvas],
      ['offscreenCanvas', offscreen],
      ['imageData', imageData],
      ['imageBitmap', bitmap],
      ['videoFrame', frame],
      ['gpuTexture', texture],
      ['video', video],
    ];
    for (const [name, source] of all) if (!c.skip?.includes(name)) poses[name] = await net.estimateSinglePose(source);
    poses.imageFlipped = await net.estimateSinglePose(img, { flipHorizontal: true });
    poses.imageStretch = await net.estimateSinglePose(img, { fit: 'stretch' });
    poses.imageCrop = await net.estimateSinglePose(img, { fit: 'crop' });
    clearInterval(redraw);
    frame.close();
    texture.destroy();
    net.dispose();
    return { poses, width: w, height: h, uploadPath: net.uploadPath };
  });
}

/** Loads weights and reports the error message (for the bad-input tests). */
async function loadError({
  weightsUrl,
  resolution,
}: {
  weightsUrl: string;
  resolution: number | { width: number; height: number };
}): Promise<string | null> {
  const device = await requestPoseNetDevice();
  try {
    const net = await createPoseNet({ weights: weightsUrl, resolution, device });
    net.dispose();
    return null;
  } catch (err) {
    return (err as Error).message;
  } finally {
    device.destroy();
  }
}

const harness = { layerVariants, preprocess, decode, model, poses, loadError, imagePixels, allocations, allocationsAcrossSizes, sources };
(window as unknown as { harness: typeof harness }).harness = harness;
export type Harness = typeof harness;
