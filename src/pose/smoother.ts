/**
 * PoseSmoother: a One Euro filter (one-euro.ts) on each keypoint's x and y, driven by
 * the frames' timestamps.
 *
 * Normalised by the pose's size: the filter's speed term is measured in pose sizes per
 * second, not pixels per second, so one setting serves a person filling the frame and
 * one far away (a far person's 1-pixel wobble is a near person's 10). The low-pass itself
 * is linear, so filtering pixels or pixels / size gives the same output; filtering pixels
 * keeps the size estimate's own noise out of the positions. The size is the diagonal of
 * the box around the confident keypoints, itself low-passed (SIZE_CUTOFF_HZ).
 *
 * Only positions are filtered; scores pass through (a keypoint's visibility should not
 * lag). The history starts over when time stands still or runs backwards (a re-run of the
 * same frame, a seek back) or jumps forward by more than `resetAfterMs` (a seek ahead, a
 * long stall), and on `reset()`.
 *
 * The defaults come from `npm run jitter -- --tune` (tools/jitter.ts): synthetic clips made
 * from five coco-mini photographs (a smooth pan and zoom with sensor noise, 30 fps) through
 * MobileNetV1 0.75 at 257; see SMOOTHING_DEFAULTS and the README's table.
 */
import { NUM_KEYPOINTS } from './keypoints.ts';
import { OneEuroFilter, type OneEuroParams } from './one-euro.ts';
import type { Pose } from './types.ts';

export interface SmoothingOptions {
  /**
   * Cutoff frequency at rest, in Hz. Lower is smoother (less jitter on a still person)
   * and lags more on slow motion.
   */
  minCutoff?: number;
  /**
   * How much the cutoff rises with speed, in Hz per (pose size per second). Higher lags
   * less on fast motion and lets more jitter through while moving.
   */
  beta?: number;
  /** Cutoff frequency of the speed estimate, in Hz. */
  derivativeCutoff?: number;
  /** A gap between frames longer than this (ms) starts the history over (a seek ahead). */
  resetAfterMs?: number;
  /** Keypoints at or above this score define the pose's size. */
  sizeMinScore?: number;
}

/**
 * Chosen by measurement (`npm run jitter -- --tune`, see the README): on clips from five
 * coco-mini photographs at 257, of the settings that keep smoothed jitter at most 0.4 of
 * raw and RMS error no worse than raw on every clip, the one with the least lag: jitter
 * 0.37-0.40 of raw, RMS error 0.95-1.00 of raw, lag 0.8-1.1 frames (about one frame more
 * than the raw track's). A first-order filter cannot do much better on a clip that never
 * stops moving: less jitter costs lag, less lag costs jitter. Lower minCutoff (the app's
 * strength slider) for a steadier pose where lag matters less.
 */
export const SMOOTHING_DEFAULTS: Readonly<Required<SmoothingOptions>> = {
  minCutoff: 4.5,
  beta: 1,
  derivativeCutoff: 1,
  resetAfterMs: 1000,
  sizeMinScore: 0.3,
};

/** The low-pass cutoff of the pose-size estimate, in Hz (the size changes slowly; its noise should not steer the filter). */
const SIZE_CUTOFF_HZ = 1;

export function checkSmoothingOptions(o: SmoothingOptions): Required<SmoothingOptions> {
  const r = { ...SMOOTHING_DEFAULTS, ...Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) };
  if (!(r.minCutoff > 0 && Number.isFinite(r.minCutoff))) throw new RangeError(`smoothing minCutoff ${r.minCutoff}: must be > 0 (Hz)`);
  if (!(r.beta >= 0 && Number.isFinite(r.beta))) throw new RangeError(`smoothing beta ${r.beta}: must be >= 0`);
  if (!(r.derivativeCutoff > 0 && Number.isFinite(r.derivativeCutoff)))
    throw new RangeError(`smoothing derivativeCutoff ${r.derivativeCutoff}: must be > 0 (Hz)`);
  if (!(r.resetAfterMs > 0)) throw new RangeError(`smoothing resetAfterMs ${r.resetAfterMs}: must be > 0`);
  if (!(r.sizeMinScore >= 0 && r.sizeMinScore <= 1)) throw new RangeError(`smoothing sizeMinScore ${r.sizeMinScore}: must be in [0, 1]`);
  return r;
}

/**
 * The diagonal of the box around the keypoints scoring at least `minScore` (all keypoints
 * when fewer than two do), at least 1 px.
 */
export function poseSize(pose: Pose, minScore: number): number {
  let kps = pose.keypoints.filter((k) => k.score >= minScore);
  if (kps.length < 2) kps = pose.keypoints;
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = -Infinity;
  let y1 = -Infinity;
  for (const k of kps) {
    x0 = Math.min(x0, k.position.x);
    y0 = Math.min(y0, k.position.y);
    x1 = Math.max(x1, k.position.x);
    y1 = Math.max(y1, k.position.y);
  }
  const d = Math.hypot(x1 - x0, y1 - y0);
  return Number.isFinite(d) ? Math.max(1, d) : 1;
}

export class PoseSmoother {
  private options: Required<SmoothingOptions>;
  private readonly filters: OneEuroFilter[];
  private readonly size: OneEuroFilter;
  private lastMs = Number.NaN;

  constructor(options: SmoothingOptions = {}) {
    this.options = checkSmoothingOptions(options);
    const params = this.filterParams();
    this.filters = Array.from({ length: 2 * NUM_KEYPOINTS }, () => new OneEuroFilter(params));
    this.size = new OneEuroFilter({ minCutoff: SIZE_CUTOFF_HZ, beta: 0, derivativeCutoff: 1 });
  }

  get settings(): Readonly<Required<SmoothingOptions>> {
    return this.options;
  }

  /** Changes the parameters; the history is kept (a slider moved mid-video). */
  setOptions(options: SmoothingOptions): void {
    this.options = checkSmoothingOptions({ ...this.options, ...options });
    const params = this.filterParams();
    for (const f of this.filters) f.params = params;
  }

  private filterParams(): OneEuroParams {
    const { minCutoff, beta, derivativeCutoff } = this.options;
    return { minCutoff, beta, derivativeCutoff };
  }

  /** Forgets the history: the next pose passes through unchanged. */
  reset(): void {
    for (const f of this.filters) f.reset();
    this.size.reset();
    this.lastMs = Number.NaN;
  }

  /**
   * The smoothed pose for a frame at `timestampMs` (a video's media time, a camera's
   * capture time: any clock in ms that advances with the frames). Returns a new pose.
   */
  smooth(pose: Pose, timestampMs: number): Pose {
    if (pose.keypoints.length !== NUM_KEYPOINTS)
      throw new RangeError(`PoseSmoother: a pose has ${NUM_KEYPOINTS} keypoints, got ${pose.keypoints.length}`);
    if (!Number.isFinite(timestampMs)) throw new RangeError(`PoseSmoother: timestamp ${timestampMs} is not a finite number of ms`);
    if (timestampMs - this.lastMs > this.options.resetAfterMs) this.reset();
    this.lastMs = timestampMs;
    const t = timestampMs / 1000;
    const size = this.size.filter(poseSize(pose, this.options.sizeMinScore), t);
    const scale = 1 / Math.max(1, size);
    return {
      ...pose,
      keypoints: pose.keypoints.map((k, i) => ({
        part: k.part,
        score: k.score,
        position: {
          x: this.filters[2 * i]!.filter(k.position.x, t, scale),
          y: this.filters[2 * i + 1]!.filter(k.position.y, t, scale),
        },
      })),
    };
  }
}
