/**
 * Shape inference for a manifest at one input resolution: every tensor's height, width
 * and channels, and every layer's actual padding (SAME padding depends on the input
 * size). Pure arithmetic, shared by the GPU plan, the CPU reference and the tests.
 */
import { c4, layerGeometry, type LayerGeometry } from '../model/layout.ts';
import type { Layer, Manifest } from '../model/manifest.ts';
import { weightFormatOf, type WeightFormat } from '../model/weight-format.ts';

export interface TensorShape {
  h: number;
  w: number;
  /** Real channels. */
  c: number;
  /** vec4s per pixel: ceil(c / 4). */
  c4: number;
}

export interface LayerShape {
  layer: Layer;
  input: TensorShape;
  output: TensorShape;
  /** [top, left, bottom, right] actually applied at this resolution. */
  pads: [number, number, number, number];
  /** How the model stores its weights (the kernels' WEIGHT_FORMAT and weight offsets). */
  weightFormat: WeightFormat;
}

export const MIN_RESOLUTION = 129;
export const MAX_RESOLUTION = 1025;

export class ResolutionError extends RangeError {
  override name = 'ResolutionError';
}

/** Valid sizes are k * outputStride + 1 between 129 and 1025 (e.g. 257, 513 for stride 16). */
export function checkResolution(width: number, height: number, outputStride: number): void {
  for (const [what, v] of [
    ['width', width],
    ['height', height],
  ] as const) {
    if (!Number.isInteger(v) || v < MIN_RESOLUTION || v > MAX_RESOLUTION || (v - 1) % outputStride !== 0) {
      const examples = [257, 513].filter((e) => (e - 1) % outputStride === 0).join(', ');
      throw new ResolutionError(
        `invalid resolution ${width}x${height}: ${what} ${v} must be an integer k*${outputStride}+1 ` +
          `between ${MIN_RESOLUTION} and ${MAX_RESOLUTION} for output stride ${outputStride} (e.g. ${examples})`,
      );
    }
  }
}

/** Snaps a requested size to the nearest valid one (for UI inputs). */
export function snapResolution(v: number, outputStride: number): number {
  const k = Math.round((v - 1) / outputStride);
  const snapped = k * outputStride + 1;
  const { min, max } = validRange(outputStride);
  return Math.min(max, Math.max(min, snapped));
}

/** The smallest and largest valid sizes for an output stride (k*stride+1 within 129..1025). */
export function validRange(outputStride: number): { min: number; max: number } {
  return {
    min: Math.ceil((MIN_RESOLUTION - 1) / outputStride) * outputStride + 1,
    max: Math.floor((MAX_RESOLUTION - 1) / outputStride) * outputStride + 1,
  };
}

/**
 * The input size that follows a source's aspect ratio (the `{ longSide }` resolution):
 * the source's long side gets `longSide` (a valid size), its short side the smallest
 * valid size that holds the short side at the same scale. With `pad` fitting that leaves
 * less than one output stride of padding (TF.js pads every frame to a square: a 640x480
 * frame at 513 spends a quarter of its pixels on padding). The short side never goes
 * below the smallest valid size, so a very elongated source keeps more padding.
 */
export function aspectResolution(longSide: number, srcW: number, srcH: number, outputStride: number): { width: number; height: number } {
  if (!(srcW > 0 && srcH > 0)) throw new RangeError(`source has no pixels (${srcW}x${srcH})`);
  checkResolution(longSide, longSide, outputStride);
  const landscape = srcW >= srcH;
  // The short side in input pixels at the long side's scale.
  const exact = longSide * (landscape ? srcH / srcW : srcW / srcH);
  // 1e-9: a source whose short side lands exactly on a valid size must not get one more stride.
  const k = Math.ceil((exact - 1) / outputStride - 1e-9);
  const short = Math.min(longSide, Math.max(validRange(outputStride).min, k * outputStride + 1));
  return landscape ? { width: longSide, height: short } : { width: short, height: longSide };
}

/**
 * An input size that follows each source's aspect ratio: the source's long side gets
 * `longSide` (snapped to the nearest k*outputStride+1), the short side the smallest valid
 * size that holds it, so at most one output stride of padding (see aspectResolution).
 */
export interface AspectResolution {
  longSide: number;
}

/** A resolution as the API takes it: a square size, width x height, or `{ longSide }`. */
export type ResolutionSpec = number | { width: number; height: number } | AspectResolution;

/** A resolution checked and normalised: a fixed input size, or one that follows the source. */
export type InputSizeRule = { kind: 'fixed'; width: number; height: number } | { kind: 'aspect'; longSide: number };

/**
 * Checks a resolution (default 257) and snaps a long side to the stride; a
 * ResolutionError names a bad one.
 */
export function normalizeResolution(r: ResolutionSpec | undefined, outputStride: number): InputSizeRule {
  if (r === undefined) r = 257;
  if (typeof r === 'number') r = { width: r, height: r };
  if ('longSide' in r) {
    const n = r.longSide;
    if (!(Number.isFinite(n) && n >= MIN_RESOLUTION && n <= MAX_RESOLUTION)) {
      throw new ResolutionError(
        `invalid resolution { longSide: ${n} }: the long side must be between ${MIN_RESOLUTION} and ${MAX_RESOLUTION}`,
      );
    }
    return { kind: 'aspect', longSide: snapResolution(n, outputStride) };
  }
  checkResolution(r.width, r.height, outputStride);
  return { kind: 'fixed', width: r.width, height: r.height };
}

export const sameInputRule = (a: InputSizeRule, b: InputSizeRule): boolean =>
  a.kind === 'fixed' && b.kind === 'fixed'
    ? a.width === b.width && a.height === b.height
    : a.kind === 'aspect' && b.kind === 'aspect' && a.longSide === b.longSide;

export interface PlanShapes {
  tensors: Map<string, TensorShape>;
  layers: LayerShape[];
  /** The heads' grid. */
  grid: { w: number; h: number };
}

/**
 * `unchecked` skips the resolution rules and the heads-grid check, so kernel tests can
 * run single layers at odd sizes.
 */
export function inferShapes(manifest: Manifest, width: number, height: number, unchecked = false): PlanShapes {
  if (!unchecked) checkResolution(width, height, manifest.outputStride);
  const tensors = new Map<string, TensorShape>();
  tensors.set(manifest.input.tensor, { h: height, w: width, c: manifest.input.channels, c4: c4(manifest.input.channels) });
  const layers: LayerShape[] = [];
  const weightFormat = weightFormatOf(manifest);
  for (const layer of manifest.layers) {
    const input = tensors.get(layer.input);
    if (!input) throw new Error(`${manifest.name}: layer "${layer.name}" reads tensor "${layer.input}" before it is made`);
    let g: LayerGeometry;
    try {
      g = layerGeometry(layer, input.h, input.w);
    } catch (err) {
      throw new ResolutionError(`${manifest.name} at input ${width}x${height}: ${(err as Error).message}`);
    }
    const output: TensorShape = { h: g.outHeight, w: g.outWidth, c: layer.outChannels, c4: c4(layer.outChannels) };
    if (layer.residual !== undefined) {
      const r = tensors.get(layer.residual);
      if (!r || r.h !== output.h || r.w !== output.w || r.c4 !== output.c4) {
        throw new Error(
          `${manifest.name}: layer "${layer.name}" adds residual "${layer.residual}" of shape ` +
            `${r ? `${r.w}x${r.h}x${r.c}` : 'unknown'} to an output of ${output.w}x${output.h}x${output.c}`,
        );
      }
    }
    tensors.set(layer.output, output);
    layers.push({ layer, input, output, pads: [g.padTop, g.padLeft, g.padBottom, g.padRight], weightFormat });
  }
  const heads = tensors.get(manifest.heads.heatmap.tensor);
  if (!heads) throw new Error(`${manifest.name}: heads tensor "${manifest.heads.heatmap.tensor}" is never made`);
  const expected = { w: (width - 1) / manifest.outputStride + 1, h: (height - 1) / manifest.outputStride + 1 };
  if (!unchecked && (heads.w !== expected.w || heads.h !== expected.h)) {
    throw new Error(
      `${manifest.name}: heads grid is ${heads.w}x${heads.h} at ${width}x${height}, expected ${expected.w}x${expected.h} for output stride ${manifest.outputStride}`,
    );
  }
  return { tensors, layers, grid: { w: heads.w, h: heads.h } };
}

export const describeShape = (s: TensorShape): string => `${s.w}x${s.h}x${s.c}`;
