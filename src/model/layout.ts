/**
 * Layout and geometry: the one home of how tensors and weights lie in GPU memory and of how
 * a layer maps input pixels to output pixels. The converter (tools/lib/convert/) packs with
 * these functions, the manifest validator (validate.ts) checks sizes and bounds with them,
 * and the plan (src/plan/) sizes its buffers and padding with them, so the three cannot
 * disagree. Runs in the browser and in Node (no imports beyond the manifest's types).
 *
 * - Activations are NHWC with channels padded to a multiple of 4 (`c4` vec4s a pixel).
 * - Weights are packed as manifest.ts documents (`packLayer`, `packBias`), every array at
 *   an offset that is a multiple of `WEIGHTS_ALIGN` bytes.
 * - `layerGeometry` gives a layer's output size and resolved padding (ONNX/TensorFlow
 *   semantics); `chainGeometryError` checks a whole layer list against the output stride.
 * - `GEOMETRY_LIMITS` bounds kernel, stride, dilation, pads and channels.
 */
import type { Layer, LayerKind, Padding } from './manifest.ts';
import { WEIGHT_BYTES, type WeightFormat } from './weight-format.ts';

/** vec4s per pixel for `channels` channels. */
export const c4 = (channels: number): number => Math.ceil(channels / 4);

/** Bytes of one vec4<f32>; every weights array starts at a multiple of it. */
export const WEIGHTS_ALIGN = 16;

export const alignWeights = (bytes: number): number => Math.ceil(bytes / WEIGHTS_ALIGN) * WEIGHTS_ALIGN;

/** Bytes of an NHWC activation tensor with channels padded to vec4s. */
export function tensorBytes(shape: { h: number; w: number; c4: number }): number {
  return shape.h * shape.w * shape.c4 * 16;
}

/**
 * Upper bounds on a layer's geometry, checked by the converter and by the manifest
 * validator alike. A PoseNet needs far less: MobileNetV1 has 3×3 kernels, strides of 1 or
 * 2, dilations up to 4 (output stride 8) and pads of 1; ResNet50 has a 7×7 stride-2 stem
 * with pads of 3, a 3×3 max-pool and at most 2048 channels. The limits leave room for
 * other backbones and stop a corrupt model (a kernel or pad of 1e9) before it is run: a
 * GPU would loop over such a kernel for minutes.
 */
export const GEOMETRY_LIMITS = {
  /** Kernel height and width. */
  kernel: 15,
  stride: 8,
  dilation: 16,
  /** Each of the four explicit pads. */
  pad: 64,
  channels: 8192,
} as const;

/** What is out of bounds in one layer's geometry (a message naming the field), or null. */
export function geometryLimitError(g: {
  kernel: readonly number[];
  stride: readonly number[];
  dilation: readonly number[];
  pads: readonly number[];
  inChannels: number;
  outChannels: number;
}): string | null {
  const L = GEOMETRY_LIMITS;
  const checks: [string, readonly number[], number, number][] = [
    ['kernel', g.kernel, 1, L.kernel],
    ['stride', g.stride, 1, L.stride],
    ['dilation', g.dilation, 1, L.dilation],
    ['pads', g.pads, 0, L.pad],
    ['inChannels', [g.inChannels], 1, L.channels],
    ['outChannels', [g.outChannels], 1, L.channels],
  ];
  for (const [field, values, min, max] of checks) {
    if (values.some((v) => !(v >= min && v <= max))) {
      const shown = values.length === 1 ? String(values[0]) : `[${values.join(', ')}]`;
      return `${field} ${shown} is outside ${min}..${max} (the converter's and the runtime's limit)`;
    }
  }
  return null;
}

// ---------------------------------------------------------------------------------------
// Weights packing (the layout is documented in manifest.ts)

/** Bytes of a layer's packed weights in `format` (weight-format.ts); 0 for `maxpool`. */
export function packedWeightsBytes(
  kind: LayerKind,
  kernel: readonly [number, number],
  inChannels: number,
  outChannels: number,
  format: WeightFormat = 'f32',
): number {
  const [kh, kw] = kernel;
  const bytes = WEIGHT_BYTES[format];
  switch (kind) {
    case 'conv':
    case 'pointwise':
      return kh * kw * 4 * c4(inChannels) * c4(outChannels) * 4 * bytes;
    case 'depthwise':
      return kh * kw * c4(outChannels) * 4 * bytes;
    case 'maxpool':
      return 0;
  }
}

/** Bytes of one packed vec4 of weights in `format`: the unit of the kernels' weight indices. */
export const weightVec4Bytes = (format: WeightFormat): number => 4 * WEIGHT_BYTES[format];

/** Bytes of a layer's packed bias (and of its int8 scales): `[oc4][4]` floats. */
export function packedBiasBytes(outChannels: number): number {
  return c4(outChannels) * 16;
}

/**
 * Packs one layer's ONNX weights (`W[out][in / group][kh][kw]`) into the layout of
 * manifest.ts: `conv`/`pointwise` as `[kh][kw][icp][oc4][4]`, `depthwise` as
 * `[kh][kw][C4][4]`, zero-padded. The shaders read exactly this.
 */
export function packLayer(
  kind: 'conv' | 'pointwise' | 'depthwise',
  w: ArrayLike<number>,
  inChannels: number,
  outChannels: number,
  kernel: readonly [number, number],
): Float32Array {
  const [kh, kw] = kernel;
  const out = new Float32Array(packedWeightsBytes(kind, kernel, inChannels, outChannels) / 4);
  if (kind === 'depthwise') {
    const C4 = c4(outChannels);
    for (let c = 0; c < outChannels; c++) {
      for (let ky = 0; ky < kh; ky++) {
        for (let kx = 0; kx < kw; kx++) out[(ky * kw + kx) * 4 * C4 + c] = w[(c * kh + ky) * kw + kx]!;
      }
    }
    return out;
  }
  const icp = 4 * c4(inChannels);
  const ocp = 4 * c4(outChannels);
  for (let oc = 0; oc < outChannels; oc++) {
    for (let i = 0; i < inChannels; i++) {
      for (let ky = 0; ky < kh; ky++) {
        for (let kx = 0; kx < kw; kx++) out[((ky * kw + kx) * icp + i) * ocp + oc] = w[((oc * inChannels + i) * kh + ky) * kw + kx]!;
      }
    }
  }
  return out;
}

/** Packs a bias as `[oc4][4]`, zero-padded. */
export function packBias(bias: ArrayLike<number>, outChannels: number): Float32Array {
  const out = new Float32Array(4 * c4(outChannels));
  for (let c = 0; c < outChannels; c++) out[c] = bias[c]!;
  return out;
}

// ---------------------------------------------------------------------------------------
// Geometry

/** Where a layer's output lies for a given input size, and the padding actually applied. */
export interface LayerGeometry {
  outHeight: number;
  outWidth: number;
  /** Padding before/after in each axis, resolved for this input size. */
  padTop: number;
  padLeft: number;
  padBottom: number;
  padRight: number;
}

/** A layer's geometry fields (what `layerGeometry` reads). */
export type GeometryOf = Pick<Layer, 'kernel' | 'stride' | 'dilation' | 'padding' | 'name'>;

/** The input is too small for a layer: its output would be empty. */
export class GeometryError extends RangeError {
  override name = 'GeometryError';
}

function axisGeometry(
  inSize: number,
  k: number,
  s: number,
  d: number,
  mode: Padding['mode'],
  before: number,
  after: number,
): [out: number, before: number, after: number] {
  const span = (k - 1) * d + 1;
  if (mode === 'explicit') {
    const out = Math.floor((inSize + before + after - span) / s) + 1;
    return [out, before, after];
  }
  const out = Math.ceil(inSize / s);
  const total = Math.max((out - 1) * s + span - inSize, 0);
  const small = Math.floor(total / 2);
  return mode === 'same_upper' ? [out, small, total - small] : [out, total - small, small];
}

/**
 * Output size and resolved padding of a layer for an input of `inHeight` × `inWidth`
 * (ONNX/TensorFlow semantics, floor rounding; see `Padding` in manifest.ts). Throws a
 * `GeometryError` when the output would be empty.
 */
export function layerGeometry(layer: GeometryOf, inHeight: number, inWidth: number): LayerGeometry {
  const { kernel, stride, dilation, padding } = layer;
  const [outHeight, padTop, padBottom] = axisGeometry(
    inHeight,
    kernel[0],
    stride[0],
    dilation[0],
    padding.mode,
    padding.pads[0],
    padding.pads[2],
  );
  const [outWidth, padLeft, padRight] = axisGeometry(
    inWidth,
    kernel[1],
    stride[1],
    dilation[1],
    padding.mode,
    padding.pads[1],
    padding.pads[3],
  );
  if (!(outHeight >= 1 && outWidth >= 1)) {
    throw new GeometryError(`layer "${layer.name}": input ${inHeight}×${inWidth} is too small (output would be ${outHeight}×${outWidth})`);
  }
  return { outHeight, outWidth, padTop, padLeft, padBottom, padRight };
}

/**
 * Input sizes (width, height) at which `chainGeometryError` checks a model: valid for every
 * output stride (k·stride + 1 with 8, 16 and 32), the smallest and largest the runtime
 * takes, non-square so that each axis is checked with a size of its own.
 */
export const GEOMETRY_CHECK_SIZES: readonly (readonly [number, number])[] = [
  [129, 257],
  [1025, 513],
];

/** A layer as the chain check sees it; `what` names it in messages (e.g. `layer "x"`). */
export interface ChainLayer extends GeometryOf {
  input: string;
  output: string;
  /** Added to the output: must have its size. */
  residual?: string;
  what: string;
}

/**
 * Runs the layer list at `GEOMETRY_CHECK_SIZES` and checks that every residual has the size
 * of the output it is added to and that the heads tensor is the
 * `(size - 1) / outputStride + 1` grid the decoders assume. When it is not, the message
 * names the first layer whose output is not `ceil(input / stride)` (what SAME padding
 * gives, and what every PoseNet layer does on a k·stride + 1 input). Returns null when
 * the geometry is right.
 */
export function chainGeometryError(
  layers: readonly ChainLayer[],
  inputTensor: string,
  headsTensor: string,
  outputStride: number,
): string | null {
  for (const [width, height] of GEOMETRY_CHECK_SIZES) {
    const sizes = new Map<string, [h: number, w: number]>([[inputTensor, [height, width]]]);
    let culprit: string | null = null;
    for (const l of layers) {
      const input = sizes.get(l.input);
      if (!input) return `${l.what} reads "${l.input}" before any layer writes it`;
      let g: LayerGeometry;
      try {
        g = layerGeometry(l, input[0], input[1]);
      } catch {
        return `${l.what}: at input ${width}×${height} its input is ${input[1]}×${input[0]}, too small for kernel ${l.kernel.join('×')} with its padding`;
      }
      const want = [Math.ceil(input[0] / l.stride[0]), Math.ceil(input[1] / l.stride[1])];
      if (culprit === null && (g.outHeight !== want[0] || g.outWidth !== want[1])) {
        culprit =
          `${l.what} turns ${input[1]}×${input[0]} into ${g.outWidth}×${g.outHeight} (at input ${width}×${height}), ` +
          `not ${want[1]}×${want[0]} as stride ${l.stride.join('×')} should: ` +
          `kernel ${l.kernel.join('×')}, dilation ${l.dilation.join('×')}, padding ${l.padding.mode}` +
          (l.padding.mode === 'explicit' ? ` [${l.padding.pads.join(', ')}]` : '');
      }
      if (l.residual !== undefined) {
        const r = sizes.get(l.residual);
        if (!r) return `${l.what} adds "${l.residual}" before any layer writes it`;
        if (r[0] !== g.outHeight || r[1] !== g.outWidth) {
          const wrongResidual = `${l.what} adds "${l.residual}" of ${r[1]}×${r[0]} to its output of ${g.outWidth}×${g.outHeight} (at input ${width}×${height})`;
          return culprit ? `${culprit}; so ${wrongResidual}` : wrongResidual;
        }
      }
      sizes.set(l.output, [g.outHeight, g.outWidth]);
    }
    const heads = sizes.get(headsTensor);
    if (!heads) return `no layer writes the heads tensor "${headsTensor}"`;
    const grid = [(height - 1) / outputStride + 1, (width - 1) / outputStride + 1];
    if (heads[0] !== grid[0] || heads[1] !== grid[1]) {
      const wrongGrid = `the heads grid is ${heads[1]}×${heads[0]} at input ${width}×${height}, not ${grid[1]}×${grid[0]} (output stride ${outputStride})`;
      return culprit ? `${culprit}; ${wrongGrid}` : wrongGrid;
    }
  }
  return null;
}
