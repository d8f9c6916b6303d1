/**
 * estimateSinglePose takes every source type the README lists and gives the same pose for
 * the same picture; flipHorizontal mirrors it; the fit modes map back into the image.
 *
 * Both upload paths are checked: `cpu` (2D canvas + writeTexture, the default on
 * SwiftShader) with every source type, and `copy` (copyExternalImageToTexture, the
 * default on GPUs) with every type but <video> and VideoFrame, which lose the device on
 * SwiftShader (a Chromium bug the `cpu` path avoids).
 *
 * Tolerances: decoded images, canvases, bitmaps, frames and textures hold the same RGBA
 * bytes, so their keypoints must agree to 1e-3 px, on either path. A <video> of the canvas goes through
 * Chromium's media pipeline (possibly a YUV round trip), so it is held to a median
 * keypoint distance of 3 px over the keypoints both score above 0.3.
 */
import fs from 'node:fs';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { Pose } from '../src/pose/types.ts';
import { repoRoot } from './support/browser.ts';
import { openHarness, type HarnessPage } from './support/harness-page.ts';

const MODEL = 'posenet-mobilenet-v1-075-s16';
const PHOTO = path.resolve(repoRoot, '../shared/coco-mini/images/000000084533.jpg');

describe('pose sources, flipping and fit modes', () => {
  let harness: HarnessPage;
  type Result = { poses: Record<string, Pose>; width: number; height: number; uploadPath: string };
  let result: Result;
  let copied: Result;

  beforeAll(async () => {
    harness = await openHarness();
    const imageUrl = fs.existsSync(PHOTO) ? '/coco-mini/images/000000084533.jpg' : 'synthetic:640x579';
    if (!fs.existsSync(PHOTO)) console.warn(`sources: ${PHOTO} is absent: using a generated picture`);
    result = (await harness.call('sources', { weightsUrl: `/weights/${MODEL}`, imageUrl, resolution: 257, upload: 'cpu' })) as Result;
    copied = (await harness.call('sources', {
      weightsUrl: `/weights/${MODEL}`,
      imageUrl,
      resolution: 257,
      upload: 'copy',
      skip: ['video', 'videoFrame'],
    })) as Result;
    expect(result.uploadPath).toBe('cpu');
    expect(copied.uploadPath).toBe('copy');
  });
  afterAll(async () => {
    await harness?.close();
  });

  for (const name of ['canvas', 'offscreenCanvas', 'imageData', 'imageBitmap', 'videoFrame', 'gpuTexture']) {
    it(`${name} gives the image's pose`, () => {
      const ref = result.poses.image!;
      const got = result.poses[name]!;
      got.keypoints.forEach((kp, k) => {
        const r = ref.keypoints[k]!;
        expect(Math.abs(kp.position.x - r.position.x), `${kp.part}.x`).toBeLessThan(1e-3);
        expect(Math.abs(kp.position.y - r.position.y), `${kp.part}.y`).toBeLessThan(1e-3);
        expect(Math.abs(kp.score - r.score), `${kp.part}.score`).toBeLessThan(1e-4);
      });
    });
  }

  for (const name of ['image', 'canvas', 'offscreenCanvas', 'imageData', 'imageBitmap', 'gpuTexture']) {
    it(`${name} through copyExternalImageToTexture gives the cpu path's pose`, () => {
      const ref = result.poses.image!;
      const got = copied.poses[name]!;
      got.keypoints.forEach((kp, k) => {
        const r = ref.keypoints[k]!;
        expect(Math.abs(kp.position.x - r.position.x), `${kp.part}.x`).toBeLessThan(1e-3);
        expect(Math.abs(kp.position.y - r.position.y), `${kp.part}.y`).toBeLessThan(1e-3);
        expect(Math.abs(kp.score - r.score), `${kp.part}.score`).toBeLessThan(1e-4);
      });
    });
  }

  it('a playing <video> gives (nearly) the image pose', () => {
    const ref = result.poses.image!;
    const got = result.poses.video!;
    const d = got.keypoints
      .map((kp, k) => [kp, ref.keypoints[k]!] as const)
      .filter(([a, b]) => a.score > 0.3 && b.score > 0.3)
      .map(([a, b]) => Math.hypot(a.position.x - b.position.x, a.position.y - b.position.y))
      .sort((a, b) => a - b);
    console.log(`video: ${d.length} confident keypoints, median distance ${d[d.length >> 1]?.toFixed(3)} px`);
    expect(d.length).toBeGreaterThan(3);
    expect(d[(d.length - 1) >> 1]!).toBeLessThanOrEqual(3);
  });

  it('flipHorizontal mirrors x as width - 1 - x', () => {
    const ref = result.poses.image!;
    result.poses.imageFlipped!.keypoints.forEach((kp, k) => {
      const r = ref.keypoints[k]!;
      expect(kp.position.x).toBeCloseTo(result.width - 1 - r.position.x, 3);
      expect(kp.position.y).toBeCloseTo(r.position.y, 3);
      expect(kp.score).toBeCloseTo(r.score, 6);
    });
  });

  it('stretch and crop land the confident keypoints near the padded fit', () => {
    for (const mode of ['imageStretch', 'imageCrop']) {
      const pose = result.poses[mode]!;
      const d = pose.keypoints
        .map((kp, k) => [kp, result.poses.image!.keypoints[k]!] as const)
        .filter(([a, b]) => a.score > 0.5 && b.score > 0.5)
        .map(([a, b]) => Math.hypot(a.position.x - b.position.x, a.position.y - b.position.y))
        .sort((a, b) => a - b);
      console.log(`${mode}: ${d.length} confident keypoints, median distance to the padded fit ${d[d.length >> 1]?.toFixed(2)} px`);
      expect(d.length).toBeGreaterThan(3);
      // Different resampling moves keypoints by a few pixels, not by a mis-mapped offset.
      expect(d[(d.length - 1) >> 1]!).toBeLessThan(0.05 * Math.max(result.width, result.height));
    }
  });
});
