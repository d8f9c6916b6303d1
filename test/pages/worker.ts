/**
 * Browser side of the worker-mode and package tests (`window.workerPage`): the same
 * picture through a PoseNet on this thread (inside withDevice's error scopes) and through a
 * WorkerPoseNet, with every member of the worker API exercised. Results are plain data for
 * the Node side to compare; GPU errors come back with them (the worker's through
 * `onGpuError`, which receives every uncaptured error of the worker's device).
 */
import type { PassStats } from '../../src/gpu/profiler.ts';
import type { Pose } from '../../src/pose/types.ts';
import { createPoseNet, type PoseNet, type PoseSource } from '../../src/posenet.ts';
import { createWorkerPoseNet, WorkerModeError, type WorkerPoseNet } from '../../src/worker/client.ts';
import { WORKER_MEMBERS } from '../../src/worker/protocol.ts';
import { b64ToBytes } from '../support/b64.ts';
import { loadImage, syntheticImageUrl } from './images.ts';
import { withDevice } from './with-device.ts';

/** An image from bytes (base64) or a URL. */
async function image(c: { imageUrl?: string; imageB64?: string; mime?: string }): Promise<HTMLImageElement> {
  if (c.imageB64) return loadImage(URL.createObjectURL(new Blob([b64ToBytes(c.imageB64)], { type: c.mime ?? 'image/jpeg' })));
  return loadImage(c.imageUrl!);
}

/** The repository's own single pose of a picture, on this thread. */
async function reference(c: { weightsUrl: string; imageUrl?: string; imageB64?: string; mime?: string; resolution: number }) {
  const img = await image(c);
  return withDevice(async (device) => {
    const net = await createPoseNet({ weights: c.weightsUrl, resolution: c.resolution, device });
    const pose = await net.estimateSinglePose(img);
    net.dispose();
    return pose;
  });
}

/** Frames posted to the worker, as the worker's postMessage saw them. */
interface Posted {
  method: string;
  transfer: string[];
  args: string[];
}

function spyOnPosts(net: WorkerPoseNet): Posted[] {
  const posted: Posted[] = [];
  const original = net.worker.postMessage.bind(net.worker);
  net.worker.postMessage = ((message: { type: string; method?: string; args?: unknown[] }, transfer?: Transferable[]) => {
    if (message.type === 'call') {
      posted.push({
        method: message.method!,
        transfer: (transfer ?? []).map((t) => t.constructor.name),
        args: (message.args ?? []).map((a) => (a === null || typeof a !== 'object' ? typeof a : a.constructor.name)),
      });
    }
    original(message, transfer ?? []);
  }) as Worker['postMessage'];
  return posted;
}

async function rejection(p: Promise<unknown>): Promise<{ name: string; message: string; isWorkerModeError: boolean } | null> {
  try {
    await p;
    return null;
  } catch (err) {
    return { name: (err as Error).name, message: (err as Error).message, isWorkerModeError: err instanceof WorkerModeError };
  }
}

function thrown(fn: () => unknown): { name: string; message: string } | null {
  try {
    fn();
    return null;
  } catch (err) {
    return { name: (err as Error).name, message: (err as Error).message };
  }
}

/**
 * Every source kind through this thread's PoseNet and the worker's, the worker's API
 * member by member, and what crossed to the worker.
 */
async function workerMode(c: { weightsUrl: string; imageUrl?: string; imageB64?: string; mime?: string; resolution: number }) {
  const img = await image(c);
  const w = img.naturalWidth;
  const h = img.naturalHeight;
  const canvas = document.createElement('canvas');
  canvas.width = w;
  canvas.height = h;
  canvas.getContext('2d')!.drawImage(img, 0, 0);
  const imageData = canvas.getContext('2d')!.getImageData(0, 0, w, h);
  const bitmap = await createImageBitmap(img);
  const frame = new VideoFrame(bitmap, { timestamp: 0 });
  const sources: [string, PoseSource][] = [
    ['image', img],
    ['canvas', canvas],
    ['imageData', imageData],
    ['imageBitmap', bitmap],
    ['videoFrame', frame],
  ];
  const relativeWeights = c.weightsUrl.replace(/^\//, '../../');

  const main = await withDevice(async (device) => {
    const net: PoseNet = await createPoseNet({ weights: c.weightsUrl, resolution: c.resolution, device });
    const single: Record<string, Pose> = {};
    for (const [name, source] of sources) single[name] = await net.estimateSinglePose(source);
    const multi = await net.estimateMultiplePoses(img, { maxDetections: 3 });
    net.setResolution(c.resolution + 64);
    const at2 = await net.estimateSinglePose(img);
    const heads = await net.readHeads();
    const result = { single, multi, at2, headsShape: heads.heatmap.shape, gpuBytes: net.gpuBytes() };
    net.dispose();
    return result;
  });

  const gpuErrors: string[] = [];
  const net = await createWorkerPoseNet({ weights: relativeWeights, resolution: c.resolution });
  net.onGpuError = (m) => gpuErrors.push(m);
  const posted = spyOnPosts(net);
  const single: Record<string, Pose> = {};
  for (const [name, source] of sources) single[name] = await net.estimateSinglePose(source);
  const callerSourcesIntact = { bitmapWidth: bitmap.width, frameFormat: frame.format, imageDataBytes: imageData.data.byteLength };
  const multi = await net.estimateMultiplePoses(img, { maxDetections: 3 });
  const badResolution = await rejection(net.setResolution(c.resolution + 1));
  await net.setResolution(c.resolution + 64);
  const resolutionAfter = net.resolution;
  await net.profiler.setEnabled(true);
  const at2 = await net.estimateSinglePose(img);
  await net.estimateSinglePose(img);
  // The state as of that frame (a later call that runs no frame carries no frame profile).
  const frameState = net.state;
  const stats: PassStats[] = await net.profiler.stats();
  const mirrored = {
    passStats: frameState.passStats.length,
    frameProfilePasses: frameState.frameProfile?.passes.length ?? 0,
    profileAfterStats: net.state.frameProfile,
    timestampsActive: net.profiler.timestampsActive,
    supported: net.profiler.supported,
    enabled: net.profiler.enabled,
    frameCount: net.frameCount,
    latencyMs: net.lastTiming.latencyMs,
    outputStride: net.manifest.outputStride,
    uploadPath: net.uploadPath,
  };
  const lastFrames = await net.profiler.lastFrames();
  const heads = await net.readHeads();
  const headsIsFloat32 = heads.heatmap.data instanceof Float32Array;
  const gpuBytes = await net.gpuBytes();
  await net.setModel(relativeWeights);
  const afterModel = await net.estimateSinglePose(img);
  net.fit = 'stretch';
  const stretched = await net.estimateSinglePose(img);
  net.fit = 'pad';

  const notProxied = Object.fromEntries(
    Object.entries(WORKER_MEMBERS)
      .filter(([, m]) => m.kind === 'none')
      .map(([name]) => [name, thrown(() => (net as unknown as Record<string, unknown>)[name])]),
  );
  const texture = await withDevice(async (device) => {
    const t = device.createTexture({ size: { width: 4, height: 4 }, format: 'rgba8unorm', usage: GPUTextureUsage.TEXTURE_BINDING });
    const r = await rejection(net.estimateSinglePose(t));
    t.destroy();
    return r;
  });
  const withDeviceOption = await withDevice(async (device) =>
    rejection(createWorkerPoseNet({ weights: relativeWeights, device } as Parameters<typeof createWorkerPoseNet>[0])),
  );
  const badWeights = await rejection(createWorkerPoseNet({ weights: '/no/such/model', resolution: c.resolution }));
  const notCloneable = await rejection(net.estimateSinglePose(img, { fit: 'pad', extra: () => 1 } as never));

  await net.dispose();
  const afterDispose = await rejection(net.estimateSinglePose(img));

  // Device loss in the worker reaches `lost`.
  const lostNet = await createWorkerPoseNet({ weights: relativeWeights, resolution: 129 });
  await lostNet.destroyDevice();
  const lost = await Promise.race([lostNet.lost, new Promise((r) => setTimeout(() => r('timeout'), 10_000))]);
  await lostNet.dispose();

  frame.close();
  bitmap.close();
  return {
    main,
    worker: { single, multi, at2, afterModel, stretched, headsShape: heads.heatmap.shape, headsIsFloat32, gpuBytes },
    posted,
    callerSourcesIntact,
    badResolution,
    resolutionAfter,
    stats: stats.length,
    mirrored,
    lastFrames: lastFrames.length,
    notProxied,
    texture: texture.result,
    withDeviceOption: withDeviceOption.result,
    badWeights,
    notCloneable,
    afterDispose,
    lost,
    gpuErrors,
    mainErrors: [...main.errors, ...texture.errors, ...withDeviceOption.errors],
  };
}

/** A generated picture as PNG bytes (base64), where ../shared/coco-mini is absent. */
async function syntheticPng(spec: string): Promise<string> {
  const dataUrl = syntheticImageUrl(spec);
  return dataUrl.slice(dataUrl.indexOf(',') + 1);
}

const workerPage = { reference, workerMode, syntheticPng };
(window as unknown as { workerPage: typeof workerPage }).workerPage = workerPage;
export type WorkerPage = typeof workerPage;
