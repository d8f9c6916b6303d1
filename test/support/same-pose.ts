/**
 * Pose equality for poses that the same kernels computed from the same RGBA bytes (worker
 * mode, the npm package): 1e-3 px and 1e-4 in score, the bound test/sources.test.ts uses
 * across source types. In practice such poses are identical.
 */
import { expect } from 'vitest';
import type { Pose } from '../../src/pose/types.ts';

export const SAME_POSE_PX = 1e-3;
export const SAME_POSE_SCORE = 1e-4;

export function expectSamePose(got: Pose, ref: Pose, what: string): void {
  expect(got.keypoints.length, what).toBe(17);
  expect(Math.abs(got.score - ref.score), `${what}: pose score`).toBeLessThan(SAME_POSE_SCORE);
  got.keypoints.forEach((kp, k) => {
    const r = ref.keypoints[k]!;
    expect(kp.part, what).toBe(r.part);
    expect(Math.abs(kp.position.x - r.position.x), `${what}: ${kp.part}.x`).toBeLessThan(SAME_POSE_PX);
    expect(Math.abs(kp.position.y - r.position.y), `${what}: ${kp.part}.y`).toBeLessThan(SAME_POSE_PX);
    expect(Math.abs(kp.score - r.score), `${what}: ${kp.part}.score`).toBeLessThan(SAME_POSE_SCORE);
  });
}

/** The largest keypoint position (px) and score differences between two poses, for the log. */
export function poseDifference(got: Pose, ref: Pose): { px: number; score: number } {
  let px = 0;
  let score = Math.abs(got.score - ref.score);
  got.keypoints.forEach((kp, k) => {
    const r = ref.keypoints[k]!;
    px = Math.max(px, Math.abs(kp.position.x - r.position.x), Math.abs(kp.position.y - r.position.y));
    score = Math.max(score, Math.abs(kp.score - r.score));
  });
  return { px, score };
}
