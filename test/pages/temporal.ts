/**
 * Browser side of the smoothing / tracking API test (test/video.test.ts): frames of the
 * synthetic clip (tools/pages/synthetic-clip.ts) through `estimateSinglePose(src,
 * { smoothing, timestamp })` and `estimateMultiplePoses(src, { tracking })`, against
 * PoseSmoother applied to the raw poses by hand. One device, error scopes (withDevice).
 */
import { PoseSmoother } from '../../src/pose/smoother.ts';
import type { Pose } from '../../src/pose/types.ts';
import { createPoseNet } from '../../src/posenet.ts';
import { type ClipSpec, clipSize, drawClipFrame } from '../../tools/pages/synthetic-clip.ts';
import { loadImage } from './images.ts';
import { type GpuResult, withDevice } from './with-device.ts';

export interface TemporalResult {
  /** Largest |API smoothed - PoseSmoother(raw)| over frames, keypoints and axes (px). */
  singleMaxDiff: number;
  /** Same, across a resolution switch (history kept). */
  acrossResolutionMaxDiff: number;
  /** |smoothed - raw| had the history been reset at the switch (must be non-zero for the check above to mean anything). */
  resetWouldDiffer: number;
  /** After setModel the first smoothed pose equals the raw pose: largest difference (px). */
  afterModelMaxDiff: number;
  /** The smoother did something: largest |smoothed - raw| (px). */
  smoothingMoved: number;
  /** Ids of the multi-pose frames, per frame. */
  multiIds: number[][];
  /** Ids after resetSmoothing (tracks forgotten). */
  idsAfterReset: number[];
}

const FRAMES = 6;
const diff = (a: Pose, b: Pose) =>
  Math.max(
    ...a.keypoints.flatMap((k, i) => [
      Math.abs(k.position.x - b.keypoints[i]!.position.x),
      Math.abs(k.position.y - b.keypoints[i]!.position.y),
    ]),
  );

async function run(arg: { weightsUrl: string; imageUrl: string }): Promise<GpuResult<TemporalResult>> {
  return withDevice(async (device) => {
    const photo = await loadImage(arg.imageUrl);
    const spec: ClipSpec = {
      photoWidth: photo.naturalWidth,
      photoHeight: photo.naturalHeight,
      centreX: photo.naturalWidth / 2,
      centreY: photo.naturalHeight / 2,
      frames: 30,
      seed: 3,
    };
    const size = clipSize(spec.photoWidth, spec.photoHeight);
    const ctx = new OffscreenCanvas(size.width, size.height).getContext('2d', { willReadFrequently: true })!;
    // Every fifth frame of the clip: visible motion between frames.
    const frames = Array.from({ length: FRAMES }, (_, i) => drawClipFrame(ctx, photo, spec, 5 * i));
    const t = (i: number) => (5 * i * 1000) / 30;
    const net = await createPoseNet({ weights: arg.weightsUrl, resolution: 161, device });
    try {
      const raw161: Pose[] = [];
      for (const f of frames) raw161.push(await net.estimateSinglePose(f));
      net.setResolution(193);
      const raw193 = await net.estimateSinglePose(frames[3]!);
      net.setResolution(161);

      // 1. The API's smoothing is PoseSmoother on the raw poses.
      const offline = new PoseSmoother();
      let singleMaxDiff = 0;
      let smoothingMoved = 0;
      for (let i = 0; i < 3; i++) {
        const api = await net.estimateSinglePose(frames[i]!, { smoothing: true, timestamp: t(i) });
        singleMaxDiff = Math.max(singleMaxDiff, diff(api, offline.smooth(raw161[i]!, t(i))));
        smoothingMoved = Math.max(smoothingMoved, diff(api, raw161[i]!));
      }
      // 2. A resolution switch keeps the history.
      net.setResolution(193);
      const across = await net.estimateSinglePose(frames[3]!, { smoothing: true, timestamp: t(3) });
      const acrossResolutionMaxDiff = diff(across, offline.smooth(raw193, t(3)));
      const resetWouldDiffer = diff(across, raw193);
      // 3. A model switch resets it: the next smoothed pose is the raw pose.
      net.setResolution(161);
      await net.setModel(arg.weightsUrl);
      const afterModel = await net.estimateSinglePose(frames[4]!, { smoothing: true, timestamp: t(4) });
      const afterModelMaxDiff = diff(afterModel, raw161[4]!);

      // 4. Tracking: ids over consecutive frames (30 fps), then after a reset.
      const multiIds: number[][] = [];
      for (let i = 0; i < FRAMES; i++) {
        const poses = await net.estimateMultiplePoses(drawClipFrame(ctx, photo, spec, i), {
          tracking: true,
          smoothing: true,
          timestamp: (i * 1000) / 30,
          scoreThreshold: 0.3,
        });
        multiIds.push(poses.map((p) => p.id!));
      }
      net.resetSmoothing();
      const idsAfterReset = (await net.estimateMultiplePoses(frames[0]!, { tracking: true, timestamp: 0, scoreThreshold: 0.3 })).map(
        (p) => p.id!,
      );
      return { singleMaxDiff, acrossResolutionMaxDiff, resetWouldDiffer, afterModelMaxDiff, smoothingMoved, multiIds, idsAfterReset };
    } finally {
      net.dispose();
    }
  });
}

const temporal = { run };
(window as unknown as { temporal: typeof temporal }).temporal = temporal;
export type TemporalPage = typeof temporal;
