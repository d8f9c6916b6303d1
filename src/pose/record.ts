/**
 * The pose record: one line of the app's "Record" (JSON Lines) and one entry of
 * `npm run infer` on a video, the same shape in both:
 *
 *   { "frame": 0, "mediaTime": 0.0333, "resolution": { "width": 257, "height": 257 },
 *     "poses": [ { "id": 1, "score": 0.82, "keypoints": [[x, y, score], ... 17] } ] }
 *
 * - frame: the record's 0-based index in the recording or the tool's output;
 * - mediaTime: the frame's time in the video, seconds (a camera's: its stream time);
 * - resolution: the network's input size for that frame;
 * - poses: in source pixels, COCO keypoint order; `id` is the tracked person's id (null
 *   without tracking). Positions are rounded to 0.01 px, scores to 1e-4.
 */
import type { Pose } from './types.ts';

export interface PoseRecordPose {
  id: number | null;
  score: number;
  keypoints: [number, number, number][];
}

export interface PoseRecord {
  frame: number;
  mediaTime: number | null;
  resolution: { width: number; height: number };
  poses: PoseRecordPose[];
}

const r2 = (v: number) => Math.round(v * 100) / 100;
const r4 = (v: number) => Math.round(v * 10_000) / 10_000;

export function toPoseRecord(
  frame: number,
  mediaTime: number | null,
  resolution: { width: number; height: number },
  poses: readonly Pose[],
): PoseRecord {
  return {
    frame,
    mediaTime: mediaTime === null ? null : Math.round(mediaTime * 1e6) / 1e6,
    resolution: { width: resolution.width, height: resolution.height },
    poses: poses.map((p) => ({
      id: p.id ?? null,
      score: r4(p.score),
      keypoints: p.keypoints.map((k) => [r2(k.position.x), r2(k.position.y), r4(k.score)] as [number, number, number]),
    })),
  };
}

/** Records as JSON Lines (one record a line, newline-terminated). */
export function toJsonLines(records: readonly PoseRecord[]): string {
  return records.map((r) => `${JSON.stringify(r)}\n`).join('');
}
