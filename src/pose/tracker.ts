/**
 * PoseTracker: stable ids for the poses of a video, frame after frame, as MoveNet's
 * keypoint tracker does it (tfjs-models pose-detection `calculators/keypoint_tracker`):
 *
 * 1. Similarity of each new pose to each live track: COCO's object keypoint similarity
 *    (OKS) over the keypoints both score at least `keypointMinScore` on,
 *      OKS = mean_k exp(-d_k² / (2 · area · (2σ_k)²)),
 *    d_k the distance between the pose's and the track's keypoint k, area the track's
 *    keypoint box area, σ_k COCO's per-keypoint falloff (COCO_SIGMAS). Fewer than
 *    `minKeypoints` shared keypoints: similarity 0.
 * 2. Greedy matching: of all (pose, track) pairs with similarity at least
 *    `minSimilarity`, the most similar first; each pose and each track is used once.
 * 3. A matched pose takes its track's id and refreshes it; an unmatched pose opens a new
 *    track with the next id (ids count up from 1 and are never reused).
 * 4. A track not matched for more than `maxAgeMs` is dropped; beyond `maxTracks` the
 *    stalest go first. Time that runs backwards (a seek) starts over.
 */
import { NUM_KEYPOINTS } from './keypoints.ts';
import type { Keypoint, Pose } from './types.ts';

/** COCO's per-keypoint OKS falloffs (sigmas), in PoseNet's (COCO's) keypoint order. */
export const COCO_SIGMAS: readonly number[] = [
  0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072, 0.062, 0.062, 0.107, 0.107, 0.087, 0.087, 0.089, 0.089,
];

export interface TrackerOptions {
  /** A track unmatched for longer than this (ms) is dropped (default 1000, as MoveNet). */
  maxAgeMs?: number;
  /** Least OKS for a pose to continue a track (default 0.15, as MoveNet). */
  minSimilarity?: number;
  /** Keypoints below this score take no part in the similarity (default 0.3, as MoveNet). */
  keypointMinScore?: number;
  /** Fewer shared confident keypoints than this: similarity 0 (default 4, as MoveNet). */
  minKeypoints?: number;
  /** Most tracks kept (default 18, as MoveNet's 3 × 6 poses). */
  maxTracks?: number;
}

export const TRACKER_DEFAULTS: Readonly<Required<TrackerOptions>> = {
  maxAgeMs: 1000,
  minSimilarity: 0.15,
  keypointMinScore: 0.3,
  minKeypoints: 4,
  maxTracks: 18,
};

export function checkTrackerOptions(o: TrackerOptions): Required<TrackerOptions> {
  const r = { ...TRACKER_DEFAULTS, ...Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) };
  if (!(r.maxAgeMs > 0)) throw new RangeError(`tracking maxAgeMs ${r.maxAgeMs}: must be > 0`);
  if (!(r.minSimilarity >= 0 && r.minSimilarity <= 1)) throw new RangeError(`tracking minSimilarity ${r.minSimilarity}: must be in [0, 1]`);
  if (!(r.keypointMinScore >= 0 && r.keypointMinScore <= 1))
    throw new RangeError(`tracking keypointMinScore ${r.keypointMinScore}: must be in [0, 1]`);
  if (!(Number.isInteger(r.minKeypoints) && r.minKeypoints >= 1 && r.minKeypoints <= NUM_KEYPOINTS))
    throw new RangeError(`tracking minKeypoints ${r.minKeypoints}: must be an integer in 1..${NUM_KEYPOINTS}`);
  if (!(Number.isInteger(r.maxTracks) && r.maxTracks >= 1))
    throw new RangeError(`tracking maxTracks ${r.maxTracks}: must be an integer >= 1`);
  return r;
}

export interface Track {
  id: number;
  keypoints: Keypoint[];
  /** When it was last matched (ms). */
  lastSeenMs: number;
}

/** A pose with its track id. */
export type TrackedPose = Pose & { id: number };

/** Area of the box around the keypoints scoring at least `minScore`. */
function keypointBoxArea(keypoints: readonly Keypoint[], minScore: number): number {
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = -Infinity;
  let y1 = -Infinity;
  for (const k of keypoints) {
    if (k.score < minScore) continue;
    x0 = Math.min(x0, k.position.x);
    y0 = Math.min(y0, k.position.y);
    x1 = Math.max(x1, k.position.x);
    y1 = Math.max(y1, k.position.y);
  }
  return x1 > x0 && y1 > y0 ? (x1 - x0) * (y1 - y0) : 0;
}

/** OKS of a pose's keypoints against a track's (see the file's header); 0 when too few keypoints are shared. */
export function keypointSimilarity(pose: readonly Keypoint[], track: readonly Keypoint[], o: Required<TrackerOptions>): number {
  const area = keypointBoxArea(track, o.keypointMinScore);
  if (!(area > 0)) return 0;
  let sum = 0;
  let count = 0;
  for (let k = 0; k < NUM_KEYPOINTS; k++) {
    const a = pose[k];
    const b = track[k];
    if (!a || !b || a.score < o.keypointMinScore || b.score < o.keypointMinScore) continue;
    const d2 = (a.position.x - b.position.x) ** 2 + (a.position.y - b.position.y) ** 2;
    const kappa = 2 * COCO_SIGMAS[k]!;
    sum += Math.exp(-d2 / (2 * area * kappa * kappa));
    count++;
  }
  return count >= o.minKeypoints ? sum / count : 0;
}

export class PoseTracker {
  private options: Required<TrackerOptions>;
  private live: Track[] = [];
  private nextId = 1;
  private lastMs = Number.NaN;
  /** Called with the ids of tracks that ended (dropped for age or count, or by reset). */
  onEnd: ((ids: number[]) => void) | null = null;

  constructor(options: TrackerOptions = {}) {
    this.options = checkTrackerOptions(options);
  }

  get settings(): Readonly<Required<TrackerOptions>> {
    return this.options;
  }

  setOptions(options: TrackerOptions): void {
    this.options = checkTrackerOptions({ ...this.options, ...options });
  }

  /** The live tracks (a copy). */
  get tracks(): Track[] {
    return this.live.map((t) => ({ ...t, keypoints: [...t.keypoints] }));
  }

  /** Forgets every track; ids continue counting up (an id never names two people). */
  reset(): void {
    const ended = this.live.map((t) => t.id);
    this.live = [];
    this.lastMs = Number.NaN;
    if (ended.length) this.onEnd?.(ended);
  }

  /** Gives each pose of the frame at `timestampMs` an id; the poses come back in their order. */
  update(poses: readonly Pose[], timestampMs: number): TrackedPose[] {
    if (!Number.isFinite(timestampMs)) throw new RangeError(`PoseTracker: timestamp ${timestampMs} is not a finite number of ms`);
    const o = this.options;
    if (timestampMs < this.lastMs) this.reset();
    this.lastMs = timestampMs;
    this.drop((t) => timestampMs - t.lastSeenMs > o.maxAgeMs);

    const pairs: { sim: number; pose: number; track: number }[] = [];
    poses.forEach((pose, p) => {
      this.live.forEach((track, t) => {
        const sim = keypointSimilarity(pose.keypoints, track.keypoints, o);
        if (sim >= o.minSimilarity && sim > 0) pairs.push({ sim, pose: p, track: t });
      });
    });
    // Most similar first; ties by pose order, then track order (deterministic).
    pairs.sort((a, b) => b.sim - a.sim || a.pose - b.pose || a.track - b.track);
    const poseTrack = new Array<number>(poses.length).fill(-1);
    const used = new Set<number>();
    for (const { pose, track } of pairs) {
      if (poseTrack[pose] !== -1 || used.has(track)) continue;
      poseTrack[pose] = track;
      used.add(track);
    }
    const out = poses.map((pose, p) => {
      const t = poseTrack[p]!;
      let track: Track;
      if (t >= 0) {
        track = this.live[t]!;
        track.keypoints = pose.keypoints;
        track.lastSeenMs = timestampMs;
      } else {
        track = { id: this.nextId++, keypoints: pose.keypoints, lastSeenMs: timestampMs };
        this.live.push(track);
      }
      return { ...pose, id: track.id };
    });
    if (this.live.length > o.maxTracks) {
      // The stalest beyond the limit go (those seen this frame last).
      const keep = new Set([...this.live].sort((a, b) => b.lastSeenMs - a.lastSeenMs).slice(0, o.maxTracks));
      this.drop((t) => !keep.has(t));
    }
    return out;
  }

  private drop(gone: (t: Track) => boolean): void {
    const ended = this.live.filter(gone).map((t) => t.id);
    if (!ended.length) return;
    this.live = this.live.filter((t) => !gone(t));
    this.onEnd?.(ended);
  }
}
