/**
 * PoseTracker and the per-person smoothing of PoseHistory, in Node, on synthetic people:
 * crossing, leaving and coming back, far and near, detections in shuffled order, seeks.
 */
import { describe, expect, it } from 'vitest';
import { PoseSmoother } from '../src/pose/smoother.ts';
import { PoseHistory } from '../src/pose/temporal.ts';
import { COCO_SIGMAS, PoseTracker, TRACKER_DEFAULTS, checkTrackerOptions, keypointSimilarity } from '../src/pose/tracker.ts';
import type { Pose } from '../src/pose/types.ts';
import { gaussian, noisy, person } from './support/synthetic-poses.ts';

const O = checkTrackerOptions({});
const ids = (poses: { id: number }[]) => poses.map((p) => p.id);

describe('keypoint similarity (OKS)', () => {
  it('is 1 for the same pose, and exp(-d² / (2 · area · (2σ)²)) averaged over keypoints for one moved', () => {
    const a = person(100, 100, 200);
    expect(keypointSimilarity(a.keypoints, a.keypoints, O)).toBeCloseTo(1, 12);
    const b = person(100, 100, 200);
    b.keypoints[0]!.position.x += 10; // the nose, sigma 0.026
    // The template's box: 0.44 x 0.98 of the height.
    const area = 0.44 * 200 * 0.98 * 200;
    const expected = (16 + Math.exp(-100 / (2 * area * (2 * COCO_SIGMAS[0]!) ** 2))) / 17;
    expect(keypointSimilarity(b.keypoints, a.keypoints, O)).toBeCloseTo(expected, 9);
  });

  it('does not depend on the person’s size: near and far, the same relative offset, the same OKS', () => {
    const far = [person(50, 50, 40), person(54, 51, 40)];
    const near = [person(500, 500, 400), person(540, 510, 400)];
    const sFar = keypointSimilarity(far[1]!.keypoints, far[0]!.keypoints, O);
    const sNear = keypointSimilarity(near[1]!.keypoints, near[0]!.keypoints, O);
    expect(sFar).toBeGreaterThan(0.05);
    expect(sFar).toBeLessThan(0.95);
    expect(sNear).toBeCloseTo(sFar, 9);
  });

  it('ignores keypoints below keypointMinScore and needs minKeypoints shared', () => {
    const a = person(100, 100, 200);
    const b = person(100, 100, 200);
    for (const [i, k] of b.keypoints.entries()) k.score = i < 3 ? 0.9 : 0.1;
    expect(keypointSimilarity(b.keypoints, a.keypoints, O)).toBe(0); // 3 < 4
    b.keypoints[5]!.score = 0.9;
    b.keypoints[5]!.position.x += 1000; // far off, but one of four
    expect(keypointSimilarity(b.keypoints, a.keypoints, O)).toBeCloseTo(3 / 4, 6);
  });
});

describe('PoseTracker', () => {
  it('keeps ids on two people walking towards each other and apart, detections in any order', () => {
    const t = new PoseTracker();
    const g = gaussian(3);
    let first: number[] = [];
    for (let i = 0; i < 40; i++) {
      // A from the left, B from the right; they pass 60 px apart vertically.
      const a = noisy(person(100 + 10 * i, 200, 200), 2, g);
      const b = noisy(person(500 - 10 * i, 260, 200), 2, g);
      const swap = i % 3 === 1;
      const out = t.update(swap ? [b, a] : [a, b], (1000 * i) / 30);
      const [ia, ib] = swap ? [out[1]!.id, out[0]!.id] : [out[0]!.id, out[1]!.id];
      if (i === 0) first = [ia, ib];
      expect([ia, ib], `frame ${i}`).toEqual(first);
    }
    expect(first).toEqual([1, 2]);
  });

  it('gives a person back their id after a short absence, a new one after maxAgeMs', () => {
    const t = new PoseTracker();
    const a = person(100, 200, 200);
    const b = person(400, 200, 200);
    expect(ids(t.update([a, b], 0))).toEqual([1, 2]);
    expect(ids(t.update([a], 500))).toEqual([1]); // b hidden
    expect(ids(t.update([a, b], 900))).toEqual([1, 2]); // back within 1000 ms of last seen
    expect(ids(t.update([a], 1500))).toEqual([1]);
    expect(ids(t.update([a], 2400))).toEqual([1]);
    // b was last seen at 900: more than maxAgeMs ago.
    expect(ids(t.update([a, b], 900 + TRACKER_DEFAULTS.maxAgeMs + 1000))).toEqual([1, 3]);
  });

  it('opens a new track for a pose unlike every track (below minSimilarity)', () => {
    const t = new PoseTracker();
    t.update([person(100, 200, 200)], 0);
    // Someone else, half a body width away from where the first person was.
    expect(ids(t.update([person(100, 200, 200), person(400, 200, 200)], 33))).toEqual([1, 2]);
    expect(ids(t.update([person(600, 200, 200)], 66))).toEqual([3]);
  });

  it('matches greedily, most similar pair first', () => {
    const t = new PoseTracker();
    t.update([person(100, 200, 200), person(140, 200, 200)], 0);
    // X at 121 is a little nearer track 2 (at 140) than track 1 (at 100); Y at 141 is on track 2.
    // Taking poses in order, X would steal track 2 and leave Y a new id; the most similar
    // pair (Y, track 2) goes first instead, and X continues track 1.
    const x = person(121, 200, 200);
    const y = person(141, 200, 200);
    expect(keypointSimilarity(x.keypoints, person(140, 200, 200).keypoints, O)).toBeGreaterThan(
      keypointSimilarity(x.keypoints, person(100, 200, 200).keypoints, O),
    );
    expect(ids(t.update([x, y], 33))).toEqual([1, 2]);
  });

  it('starts over on a seek back (time runs backwards); ids keep counting up', () => {
    const t = new PoseTracker();
    const ended: number[] = [];
    t.onEnd = (gone) => ended.push(...gone);
    t.update([person(100, 200, 200)], 1000);
    expect(ids(t.update([person(100, 200, 200)], 200))).toEqual([2]);
    expect(ended).toEqual([1]);
    expect(t.tracks.map((x) => x.id)).toEqual([2]);
  });

  it('keeps at most maxTracks tracks, the stalest dropped', () => {
    const t = new PoseTracker({ maxTracks: 2 });
    t.update([person(100, 200, 100)], 0);
    t.update([person(300, 200, 100)], 10);
    t.update([person(500, 200, 100)], 20);
    expect(t.tracks.map((x) => x.id).sort()).toEqual([2, 3]);
  });

  it('rejects bad options naming the value', () => {
    expect(() => new PoseTracker({ minSimilarity: 2 })).toThrow(/minSimilarity 2/);
    expect(() => new PoseTracker({ maxAgeMs: 0 })).toThrow(/maxAgeMs 0/);
    expect(() => new PoseTracker({ minKeypoints: 0 })).toThrow(/minKeypoints 0/);
    expect(() => new PoseTracker({ maxTracks: 1.5 })).toThrow(/maxTracks 1.5/);
    expect(() => new PoseTracker().update([], Number.NaN)).toThrow(/timestamp NaN/);
  });
});

describe('PoseHistory: one smoother per tracked person', () => {
  it('smooths each person with their own filter, as separate PoseSmoothers would', () => {
    const h = new PoseHistory();
    const g = gaussian(11);
    const sa = new PoseSmoother();
    const sb = new PoseSmoother();
    for (let i = 0; i < 20; i++) {
      const a = noisy(person(100 + 3 * i, 200, 200), 2, g);
      const b = noisy(person(500, 200, 150), 2, g);
      const t = (1000 * i) / 30;
      const out = h.trackMultiple(i % 2 ? [b, a] : [a, b], t, false, true) as (Pose & { id: number })[];
      const byId = new Map(out.map((p) => [p.id, p]));
      const ea = sa.smooth(a, t);
      const eb = sb.smooth(b, t);
      expect(byId.get(1)!.keypoints).toEqual(ea.keypoints);
      expect(byId.get(2)!.keypoints).toEqual(eb.keypoints);
    }
  });

  it('gives tracking alone ids without moving keypoints; no tracking and no smoothing returns the poses as they are', () => {
    const h = new PoseHistory();
    const a = person(100, 200, 200);
    const tracked = h.trackMultiple([a], 0, true, false) as (Pose & { id: number })[];
    expect(tracked[0]!.id).toBe(1);
    expect(tracked[0]!.keypoints).toEqual(a.keypoints);
    const plain = [person(1, 2, 3)];
    expect(h.trackMultiple(plain, 10, false, false)).toBe(plain);
    expect(h.smoothSingle(a, 0, false)).toBe(a);
  });

  it('forgets a person who left: a new id comes with a fresh smoother', () => {
    const h = new PoseHistory();
    h.trackMultiple([person(100, 200, 200)], 0, false, true);
    h.trackMultiple([person(110, 200, 200)], 33, false, true);
    // Gone for 2 s, then someone at 400: id 2, passed through unchanged (a fresh filter).
    const p = person(400, 200, 200);
    const out = h.trackMultiple([p], 2100, false, true) as (Pose & { id: number })[];
    expect(out[0]!.id).toBe(2);
    expect(out[0]!.keypoints).toEqual(p.keypoints);
  });

  it('reset() forgets smoothing and tracks', () => {
    const h = new PoseHistory();
    h.smoothSingle(person(100, 200, 200), 0, true);
    h.trackMultiple([person(100, 200, 200)], 0, false, true);
    h.reset();
    const p = person(200, 200, 200);
    expect(h.smoothSingle(p, 33, true).keypoints).toEqual(p.keypoints);
    expect((h.trackMultiple([p], 33, false, true) as { id: number }[])[0]!.id).toBe(2);
  });
});
