/**
 * The bare page of `npm run longtasks`: the camera into PoseNet, frame after frame, and
 * nothing else on the page's thread (no drawing, no panels), on the page's thread or in a
 * worker (`?worker=1`). Long tasks seen here are PoseNet's (and the machine's). Records
 * each frame's end-to-end latency (estimate call to keypoints on this thread).
 */
import { createPoseNet, type PoseNet } from '../../src/posenet.ts';
import { createWorkerPoseNet, type WorkerPoseNet } from '../../src/worker/client.ts';

/** As the demo page's FrameRecord: completion time, call-to-keypoints here, and where the PoseNet runs. */
export interface BareFrame {
  t: number;
  endToEndMs: number;
  latencyMs: number;
}

const params = new URLSearchParams(location.search);
const state = { frames: [] as BareFrame[], error: null as string | null, gpuErrors: [] as string[] };
export type BareState = typeof state;
(window as unknown as { bare: BareState }).bare = state;

async function main(): Promise<void> {
  const video = document.getElementById('camera') as HTMLVideoElement;
  video.srcObject = await navigator.mediaDevices.getUserMedia({ video: true, audio: false });
  await video.play();
  while (!video.videoWidth) await new Promise((r) => setTimeout(r, 20));
  const [width = 257, height = width] = (params.get('res') ?? '257').split('x').map(Number);
  const resolution = { width, height };
  const weights = `${location.origin}/weights/posenet-mobilenet-v1-075-s16`;
  let net: PoseNet | WorkerPoseNet;
  if (params.get('worker') === '1') {
    const w = await createWorkerPoseNet({ weights, resolution });
    w.onGpuError = (m) => state.gpuErrors.push(m);
    net = w;
  } else {
    const n = await createPoseNet({ weights, resolution });
    n.device.onuncapturederror = (e) => state.gpuErrors.push(e.error.message);
    net = n;
  }
  for (;;) {
    await new Promise((r) => requestAnimationFrame(r));
    const t0 = performance.now();
    await net.estimateSinglePose(video);
    const t1 = performance.now();
    state.frames.push({ t: t1, endToEndMs: t1 - t0, latencyMs: net.lastTiming.latencyMs });
  }
}

main().catch((err: Error) => {
  state.error = err.stack ?? err.message;
});
