/** Synthetic poses and noise for the smoothing and tracking unit tests (Node). */
import { PART_NAMES } from '../../src/pose/keypoints.ts';
import type { Pose } from '../../src/pose/types.ts';
import { mulberry32 } from '../../tools/lib/mulberry32.ts';

/** A standing person, 1 unit tall, feet at y = 0.5, head at y = -0.5 (COCO order). */
const TEMPLATE: readonly [number, number][] = [
  [0, -0.45], // nose
  [-0.03, -0.48],
  [0.03, -0.48],
  [-0.07, -0.46],
  [0.07, -0.46],
  [-0.14, -0.3], // shoulders
  [0.14, -0.3],
  [-0.2, -0.1], // elbows
  [0.2, -0.1],
  [-0.22, 0.08], // wrists
  [0.22, 0.08],
  [-0.1, 0.05], // hips
  [0.1, 0.05],
  [-0.11, 0.28], // knees
  [0.11, 0.28],
  [-0.12, 0.5], // ankles
  [0.12, 0.5],
];

/** A person `height` px tall centred at (cx, cy); `score` for every keypoint. */
export function person(cx: number, cy: number, height: number, score = 0.9): Pose {
  return {
    score,
    keypoints: TEMPLATE.map(([x, y], k) => ({ part: PART_NAMES[k]!, position: { x: cx + x * height, y: cy + y * height }, score })),
  };
}

/** Mulberry32: a small seeded PRNG, so the noise is the same on every run. */
export function rng(seed: number): () => number {
  return mulberry32(seed);
}

/** Standard normal samples (Box-Muller) from a seeded PRNG. */
export function gaussian(seed: number): () => number {
  const u = rng(seed);
  return () => Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
}

/** The pose with every keypoint moved by independent Gaussian noise of `sd` px. */
export function noisy(pose: Pose, sd: number, g: () => number): Pose {
  return {
    ...pose,
    keypoints: pose.keypoints.map((k) => ({ ...k, position: { x: k.position.x + sd * g(), y: k.position.y + sd * g() } })),
  };
}

/** A pose sequence as positions[frame][keypoint], for src/pose/jitter-metrics.ts. */
export function positions(poses: Pose[]): { x: number; y: number }[][] {
  return poses.map((p) => p.keypoints.map((k) => ({ ...k.position })));
}
