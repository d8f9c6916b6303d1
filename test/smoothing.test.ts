/**
 * The One Euro filter, PoseSmoother and the jitter metrics, in Node, on synthetic tracks
 * (a drawn standing person, Gaussian keypoint noise from a seeded PRNG): timestamps with
 * gaps, seeks, near and far people.
 */
import { describe, expect, it } from 'vitest';
import { jitterPx, lagFrames, rmsErrorPx } from '../src/pose/jitter-metrics.ts';
import { OneEuroFilter } from '../src/pose/one-euro.ts';
import { PoseSmoother, SMOOTHING_DEFAULTS, checkSmoothingOptions, poseSize } from '../src/pose/smoother.ts';
import type { Pose } from '../src/pose/types.ts';
import { gaussian, noisy, person, positions } from './support/synthetic-poses.ts';

const ALL = new Array<boolean>(17).fill(true);
const FPS = 30;

/** Runs a smoother over poses sampled at `times` (ms). */
function smoothAll(poses: Pose[], times: number[], smoother = new PoseSmoother()): Pose[] {
  return poses.map((p, i) => smoother.smooth(p, times[i]!));
}

const frameTimes = (n: number, fps = FPS) => Array.from({ length: n }, (_, i) => (1000 * i) / fps);

describe('OneEuroFilter', () => {
  it('passes the first sample through, then low-passes a step by the cutoff the formula gives', () => {
    const f = new OneEuroFilter({ minCutoff: 1, beta: 0, derivativeCutoff: 1 });
    expect(f.filter(5, 0)).toBe(5);
    // beta 0: a plain exponential low-pass with alpha = 1 / (1 + 1 / (2π fc dt)).
    const dt = 1 / 30;
    const alpha = 1 / (1 + 1 / (2 * Math.PI * 1 * dt));
    expect(f.filter(15, dt)).toBeCloseTo(5 + alpha * 10, 12);
  });

  it('starts over when time stands still or runs backwards, and on a non-finite value', () => {
    const f = new OneEuroFilter({ minCutoff: 1, beta: 0, derivativeCutoff: 1 });
    f.filter(0, 0);
    expect(f.filter(10, 0.1)).toBeLessThan(10);
    expect(f.filter(20, 0.1)).toBe(20); // same time: nothing to smooth across
    expect(f.filter(30, 0.05)).toBe(30); // backwards
    expect(f.filter(Number.NaN, 0.2)).toBeNaN();
    expect(f.filter(7, 0.3)).toBeLessThan(8); // filtering again from 7-ish: NaN did not stick
  });

  it('lets more through as speed rises (beta)', () => {
    const still = new OneEuroFilter({ minCutoff: 1, beta: 0, derivativeCutoff: 1 });
    const fast = new OneEuroFilter({ minCutoff: 1, beta: 1, derivativeCutoff: 1 });
    let a = 0;
    let b = 0;
    for (let i = 0; i <= 30; i++) {
      a = still.filter(10 * i, i / 30);
      b = fast.filter(10 * i, i / 30);
    }
    // A ramp of 300 units/s: the adaptive filter trails it by far less.
    expect(300 - b).toBeLessThan((300 - a) / 5);
  });
});

describe('PoseSmoother', () => {
  it('takes jitter off a still person: smoothed jitter <= 0.4 of raw (the jitter goal), RMS error lower', () => {
    const g = gaussian(1);
    const truth = person(320, 240, 300);
    const raw = Array.from({ length: 90 }, () => noisy(truth, 2, g));
    const smoothed = smoothAll(raw, frameTimes(90));
    const rawJ = jitterPx(positions(raw), ALL);
    const smJ = jitterPx(positions(smoothed), ALL);
    const truthTrack = positions(raw.map(() => truth));
    const rawE = rmsErrorPx(positions(raw), truthTrack, ALL);
    const smE = rmsErrorPx(positions(smoothed).slice(10), truthTrack.slice(10), ALL);
    console.log(
      `still person, 2 px noise: jitter ${rawJ.toFixed(2)} -> ${smJ.toFixed(2)} px, RMS error ${rawE.toFixed(2)} -> ${smE.toFixed(2)} px`,
    );
    expect(smJ).toBeLessThanOrEqual(0.4 * rawJ);
    expect(smE).toBeLessThan(rawE);
  });

  it('is the same filter for a near and a far person: positions scaled by 10 give outputs scaled by 10', () => {
    // The same motion and noise in pose sizes: a walk across, 10x closer.
    const g = gaussian(7);
    const far = Array.from({ length: 60 }, (_, i) => noisy(person(20 + 0.6 * i, 30 + 0.2 * Math.sin(i / 5), 40), 0.4, g));
    const scale = (p: Pose, s: number): Pose => ({
      ...p,
      keypoints: p.keypoints.map((k) => ({ ...k, position: { x: s * k.position.x, y: s * k.position.y } })),
    });
    const near = far.map((p) => scale(p, 10));
    const times = frameTimes(60);
    const a = smoothAll(far, times);
    const b = smoothAll(near, times);
    b.forEach((p, i) => {
      p.keypoints.forEach((k, j) => {
        const q = a[i]!.keypoints[j]!.position;
        expect(Math.abs(k.position.x - 10 * q.x)).toBeLessThan(1e-9 * Math.abs(k.position.x) + 1e-9);
        expect(Math.abs(k.position.y - 10 * q.y)).toBeLessThan(1e-9 * Math.abs(k.position.y) + 1e-9);
      });
    });
  });

  it('is driven by timestamps, not frame counts: the same motion at 30 and 60 fps lags by about the same time', () => {
    const lagMs = (fps: number) => {
      const n = 2 * fps;
      // 0.5 person heights per second to the right.
      const truth = Array.from({ length: n }, (_, i) => person(100 + (150 * i) / fps, 240, 300));
      const smoothed = smoothAll(truth, frameTimes(n, fps));
      return (lagFrames(positions(smoothed), positions(truth), ALL) * 1000) / fps;
    };
    const at30 = lagMs(30);
    const at60 = lagMs(60);
    console.log(`lag on a 150 px/s walk: ${at30.toFixed(1)} ms at 30 fps, ${at60.toFixed(1)} ms at 60 fps`);
    expect(at30).toBeGreaterThan(0);
    // A frame-count filter would lag twice as long (in ms) at 30 fps; 10% covers the lag search's step and the start.
    expect(Math.abs(at30 - at60) / at60).toBeLessThan(0.1);
  });

  it('starts over after a gap longer than resetAfterMs, on a seek back, on the same frame again and on reset()', () => {
    const s = new PoseSmoother();
    const a = person(100, 100, 200);
    const b = person(300, 100, 200);
    s.smooth(a, 0);
    s.smooth(a, 33);
    // A short gap (a dropped frame or two): still smoothing.
    expect(s.smooth(b, 100).keypoints[0]!.position.x).toBeLessThan(300);
    // Longer than resetAfterMs: the new pose as it is.
    expect(s.smooth(a, 100 + SMOOTHING_DEFAULTS.resetAfterMs + 1).keypoints[0]!.position.x).toBe(a.keypoints[0]!.position.x);
    // Time backwards (a seek back).
    expect(s.smooth(b, 50).keypoints[0]!.position.x).toBe(b.keypoints[0]!.position.x);
    // The same time again (a paused video re-run at another resolution).
    expect(s.smooth(a, 50).keypoints[0]!.position.x).toBe(a.keypoints[0]!.position.x);
    s.smooth(b, 83);
    s.reset();
    expect(s.smooth(b, 116).keypoints[0]!.position.x).toBe(b.keypoints[0]!.position.x);
  });

  it('keeps scores, parts and the pose score; returns a new pose', () => {
    const s = new PoseSmoother();
    const p = person(100, 100, 200, 0.7);
    p.keypoints[3]!.score = 0.1;
    s.smooth(p, 0);
    const out = s.smooth(person(110, 100, 200, 0.7), 33);
    expect(out).not.toBe(p);
    expect(out.score).toBe(0.7);
    expect(out.keypoints.map((k) => k.part)).toEqual(p.keypoints.map((k) => k.part));
    expect(out.keypoints[3]!.score).toBe(0.7);
  });

  it('rejects bad input and options with a message naming the value', () => {
    const s = new PoseSmoother();
    expect(() => s.smooth({ score: 1, keypoints: [] }, 0)).toThrow(/17 keypoints, got 0/);
    expect(() => s.smooth(person(0, 0, 100), Number.NaN)).toThrow(/timestamp NaN/);
    expect(() => new PoseSmoother({ minCutoff: 0 })).toThrow(/minCutoff 0/);
    expect(() => new PoseSmoother({ beta: -1 })).toThrow(/beta -1/);
    expect(() => checkSmoothingOptions({ derivativeCutoff: Number.POSITIVE_INFINITY })).toThrow(/derivativeCutoff Infinity/);
    expect(() => s.setOptions({ sizeMinScore: 2 })).toThrow(/sizeMinScore 2/);
  });

  it('measures a pose by the diagonal of its confident keypoints', () => {
    const p = person(0, 0, 100);
    // Template: x in [-0.22, 0.22], y in [-0.48, 0.5].
    expect(poseSize(p, 0.5)).toBeCloseTo(Math.hypot(44, 98), 9);
    for (const [i, k] of p.keypoints.entries()) k.score = i < 1 ? 0.9 : 0.1;
    // Fewer than two confident: all keypoints.
    expect(poseSize(p, 0.5)).toBeCloseTo(Math.hypot(44, 98), 9);
  });
});

describe('jitter metrics', () => {
  it('measures a known delay, jitter and error', () => {
    const truth = Array.from({ length: 60 }, (_, i) => [{ x: 100 + 10 * Math.sin(i / 8), y: 5 * i }]);
    const delayed = truth.map((_, i) => [{ x: 100 + 10 * Math.sin((i - 1.5) / 8), y: 5 * (i - 1.5) }]);
    expect(lagFrames(delayed, truth, [true])).toBeCloseTo(1.5, 6);
    expect(lagFrames(truth, truth, [true])).toBe(0);
    // A constant second difference: alternating ±1 px on x gives |p[t+1] - 2p[t] + p[t-1]| = 4.
    const zigzag = truth.map((f, i) => [{ x: f[0]!.x + (i % 2 ? 1 : -1), y: f[0]!.y }]);
    const curve = jitterPx(truth, [true]);
    expect(jitterPx(zigzag, [true])).toBeGreaterThan(4 - curve - 1e-9);
    expect(jitterPx(zigzag, [true])).toBeLessThan(4 + curve + 1e-9);
    expect(rmsErrorPx(zigzag, truth, [true])).toBeCloseTo(1, 12);
    expect(rmsErrorPx(zigzag, truth, [false])).toBeNaN();
  });
});
