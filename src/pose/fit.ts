/**
 * The mapping between source-image pixels and input-resolution pixels for each fit
 * mode. Input pixel (u, v) samples source point (u * scaleX + originX, v * scaleY + originY)
 * with TensorFlow's legacy bilinear resize (no half-pixel centres), over a `region`
 * (regionW x regionH pixels starting at the origin; black outside the source), so a
 * keypoint found at (u, v) lies at exactly that source point.
 */
import type { FitMode } from './types.ts';

export interface Fit {
  /** Region of the (padded or cropped) source that is resized to the input. */
  originX: number;
  originY: number;
  regionW: number;
  regionH: number;
  /** Source pixels per input pixel. */
  scaleX: number;
  scaleY: number;
}

export function computeFit(mode: FitMode, srcW: number, srcH: number, inputW: number, inputH: number): Fit {
  if (!(srcW > 0 && srcH > 0)) throw new RangeError(`source has no pixels (${srcW}x${srcH})`);
  const make = (originX: number, originY: number, regionW: number, regionH: number): Fit => ({
    originX,
    originY,
    regionW,
    regionH,
    scaleX: regionW / inputW,
    scaleY: regionH / inputH,
  });
  switch (mode) {
    case 'stretch':
      return make(0, 0, srcW, srcH);
    case 'pad': {
      // Exactly TF.js PoseNet 2.x padAndResizeTo: rounded padding on both sides.
      const targetAspect = inputW / inputH;
      const aspect = srcW / srcH;
      if (aspect < targetAspect) {
        const pad = Math.round(0.5 * (targetAspect * srcH - srcW));
        return make(-pad, 0, srcW + 2 * pad, srcH);
      }
      const pad = Math.round(0.5 * ((1 / targetAspect) * srcW - srcH));
      return make(0, -pad, srcW, srcH + 2 * pad);
    }
    case 'crop': {
      const targetAspect = inputW / inputH;
      const aspect = srcW / srcH;
      if (aspect > targetAspect) {
        const w = Math.max(1, Math.round(srcH * targetAspect));
        return make(Math.floor((srcW - w) / 2), 0, w, srcH);
      }
      const h = Math.max(1, Math.round(srcW / targetAspect));
      return make(0, Math.floor((srcH - h) / 2), srcW, h);
    }
  }
}
