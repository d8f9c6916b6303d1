/**
 * Multi-pose decoding on the CPU: the greedy part-tree decoder of PoseNet (Papandreou et
 * al., "PersonLab"), written to give exactly what @tensorflow-models/posenet 2.2.2's
 * `decodeMultiplePoses` gives on the same heads:
 *
 * 1. Root candidates: every (cell, keypoint) whose heatmap score is at least the score
 *    threshold and a maximum (no strictly greater score) in its 3x3 window, pushed in
 *    row-major (y, x, keypoint) order into TF.js's max-heap (a 1-based heap used from
 *    index 0: its pop order on equal or close scores is its own, so it is copied, not
 *    replaced by a sort). On the GPU path the candidates come from
 *    shaders/decode_candidates.wgsl.ts and are confirmed and ordered here.
 * 2. Pop roots in score order; skip a root within nmsRadius (input pixels) of the same
 *    keypoint of a pose already found; else decode a pose from it: walk the 16 edges of
 *    POSE_CHAIN backwards (child to parent, backward displacements) then forwards
 *    (parent to child, forward displacements), each step following the displacement at
 *    the nearest cell and then refining twice with that keypoint's short-range offsets.
 * 3. Pose score: the mean over 17 keypoints of the scores of those not within nmsRadius
 *    of the same keypoint of an earlier pose.
 *
 * Positions are in input-resolution pixels; `scaleAndFlipPoses` maps them to the source
 * with the frame's fit, as TF.js's scaleAndFlipPoses. Arithmetic is float64 on float32
 * inputs, as in TF.js, and scores are float32 sigmoids of the logits (as tfjs-backend-cpu
 * computes them), so equal heads give equal poses.
 */
import type { Fit } from './fit.ts';
import { NUM_KEYPOINTS, PART_IDS, PART_NAMES, POSE_CHAIN } from './keypoints.ts';
import type { Keypoint, Pose, Vector2D } from './types.ts';

export interface MultiPoseOptions {
  /** Most poses returned (default 5, as TF.js PoseNet). */
  maxDetections?: number;
  /** Smallest root keypoint score that starts a pose (default 0.5), in [0, 1]. */
  scoreThreshold?: number;
  /** Part-based non-maximum suppression radius in input-resolution pixels (default 20), > 0. */
  nmsRadius?: number;
  /** Mirror the keypoints horizontally (x -> width - 1 - x), for selfie cameras. */
  flipHorizontal?: boolean;
}

export const MULTI_POSE_DEFAULTS: Required<Omit<MultiPoseOptions, 'flipHorizontal'>> = {
  maxDetections: 5,
  scoreThreshold: 0.5,
  nmsRadius: 20,
};

/** Throws a RangeError naming the bad option (TF.js's validateMultiPersonInputConfig). */
export function checkMultiPoseOptions(o: MultiPoseOptions): Required<Omit<MultiPoseOptions, 'flipHorizontal'>> {
  const r = { ...MULTI_POSE_DEFAULTS, ...definedOnly(o) };
  if (!(Number.isInteger(r.maxDetections) && r.maxDetections > 0))
    throw new RangeError(`maxDetections ${r.maxDetections}: must be an integer > 0`);
  if (!(r.scoreThreshold >= 0 && r.scoreThreshold <= 1)) throw new RangeError(`scoreThreshold ${r.scoreThreshold}: must be in [0, 1]`);
  if (!(r.nmsRadius > 0)) throw new RangeError(`nmsRadius ${r.nmsRadius}: must be > 0`);
  return r;
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * The four heads in one NHWC tensor: `cellStride` floats per cell, each head from its
 * channel offset (the GPU's padded heads buffer, or any tensor laid out alike).
 */
export interface HeadsTensor {
  data: Float32Array;
  width: number;
  height: number;
  cellStride: number;
  heatmap: number;
  offsets: number;
  displacementFwd: number;
  displacementBwd: number;
}

/** A root candidate: keypoint `keypoint` at heads cell (y, x) with its score. */
export interface PartCandidate {
  score: number;
  keypoint: number;
  y: number;
  x: number;
}

const sigmoid = (v: number): number => Math.fround(1 / (1 + Math.exp(-v)));

/** Keypoint k's score at cell (y, x): the float32 sigmoid of its logit. */
export function scoreAt(h: HeadsTensor, y: number, x: number, k: number): number {
  return sigmoid(h.data[(y * h.width + x) * h.cellStride + h.heatmap + k]!);
}

function isLocalMaximum(h: HeadsTensor, k: number, score: number, y: number, x: number): boolean {
  const y0 = Math.max(y - 1, 0);
  const y1 = Math.min(y + 2, h.height);
  const x0 = Math.max(x - 1, 0);
  const x1 = Math.min(x + 2, h.width);
  for (let yy = y0; yy < y1; yy++) for (let xx = x0; xx < x1; xx++) if (scoreAt(h, yy, xx, k) > score) return false;
  return true;
}

/** Every root candidate, scanned on the CPU, in TF.js's insertion order (y, x, keypoint). */
export function findCandidates(h: HeadsTensor, scoreThreshold: number): PartCandidate[] {
  const out: PartCandidate[] = [];
  for (let y = 0; y < h.height; y++) {
    for (let x = 0; x < h.width; x++) {
      for (let k = 0; k < NUM_KEYPOINTS; k++) {
        const score = scoreAt(h, y, x, k);
        if (score < scoreThreshold) continue;
        if (isLocalMaximum(h, k, score, y, x)) out.push({ score, keypoint: k, y, x });
      }
    }
  }
  return out;
}

/**
 * The GPU's candidates (a superset, in any order) confirmed with this file's scores and
 * sorted into TF.js's insertion order: the result equals findCandidates().
 */
export function confirmCandidates(h: HeadsTensor, gpu: Iterable<PartCandidate>, scoreThreshold: number): PartCandidate[] {
  const out: PartCandidate[] = [];
  for (const c of gpu) {
    if (c.y >= h.height || c.x >= h.width || c.keypoint >= NUM_KEYPOINTS) continue;
    const score = scoreAt(h, c.y, c.x, c.keypoint);
    if (score < scoreThreshold || !isLocalMaximum(h, c.keypoint, score, c.y, c.x)) continue;
    out.push({ score, keypoint: c.keypoint, y: c.y, x: c.x });
  }
  const order = (c: PartCandidate) => (c.y * h.width + c.x) * NUM_KEYPOINTS + c.keypoint;
  return out.sort((a, b) => order(a) - order(b));
}

/**
 * TF.js PoseNet's MaxHeap, kept as it is: a heap with children at 2k and 2k + 1 used
 * from index 0 (so 0's children are 0 and 1). It still pops a maximum first in most
 * cases, but not always in strict order; matching its output means matching it.
 */
class MaxHeap<T> {
  private readonly queue: (T | null)[] = [];
  private last = -1;
  constructor(private readonly value: (t: T) => number) {}

  enqueue(x: T): void {
    this.queue[++this.last] = x;
    this.swim(this.last);
  }

  dequeue(): T {
    const max = this.queue[0]!;
    this.exchange(0, this.last--);
    this.sink(0);
    this.queue[this.last + 1] = null;
    return max;
  }

  empty(): boolean {
    return this.last === -1;
  }

  private swim(k: number): void {
    while (k > 0 && this.less(Math.floor(k / 2), k)) {
      this.exchange(k, Math.floor(k / 2));
      k = Math.floor(k / 2);
    }
  }

  private sink(k: number): void {
    while (2 * k <= this.last) {
      let j = 2 * k;
      if (j < this.last && this.less(j, j + 1)) j++;
      if (!this.less(k, j)) break;
      this.exchange(k, j);
      k = j;
    }
  }

  private less(i: number, j: number): boolean {
    return this.value(this.queue[i]!) < this.value(this.queue[j]!);
  }

  private exchange(i: number, j: number): void {
    const t = this.queue[i]!;
    this.queue[i] = this.queue[j]!;
    this.queue[j] = t;
  }
}

const PARENT = POSE_CHAIN.map(([p]) => PART_IDS[p]);
const CHILD = POSE_CHAIN.map(([, c]) => PART_IDS[c]);

function offsetPoint(h: HeadsTensor, y: number, x: number, k: number): Vector2D {
  const base = (y * h.width + x) * h.cellStride + h.offsets;
  return { y: h.data[base + k]!, x: h.data[base + k + NUM_KEYPOINTS]! };
}

function imageCoords(h: HeadsTensor, c: PartCandidate, outputStride: number): Vector2D {
  const o = offsetPoint(h, c.y, c.x, c.keypoint);
  return { x: c.x * outputStride + o.x, y: c.y * outputStride + o.y };
}

const clamp = (a: number, lo: number, hi: number) => (a < lo ? lo : Math.min(a, hi));

function nearestCell(h: HeadsTensor, p: Vector2D, outputStride: number): { y: number; x: number } {
  return {
    y: clamp(Math.round(p.y / outputStride), 0, h.height - 1),
    x: clamp(Math.round(p.x / outputStride), 0, h.width - 1),
  };
}

/** Offset refinement steps after following a displacement (TF.js: 2). */
const OFFSET_REFINE_STEPS = 2;

function traverseToTargetKeypoint(
  h: HeadsTensor,
  edge: number,
  source: Keypoint,
  target: number,
  outputStride: number,
  displacementChannel: number,
): Keypoint {
  const numEdges = POSE_CHAIN.length;
  const s = nearestCell(h, source.position, outputStride);
  const base = (s.y * h.width + s.x) * h.cellStride + displacementChannel;
  let point: Vector2D = { x: source.position.x + h.data[base + numEdges + edge]!, y: source.position.y + h.data[base + edge]! };
  for (let i = 0; i < OFFSET_REFINE_STEPS; i++) {
    const t = nearestCell(h, point, outputStride);
    const o = offsetPoint(h, t.y, t.x, target);
    point = { x: t.x * outputStride + o.x, y: t.y * outputStride + o.y };
  }
  const t = nearestCell(h, point, outputStride);
  return { position: point, part: PART_NAMES[target]!, score: scoreAt(h, t.y, t.x, target) };
}

function decodePose(h: HeadsTensor, root: PartCandidate, outputStride: number): Keypoint[] {
  const keypoints: (Keypoint | undefined)[] = new Array(NUM_KEYPOINTS);
  keypoints[root.keypoint] = { score: root.score, part: PART_NAMES[root.keypoint]!, position: imageCoords(h, root, outputStride) };
  for (let edge = POSE_CHAIN.length - 1; edge >= 0; edge--) {
    const source = keypoints[CHILD[edge]!];
    const target = PARENT[edge]!;
    if (source && !keypoints[target])
      keypoints[target] = traverseToTargetKeypoint(h, edge, source, target, outputStride, h.displacementBwd);
  }
  for (let edge = 0; edge < POSE_CHAIN.length; edge++) {
    const source = keypoints[PARENT[edge]!];
    const target = CHILD[edge]!;
    if (source && !keypoints[target])
      keypoints[target] = traverseToTargetKeypoint(h, edge, source, target, outputStride, h.displacementFwd);
  }
  return keypoints as Keypoint[];
}

function withinNmsRadius(poses: Pose[], squaredRadius: number, p: Vector2D, k: number): boolean {
  return poses.some(({ keypoints }) => {
    const q = keypoints[k]!.position;
    const dy = q.y - p.y;
    const dx = q.x - p.x;
    return dy * dy + dx * dx <= squaredRadius;
  });
}

function instanceScore(poses: Pose[], squaredRadius: number, keypoints: Keypoint[]): number {
  let total = 0;
  keypoints.forEach(({ position, score }, k) => {
    if (!withinNmsRadius(poses, squaredRadius, position, k)) total += score;
  });
  return total / keypoints.length;
}

/**
 * The greedy decoder over confirmed candidates in TF.js insertion order (findCandidates
 * or confirmCandidates). Poses in input-resolution pixels, in the order found.
 */
export function decodeMultiplePoses(
  h: HeadsTensor,
  candidates: readonly PartCandidate[],
  outputStride: number,
  options: MultiPoseOptions = {},
): Pose[] {
  const { maxDetections, nmsRadius } = checkMultiPoseOptions(options);
  const queue = new MaxHeap<PartCandidate>((c) => c.score);
  for (const c of candidates) queue.enqueue(c);
  const squaredRadius = nmsRadius * nmsRadius;
  const poses: Pose[] = [];
  while (poses.length < maxDetections && !queue.empty()) {
    const root = queue.dequeue();
    if (withinNmsRadius(poses, squaredRadius, imageCoords(h, root, outputStride), root.keypoint)) continue;
    const keypoints = decodePose(h, root, outputStride);
    poses.push({ keypoints, score: instanceScore(poses, squaredRadius, keypoints) });
  }
  return poses;
}

/** Input-resolution poses to source pixels: x * scaleX + originX (then mirrored), as TF.js. */
export function scaleAndFlipPoses(poses: Pose[], fit: Fit, srcW: number, flipHorizontal: boolean): Pose[] {
  return poses.map((pose) => ({
    score: pose.score,
    keypoints: pose.keypoints.map(({ part, score, position }) => {
      const x = position.x * fit.scaleX + fit.originX;
      return { part, score, position: { x: flipHorizontal ? srcW - 1 - x : x, y: position.y * fit.scaleY + fit.originY } };
    }),
  }));
}
