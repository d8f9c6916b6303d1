/**
 * How good a keypoint track is against a known truth, for `npm run jitter` and the
 * smoothing tests. A track is positions[frame][keypoint]; only the keypoints marked in
 * `use` count (those the truth is confident about).
 *
 * - RMS error (px): sqrt of the mean squared distance to the truth over frames and keypoints.
 * - Jitter (px): the RMS over frames and keypoints of the frame-to-frame second difference
 *   p[t+1] - 2 p[t] + p[t-1] (a smooth motion has almost none; noise has plenty).
 * - Lag (frames): the delay τ for which the track best matches the truth delayed by τ,
 *   i.e. the τ minimising the mean squared distance between p[t] and truth(t - τ), the
 *   truth interpolated linearly between frames; searched from -LAG_SEARCH_FRAMES to
 *   +LAG_SEARCH_FRAMES in steps of LAG_STEP_FRAMES, over the frames where truth(t - τ)
 *   exists for every candidate τ. A tie (nothing moves) gives 0.
 */
import type { Vector2D } from './types.ts';

export type Track = readonly (readonly Vector2D[])[];

export const LAG_SEARCH_FRAMES = 5;
export const LAG_STEP_FRAMES = 0.05;

function check(track: Track, truth: Track): void {
  if (track.length !== truth.length) throw new RangeError(`track has ${track.length} frames, truth ${truth.length}`);
}

export function rmsErrorPx(track: Track, truth: Track, use: readonly boolean[]): number {
  check(track, truth);
  let sum = 0;
  let n = 0;
  track.forEach((frame, t) => {
    frame.forEach((p, k) => {
      if (!use[k]) return;
      const q = truth[t]![k]!;
      sum += (p.x - q.x) ** 2 + (p.y - q.y) ** 2;
      n++;
    });
  });
  return n ? Math.sqrt(sum / n) : Number.NaN;
}

export function jitterPx(track: Track, use: readonly boolean[]): number {
  let sum = 0;
  let n = 0;
  for (let t = 1; t + 1 < track.length; t++) {
    track[t]!.forEach((b, k) => {
      if (!use[k]) return;
      const a = track[t - 1]![k]!;
      const c = track[t + 1]![k]!;
      sum += (c.x - 2 * b.x + a.x) ** 2 + (c.y - 2 * b.y + a.y) ** 2;
      n++;
    });
  }
  return n ? Math.sqrt(sum / n) : Number.NaN;
}

/** truth(t) at a fractional frame t (linear between frames); t within [0, frames - 1]. */
function truthAt(truth: Track, t: number, k: number): Vector2D {
  const i = Math.min(truth.length - 2, Math.max(0, Math.floor(t)));
  const f = t - i;
  const a = truth[i]![k]!;
  const b = truth[i + 1]![k]!;
  return { x: a.x + f * (b.x - a.x), y: a.y + f * (b.y - a.y) };
}

export function lagFrames(track: Track, truth: Track, use: readonly boolean[]): number {
  check(track, truth);
  const frames = track.length;
  if (frames < 2 * LAG_SEARCH_FRAMES + 3) throw new RangeError(`lag needs at least ${2 * LAG_SEARCH_FRAMES + 3} frames, got ${frames}`);
  let best = 0;
  let bestErr = Infinity;
  const steps = Math.round(LAG_SEARCH_FRAMES / LAG_STEP_FRAMES);
  // Smallest |lag| first, so that a tie (no motion) gives 0.
  for (let i = 0; i <= 2 * steps; i++) {
    const lag = (i % 2 ? -(i + 1) / 2 : i / 2) * LAG_STEP_FRAMES;
    let sum = 0;
    for (let t = LAG_SEARCH_FRAMES; t < frames - LAG_SEARCH_FRAMES; t++) {
      track[t]!.forEach((p, k) => {
        if (!use[k]) return;
        const q = truthAt(truth, t - lag, k);
        sum += (p.x - q.x) ** 2 + (p.y - q.y) ** 2;
      });
    }
    if (sum < bestErr - 1e-12) {
      bestErr = sum;
      best = lag;
    }
  }
  return Math.round(best / LAG_STEP_FRAMES) * LAG_STEP_FRAMES;
}
