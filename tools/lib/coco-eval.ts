/**
 * COCO keypoint evaluation, as pycocotools' COCOeval does it with iouType 'keypoints'
 * (cocoeval.py: computeOks, evaluateImg, accumulate, summarize), for one category:
 *
 * - Ground truth: annotations of the evaluated images; `ignore` = iscrowd, or
 *   num_keypoints == 0. Results: area and bbox from the extent of the 17 keypoints
 *   (loadRes), sorted by score (stable) and cut to maxDets (20) per image.
 * - OKS(d, g) = mean over g's labelled keypoints (v > 0) of exp(-d² / (2 s² k²)), with
 *   s² = g.area and k = 2σ (the COCO sigmas); a ground truth without labelled keypoints
 *   uses the distance of each detected keypoint outside its bbox grown by 1x on each side.
 * - Matching per image, OKS threshold t in 0.50:0.05:0.95: each detection (by score)
 *   takes the unmatched ground truth with the highest OKS >= t, non-ignored ones first;
 *   crowd ground truths can match several detections. Detections matched to ignored
 *   ground truths, or unmatched and outside the area range, are ignored.
 * - Precision/recall across all images (detections sorted by score, stable in image id
 *   order), precision made monotone, sampled at 101 recall points (0:0.01:1): AP is the
 *   mean over thresholds and recall points; AR the mean over thresholds of the final
 *   recall. Area ranges: all, medium (32² to 96²), large (> 96²); no small range for
 *   keypoints.
 *
 * Also the per-ground-truth detail behind the report's difficult-scenario sections
 * (best OKS per person, per-keypoint OKS terms with their visibility).
 */

/** COCO's per-keypoint sigmas (nose, eyes, ears, shoulders, elbows, wrists, hips, knees, ankles). */
export const COCO_SIGMAS = [0.26, 0.25, 0.25, 0.35, 0.35, 0.79, 0.79, 0.72, 0.72, 0.62, 0.62, 1.07, 1.07, 0.87, 0.87, 0.89, 0.89].map(
  (s) => s / 10,
);
export const NUM_COCO_KEYPOINTS = 17;

export interface CocoImage {
  id: number;
  file_name: string;
  width: number;
  height: number;
}

export interface CocoAnnotation {
  id: number;
  image_id: number;
  category_id: number;
  keypoints: number[];
  num_keypoints: number;
  area: number;
  bbox: [number, number, number, number];
  iscrowd: 0 | 1 | boolean;
}

export interface CocoDataset {
  images: CocoImage[];
  annotations: CocoAnnotation[];
  categories?: { id: number; name: string }[];
}

/** One entry of a COCO keypoint results file. */
export interface CocoResult {
  image_id: number;
  category_id: number;
  /** 17 x (x, y, v); v is not used by the evaluation. */
  keypoints: number[];
  score: number;
}

export type AreaName = 'all' | 'medium' | 'large';
export const AREA_RANGES: Record<AreaName, [number, number]> = {
  all: [0, 1e10],
  medium: [32 ** 2, 96 ** 2],
  large: [96 ** 2, 1e10],
};

/** numpy.linspace(start, stop, num). */
function linspace(start: number, stop: number, num: number): number[] {
  const step = (stop - start) / (num - 1);
  const out = Array.from({ length: num }, (_, i) => i * step + start);
  out[num - 1] = stop;
  return out;
}

export const OKS_THRESHOLDS = linspace(0.5, 0.95, 10);
export const RECALL_THRESHOLDS = linspace(0, 1, 101);
const EPS = 2.220446049250313e-16; // np.spacing(1)

export interface EvalParams {
  maxDets: number;
  /** Images evaluated (default: every image of the ground truth). */
  imgIds?: number[];
  catId: number;
}

export const DEFAULT_PARAMS: EvalParams = { maxDets: 20, catId: 1 };

interface Det {
  id: number;
  image_id: number;
  keypoints: number[];
  score: number;
  area: number;
}

/** A result as pycocotools' loadRes makes it: area of the keypoints' extent. */
function toDet(r: CocoResult, id: number): Det {
  const xs = r.keypoints.filter((_, i) => i % 3 === 0);
  const ys = r.keypoints.filter((_, i) => i % 3 === 1);
  const area = (Math.max(...xs) - Math.min(...xs)) * (Math.max(...ys) - Math.min(...ys));
  return { id, image_id: r.image_id, keypoints: r.keypoints, score: r.score, area };
}

/** Stable sort by decreasing score (numpy argsort(-score, kind='mergesort')). */
function byScore<T extends { score: number }>(items: T[]): T[] {
  return items
    .map((d, i) => ({ d, i }))
    .sort((a, b) => b.d.score - a.d.score || a.i - b.i)
    .map((x) => x.d);
}

export interface OksTerms {
  /** OKS of the detection for this ground truth. */
  oks: number;
  /** Per keypoint: exp(-e) where the keypoint counts (v > 0), else null. */
  perKeypoint: (number | null)[];
}

/** pycocotools computeOks for one (detection, ground truth) pair, with the per-keypoint terms. */
export function oksTerms(dt: number[], gt: CocoAnnotation): OksTerms {
  const vars = COCO_SIGMAS.map((s) => (s * 2) ** 2);
  const k1 = gt.keypoints.filter((_, i) => i % 3 === 2 && gt.keypoints[i]! > 0).length;
  const [bx, by, bw, bh] = gt.bbox;
  const x0 = bx - bw;
  const x1 = bx + bw * 2;
  const y0 = by - bh;
  const y1 = by + bh * 2;
  let sum = 0;
  let n = 0;
  const perKeypoint: (number | null)[] = [];
  for (let k = 0; k < NUM_COCO_KEYPOINTS; k++) {
    const xg = gt.keypoints[3 * k]!;
    const yg = gt.keypoints[3 * k + 1]!;
    const vg = gt.keypoints[3 * k + 2]!;
    const xd = dt[3 * k]!;
    const yd = dt[3 * k + 1]!;
    let dx: number;
    let dy: number;
    if (k1 > 0) {
      dx = xd - xg;
      dy = yd - yg;
    } else {
      dx = Math.max(0, x0 - xd) + Math.max(0, xd - x1);
      dy = Math.max(0, y0 - yd) + Math.max(0, yd - y1);
    }
    const e = (dx ** 2 + dy ** 2) / vars[k]! / (gt.area + EPS) / 2;
    if (k1 > 0 && !(vg > 0)) {
      perKeypoint.push(null);
      continue;
    }
    const term = Math.exp(-e);
    perKeypoint.push(term);
    sum += term;
    n++;
  }
  return { oks: sum / n, perKeypoint };
}

interface ImageEval {
  dtScores: number[];
  /** [threshold][detection]: matched to a ground truth. */
  dtMatched: boolean[][];
  dtIgnore: boolean[][];
  gtIgnore: boolean[];
}

export interface EvalResult {
  /** AP, AP50, AP75, AP medium, AP large, AR, AR50, AR75, AR medium, AR large (-1 where undefined). */
  stats: number[];
  ap: number;
  ap50: number;
  ap75: number;
  apMedium: number;
  apLarge: number;
  ar: number;
  ar50: number;
  ar75: number;
  arMedium: number;
  arLarge: number;
  /** precision[t][r][area] as in pycocotools (-1: no ground truth in that range). */
  precision: number[][][];
  /** recall[t][area]. */
  recall: number[][];
}

const AREAS: AreaName[] = ['all', 'medium', 'large'];

/** COCO keypoint AP/AR of `results` against `gt`, as pycocotools' COCOeval(iouType='keypoints'). */
export function evaluateKeypoints(gt: CocoDataset, results: CocoResult[], params: Partial<EvalParams> = {}): EvalResult {
  const p: EvalParams = { ...DEFAULT_PARAMS, ...params };
  const imgIds = [...new Set(p.imgIds ?? gt.images.map((i) => i.id))].sort((a, b) => a - b);
  const imgSet = new Set(imgIds);
  const gts = new Map<number, (CocoAnnotation & { ignore: boolean })[]>();
  const dts = new Map<number, Det[]>();
  for (const id of imgIds) {
    gts.set(id, []);
    dts.set(id, []);
  }
  for (const a of gt.annotations) {
    if (a.category_id !== p.catId || !imgSet.has(a.image_id)) continue;
    gts.get(a.image_id)!.push({ ...a, ignore: !!a.iscrowd || a.num_keypoints === 0 });
  }
  results.forEach((r, i) => {
    if (r.category_id !== p.catId || !imgSet.has(r.image_id)) return;
    dts.get(r.image_id)!.push(toDet(r, i + 1));
  });

  const T = OKS_THRESHOLDS.length;
  const R = RECALL_THRESHOLDS.length;
  const precision = Array.from({ length: T }, () => Array.from({ length: R }, () => AREAS.map(() => -1)));
  const recall = Array.from({ length: T }, () => AREAS.map(() => -1));

  // OKS per image: dets sorted by score and cut to maxDets, against gts in their order.
  const ious = new Map<number, number[][]>();
  for (const id of imgIds) {
    const g = gts.get(id)!;
    const d = byScore(dts.get(id)!).slice(0, p.maxDets);
    ious.set(id, g.length && d.length ? d.map((det) => g.map((gg) => oksTerms(det.keypoints, gg).oks)) : []);
  }

  AREAS.forEach((areaName, a) => {
    const [lo, hi] = AREA_RANGES[areaName];
    const evals: ImageEval[] = [];
    for (const id of imgIds) {
      const gAll = gts.get(id)!;
      const dAll = dts.get(id)!;
      if (!gAll.length && !dAll.length) continue;
      const gIg = gAll.map((g) => g.ignore || g.area < lo || g.area > hi);
      // Non-ignored ground truths first (stable).
      const gOrder = gAll.map((_, i) => i).sort((x, y) => Number(gIg[x]) - Number(gIg[y]) || x - y);
      const g = gOrder.map((i) => gAll[i]!);
      const gtIgnore = gOrder.map((i) => gIg[i]!);
      const d = byScore(dAll).slice(0, p.maxDets);
      const full = ious.get(id)!;
      const oks = full.length ? full.map((row) => gOrder.map((i) => row[i]!)) : [];
      const gtMatched = Array.from({ length: T }, () => g.map(() => false));
      const dtMatched = Array.from({ length: T }, () => d.map(() => false));
      const dtIgnore = Array.from({ length: T }, () => d.map(() => false));
      if (oks.length) {
        OKS_THRESHOLDS.forEach((t, ti) => {
          d.forEach((_, di) => {
            let best = Math.min(t, 1 - 1e-10);
            let m = -1;
            for (let gi = 0; gi < g.length; gi++) {
              if (gtMatched[ti]![gi] && !g[gi]!.iscrowd) continue;
              if (m > -1 && !gtIgnore[m] && gtIgnore[gi]) break;
              if (oks[di]![gi]! < best) continue;
              best = oks[di]![gi]!;
              m = gi;
            }
            if (m === -1) return;
            dtIgnore[ti]![di] = gtIgnore[m]!;
            dtMatched[ti]![di] = true;
            gtMatched[ti]![m] = true;
          });
        });
      }
      d.forEach((det, di) => {
        const outside = det.area < lo || det.area > hi;
        for (let ti = 0; ti < T; ti++) if (!dtMatched[ti]![di] && outside) dtIgnore[ti]![di] = true;
      });
      evals.push({ dtScores: d.map((x) => x.score), dtMatched, dtIgnore, gtIgnore });
    }
    if (!evals.length) return;
    const scores = evals.flatMap((e) => e.dtScores);
    const order = scores.map((_, i) => i).sort((x, y) => scores[y]! - scores[x]! || x - y);
    const npig = evals.reduce((n, e) => n + e.gtIgnore.filter((ig) => !ig).length, 0);
    if (npig === 0) return;
    for (let ti = 0; ti < T; ti++) {
      const matched = evals.flatMap((e) => e.dtMatched[ti]!);
      const ignored = evals.flatMap((e) => e.dtIgnore[ti]!);
      const tp: number[] = [];
      const fp: number[] = [];
      let tpSum = 0;
      let fpSum = 0;
      for (const i of order) {
        if (!ignored[i]) {
          if (matched[i]) tpSum++;
          else fpSum++;
        }
        tp.push(tpSum);
        fp.push(fpSum);
      }
      const nd = tp.length;
      const rc = tp.map((x) => x / npig);
      const pr = tp.map((x, i) => x / (fp[i]! + x + EPS));
      recall[ti]![a] = nd ? rc[nd - 1]! : 0;
      for (let i = nd - 1; i > 0; i--) if (pr[i]! > pr[i - 1]!) pr[i - 1] = pr[i]!;
      const q = RECALL_THRESHOLDS.map(() => 0);
      for (let ri = 0; ri < R; ri++) {
        // numpy searchsorted(rc, thr, side='left'): first index with rc >= thr.
        let lo2 = 0;
        let hi2 = nd;
        while (lo2 < hi2) {
          const mid = (lo2 + hi2) >> 1;
          if (rc[mid]! < RECALL_THRESHOLDS[ri]!) lo2 = mid + 1;
          else hi2 = mid;
        }
        if (lo2 >= nd) break; // pycocotools: IndexError ends the loop; the rest stay 0
        q[ri] = pr[lo2]!;
      }
      for (let ri = 0; ri < R; ri++) precision[ti]![ri]![a] = q[ri]!;
    }
  });

  const meanValid = (values: number[]) => {
    const v = values.filter((x) => x > -1);
    return v.length ? v.reduce((s, x) => s + x, 0) / v.length : -1;
  };
  const tIndex = (t: number) => OKS_THRESHOLDS.indexOf(t);
  const apAt = (area: number, t?: number) =>
    meanValid(precision.flatMap((byR, ti) => (t === undefined || ti === tIndex(t) ? byR.map((byA) => byA[area]!) : [])));
  const arAt = (area: number, t?: number) =>
    meanValid(recall.flatMap((byA, ti) => (t === undefined || ti === tIndex(t) ? [byA[area]!] : [])));
  const stats = [apAt(0), apAt(0, 0.5), apAt(0, 0.75), apAt(1), apAt(2), arAt(0), arAt(0, 0.5), arAt(0, 0.75), arAt(1), arAt(2)];
  const [ap, ap50, ap75, apMedium, apLarge, ar, ar50, ar75, arMedium, arLarge] = stats as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  return { stats, ap, ap50, ap75, apMedium, apLarge, ar, ar50, ar75, arMedium, arLarge, precision, recall };
}

export interface PersonMatch {
  annotation: CocoAnnotation;
  /** Highest OKS of any of the image's top-maxDets detections for this person (0 when none). */
  bestOks: number;
  /** That detection's per-keypoint OKS terms (null where the keypoint is unlabelled), or null. */
  perKeypoint: (number | null)[] | null;
}

/**
 * For every person with labelled keypoints (not crowd, num_keypoints > 0) in the given
 * images: the detection (among the image's top maxDets by score) with the highest OKS,
 * and its per-keypoint terms. The basis of the per-size, per-keypoint and visibility
 * statistics, which COCO's AP does not break down (and which cover small people, whom
 * COCO's keypoint AP leaves out).
 */
export function matchPeople(gt: CocoDataset, results: CocoResult[], maxDets = 20, catId = 1): PersonMatch[] {
  const byImage = new Map<number, CocoResult[]>();
  for (const r of results) {
    if (r.category_id !== catId) continue;
    let list = byImage.get(r.image_id);
    if (!list) {
      list = [];
      byImage.set(r.image_id, list);
    }
    list.push(r);
  }
  const out: PersonMatch[] = [];
  for (const a of gt.annotations) {
    if (a.category_id !== catId || a.iscrowd || a.num_keypoints === 0) continue;
    const dets = byScore(byImage.get(a.image_id) ?? []).slice(0, maxDets);
    let best: PersonMatch = { annotation: a, bestOks: 0, perKeypoint: null };
    for (const d of dets) {
      const t = oksTerms(d.keypoints, a);
      if (t.oks > best.bestOks) best = { annotation: a, bestOks: t.oks, perKeypoint: t.perKeypoint };
    }
    out.push(best);
  }
  return out;
}
