/**
 * Draws a frame and its poses: the frame as the network saw it (mirrored when the
 * keypoints were flipped, so the skeleton stays on the body), then per pose the
 * skeleton's edges and keypoints whose scores reach the threshold. Keypoints below the
 * threshold, and edges touching them, are hidden. Multi-pose: each person in their
 * tracked id's colour (palette.ts), with the id written by the head.
 *
 * Without a frame it draws the poses alone on a transparent canvas laid over the source
 * element itself (worker mode, see backdrop.ts): the canvas then holds at most
 * OVERLAY_MAX_SIDE pixels on its longer side, whatever the source's size, so that the
 * page's thread never touches a frame's pixels.
 */
import { PART_NAMES, SKELETON_INDICES } from '../pose/keypoints.ts';
import type { Pose } from '../pose/types.ts';
import { personColour } from './palette.ts';

const LEFT = '#ffb020';
const RIGHT = '#2ad4ff';
const CENTRE = '#f4f4f4';
const OUTLINE = '#000a';

/** Longer side, in canvas pixels, of a poses-only overlay (lines need no more, even over a 4K camera). */
export const OVERLAY_MAX_SIDE = 1280;

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

/**
 * Draws the frame (from `frame`, the source as estimated) and the poses, on a canvas of the
 * source's size `width` x `height`; with `frame` null, the poses alone on a cleared canvas
 * of at most OVERLAY_MAX_SIDE pixels (keypoints are in source pixels either way).
 */
export function drawOverlay(
  ctx: CanvasRenderingContext2D,
  frame: CanvasImageSource | null,
  width: number,
  height: number,
  poses: Pose[],
  o: OverlayOptions,
): number {
  const canvas = ctx.canvas;
  const k = frame ? 1 : Math.min(1, OVERLAY_MAX_SIDE / Math.max(width, height, 1));
  const cw = Math.max(1, Math.round(width * k));
  const ch = Math.max(1, Math.round(height * k));
  if (canvas.width !== cw || canvas.height !== ch) {
    canvas.width = cw;
    canvas.height = ch;
  }
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  if (frame) {
    ctx.save();
    if (o.mirrored) {
      ctx.translate(width, 0);
      ctx.scale(-1, 1);
    }
    ctx.drawImage(frame, 0, 0, width, height);
    ctx.restore();
  } else {
    ctx.clearRect(0, 0, cw, ch);
    ctx.setTransform(cw / width, 0, 0, ch / height, 0, 0);
  }

  const scale = Math.max(width, height) / 640;
  const lineWidth = Math.max(2, 3 * scale);
  const radius = Math.max(3, 4.5 * scale);
  let drawn = 0;
  poses.forEach((pose, p) => {
    const kp = pose.keypoints;
    const instance = personColour(pose.id ?? p + 1);
    ctx.lineCap = 'round';
    const edges = SKELETON_INDICES.filter(([a, b]) => kp[a] && kp[b] && kp[a].score >= o.minScore && kp[b].score >= o.minScore);
    // A dark outline first, so that every colour shows on light and dark frames alike.
    for (const outline of [true, false]) {
      ctx.lineWidth = outline ? lineWidth + 2 * Math.max(1, scale) : lineWidth;
      for (const [a, b] of edges) {
        ctx.strokeStyle = outline ? OUTLINE : o.byInstance ? instance : sideColour(a) === sideColour(b) ? sideColour(a) : CENTRE;
        ctx.beginPath();
        ctx.moveTo(kp[a]!.position.x, kp[a]!.position.y);
        ctx.lineTo(kp[b]!.position.x, kp[b]!.position.y);
        ctx.stroke();
      }
    }
    kp.forEach((k, i) => {
      if (k.score < o.minScore) return;
      drawn++;
      ctx.beginPath();
      ctx.arc(k.position.x, k.position.y, radius, 0, 2 * Math.PI);
      ctx.fillStyle = o.byInstance ? instance : sideColour(i);
      ctx.fill();
      ctx.lineWidth = Math.max(1, scale);
      ctx.strokeStyle = OUTLINE;
      ctx.stroke();
    });
    if (o.byInstance && pose.id !== undefined) {
      // The id by the highest confident keypoint (the head, mostly).
      const top = kp.filter((k) => k.score >= o.minScore).sort((a, b) => a.position.y - b.position.y)[0];
      if (top) {
        ctx.font = `bold ${Math.round(14 * Math.max(1, scale))}px system-ui, sans-serif`;
        ctx.textAlign = 'center';
        ctx.lineWidth = 3;
        ctx.strokeStyle = OUTLINE;
        ctx.fillStyle = instance;
        const y = top.position.y - 2 * radius;
        ctx.strokeText(`#${pose.id}`, top.position.x, y);
        ctx.fillText(`#${pose.id}`, top.position.x, y);
      }
    }
  });
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  return drawn;
}
