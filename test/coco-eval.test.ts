/**
 * COCO keypoint OKS and AP (tools/lib/coco-eval.ts) on hand-made cases whose values are
 * worked out by hand below, from the definitions pycocotools uses:
 *
 *   OKS = mean over labelled keypoints of exp(-d² / (2 · area · (2σ)²))
 *   AP_t = mean over the 101 recall points r = 0, 0.01, .., 1 of the interpolated
 *          precision max{precision at recall >= r} (0 where recall r is never reached)
 *   AP = mean of AP_t over t = 0.50, 0.55, .., 0.95; AR = mean over t of the final recall.
 *
 * pycocotools divides by tp + fp + eps (eps = 2.2e-16), so a perfect precision is
 * 1 - 2.2e-16: "AP 1" is checked to 12 decimals.
 */
import { describe, expect, it } from 'vitest';

import {
  COCO_SIGMAS,
  evaluateKeypoints,
  matchPeople,
  oksTerms,
  type CocoAnnotation,
  type CocoDataset,
  type CocoResult,
} from '../tools/lib/coco-eval.ts';

let nextId = 1;
/** A person with all 17 keypoints labelled (v = 2) on a 10-px grid around (x, y), and the given area. */
function person(imageId: number, x: number, y: number, area: number, extra: Partial<CocoAnnotation> = {}): CocoAnnotation {
  const keypoints: number[] = [];
  for (let k = 0; k < 17; k++) keypoints.push(x + (k % 4) * 10, y + Math.floor(k / 4) * 10, 2);
  return {
    id: nextId++,
    image_id: imageId,
    category_id: 1,
    keypoints,
    num_keypoints: 17,
    area,
    bbox: [x, y, 40, 50],
    iscrowd: 0,
    ...extra,
  };
}

function dataset(annotations: CocoAnnotation[]): CocoDataset {
  const ids = [...new Set(annotations.map((a) => a.image_id))];
  return { images: ids.map((id) => ({ id, file_name: `${id}.jpg`, width: 640, height: 480 })), annotations };
}

/** A detection equal to a ground truth's keypoints, each moved by (dx[k], 0). */
function detection(gt: CocoAnnotation, score: number, dx: (k: number) => number = () => 0): CocoResult {
  const keypoints = gt.keypoints.map((v, i) => (i % 3 === 0 ? v + dx(Math.floor(i / 3)) : i % 3 === 2 ? 1 : v));
  return { image_id: gt.image_id, category_id: 1, keypoints, score };
}

/** The shift that puts keypoint k's OKS term at exp(-c): d² = 2c · area · (2σ_k)². */
const shiftFor = (area: number, c: number) => (k: number) => Math.sqrt(2 * c * area) * 2 * COCO_SIGMAS[k]!;

describe('COCO keypoint OKS', () => {
  it('a nose 5.2 px off on a person of area 10000 has OKS exp(-1/2)', () => {
    // σ_nose = 0.026, k = 0.052, s = 100: d² / (2 s² k²) = 5.2² / (2 · 10000 · 0.052²) = 27.04 / 54.08 = 0.5.
    const gt = person(1, 100, 100, 10000);
    gt.keypoints = gt.keypoints.map((v, i) => (i >= 3 && i % 3 === 2 ? 0 : v));
    gt.num_keypoints = 1;
    const det = detection(gt, 1, (k) => (k === 0 ? 5.2 : 1000));
    const t = oksTerms(det.keypoints, gt);
    expect(t.oks).toBeCloseTo(Math.exp(-0.5), 12);
    // Only the labelled keypoint counts; the 16 others (1000 px off) are null.
    expect(t.perKeypoint.filter((v) => v !== null)).toHaveLength(1);
  });

  it('a person without labelled keypoints is measured against its bbox grown by 1x each side', () => {
    const gt = person(1, 100, 100, 2000, { num_keypoints: 0, keypoints: new Array(51).fill(0), bbox: [100, 100, 40, 50] });
    // Every keypoint inside [60, 180] x [50, 200]: no distance, OKS 1.
    const inside: CocoResult = {
      image_id: 1,
      category_id: 1,
      keypoints: Array.from({ length: 51 }, (_, i) => (i % 3 === 2 ? 1 : 120)),
      score: 1,
    };
    expect(oksTerms(inside.keypoints, gt).oks).toBeCloseTo(1, 12);
  });
});

describe('COCO keypoint AP (pycocotools semantics)', () => {
  it('perfect detections give AP 1 and AR 1', () => {
    const a = person(1, 100, 100, 10000);
    const b = person(1, 300, 100, 5000);
    const c = person(2, 50, 50, 20000);
    const r = evaluateKeypoints(dataset([a, b, c]), [detection(a, 0.9), detection(b, 0.8), detection(c, 0.7)]);
    expect(r.ap).toBeCloseTo(1, 12);
    expect(r.ap50).toBeCloseTo(1, 12);
    expect(r.ap75).toBeCloseTo(1, 12);
    expect(r.apMedium).toBeCloseTo(1, 12);
    expect(r.apLarge).toBeCloseTo(1, 12);
    expect(r.ar).toBeCloseTo(1, 12);
  });

  it('detections moved so that OKS = exp(-1/4) = 0.7788 give AP 0.6 (matched at t = 0.50..0.75, 6 of 10 thresholds)', () => {
    const a = person(1, 100, 100, 10000);
    const det = detection(a, 0.9, shiftFor(10000, 0.25));
    expect(oksTerms(det.keypoints, a).oks).toBeCloseTo(Math.exp(-0.25), 12);
    const r = evaluateKeypoints(dataset([a]), [det]);
    expect(r.ap).toBeCloseTo(0.6, 12);
    expect(r.ap50).toBeCloseTo(1, 12);
    expect(r.ap75).toBeCloseTo(1, 12);
    expect(r.ar).toBeCloseTo(0.6, 12);
    // Area 10000 > 96² = 9216: large; no medium person, so AP medium is undefined (-1).
    expect(r.apLarge).toBeCloseTo(0.6, 12);
    expect(r.apMedium).toBe(-1);
  });

  it('medium and large split: a perfect large person, a medium one at OKS 0.7788, and the all-range AP between them', () => {
    // Large A (area 10000) found perfectly with score 0.9; medium B (area 2500 in
    // [32², 96²]) found with OKS exp(-1/4) and score 0.8.
    const a = person(1, 100, 100, 10000);
    const b = person(2, 100, 100, 2500);
    const dets = [detection(a, 0.9), detection(b, 0.8, shiftFor(2500, 0.25))];
    const r = evaluateKeypoints(dataset([a, b]), dets);
    expect(r.apLarge).toBeCloseTo(1, 12);
    expect(r.apMedium).toBeCloseTo(0.6, 12);
    // All range: at t <= 0.75 both match: AP_t = 1 (6 thresholds). At t > 0.75 the
    // detections in score order are A (TP), B (FP): recall [0.5, 0.5], precision [1, 0.5];
    // recall points 0..0.50 (51 of 101) reach precision 1, the rest are never reached:
    // AP_t = 51/101. AP = (6 + 4 · 51/101) / 10.
    expect(r.ap).toBeCloseTo((6 + (4 * 51) / 101) / 10, 12);
    expect(r.ar).toBeCloseTo((6 * 1 + 4 * 0.5) / 10, 12);
  });

  it('the same split with the scores swapped: precision interpolated from the later true positive', () => {
    // At t > 0.75 the order is B (FP) then A (TP): recall [0, 0.5], precision [0, 0.5],
    // made monotone [0.5, 0.5]: recall points 0..0.50 get 0.5: AP_t = 51 · 0.5 / 101.
    const a = person(1, 100, 100, 10000);
    const b = person(2, 100, 100, 2500);
    const dets = [detection(a, 0.7), detection(b, 0.8, shiftFor(2500, 0.25))];
    const r = evaluateKeypoints(dataset([a, b]), dets);
    expect(r.ap).toBeCloseTo((6 + (4 * 51 * 0.5) / 101) / 10, 12);
  });

  it('a false positive scored above the true one halves precision: AP 0.5; scored below it: AP 1', () => {
    const a = person(1, 100, 100, 10000);
    const far: CocoResult = { ...detection(a, 0.9, () => 400) };
    // Order FP, TP: recall [0, 1], precision [0, 0.5] -> monotone [0.5, 0.5]: every recall point 0.5.
    expect(evaluateKeypoints(dataset([a]), [far, detection(a, 0.5)]).ap).toBeCloseTo(0.5, 12);
    // Order TP, FP: recall [1, 1], precision [1, 0.5] -> every recall point reaches 1 at the TP.
    expect(evaluateKeypoints(dataset([a]), [{ ...far, score: 0.1 }, detection(a, 0.5)]).ap).toBeCloseTo(1, 12);
  });

  it('ignored ground truth (crowd, or no keypoints) neither counts as missed nor turns its detection into a false positive', () => {
    const a = person(1, 100, 100, 10000);
    const crowd = person(1, 400, 100, 10000, { iscrowd: 1 });
    const unlabelled = person(1, 250, 300, 10000, { num_keypoints: 0, keypoints: new Array(51).fill(0), bbox: [250, 300, 40, 50] });
    const onUnlabelled: CocoResult = {
      image_id: 1,
      category_id: 1,
      keypoints: Array.from({ length: 51 }, (_, i) => (i % 3 === 0 ? 260 : i % 3 === 1 ? 320 : 1)),
      score: 0.95,
    };
    const r = evaluateKeypoints(dataset([a, crowd, unlabelled]), [detection(crowd, 0.99), onUnlabelled, detection(a, 0.5)]);
    expect(r.ap).toBeCloseTo(1, 12);
    expect(r.ar).toBeCloseTo(1, 12);
  });

  it('only the top 20 detections of an image count', () => {
    const a = person(1, 100, 100, 10000);
    const fps = Array.from({ length: 20 }, (_, i) => ({ ...detection(a, 0.9 - i * 0.01, () => 500 + i) }));
    // The true detection is 21st: cut, so nothing is found.
    const r = evaluateKeypoints(dataset([a]), [...fps, detection(a, 0.1)]);
    expect(r.ap).toBe(0);
    expect(r.ar).toBe(0);
  });

  it('matchPeople gives each labelled person its best OKS and per-keypoint terms', () => {
    const a = person(1, 100, 100, 10000);
    const b = person(1, 300, 100, 10000);
    const m = matchPeople(dataset([a, b]), [detection(a, 0.9, shiftFor(10000, 0.25)), detection(a, 0.3)]);
    expect(m).toHaveLength(2);
    expect(m[0]!.bestOks).toBeCloseTo(1, 12);
    expect(m[1]!.bestOks).toBeLessThan(1e-6);
    expect(m[0]!.perKeypoint!.every((v) => v !== null && Math.abs(v - 1) < 1e-12)).toBe(true);
  });
});
