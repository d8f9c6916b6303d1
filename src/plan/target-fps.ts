/**
 * `targetFps`: "as accurate as possible at 30 fps". Picks the largest input size (a long
 * side; square or following the source's aspect, as the net's resolution says) whose
 * measured frame time fits the budget 1000 / fps on this device, and follows load
 * changes without flapping. Pure logic: it is told frame times and answers a size, so
 * it is tested with synthetic frame times.
 *
 * The model: what each size costs now. A stay at one size measures it in windows of
 * `window` frames (the first `settleFrames` after a switch are not counted: the first
 * frame at a size builds its plan). The first window of a stay sets that size's estimate
 * (the ratio between sizes is what the visits measured; the load is taken as unchanged
 * across a switch, a few frames apart). Later windows track the load: the median of the
 * stay's recent frames (up to `loadFrames`) against the first window gives a factor f by
 * which every size's estimate (as it stood on arrival) is scaled, since load moves every
 * size alike. A size never visited is predicted from the visited ones, in proportion to
 * pixels (size²) from the nearest, or linearly in pixels between two that bracket it;
 * proportional extrapolation overstates large sizes (a frame has fixed costs), so a
 * probe upwards from a small size is cautious.
 *
 * Decisions, after each window:
 * - down, to the largest smaller size predicted to fit (else the smallest), when the stay
 *   no longer fits: its level is over budget. The level is the recent median, or the last
 *   window alone when that is over `1 + spike` x budget (a sudden load is followed at once);
 * - up, to the largest bigger size predicted at or below `upMargin` x budget, unless an
 *   up-step failed recently: after an up-step whose first window was over budget, the
 *   next try waits `upCooldown` frames, doubled for each further failure (at most
 *   `maxCooldown`); an up-step that holds for three windows clears it.
 * The gap between "fits" (<= budget) and "worth going up" (<= upMargin x budget), the
 * learned estimates, the longer load window and the cooldown are the hysteresis: a size
 * that did not fit is not tried again until the load falls enough for its measured cost
 * to fit with margin.
 *
 * Without measurements it starts at `startSize` (a quick probe: one window there, then
 * the jump the estimate allows); `seed()` starts it from a sweep's measurements instead.
 */

export interface TargetFpsOptions {
  /** Frames per second to hold: the budget is 1000 / fps ms per frame. */
  fps: number;
  /** Long sides to choose from, valid for the model (default TARGET_FPS_SIZES, snapped). */
  sizes?: number[];
  /** Where the probe starts (default the largest size <= 257). */
  startSize?: number;
  /** Frames per measurement (median of the window; default 5). */
  window?: number;
  /** Recent frames of a stay whose median tracks the load (default 20). */
  loadFrames?: number;
  /** A single window this far over budget (share of it) steps down at once (default 0.1). */
  spike?: number;
  /** Frames not counted after each switch (default 1). */
  settleFrames?: number;
  /** Go up only to a size predicted at or below this share of the budget (default 0.95). */
  upMargin?: number;
  /** Frames after a failed up-step before the next try (default 20; doubles per further failure). */
  upCooldown?: number;
  /** The most the cooldown grows to (default 640 frames). */
  maxCooldown?: number;
}

/** Long sides targetFps chooses from by default (snapped to the model's output stride). */
export const TARGET_FPS_SIZES: readonly number[] = [161, 257, 321, 385, 481, 513, 641, 801];

export interface SizeEstimate {
  size: number;
  ms: number;
  /** Predicted (never measured at this size) rather than measured. */
  predicted: boolean;
}

export interface TargetFpsChoice {
  /** The long side frames run at now. */
  size: number;
  budgetMs: number;
  /** Measuring at `size` before any decision (no estimate yet). */
  probing: boolean;
  /** Current estimates, smallest size first (measured ones and predictions). */
  estimates: SizeEstimate[];
  /** Why: "481: 24.1 ms at 481, 38.0 at 641; budget 33.3". */
  reason: string;
  /** Switches so far. */
  switches: number;
  /** Frames left before it may try a bigger size again after a failed up-step (0: free to). */
  upBlockedFrames: number;
}

const median = (v: number[]): number => {
  const s = [...v].sort((a, b) => a - b);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
};

const fmt = (ms: number): string => (ms >= 100 ? ms.toFixed(0) : ms.toFixed(1));

export class TargetFpsController {
  readonly budgetMs: number;
  readonly sizes: readonly number[];
  private readonly window: number;
  private readonly loadFrames: number;
  private readonly spike: number;
  private readonly settleFrames: number;
  private readonly upMargin: number;
  private readonly baseCooldown: number;
  private readonly maxCooldown: number;
  /** Frame time at each visited (or seeded) size, scaled to the present load. */
  private readonly estimates = new Map<number, number>();
  /** The estimates as they stood when the stay began, and the stay's first window. */
  private arrival: { estimates: Map<number, number>; ms: number } | null = null;
  private index: number;
  /** Frames of the current window. */
  private samples: number[] = [];
  /** The stay's recent frames (up to loadFrames). */
  private recent: number[] = [];
  private toSettle: number;
  private framesAtSize = 0;
  private windowsAtSize = 0;
  /** Frames to wait at a size before going up: 0 until an up-step fails. */
  private cooldown = 0;
  /** The last switch went up (its first window decides whether it held). */
  private cameUp = false;
  private switchCount = 0;

  constructor(options: TargetFpsOptions) {
    const { fps } = options;
    if (!(Number.isFinite(fps) && fps > 0)) throw new RangeError(`targetFps ${fps}: must be a number of frames per second > 0`);
    const sizes = [...new Set(options.sizes ?? TARGET_FPS_SIZES)].sort((a, b) => a - b);
    if (!sizes.length || sizes.some((s) => !(Number.isInteger(s) && s > 0)))
      throw new RangeError(`targetFps sizes [${sizes.join(', ')}]: must be positive integers`);
    this.budgetMs = 1000 / fps;
    this.sizes = sizes;
    this.window = positiveInt(options.window ?? 5, 'window');
    this.loadFrames = Math.max(this.window, positiveInt(options.loadFrames ?? 20, 'loadFrames'));
    this.spike = options.spike ?? 0.1;
    if (!(this.spike >= 0)) throw new RangeError(`targetFps spike ${this.spike}: must be >= 0`);
    this.settleFrames = nonNegativeInt(options.settleFrames ?? 1, 'settleFrames');
    this.upMargin = options.upMargin ?? 0.95;
    if (!(this.upMargin > 0 && this.upMargin <= 1)) throw new RangeError(`targetFps upMargin ${this.upMargin}: must be in (0, 1]`);
    this.baseCooldown = nonNegativeInt(options.upCooldown ?? 20, 'upCooldown');
    this.maxCooldown = Math.max(this.baseCooldown, nonNegativeInt(options.maxCooldown ?? 640, 'maxCooldown'));
    const start = options.startSize ?? 257;
    const below = sizes.filter((s) => s <= start);
    this.index = below.length ? sizes.indexOf(below[below.length - 1]!) : 0;
    this.toSettle = this.settleFrames;
  }

  /** The long side the next frame should run at. */
  get size(): number {
    return this.sizes[this.index]!;
  }

  /**
   * Starts from measured frame times (a sweep: ms at each size, under the same load): they
   * become the estimates, and the size moves to the largest that fits the budget.
   */
  seed(measurements: readonly { size: number; ms: number }[]): void {
    for (const m of measurements) {
      if (!(Number.isFinite(m.ms) && m.ms > 0)) continue;
      if (this.sizes.includes(m.size)) this.estimates.set(m.size, m.ms);
    }
    if (!this.estimates.size) return;
    // A fresh stay: the seeded figures are the estimates on arrival.
    this.arrival = null;
    this.samples = [];
    this.recent = [];
    let best = 0;
    this.sizes.forEach((s, i) => {
      if (this.predict(s) <= this.budgetMs) best = i;
    });
    this.moveTo(best, false);
  }

  /**
   * One frame's time at `size` (ms from the call to the poses). Frames at another size
   * (one in flight while the size changed) are ignored. Returns true when the size changed.
   */
  record(size: number, ms: number): boolean {
    if (size !== this.size || !(Number.isFinite(ms) && ms >= 0)) return false;
    this.framesAtSize++;
    if (this.toSettle > 0) {
      this.toSettle--;
      return false;
    }
    this.samples.push(ms);
    this.recent.push(ms);
    if (this.recent.length > this.loadFrames) this.recent.shift();
    if (this.samples.length < this.window) return false;
    const last = median(this.samples);
    this.samples = [];
    this.windowsAtSize++;
    // The stay's level: its recent median, or the last window alone when that is a spike.
    let level: number;
    if (!this.arrival) {
      this.arrival = { estimates: new Map(this.estimates), ms: last };
      level = last;
    } else {
      level = last > this.budgetMs * (1 + this.spike) ? last : median(this.recent);
      const f = level / this.arrival.ms;
      for (const [s, e] of this.arrival.estimates) this.estimates.set(s, e * f);
    }
    this.estimates.set(this.size, level);
    return this.decide(level);
  }

  private decide(level: number): boolean {
    const B = this.budgetMs;
    if (level > B) {
      if (this.cameUp && this.windowsAtSize === 1) {
        // The up-step did not hold: wait (longer each time) before the next try.
        this.cooldown = Math.min(this.maxCooldown, Math.max(this.baseCooldown, 2 * this.cooldown));
      }
      let target = 0;
      for (let i = 0; i < this.index; i++) if (this.predict(this.sizes[i]!) <= B) target = i;
      if (target === this.index) return false;
      this.moveTo(target, false);
      return true;
    }
    if (this.cameUp && this.windowsAtSize >= 3) this.cooldown = 0;
    if (this.framesAtSize < this.cooldown) return false;
    let target = this.index;
    for (let i = this.index + 1; i < this.sizes.length; i++) if (this.predict(this.sizes[i]!) <= B * this.upMargin) target = i;
    if (target === this.index) return false;
    this.moveTo(target, true);
    return true;
  }

  private moveTo(index: number, up: boolean): void {
    if (index === this.index) return;
    this.index = index;
    this.samples = [];
    this.recent = [];
    this.arrival = null;
    this.toSettle = this.settleFrames;
    this.framesAtSize = 0;
    this.windowsAtSize = 0;
    this.cameUp = up;
    this.switchCount++;
  }

  /** The estimate at a size: measured, else from the measured ones by pixel count. */
  predict(size: number): number {
    const known = this.estimates.get(size);
    if (known !== undefined) return known;
    const measured = [...this.estimates.keys()].sort((a, b) => a - b);
    if (!measured.length) return Number.NaN;
    const lower = measured.filter((s) => s < size).pop();
    const upper = measured.find((s) => s > size);
    const px = (s: number) => s * s;
    if (lower !== undefined && upper !== undefined) {
      const t = (px(size) - px(lower)) / (px(upper) - px(lower));
      return this.estimates.get(lower)! + t * (this.estimates.get(upper)! - this.estimates.get(lower)!);
    }
    const nearest = (lower ?? upper)!;
    return this.estimates.get(nearest)! * (px(size) / px(nearest));
  }

  /** Where it stands and why, for the app and for `PoseNet.targetFpsChoice`. */
  choice(): TargetFpsChoice {
    const size = this.size;
    const probing = this.estimates.size === 0;
    const estimates = this.sizes
      .map((s) => ({ size: s, ms: this.predict(s), predicted: !this.estimates.has(s) }))
      .filter((e) => Number.isFinite(e.ms));
    return {
      size,
      budgetMs: this.budgetMs,
      probing,
      estimates,
      reason: this.reason(),
      switches: this.switchCount,
      upBlockedFrames: Math.max(0, this.cooldown - this.framesAtSize),
    };
  }

  private reason(): string {
    const size = this.size;
    const budget = `budget ${fmt(this.budgetMs)}`;
    if (!this.estimates.has(size)) return `${size}: measuring…; ${budget}`;
    const here = `${fmt(this.estimates.get(size)!)} ms at ${size}`;
    const next = this.sizes[this.index + 1];
    const over = this.estimates.get(size)! > this.budgetMs;
    let tail: string;
    if (next === undefined) tail = ' (the largest size)';
    else {
      const p = this.predict(next);
      tail = `, ${fmt(p)}${this.estimates.has(next) ? '' : ' predicted'} at ${next}`;
    }
    if (over && this.index === 0) tail += ' (the smallest size, over budget)';
    return `${size}: ${here}${tail}; ${budget}`;
  }
}

function positiveInt(v: number, name: string): number {
  if (!(Number.isInteger(v) && v >= 1)) throw new RangeError(`targetFps ${name} ${v}: must be an integer >= 1`);
  return v;
}

function nonNegativeInt(v: number, name: string): number {
  if (!(Number.isInteger(v) && v >= 0)) throw new RangeError(`targetFps ${name} ${v}: must be an integer >= 0`);
  return v;
}
