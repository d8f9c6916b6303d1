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
  const lo = Math.ceil((MIN_RESOLUTION - 1) / outputStride) * outputStride + 1;
  const hi = Math.floor((MAX_RESOLUTION - 1) / outputStride) * outputStride + 1;
  return Math.min(hi, Math.max(lo, snapped));
}

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
