/**
 * Difficult scenarios for `npm run eval`: controlled, deterministic degradations of the
 * coco-mini photographs, and the matching transforms of their annotations. Pure
 * functions on RGBA pixels (the eval page runs them on each decoded photograph; Node
 * tests run them on small arrays); heavy JPEG compression is the one the page does with
 * its runtime's encoder (tools/pages/platform.ts encodeJpeg at JPEG_QUALITY: the browser's
 * OffscreenCanvas.convertToBlob, or libjpeg-turbo through sharp under --runtime node),
 * deterministic for one browser build or one sharp version.
 *
 * Each random choice comes from a seeded generator keyed by the seed and the image's file
 * name (imageSeed), so a scenario is the same pixels every run and independent of the
 * order the images come in. Point coordinates follow the detector's convention: pixel i's
 * centre is at i.
 */
import type { CocoAnnotation, CocoDataset, CocoImage } from './coco-eval.ts';

export const SCENARIOS = ['blur', 'lowlight', 'jpeg', 'rot90', 'rot180', 'small'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

/** Motion blur length as a share of the image's long side (16 px on a 640 px photograph). */
export const BLUR_LENGTH = 0.025;
/** Low light: value' = 255 * GAIN * (value / 255)^GAMMA + gaussian noise of sd NOISE_SD (0..255 scale). */
export const LOW_LIGHT = { gamma: 2.2, gain: 0.6, noiseSd: 8 } as const;
/** Heavy JPEG compression: the runtime's encoder at this quality (0..1). */
export const JPEG_QUALITY = 0.08;
/** People made small: the photograph downscaled by this integer factor (box filter), centred on a grey border. */
export const SMALL_FACTOR = 4;
export const SMALL_BORDER = 128;

export const SCENARIO_DESCRIPTIONS: Record<ScenarioName, string> = {
  blur: `motion blur: a ${BLUR_LENGTH * 100}% of the long side streak (16 px at 640), at an angle drawn per image`,
  lowlight: `low light: gamma ${LOW_LIGHT.gamma}, gain ${LOW_LIGHT.gain}, gaussian noise sd ${LOW_LIGHT.noiseSd}/255`,
  jpeg: `heavy JPEG compression: quality ${JPEG_QUALITY} (the runtime's encoder: the browser's, or sharp's in Node)`,
  rot90: 'rotated 90° clockwise (people lying down)',
  rot180: 'rotated 180° (people upside down)',
  small: `people made small: downscaled ${SMALL_FACTOR}x (box filter), centred on a grey border of the original size`,
};

export interface Rgba {
  data: Uint8ClampedArray;
  width: number;
  height: number;
}

/** Parses `--scenarios blur,rot90` or `all`; throws naming an unknown one. */
export function parseScenarios(text: string): ScenarioName[] {
  if (text.trim() === 'all') return [...SCENARIOS];
  if (text.trim() === '' || text.trim() === 'none') return [];
  const names = text.split(',').map((s) => s.trim());
  for (const n of names) {
    if (!(SCENARIOS as readonly string[]).includes(n))
      throw new RangeError(`unknown scenario "${n}" (expected ${SCENARIOS.join(', ')}, all or none)`);
  }
  return [...new Set(names)] as ScenarioName[];
}

/** A 32-bit seed from the run's seed and an image's file name (FNV-1a). */
export function imageSeed(seed: number, name: string): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** mulberry32: uniform in [0, 1). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The pixels of a scenario (every one but `jpeg`, which the page encodes). */
export function degradePixels(name: Exclude<ScenarioName, 'jpeg'>, img: Rgba, seed: number): Rgba {
  switch (name) {
    case 'blur':
      return motionBlur(img, Math.max(2, Math.round(BLUR_LENGTH * Math.max(img.width, img.height))), rng(seed)() * Math.PI);
    case 'lowlight':
      return lowLight(img, rng(seed));
    case 'rot90':
      return rotate90(img);
    case 'rot180':
      return rotate180(img);
    case 'small':
      return shrinkWithBorder(img, SMALL_FACTOR);
  }
}

/** Mean of `length` bilinear samples along a line at `angle` (radians) through each pixel; edges clamp. */
export function motionBlur(img: Rgba, length: number, angle: number): Rgba {
  const { width: w, height: h, data } = img;
  const out = new Uint8ClampedArray(data.length);
  const dx = Math.cos(angle);
  const dy = Math.sin(angle);
  const offsets = Array.from({ length }, (_, i) => i - (length - 1) / 2);
  const clampX = (v: number) => Math.min(w - 1, Math.max(0, v));
  const clampY = (v: number) => Math.min(h - 1, Math.max(0, v));
  const acc = new Float64Array(4);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      acc.fill(0);
      for (const t of offsets) {
        const sx = clampX(x + t * dx);
        const sy = clampY(y + t * dy);
        const x0 = Math.floor(sx);
        const y0 = Math.floor(sy);
        const x1 = Math.min(w - 1, x0 + 1);
        const y1 = Math.min(h - 1, y0 + 1);
        const fx = sx - x0;
        const fy = sy - y0;
        const i00 = (y0 * w + x0) * 4;
        const i10 = (y0 * w + x1) * 4;
        const i01 = (y1 * w + x0) * 4;
        const i11 = (y1 * w + x1) * 4;
        for (let c = 0; c < 4; c++) {
          const top = data[i00 + c]! + (data[i10 + c]! - data[i00 + c]!) * fx;
          const bottom = data[i01 + c]! + (data[i11 + c]! - data[i01 + c]!) * fx;
          acc[c]! += top + (bottom - top) * fy;
        }
      }
      const o = (y * w + x) * 4;
      for (let c = 0; c < 4; c++) out[o + c] = Math.round(acc[c]! / length);
    }
  }
  return { data: out, width: w, height: h };
}

/** Darker (gamma, gain) and noisier (gaussian, drawn from `random`), alpha kept. */
export function lowLight(img: Rgba, random: () => number): Rgba {
  const out = new Uint8ClampedArray(img.data.length);
  const { gamma, gain, noiseSd } = LOW_LIGHT;
  const curve = Float64Array.from({ length: 256 }, (_, v) => 255 * gain * (v / 255) ** gamma);
  // Box–Muller, one normal per draw.
  const normal = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  for (let i = 0; i < img.data.length; i += 4) {
    for (let c = 0; c < 3; c++) out[i + c] = Math.round(curve[img.data[i + c]!]! + noiseSd * normal());
    out[i + 3] = img.data[i + 3]!;
  }
  return { data: out, width: img.width, height: img.height };
}

/** Rotated 90° clockwise: pixel (x, y) goes to (h - 1 - y, x) of an h x w image. */
export function rotate90(img: Rgba): Rgba {
  const { width: w, height: h, data } = img;
  const out = new Uint8ClampedArray(data.length);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 4;
      const o = (x * h + (h - 1 - y)) * 4;
      for (let c = 0; c < 4; c++) out[o + c] = data[i + c]!;
    }
  }
  return { data: out, width: h, height: w };
}

/** Rotated 180°: pixel (x, y) goes to (w - 1 - x, h - 1 - y). */
export function rotate180(img: Rgba): Rgba {
  const { width: w, height: h, data } = img;
  const out = new Uint8ClampedArray(data.length);
  const n = w * h;
  for (let p = 0; p < n; p++) for (let c = 0; c < 4; c++) out[(n - 1 - p) * 4 + c] = data[p * 4 + c]!;
  return { data: out, width: w, height: h };
}

/** Where the shrunk photograph lands: its size and its top-left corner on the canvas. */
export function shrinkGeometry(width: number, height: number, factor: number): { w: number; h: number; left: number; top: number } {
  const w = Math.floor(width / factor);
  const h = Math.floor(height / factor);
  return { w, h, left: Math.floor((width - w) / 2), top: Math.floor((height - h) / 2) };
}

/** Downscaled by an integer factor (mean of each factor x factor block), centred on a grey canvas of the original size. */
export function shrinkWithBorder(img: Rgba, factor: number): Rgba {
  const { width, height, data } = img;
  const g = shrinkGeometry(width, height, factor);
  const out = new Uint8ClampedArray(data.length);
  for (let i = 0; i < out.length; i += 4) {
    out[i] = out[i + 1] = out[i + 2] = SMALL_BORDER;
    out[i + 3] = 255;
  }
  for (let y = 0; y < g.h; y++) {
    for (let x = 0; x < g.w; x++) {
      const o = ((g.top + y) * width + g.left + x) * 4;
      for (let c = 0; c < 4; c++) {
        let sum = 0;
        for (let j = 0; j < factor; j++) for (let i = 0; i < factor; i++) sum += data[((y * factor + j) * width + x * factor + i) * 4 + c]!;
        out[o + c] = Math.round(sum / (factor * factor));
      }
    }
  }
  return { data: out, width, height };
}

/** How a scenario moves a point and a box of an image of width x height, and the image's new size. */
interface Geometry {
  size: { width: number; height: number };
  point(x: number, y: number): [number, number];
  /** [x, y, w, h] */
  box(b: [number, number, number, number]): [number, number, number, number];
  /** Areas scale by this. */
  areaScale: number;
}

export function scenarioGeometry(name: ScenarioName, width: number, height: number): Geometry | null {
  switch (name) {
    case 'rot90':
      return {
        size: { width: height, height: width },
        point: (x, y) => [height - 1 - y, x],
        box: ([x, y, w, h]) => [height - (y + h), x, h, w],
        areaScale: 1,
      };
    case 'rot180':
      return {
        size: { width, height },
        point: (x, y) => [width - 1 - x, height - 1 - y],
        box: ([x, y, w, h]) => [width - (x + w), height - (y + h), w, h],
        areaScale: 1,
      };
    case 'small': {
      const g = shrinkGeometry(width, height, SMALL_FACTOR);
      const f = SMALL_FACTOR;
      // Block j of the shrunk image averages source pixels f*j .. f*j + f - 1, centred at f*j + (f - 1) / 2.
      return {
        size: { width, height },
        point: (x, y) => [g.left + (x - (f - 1) / 2) / f, g.top + (y - (f - 1) / 2) / f],
        box: ([x, y, w, h]) => [g.left + x / f, g.top + y / f, w / f, h / f],
        areaScale: 1 / (f * f),
      };
    }
    default:
      return null;
  }
}

/**
 * The ground truth of a scenario: keypoints, boxes and areas moved with the pixels
 * (rotations, shrinking), image sizes updated; unlabelled keypoints stay (0, 0, 0). The
 * other scenarios leave the geometry alone and return the dataset as it is.
 */
export function transformDataset(gt: CocoDataset, name: ScenarioName): CocoDataset {
  const byId = new Map<number, CocoImage>(gt.images.map((i) => [i.id, i]));
  if (!scenarioGeometry(name, 1, 1)) return gt;
  const images = gt.images.map((img) => ({ ...img, ...scenarioGeometry(name, img.width, img.height)!.size }));
  const annotations: CocoAnnotation[] = gt.annotations.map((a) => {
    const img = byId.get(a.image_id);
    if (!img) throw new Error(`annotation ${a.id} refers to image ${a.image_id}, which is not in the dataset`);
    const g = scenarioGeometry(name, img.width, img.height)!;
    const keypoints = [...a.keypoints];
    for (let k = 0; 3 * k + 2 < keypoints.length; k++) {
      if (!(keypoints[3 * k + 2]! > 0)) continue;
      const [x, y] = g.point(keypoints[3 * k]!, keypoints[3 * k + 1]!);
      keypoints[3 * k] = x;
      keypoints[3 * k + 1] = y;
    }
    return { ...a, keypoints, bbox: g.box(a.bbox), area: a.area * g.areaScale };
  });
  return { ...gt, images, annotations };
}
