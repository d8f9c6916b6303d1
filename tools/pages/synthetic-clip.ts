/**
 * A deterministic synthetic video made from one photograph, for `npm run jitter` and the
 * video tests: a camera that pans and zooms smoothly over the photograph, with
 * camera-like sensor noise. Every frame's transform is known, so keypoints found on the
 * photograph map exactly into every frame (the truth the jitter tool measures against).
 *
 * - Frame size: 3/4 of the photograph's, even sides.
 * - Transform of frame i of n (u = i / (n - 1)): photo pixel p maps to
 *   frame pixel k (p + ½) - ½ + t, a zoom k = 1 + ZOOM (1 - cos 2πu) / 2 (1 → 1 + ZOOM → 1)
 *   about a centre that starts on the person and swings left-right (sin 2πu) by PAN_X of
 *   the frame width and up-down (sin 4πu) by PAN_Y of its height. Outside the photograph
 *   the frame is black.
 * - Sensor noise per pixel and channel: Gaussian with variance READ² + SHOT · value (read
 *   noise plus shot noise, in 8-bit levels), from a seeded PRNG: the same seed, the same clip.
 */
import { mulberry32 } from '../lib/mulberry32.ts';

export const ZOOM = 0.3;
export const PAN_X = 0.12;
export const PAN_Y = 0.05;
/** Read noise, 8-bit levels (sd). */
export const READ_NOISE = 2;
/** Shot noise: variance per level of signal. */
export const SHOT_NOISE = 0.08;

export interface ClipTransform {
  /** Scale from photograph pixels to frame pixels. */
  k: number;
  tx: number;
  ty: number;
}

export interface ClipSpec {
  /** Photograph size. */
  photoWidth: number;
  photoHeight: number;
  /** Where the person stands in the photograph (the pan starts there). */
  centreX: number;
  centreY: number;
  frames: number;
  seed: number;
}

export function clipSize(photoWidth: number, photoHeight: number): { width: number; height: number } {
  return { width: Math.round((0.75 * photoWidth) / 2) * 2, height: Math.round((0.75 * photoHeight) / 2) * 2 };
}

export function clipTransform(spec: ClipSpec, i: number): ClipTransform {
  const { width, height } = clipSize(spec.photoWidth, spec.photoHeight);
  const u = spec.frames > 1 ? i / (spec.frames - 1) : 0;
  const k = 1 + (ZOOM * (1 - Math.cos(2 * Math.PI * u))) / 2;
  // The photograph point shown at the frame's centre.
  const cx = spec.centreX + (PAN_X * width * Math.sin(2 * Math.PI * u)) / k;
  const cy = spec.centreY + (PAN_Y * height * Math.sin(4 * Math.PI * u)) / k;
  // Frame centre (width / 2, height / 2) in pixel-centre terms is (width - 1) / 2.
  return { k, tx: (width - 1) / 2 - k * (cx + 0.5) + 0.5, ty: (height - 1) / 2 - k * (cy + 0.5) + 0.5 };
}

/** A photograph point in frame pixels (pixel-centre convention, as drawImage samples). */
export function mapPoint(t: ClipTransform, x: number, y: number): { x: number; y: number } {
  return { x: t.k * (x + 0.5) - 0.5 + t.tx, y: t.k * (y + 0.5) - 0.5 + t.ty };
}

/** Mulberry32. */
function rng(seed: number): () => number {
  return mulberry32(seed);
}

/** Draws frame i into `ctx` (sized by clipSize) and adds the sensor noise; returns the pixels. */
export function drawClipFrame(
  ctx: CanvasRenderingContext2D | OffscreenCanvasRenderingContext2D,
  photo: CanvasImageSource,
  spec: ClipSpec,
  i: number,
): ImageData {
  const { width, height } = clipSize(spec.photoWidth, spec.photoHeight);
  const t = clipTransform(spec, i);
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.fillStyle = '#000';
  ctx.fillRect(0, 0, width, height);
  ctx.imageSmoothingEnabled = true;
  ctx.imageSmoothingQuality = 'high';
  ctx.setTransform(t.k, 0, 0, t.k, t.tx, t.ty);
  ctx.drawImage(photo, 0, 0);
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  const image = ctx.getImageData(0, 0, width, height);
  const px = image.data;
  const u = rng(spec.seed * 100_003 + i);
  for (let p = 0; p < px.length; p += 4) {
    for (let c = 0; c < 3; c++) {
      const v = px[p + c]!;
      // Box-Muller.
      const g = Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
      px[p + c] = v + g * Math.sqrt(READ_NOISE * READ_NOISE + SHOT_NOISE * v);
    }
  }
  ctx.putImageData(image, 0, 0);
  return image;
}
