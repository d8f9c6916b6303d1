/**
 * The One Euro filter (Casiez, Roussel and Vogel, "1€ Filter: A Simple Speed-based
 * Low-pass Filter for Noisy Input in Interactive Systems", CHI 2012): an exponential
 * low-pass filter whose cutoff frequency rises with the signal's speed. Slow movements
 * are smoothed hard (jitter goes), fast ones barely (lag stays small).
 *
 * Per sample at time t (seconds), with dt the time since the previous sample:
 *   alpha(fc)  = 1 / (1 + 1 / (2π · fc · dt))
 *   speed      = lowpass(speedScale · (x - xprev) / dt, alpha(derivativeCutoff))
 *   cutoff     = minCutoff + beta · |speed|
 *   x̂          = lowpass(x, alpha(cutoff))
 *
 * The speed comes from the previous raw sample, as tfjs-models' filter does (the paper's
 * reference code differences against the previous filtered value, which makes the speed,
 * and so the smoothing, depend on the frame rate).
 *
 * It is driven by timestamps, not by sample counts: a dropped frame (a longer dt) lets
 * more of the new value through, as it should. Time that does not move forward (the same
 * frame again, or a seek backwards) starts the filter over: there is nothing to smooth
 * across; so does a value that is not finite.
 */

export interface OneEuroParams {
  /** Cutoff frequency at rest, in Hz. Lower: smoother still poses, more lag on slow motion. */
  minCutoff: number;
  /** How fast the cutoff rises with speed, in Hz per unit of (scaled) speed. Higher: less lag on fast motion. */
  beta: number;
  /** Cutoff frequency of the speed estimate, in Hz. */
  derivativeCutoff: number;
}

function alpha(cutoffHz: number, dtSeconds: number): number {
  return 1 / (1 + 1 / (2 * Math.PI * cutoffHz * dtSeconds));
}

export class OneEuroFilter {
  private value = 0;
  private raw = 0;
  private speed = 0;
  private time = Number.NaN;

  constructor(public params: OneEuroParams) {}

  /** Forgets the history: the next sample passes through unchanged. */
  reset(): void {
    this.time = Number.NaN;
    this.speed = 0;
  }

  /** True once a sample has been seen since the last reset. */
  get primed(): boolean {
    return !Number.isNaN(this.time);
  }

  /**
   * Filters `x` sampled at `tSeconds`. `speedScale` multiplies the speed before it raises
   * the cutoff (PoseSmoother passes 1 / pose size, so that speed is in pose sizes per
   * second whatever the person's distance).
   */
  filter(x: number, tSeconds: number, speedScale = 1): number {
    if (!Number.isFinite(x)) {
      // No value: nothing to keep, and the next one starts over.
      this.reset();
      return x;
    }
    const dt = tSeconds - this.time;
    if (!(dt > 0)) {
      // First sample, or time that stood still or ran backwards: start over.
      this.time = tSeconds;
      this.value = x;
      this.raw = x;
      this.speed = 0;
      return x;
    }
    const { minCutoff, beta, derivativeCutoff } = this.params;
    const rawSpeed = (speedScale * (x - this.raw)) / dt;
    this.speed += alpha(derivativeCutoff, dt) * (rawSpeed - this.speed);
    const cutoff = minCutoff + beta * Math.abs(this.speed);
    this.value += alpha(cutoff, dt) * (x - this.value);
    this.raw = x;
    this.time = tSeconds;
    return this.value;
  }
}
