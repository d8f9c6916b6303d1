/**
 * What mirroring a picture left to right does to PoseNet's heads, for the flip test
 * (shaders/flip_average.wgsl.ts averages a frame's heads with those of its mirror image).
 *
 * Seen in a mirror, a person's left parts look like right parts: the mirrored run's
 * heatmap for `rightEye` is the frame's `leftEye`, found at the mirrored cell
 * (gx -> gridW - 1 - gx, exact because every input size is k * stride + 1). Vectors
 * change the sign of their x component and keep y: the short-range offsets are
 * (dy for 17 parts, then dx for 17 parts), the displacements (dy for 16 edges, then dx
 * for 16 edges) along POSE_CHAIN, whose edges mirror edge for edge (nose -> leftEye
 * is nose -> rightEye seen in the mirror).
 */
import type { HeadName, HeadRef } from '../model/manifest.ts';
import { NUM_KEYPOINTS, PART_IDS, PART_NAMES, POSE_CHAIN, type PartName } from './keypoints.ts';

function mirrorName(name: PartName): PartName {
  if (name.startsWith('left')) return `right${name.slice(4)}` as PartName;
  if (name.startsWith('right')) return `left${name.slice(5)}` as PartName;
  return name;
}

/** For each keypoint, the keypoint it becomes in a mirror (leftEye <-> rightEye, nose -> nose). */
export const MIRRORED_PART: readonly number[] = PART_NAMES.map((name) => PART_IDS[mirrorName(name)]);

/** For each POSE_CHAIN edge, the edge it becomes in a mirror. */
export const MIRRORED_EDGE: readonly number[] = POSE_CHAIN.map(([parent, child]) => {
  const e = POSE_CHAIN.findIndex(([p, c]) => p === mirrorName(parent) && c === mirrorName(child));
  if (e < 0) throw new Error(`POSE_CHAIN has no mirror of the edge ${parent} -> ${child}`);
  return e;
});

/**
 * The flip test's channel table for a heads tensor of `channels4` vec4s per cell: for
 * each channel c (channels4 * 4 of them), entry 2c is the mirrored run's channel that
 * holds the same quantity and entry 2c + 1 is 1 where its value changes sign (an x
 * component), else 0. Padding channels map to themselves.
 */
export function flipChannelTable(heads: Record<HeadName, HeadRef>, channels4: number): Uint32Array<ArrayBuffer> {
  const channels = channels4 * 4;
  const table = new Uint32Array(2 * channels);
  for (let c = 0; c < channels; c++) table[2 * c] = c;
  const set = (c: number, source: number, negate: boolean) => {
    if (c >= channels || source >= channels) throw new RangeError(`flip table: channel ${Math.max(c, source)} is outside ${channels}`);
    table[2 * c] = source;
    table[2 * c + 1] = negate ? 1 : 0;
  };
  const numEdges = POSE_CHAIN.length;
  for (let k = 0; k < NUM_KEYPOINTS; k++) {
    const m = MIRRORED_PART[k]!;
    set(heads.heatmap.channelOffset + k, heads.heatmap.channelOffset + m, false);
    set(heads.offsets.channelOffset + k, heads.offsets.channelOffset + m, false);
    set(heads.offsets.channelOffset + NUM_KEYPOINTS + k, heads.offsets.channelOffset + NUM_KEYPOINTS + m, true);
  }
  for (const head of [heads.displacementFwd, heads.displacementBwd]) {
    for (let e = 0; e < numEdges; e++) {
      const m = MIRRORED_EDGE[e]!;
      set(head.channelOffset + e, head.channelOffset + m, false);
      set(head.channelOffset + numEdges + e, head.channelOffset + numEdges + m, true);
    }
  }
  return table;
}
