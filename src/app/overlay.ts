/**
 * Draws a frame and its poses: the frame as the network saw it (mirrored when the
 * keypoints were flipped, so the skeleton stays on the body), then per pose the
 * skeleton's edges and keypoints whose scores reach the threshold. Keypoints below the
 * threshold, and edges touching them, are hidden.
 */
import { PART_NAMES, SKELETON_INDICES } from '../pose/keypoints.ts';
import type { Pose } from '../pose/types.ts';

const LEFT = '#ffb020';
const RIGHT = '#2ad4ff';
const CENTRE = '#f4f4f4';
/** Multi-pose: one hue per detection. */
const POSE_HUES = [0, 120, 220, 290, 40, 170];

function sideColour(k: number): string {
  const name = PART_NAMES[k] ?? '';
  return name.startsWith('left') ? LEFT : name.startsWith('right') ? RIGHT : CENTRE;
}

export interface OverlayOptions {
  minScore: number;
  /** The keypoints are mirrored: draw the frame mirrored too. */
  mirrored: boolean;
  /** Colour poses by instance (multi-pose) instead of by body side. */
  byInstance: boolean;
}

/** Draws the frame (from `frame`, a canvas holding the source as estimated) and the poses. */
export function drawOverlay(
  ctx: CanvasRenderingContext2D,
  frame: CanvasImageSource,
  width: number,
  height: number,
  poses: Pose[],
  o: OverlayOptions,
): number {
  const canvas = ctx.canvas;
  if (canvas.width !== width || canvas.height !== height) {
    canvas.width = width;
    canvas.height = height;
  }
  ctx.save();
  if (o.mirrored) {
    ctx.translate(width, 0);
    ctx.scale(-1, 1);
  }
  ctx.drawImage(frame, 0, 0, width, height);
  ctx.restore();

  const scale = Math.max(width, height) / 640;
  const lineWidth = Math.max(2, 3 * scale);
  const radius = Math.max(3, 4.5 * scale);
  let drawn = 0;
  poses.forEach((pose, p) => {
    const kp = pose.keypoints;
    const instance = `hsl(${POSE_HUES[p % POSE_HUES.length]} 90% 60%)`;
    ctx.lineWidth = lineWidth;
    ctx.lineCap = 'round';
    for (const [a, b] of SKELETON_INDICES) {
      const ka = kp[a];
      const kb = kp[b];
      if (!ka || !kb || ka.score < o.minScore || kb.score < o.minScore) continue;
      ctx.strokeStyle = o.byInstance ? instance : sideColour(a) === sideColour(b) ? sideColour(a) : CENTRE;
      ctx.beginPath();
      ctx.moveTo(ka.position.x, ka.position.y);
      ctx.lineTo(kb.position.x, kb.position.y);
      ctx.stroke();
    }
    kp.forEach((k, i) => {
      if (k.score < o.minScore) return;
      drawn++;
      ctx.beginPath();
      ctx.arc(k.position.x, k.position.y, radius, 0, 2 * Math.PI);
      ctx.fillStyle = o.byInstance ? instance : sideColour(i);
      ctx.fill();
      ctx.lineWidth = Math.max(1, scale);
      ctx.strokeStyle = '#000a';
      ctx.stroke();
    });
  });
  return drawn;
}
