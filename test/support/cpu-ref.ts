/**
 * Plain CPU reference operators for the kernel tests, on unpadded NHWC tensors with
 * weights in ONNX layout (OIHW). Written for clarity, not speed: the GPU kernels are
 * checked against these, element by element.
 */
import type { Activation } from '../../src/model/manifest.ts';
import { mulberry32 } from '../../tools/lib/mulberry32.ts';

export interface Tensor {
  h: number;
  w: number;
  c: number;
  data: Float32Array;
}

export interface ConvSpec {
  outChannels: number;
  kernel: [number, number];
  stride: [number, number];
  dilation: [number, number];
  /** [top, left, bottom, right] */
  pads: [number, number, number, number];
  /** 1 for a plain conv, input channels for depthwise. */
  group: number;
  /** OIHW: [outC][inC / group][kh][kw] */
  weights: Float32Array;
  bias: Float32Array;
  activation: Activation;
  residual?: Tensor;
}

export function activate(v: number, a: Activation): number {
  if (a === 'relu') return Math.max(v, 0);
  if (a === 'relu6') return Math.min(Math.max(v, 0), 6);
  return v;
}

export function conv2d(x: Tensor, s: ConvSpec): Tensor {
  const [kh, kw] = s.kernel;
  const [sh, sw] = s.stride;
  const [dh, dw] = s.dilation;
  const [pt, pl, pb, pr] = s.pads;
  const oh = Math.floor((x.h + pt + pb - ((kh - 1) * dh + 1)) / sh) + 1;
  const ow = Math.floor((x.w + pl + pr - ((kw - 1) * dw + 1)) / sw) + 1;
  const icPerGroup = x.c / s.group;
  const ocPerGroup = s.outChannels / s.group;
  const y = new Float32Array(oh * ow * s.outChannels);
  for (let oy = 0; oy < oh; oy++) {
    for (let ox = 0; ox < ow; ox++) {
      for (let oc = 0; oc < s.outChannels; oc++) {
        const g = Math.floor(oc / ocPerGroup);
        let acc = s.bias[oc]!;
        for (let ky = 0; ky < kh; ky++) {
          const iy = oy * sh - pt + ky * dh;
          if (iy < 0 || iy >= x.h) continue;
          for (let kx = 0; kx < kw; kx++) {
            const ix = ox * sw - pl + kx * dw;
            if (ix < 0 || ix >= x.w) continue;
            for (let i = 0; i < icPerGroup; i++) {
              const ic = g * icPerGroup + i;
              acc += x.data[(iy * x.w + ix) * x.c + ic]! * s.weights[((oc * icPerGroup + i) * kh + ky) * kw + kx]!;
            }
          }
        }
        const idx = (oy * ow + ox) * s.outChannels + oc;
        if (s.residual) acc += s.residual.data[idx]!;
        y[idx] = activate(acc, s.activation);
      }
    }
  }
  return { h: oh, w: ow, c: s.outChannels, data: y };
}

export function maxPool(x: Tensor, kernel: [number, number], stride: [number, number], pads: [number, number, number, number]): Tensor {
  const [kh, kw] = kernel;
  const [sh, sw] = stride;
  const [pt, pl, pb, pr] = pads;
  const oh = Math.floor((x.h + pt + pb - kh) / sh) + 1;
  const ow = Math.floor((x.w + pl + pr - kw) / sw) + 1;
  const y = new Float32Array(oh * ow * x.c);
  for (let oy = 0; oy < oh; oy++) {
    for (let ox = 0; ox < ow; ox++) {
      for (let c = 0; c < x.c; c++) {
        let m = -Infinity;
        for (let ky = 0; ky < kh; ky++) {
          const iy = oy * sh - pt + ky;
          if (iy < 0 || iy >= x.h) continue;
          for (let kx = 0; kx < kw; kx++) {
            const ix = ox * sw - pl + kx;
            if (ix < 0 || ix >= x.w) continue;
            m = Math.max(m, x.data[(iy * x.w + ix) * x.c + c]!);
          }
        }
        y[(oy * ow + ox) * x.c + c] = m;
      }
    }
  }
  return { h: oh, w: ow, c: x.c, data: y };
}

/** Seeded pseudo-random numbers (mulberry32), uniform in [lo, hi). */
export function random(seed: number): (lo?: number, hi?: number) => number {
  const next = mulberry32(seed);
  return (lo = -1, hi = 1) => lo + (hi - lo) * next();
}

export function randomTensor(h: number, w: number, c: number, seed: number, lo = -1, hi = 1): Tensor {
  const r = random(seed);
  return { h, w, c, data: Float32Array.from({ length: h * w * c }, () => r(lo, hi)) };
}

/** Channels padded to a multiple of 4 (zeros), as the GPU tensors are laid out. */
export function padChannels(t: Tensor): Float32Array {
  const c4 = Math.ceil(t.c / 4) * 4;
  const out = new Float32Array(t.h * t.w * c4);
  for (let p = 0; p < t.h * t.w; p++) for (let c = 0; c < t.c; c++) out[p * c4 + c] = t.data[p * t.c + c]!;
  return out;
}

export function unpadChannels(data: Float32Array, h: number, w: number, c: number): Tensor {
  const c4 = Math.ceil(c / 4) * 4;
  const out = new Float32Array(h * w * c);
  for (let p = 0; p < h * w; p++) for (let i = 0; i < c; i++) out[p * c + i] = data[p * c4 + i]!;
  return { h, w, c, data: out };
}

export interface Mismatch {
  index: number;
  actual: number;
  expected: number;
}

/**
 * Element-wise comparison: passes where |a - e| <= atol or |a - e| <= rtol * |e|.
 * Returns the maximum absolute error and the first mismatches (for the failure message).
 */
export function compare(actual: ArrayLike<number>, expected: ArrayLike<number>, atol: number, rtol: number) {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} != expected ${expected.length}`);
  let maxAbs = 0;
  const mismatches: Mismatch[] = [];
  let count = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    const d = Math.abs(a - e);
    if (!(d <= maxAbs)) maxAbs = Number.isNaN(d) ? Infinity : Math.max(maxAbs, d);
    if (!(d <= atol || d <= rtol * Math.abs(e))) {
      count++;
      if (mismatches.length < 5) mismatches.push({ index: i, actual: a, expected: e });
    }
  }
  return { maxAbs, count, mismatches };
}

export function describeMismatches(r: ReturnType<typeof compare>, shape?: [number, number, number]): string {
  const where = (i: number) => {
    if (!shape) return `[${i}]`;
    const [, w, c] = shape;
    return `[y=${Math.floor(i / (w * c))}, x=${Math.floor(i / c) % w}, c=${i % c}]`;
  };
  return `${r.count} mismatches (max abs error ${r.maxAbs}); first: ${r.mismatches
    .map((m) => `${where(m.index)} got ${m.actual} expected ${m.expected}`)
    .join('; ')}`;
}
