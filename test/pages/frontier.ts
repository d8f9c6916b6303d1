/**
 * Browser side of test/frontier-gpu.test.ts (`window.frontier`): the flip test's merge
 * kernel and whole flip-test frames, `{ longSide }` frames, and targetFps on SwiftShader.
 * Each entry point runs on a fresh device inside error scopes (withDevice) and returns
 * its numbers; tensors come back as base64 float32.
 */
import { KernelCache } from '../../src/gpu/kernels.ts';
import { GpuLedger } from '../../src/gpu/resources.ts';
import { fetchWeights, Model } from '../../src/model/model.ts';
import { FlipTest } from '../../src/plan/flip-test.ts';
import { Plan } from '../../src/plan/plan.ts';
import { aspectResolution } from '../../src/plan/shapes.ts';
import type { Pose } from '../../src/pose/types.ts';
import { createPoseNet, type Heads, type PoseNet } from '../../src/posenet.ts';
import { b64ToF32, f32ToB64 } from '../support/b64.ts';
import { loadImage } from './images.ts';
import { withDevice } from './with-device.ts';

async function readBuffer(device: GPUDevice, buffer: GPUBuffer, bytes: number): Promise<Float32Array> {
  const staging = device.createBuffer({
    label: 'frontier.readback',
    size: bytes,
    usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
  });
  const encoder = device.createCommandEncoder();
  encoder.copyBufferToBuffer(buffer, 0, staging, 0, bytes);
  device.queue.submit([encoder.finish()]);
  await staging.mapAsync(GPUMapMode.READ);
  const out = new Float32Array(staging.getMappedRange().slice(0));
  staging.unmap();
  staging.destroy();
  return out;
}

function compileErrors(kernels: KernelCache): void {
  if (kernels.compileErrors.length) throw new Error(kernels.compileErrors.join('\n'));
}

/**
 * The flip_average pass alone: the real model's plan at width x height (so its heads
 * layout), given heads for the frame (`a`) and its mirrored run (`b`), padded NHWC;
 * returns the merged heads the pass leaves in the frame's buffer.
 */
async function flipAverage(c: { weightsUrl: string; width: number; height: number; a: string; b: string }) {
  return withDevice(async (device) => {
    const ledger = new GpuLedger();
    const kernels = new KernelCache(device);
    const model = new Model(device, await fetchWeights(c.weightsUrl), ledger);
    const plan = new Plan(device, kernels, model, c.width, c.height, ledger);
    const flip = new FlipTest(device, kernels, plan, ledger);
    const { h, w, c4 } = plan.headsShape;
    device.queue.writeBuffer(plan.headsBuffer, 0, b64ToF32(c.a));
    device.queue.writeBuffer(flip.mirrored.headsBuffer, 0, b64ToF32(c.b));
    const encoder = device.createCommandEncoder();
    flip.encodeAverage(encoder, null);
    device.queue.submit([encoder.finish()]);
    const merged = await readBuffer(device, plan.headsBuffer, h * w * c4 * 16);
    flip.dispose();
    plan.dispose();
    model.dispose();
    compileErrors(kernels);
    if (ledger.count !== 0) throw new Error(`leak: ${JSON.stringify(ledger.entries())}`);
    return { merged: f32ToB64(merged), grid: { w, h }, c4, heads: model.manifest.heads };
  });
}

const headsB64 = (heads: Heads) =>
  Object.fromEntries(Object.entries(heads).map(([k, v]) => [k, { data: f32ToB64(v.data), shape: v.shape }]));

/**
 * One image through the net with the flip test off and on: raw heads, merged heads, the
 * mirrored run's heads and inputs, the poses, the profiler's pass names, and GPU bytes
 * before, with and after the flip test.
 */
async function flipFrames(c: { weightsUrl: string; imageUrl: string; resolution: number }) {
  return withDevice(async (device) => {
    const img = await loadImage(c.imageUrl);
    const net = await createPoseNet({ weights: c.weightsUrl, resolution: c.resolution, device });
    const input = net.manifest.input.tensor;
    const plain = await net.estimateSinglePose(img);
    const raw = await net.readHeads();
    // A multi-pose frame first, so that its buffers are in every byte count below.
    await net.estimateMultiplePoses(img, { maxDetections: 5, scoreThreshold: 0.3 });
    const bytesOff = net.gpuBytes();
    net.setFlipTest(true);
    const flipped = await net.estimateSinglePose(img);
    const merged = await net.readHeads();
    const mirroredHeads = await net.readHeads({ mirrored: true });
    const frameInput = await net.readTensor(input);
    const mirroredInput = await net.readTensor(input, { mirrored: true });
    const bytesOn = net.gpuBytes();
    net.profiler.setEnabled(true);
    await net.estimateSinglePose(img);
    const passes = net.profiler.stats().map((p) => p.name);
    net.profiler.setEnabled(false);
    const multi = await net.estimateMultiplePoses(img, { maxDetections: 5, scoreThreshold: 0.3 });
    const mergedAfterMulti = await net.readHeads();
    net.setFlipTest(false);
    await net.estimateSinglePose(img);
    const bytesAfter = net.gpuBytes();
    compileErrors(net.kernels);
    net.dispose();
    if (net.ledger.count !== 0) throw new Error(`leak after dispose: ${JSON.stringify(net.ledger.entries())}`);
    return {
      plain,
      flipped,
      multi,
      raw: headsB64(raw),
      merged: headsB64(merged),
      mergedAfterMulti: headsB64(mergedAfterMulti),
      mirrored: headsB64(mirroredHeads),
      frameInput: { data: f32ToB64(frameInput.data), shape: frameInput.shape },
      mirroredInput: { data: f32ToB64(mirroredInput.data), shape: mirroredInput.shape },
      passes,
      bytes: { off: bytesOff, on: bytesOn, after: bytesAfter },
    };
  });
}

/** The same image at `{ longSide }` and at the square long side: input sizes and poses. */
async function aspectFrames(c: { weightsUrl: string; imageUrl: string; longSide: number }) {
  return withDevice(async (device) => {
    const img = await loadImage(c.imageUrl);
    const net = await createPoseNet({ weights: c.weightsUrl, resolution: { longSide: c.longSide }, device });
    const aspect = await net.estimateSinglePose(img);
    const aspectSize = net.resolution;
    const expected = net.inputSizeFor(img.naturalWidth, img.naturalHeight);
    net.setResolution(c.longSide);
    const square = await net.estimateSinglePose(img);
    const squareSize = net.resolution;
    compileErrors(net.kernels);
    net.dispose();
    return { aspect, square, aspectSize, squareSize, expected, image: { width: img.naturalWidth, height: img.naturalHeight } };
  });
}

/**
 * Frames under targetFps until the size it chose has been measured and the last frame ran
 * at it (at most `frames`: a loaded machine may keep it moving); the controller's choice
 * and each frame's size.
 */
async function targetFps(c: {
  weightsUrl: string;
  imageUrl: string;
  fps: number;
  sizes: number[];
  frames: number;
  window: number;
  longSide: number;
}) {
  return withDevice(async (device) => {
    const img = await loadImage(c.imageUrl);
    const net: PoseNet = await createPoseNet({
      weights: c.weightsUrl,
      resolution: { longSide: c.longSide },
      device,
      targetFps: { fps: c.fps, sizes: c.sizes, startSize: c.sizes[0], window: c.window },
    });
    const frames: { width: number; height: number; latencyMs: number; pose: Pose }[] = [];
    for (let i = 0; i < c.frames; i++) {
      const pose = await net.estimateSinglePose(img);
      const input = net.lastInputSize!;
      frames.push({ ...input, latencyMs: net.lastTiming.latencyMs, pose });
      const choice = net.targetFpsChoice!;
      const settled = choice.estimates.some((e) => e.size === choice.size && !e.predicted);
      if (settled && Math.max(input.width, input.height) === choice.size) break;
    }
    const choice = net.targetFpsChoice;
    const planSizes = net.planSizes();
    const stride = net.manifest.outputStride;
    const expected = Object.fromEntries(c.sizes.map((s) => [s, aspectResolution(s, img.naturalWidth, img.naturalHeight, stride)]));
    compileErrors(net.kernels);
    net.dispose();
    return { choice, frames, planSizes, expected, liveAfterDispose: net.ledger.count };
  });
}

const frontier = { flipAverage, flipFrames, aspectFrames, targetFps };
(window as unknown as { frontier: typeof frontier }).frontier = frontier;
export type Frontier = typeof frontier;
