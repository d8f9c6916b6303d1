/** Pose format compatible with @tensorflow-models/posenet 2.x. */
import type { PartName } from './keypoints.ts';

export interface Vector2D {
  x: number;
  y: number;
}

export interface Keypoint {
  part: PartName;
  /** In source-image pixels. */
  position: Vector2D;
  score: number;
}

export interface Pose {
  /** Mean keypoint score (single pose) or the decoder's instance score (multi-pose). */
  score: number;
  keypoints: Keypoint[];
  /** A tracked person's id, stable across frames (multi-pose with tracking or smoothing). */
  id?: number;
}

/**
 * How the source image is fitted to the network's input resolution.
 * - `pad` (default, as TF.js PoseNet 2.x): pad the source with black to the input's
 *   aspect ratio, then resize.
 * - `stretch`: resize the whole source to the input, ignoring aspect ratio.
 * - `crop`: crop the centre of the source to the input's aspect ratio, then resize.
 */
export type FitMode = 'pad' | 'stretch' | 'crop';
