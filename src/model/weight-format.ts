/**
 * Weight formats: how `weights.bin` stores a layer's weights (manifest `weights.format`).
 * The one home of what each format is: its bytes per weight, its override-constant code
 * in the kernels (src/kernels/kernel.ts `weightAccessorWgsl` decodes it), and its encoder
 * (the converter) and decoder (the validator, the tests' CPU references).
 *
 * - `f32`: float32, 4 bytes a weight (TF.js quantBytes 4).
 * - `f16`: IEEE half floats, 2 bytes (quantBytes 2). A vec4 of weights is two u32s, each
 *   a pair of halves as WGSL `unpack2x16float` reads them (low half first), so no
 *   `shader-f16` feature is needed: it runs everywhere, SwiftShader included.
 * - `int8`: 1 byte (quantBytes 1), symmetric, per output channel: a weight is
 *   `q / 127 * scale[oc]` with `q` in -127..127 and `scale[oc]` the largest |weight| of
 *   the channel. A vec4 of weights is one u32 as `unpack4x8snorm` reads it (q / 127);
 *   the kernels multiply each output channel's sum by its scale (a `scales` slice of f32
 *   `[oc4][4]` per layer, like the bias) rather than each weight.
 *
 * Biases (and int8 scales) stay float32 in every format: they are under 0.2% of a
 * PoseNet's bytes, and a bias carries the folded batch-norm shift, whose rounding would
 * move every output of its channel alike.
 */

export type WeightFormat = 'f32' | 'f16' | 'int8';

export const WEIGHT_FORMATS: readonly WeightFormat[] = ['f32', 'f16', 'int8'];

/** Bytes one weight takes. */
export const WEIGHT_BYTES: Readonly<Record<WeightFormat, number>> = { f32: 4, f16: 2, int8: 1 };

/** The WEIGHT_FORMAT override constant of the kernels that read weights. */
export const WEIGHT_FORMAT_CODE: Readonly<Record<WeightFormat, number>> = { f32: 0, f16: 1, int8: 2 };

/** What a format is, in a few words (menus, reports, README). */
export const WEIGHT_FORMAT_SUMMARY: Readonly<Record<WeightFormat, string>> = {
  f32: 'float32 (quantBytes 4)',
  f16: 'float16 pairs (quantBytes 2)',
  int8: 'int8, per-output-channel scales (quantBytes 1)',
};

/**
 * The format the app and the package use by default. Chosen by the numbers of
 * `npm run weights-report` (README, "Weight formats"): the smallest format whose COCO AP on
 * coco-mini is within 0.003 of f32's at 257 and at 513. f16 is (-0.0012 and -0.0003, half
 * the bytes); int8 is not (-0.0055 and -0.0042).
 */
export const DEFAULT_WEIGHT_FORMAT: WeightFormat = 'f16';

/** A model's weights folder in a format: `<base>` for f32, `<base>-<format>` otherwise (npm run weights). */
export const formatFolder = (base: string, format: WeightFormat): string => (format === 'f32' ? base : `${base}-${format}`);

/**
 * The default model's folder under weights/, in the default format. Here rather than in
 * src/default-weights.ts so that the app can name it without importing that module's URL
 * literals (Vite would copy the package's weights into the site a second time).
 */
export const DEFAULT_MODEL_NAME = formatFolder('posenet-mobilenet-v1-075-s16', DEFAULT_WEIGHT_FORMAT);

export function isWeightFormat(v: unknown): v is WeightFormat {
  return typeof v === 'string' && (WEIGHT_FORMATS as readonly string[]).includes(v);
}

/** Whether layers of this format carry a `scales` slice. */
export const hasScales = (format: WeightFormat): boolean => format === 'int8';

// ---------------------------------------------------------------------------------------
// float16

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** The IEEE half nearest to `v` (round to nearest even), as its 16 bits; ±Infinity beyond 65504. */
export function toHalfBits(v: number): number {
  f32Scratch[0] = v;
  const x = u32Scratch[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // Inf / NaN
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow
  if (e <= 0) {
    if (e < -10) return sign; // underflows to ±0
    mant |= 0x800000;
    const shift = 14 - e;
    let h = mant >>> shift;
    const rest = mant & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rest > half || (rest === half && h & 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && h & 1)) h++; // may carry into the exponent: still right
  return sign | h;
}

/** The value of a half's 16 bits. */
export function fromHalfBits(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** Largest finite half. */
export const HALF_MAX = 65504;

// ---------------------------------------------------------------------------------------
// Encoding and decoding a layer's packed weights

export interface EncodedWeights {
  /** The weights as stored (`packedWeightsBytes` for the format). */
  bytes: Uint8Array;
  /** int8 only: per output channel scale, `[oc4][4]` (padded channels 0). */
  scales?: Float32Array;
}

/**
 * Encodes packed float32 weights (layout.ts `packLayer`, whose element `i` belongs to
 * output channel `i % (4 * oc4)`) in `format`. Throws a RangeError naming the element
 * when f16 cannot hold a value (beyond ±65504).
 */
export function encodeWeights(format: WeightFormat, packed: Float32Array, oc4: number): EncodedWeights {
  switch (format) {
    case 'f32':
      return { bytes: new Uint8Array(packed.buffer.slice(packed.byteOffset, packed.byteOffset + packed.byteLength)) };
    case 'f16': {
      const bytes = new Uint8Array(packed.length * 2);
      const view = new DataView(bytes.buffer);
      for (let i = 0; i < packed.length; i++) {
        const v = packed[i]!;
        if (Math.abs(v) > HALF_MAX) throw new RangeError(`weight ${i} is ${v}, beyond float16's range (±${HALF_MAX})`);
        view.setUint16(2 * i, toHalfBits(v), true);
      }
      return { bytes };
    }
    case 'int8': {
      const channels = 4 * oc4;
      const scales = new Float32Array(channels);
      for (let i = 0; i < packed.length; i++) scales[i % channels] = Math.max(scales[i % channels]!, Math.abs(packed[i]!));
      const q = new Int8Array(packed.length);
      for (let i = 0; i < packed.length; i++) {
        const s = scales[i % channels]!;
        q[i] = s === 0 ? 0 : Math.round((packed[i]! / s) * 127);
      }
      return { bytes: new Uint8Array(q.buffer), scales };
    }
  }
}

/** The float32 values `bytes` of `format` stand for (what the kernels compute with). */
export function decodeWeights(format: WeightFormat, bytes: Uint8Array, scales?: Float32Array): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = bytes.byteLength / WEIGHT_BYTES[format];
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    if (format === 'f32') out[i] = view.getFloat32(4 * i, true);
    else if (format === 'f16') out[i] = fromHalfBits(view.getUint16(2 * i, true));
    else {
      if (!scales) throw new Error('int8 weights need their scales');
      out[i] = (Math.max(view.getInt8(i), -127) / 127) * scales[i % scales.length]!;
    }
  }
  return out;
}

/** A manifest's weight format (older manifests, without the field, are f32). */
export const weightFormatOf = (manifest: { weights: { format?: WeightFormat } }): WeightFormat => manifest.weights.format ?? 'f32';
