/**
 * Every compute kernel against values computed on the CPU in this test, on small odd
 * sizes: stride 2, dilation 2, channel counts that are not multiples of 4 or 16, sizes
 * that are not multiples of any tile, residual adds, SAME and explicit padding, 1x1 and
 * 2x2 outputs. Each layer case runs EVERY variant its kernel offers on the device (and
 * the reference path) in one fresh WebGPU device inside error scopes
 * (test/pages/harness.ts); any validation error fails the test, and a last test checks
 * that the cases together ran every variant of every layer kernel.
 *
 * Tolerance: 1e-4 absolute or 1e-4 relative per element. The GPU sums in float32 in a
 * different order than the CPU (which also sums in float64 here), so results differ by
 * a few ulps of the partial sums; with inputs and weights in [-1, 1] and at most 7*7*8
 * terms that stays well under 1e-4.
 *
 * Weight formats: some cases (FORMAT_CASES, which reach every variant) run again with f16
 * and int8 weights. Each output must then (1) equal the CPU result computed with the
 * weights the format stores (quantised by this test, not by the converter) within the same
 * 1e-4, so the kernels decode the format exactly, and (2) lie within the format's own
 * precision of the f32 result: sum |x| * (largest rounding of each weight: 2^-11 relative
 * for f16, scale / 254 for int8), plus 1e-4.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alignWeights, c4, layerGeometry, packBias, packedBiasBytes, packLayer } from '../src/model/layout.ts';
import type { Activation, Layer, LayerKind, Manifest, WeightsRef } from '../src/model/manifest.ts';
import { encodeWeights, fromHalfBits, toHalfBits, type WeightFormat } from '../src/model/weight-format.ts';
import type { Fit } from '../src/pose/fit.ts';
import type { FitMode } from '../src/pose/types.ts';
import { b64ToF32, bytesToB64, f32ToB64 } from './support/b64.ts';
import {
  compare,
  conv2d,
  describeMismatches,
  maxPool,
  padChannels,
  random,
  randomTensor,
  unpadChannels,
  type Tensor,
} from './support/cpu-ref.ts';
import { openHarness, type HarnessPage } from './support/harness-page.ts';
import type { LayerVariantsResult } from './pages/harness.ts';
import { layerKernel } from '../src/kernels/index.ts';

const ATOL = 1e-4;
const RTOL = 1e-4;

interface Case {
  name: string;
  kind: LayerKind;
  h: number;
  w: number;
  inC: number;
  outC: number;
  kernel: [number, number];
  stride: [number, number];
  dilation: [number, number];
  padding: Layer['padding'];
  activation: Activation;
  residual?: boolean;
}

/** Actual pads at this input size (SAME modes depend on it), for the CPU reference. */
function pads(c: Case): [number, number, number, number] {
  const g = layerGeometry({ name: c.name, kernel: c.kernel, stride: c.stride, dilation: c.dilation, padding: c.padding }, c.h, c.w);
  return [g.padTop, g.padLeft, g.padBottom, g.padRight];
}

interface BuiltLayer {
  layer: Layer;
  /** The layer's slice of weights.bin: weights in the format, then bias (and int8 scales) in f32. */
  bytes: Uint8Array;
}

/**
 * The weights a format stands for, in ONNX layout, quantised here independently of the
 * converter's packing: f16 rounds each weight to the nearest half; int8 rounds
 * `w / s * 127` with `s` the output channel's largest |w|.
 */
function storedWeights(format: WeightFormat, w: Float32Array, outC: number): Float32Array {
  if (format === 'f16') return w.map((v) => fromHalfBits(toHalfBits(v)));
  if (format === 'int8') {
    const per = w.length / outC;
    const out = new Float32Array(w.length);
    for (let oc = 0; oc < outC; oc++) {
      const ch = w.subarray(oc * per, (oc + 1) * per);
      const s = ch.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      ch.forEach((v, i) => {
        out[oc * per + i] = (Math.round((v / s) * 127) / 127) * s;
      });
    }
    return out;
  }
  return w;
}

/**
 * The largest error a format's rounding can put on each weight (ONNX layout): half a unit
 * in the last place of an f16 (relative 2^-11, plus 2^-25 below the normal range) and
 * half a step of int8 (s / 254 for the channel's scale s). Summed against |x| by the CPU
 * convolution, this bounds how far the layer's output may move from the f32 result.
 */
function roundingBound(format: WeightFormat, w: Float32Array, outC: number): Float32Array {
  if (format === 'f16') return w.map((v) => Math.abs(v) * 2 ** -11 + 2 ** -25);
  const per = w.length / outC;
  const out = new Float32Array(w.length);
  for (let oc = 0; oc < outC; oc++) {
    const ch = w.subarray(oc * per, (oc + 1) * per);
    out.fill(ch.reduce((m, v) => Math.max(m, Math.abs(v)), 0) / 254, oc * per, (oc + 1) * per);
  }
  return out;
}

const absTensor = (t: Tensor): Tensor => ({ ...t, data: t.data.map(Math.abs) });

/**
 * One conv-like layer with random weights: its manifest entry, its bytes of weights.bin in
 * `format`, the CPU result with the weights the format stores (`result`), with the f32
 * weights (`exact`), and the bound on |result - exact| that the format's precision gives
 * (`bound`, zero for f32; it includes the residual's own bound).
 */
function makeLayer(
  c: Case,
  name: string,
  input: string,
  output: string,
  x: Tensor,
  seed: number,
  format: WeightFormat,
  residual?: { tensor: string; value: Tensor; exact: Tensor; bound: Float32Array },
) {
  const r = random(seed);
  const p = pads(c);
  if (c.kind === 'maxpool') {
    const result = maxPool(x, c.kernel, c.stride, p);
    return {
      built: { layer: { ...geometry(c), name, input, output, inChannels: c.inC, outChannels: c.outC }, bytes: new Uint8Array(0) },
      result,
      exact: result,
      bound: new Float32Array(result.data.length),
    };
  }
  const group = c.kind === 'depthwise' ? c.inC : 1;
  const weights = Float32Array.from({ length: c.outC * (c.inC / group) * c.kernel[0] * c.kernel[1] }, () => r(-1, 1));
  const bias = Float32Array.from({ length: c.outC }, () => r(-0.5, 0.5));
  const spec = { outChannels: c.outC, kernel: c.kernel, stride: c.stride, dilation: c.dilation, pads: p, group, activation: c.activation };
  const result = conv2d(x, { ...spec, weights: storedWeights(format, weights, c.outC), bias, residual: residual?.value });
  const exact = conv2d(x, { ...spec, weights, bias, residual: residual?.exact });
  const bound =
    format === 'f32'
      ? new Float32Array(result.data.length)
      : conv2d(absTensor(x), {
          ...spec,
          activation: 'none',
          weights: roundingBound(format, weights, c.outC),
          bias: new Float32Array(c.outC),
        }).data;
  if (residual) for (let i = 0; i < bound.length; i++) bound[i]! += residual.bound[i]!;
  const encoded = encodeWeights(format, packLayer(c.kind, weights, c.inC, c.outC, c.kernel), c4(c.outC));
  const biasBytes = packedBiasBytes(c.outC);
  const wLen = encoded.bytes.length;
  const bOff = alignWeights(wLen);
  const sOff = bOff + biasBytes;
  const bytes = new Uint8Array(alignWeights(sOff + (encoded.scales ? biasBytes : 0)));
  bytes.set(encoded.bytes);
  bytes.set(new Uint8Array(packBias(bias, c.outC).buffer), bOff);
  if (encoded.scales) bytes.set(new Uint8Array(encoded.scales.buffer), sOff);
  const layer: Layer = {
    ...geometry(c),
    name,
    input,
    output,
    inChannels: c.inC,
    outChannels: c.outC,
    ...(residual ? { residual: residual.tensor } : {}),
    weights: { offset: 0, length: wLen },
    bias: { offset: bOff, length: biasBytes },
    ...(encoded.scales ? { scales: { offset: sOff, length: biasBytes } } : {}),
  };
  return { built: { layer, bytes }, result, exact, bound };
}

function geometry(c: Case) {
  return { kind: c.kind, kernel: c.kernel, stride: c.stride, dilation: c.dilation, padding: c.padding, activation: c.activation };
}

/**
 * A case as a manifest. With `residual`, a strided 1x1 layer (ResNet's projection
 * shortcut) first makes the tensor `skip` from the input, which the tested layer adds.
 */
function buildCase(c: Case, seed: number, format: WeightFormat = 'f32') {
  const x = randomTensor(c.h, c.w, c.inC, seed);
  const built: BuiltLayer[] = [];
  let residual: { tensor: string; value: Tensor; exact: Tensor; bound: Float32Array } | undefined;
  if (c.residual) {
    const shortcut: Case = {
      ...c,
      kind: 'pointwise',
      kernel: [1, 1],
      dilation: [1, 1],
      padding: { mode: 'explicit', pads: [0, 0, 0, 0] },
      activation: 'none',
    };
    const s = makeLayer(shortcut, 'shortcut', 'image', 'skip', x, seed + 7, format);
    built.push(s.built);
    residual = { tensor: 'skip', value: s.result, exact: s.exact, bound: s.bound };
  }
  const t = makeLayer(c, c.name, 'image', 'out', x, seed + 3, format, residual);
  built.push(t.built);
  // Lay the layers' slices one after another (each a multiple of 16 bytes long).
  let offset = 0;
  const shift = (ref: WeightsRef | undefined) => (ref ? { ...ref, offset: ref.offset + offset } : undefined);
  for (const b of built) {
    const { weights, bias, scales } = b.layer;
    if (weights) Object.assign(b.layer, { weights: shift(weights), bias: shift(bias), ...(scales ? { scales: shift(scales) } : {}) });
    offset += b.bytes.length;
  }
  const weights = new Uint8Array(offset);
  let at = 0;
  for (const b of built) {
    weights.set(b.bytes, at);
    at += b.bytes.length;
  }
  return { x, expected: t.result, exact: t.exact, bound: t.bound, layers: built.map((b) => b.layer), weights };
}

function manifestFor(layers: Layer[], weightsBytes: number, inC: number, headsTensor: string, format: WeightFormat = 'f32'): Manifest {
  const ref = (channelOffset: number, channels: number) => ({ tensor: headsTensor, channelOffset, channels, sourceName: headsTensor });
  return {
    format: 'posenet-webgpu/manifest',
    version: 1,
    name: 'kernel-test',
    architecture: 'MobileNetV1',
    outputStride: 16,
    input: { sourceName: 'image', sourceLayout: 'NHWC', tensor: 'image', channels: inC as 3 },
    preprocess: { kind: 'custom', mean: [0, 0, 0], scale: [1, 1, 1], from: 'flag' },
    layers,
    heads: { heatmap: ref(0, 1), offsets: ref(0, 1), displacementFwd: ref(0, 1), displacementBwd: ref(0, 1) },
    weights: { file: 'weights.bin', bytes: weightsBytes, sha256: '', format },
    source: { file: 'kernel-test', sha256: '' },
  };
}

const conv = (o: Partial<Case> & Pick<Case, 'name' | 'kind' | 'h' | 'w' | 'inC' | 'outC'>): Case => ({
  kernel: [3, 3],
  stride: [1, 1],
  dilation: [1, 1],
  padding: { mode: 'same_upper', pads: [0, 0, 0, 0] },
  activation: 'none',
  ...o,
});
const P1: Layer['padding'] = { mode: 'explicit', pads: [0, 0, 0, 0] };

const CASES: Case[] = [
  conv({
    name: 'conv 3x3 s2 3->24 relu6 (MobileNet conv0)',
    kind: 'conv',
    h: 13,
    w: 11,
    inC: 3,
    outC: 24,
    stride: [2, 2],
    activation: 'relu6',
  }),
  conv({
    name: 'conv 3x3 s2 10->20 explicit pads, 41 px wide (two 16-pixel tiles)',
    kind: 'conv',
    h: 9,
    w: 41,
    inC: 10,
    outC: 20,
    stride: [2, 2],
    padding: { mode: 'explicit', pads: [1, 0, 1, 2] },
  }),
  conv({
    name: 'conv 3x3 dilation 2 6->10 explicit pads relu',
    kind: 'conv',
    h: 9,
    w: 10,
    inC: 6,
    outC: 10,
    dilation: [2, 2],
    padding: { mode: 'explicit', pads: [2, 1, 2, 3] },
    activation: 'relu',
  }),
  conv({
    name: 'conv 7x7 s2 3->8 pads 3 (ResNet stem)',
    kind: 'conv',
    h: 15,
    w: 13,
    inC: 3,
    outC: 8,
    kernel: [7, 7],
    stride: [2, 2],
    padding: { mode: 'explicit', pads: [3, 3, 3, 3] },
    activation: 'relu',
  }),
  conv({
    name: 'conv 3x3 s2 8->12 same_lower + residual relu',
    kind: 'conv',
    h: 10,
    w: 9,
    inC: 8,
    outC: 12,
    stride: [2, 2],
    padding: { mode: 'same_lower', pads: [0, 0, 0, 0] },
    activation: 'relu',
    residual: true,
  }),
  conv({ name: 'depthwise 3x3 s1 C=10 relu6, 19 px wide', kind: 'depthwise', h: 9, w: 19, inC: 10, outC: 10, activation: 'relu6' }),
  conv({ name: 'depthwise 3x3 s2 C=24 same_upper', kind: 'depthwise', h: 13, w: 13, inC: 24, outC: 24, stride: [2, 2] }),
  conv({
    name: 'depthwise 3x3 dilation 2 C=7 relu',
    kind: 'depthwise',
    h: 11,
    w: 9,
    inC: 7,
    outC: 7,
    dilation: [2, 2],
    activation: 'relu',
  }),
  conv({
    name: 'pointwise 24->48 relu6, 63 pixels (4 tiles, the last partial)',
    kind: 'pointwise',
    h: 9,
    w: 7,
    inC: 24,
    outC: 48,
    kernel: [1, 1],
    padding: P1,
    activation: 'relu6',
  }),
  conv({ name: 'pointwise 10->6 relu', kind: 'pointwise', h: 5, w: 3, inC: 10, outC: 6, kernel: [1, 1], padding: P1, activation: 'relu' }),
  conv({
    name: 'pointwise stride 2 8->12 + residual relu',
    kind: 'pointwise',
    h: 9,
    w: 11,
    inC: 8,
    outC: 12,
    kernel: [1, 1],
    stride: [2, 2],
    padding: P1,
    activation: 'relu',
    residual: true,
  }),
  conv({ name: 'pointwise heads 16->120', kind: 'pointwise', h: 5, w: 5, inC: 16, outC: 120, kernel: [1, 1], padding: P1 }),
  conv({
    name: 'pointwise 1x1 output 36->20 relu6',
    kind: 'pointwise',
    h: 1,
    w: 1,
    inC: 36,
    outC: 20,
    kernel: [1, 1],
    padding: P1,
    activation: 'relu6',
  }),
  conv({ name: 'pointwise 2x2 output 70->44', kind: 'pointwise', h: 2, w: 2, inC: 70, outC: 44, kernel: [1, 1], padding: P1 }),
  conv({
    name: 'pointwise 9x9 72->40 relu (partial shared tiles in pixels, depth and channels)',
    kind: 'pointwise',
    h: 9,
    w: 9,
    inC: 72,
    outC: 40,
    kernel: [1, 1],
    padding: P1,
    activation: 'relu',
  }),
  conv({
    name: 'pointwise 7x5 100->36 + residual relu6 (unstrided)',
    kind: 'pointwise',
    h: 5,
    w: 7,
    inC: 100,
    outC: 36,
    kernel: [1, 1],
    padding: P1,
    activation: 'relu6',
    residual: true,
  }),
  conv({ name: 'conv 3x3 s2 3->24 relu6, 1x1 output', kind: 'conv', h: 2, w: 2, inC: 3, outC: 24, stride: [2, 2], activation: 'relu6' }),
  conv({ name: 'conv 3x3 s2 3->8, 2x2 output', kind: 'conv', h: 4, w: 3, inC: 3, outC: 8, stride: [2, 2] }),
  conv({
    name: 'depthwise 3x3 s2 C=12, 1x1 output',
    kind: 'depthwise',
    h: 1,
    w: 2,
    inC: 12,
    outC: 12,
    stride: [2, 2],
    activation: 'relu6',
  }),
  conv({ name: 'depthwise 3x3 s1 C=70 relu6, 2x2 output', kind: 'depthwise', h: 2, w: 2, inC: 70, outC: 70, activation: 'relu6' }),
  conv({
    name: 'depthwise 3x3 s2 C=20 relu6, 29 px wide',
    kind: 'depthwise',
    h: 7,
    w: 29,
    inC: 20,
    outC: 20,
    stride: [2, 2],
    activation: 'relu6',
  }),
  conv({
    name: 'depthwise 5x5 C=6 explicit pads',
    kind: 'depthwise',
    h: 6,
    w: 9,
    inC: 6,
    outC: 6,
    kernel: [5, 5],
    padding: { mode: 'explicit', pads: [2, 1, 2, 3] },
  }),
  conv({
    name: 'maxpool 3x3 s2 pads 1 C=5',
    kind: 'maxpool',
    h: 13,
    w: 11,
    inC: 5,
    outC: 5,
    stride: [2, 2],
    padding: { mode: 'explicit', pads: [1, 1, 1, 1] },
  }),
];

/**
 * The cases run again with f16 and int8 weights: together they reach every variant of
 * the conv2d, depthwise and pointwise kernels (the last test checks it), with residuals.
 */
const FORMAT_CASES = [
  // Every conv2d variant, after a strided pointwise shortcut in the same format.
  'conv 3x3 s2 8->12 same_lower + residual relu',
  'depthwise 3x3 s2 C=24 same_upper',
  // Every pointwise variant (35 pixels: the small-output ones too).
  'pointwise 7x5 100->36 + residual relu6 (unstrided)',
];

describe('WGSL kernels against CPU references, every variant', () => {
  let harness: HarnessPage;
  /** Variants run, by weight format and kernel; and the device's features. */
  const ran = new Map<string, Set<string>>();
  let features: string[] = [];
  let adapter = '';
  beforeAll(async () => {
    harness = await openHarness();
  });
  afterAll(async () => {
    await harness?.close();
  });

  const runs: [Case, number, WeightFormat][] = [
    ...CASES.map((c, i): [Case, number, WeightFormat] => [c, i, 'f32']),
    ...(['f16', 'int8'] as const).flatMap((format) =>
      FORMAT_CASES.map((name): [Case, number, WeightFormat] => {
        const i = CASES.findIndex((c) => c.name === name);
        if (i < 0) throw new Error(`FORMAT_CASES names no case "${name}"`);
        return [CASES[i]!, i, format];
      }),
    ),
  ];
  for (const [c, i, format] of runs) {
    const title = format === 'f32' ? c.name : `${c.name}, ${format} weights`;
    it(`${title}: every variant and the reference path`, async () => {
      const b = buildCase(c, 1000 + i * 17, format);
      const manifest = manifestFor(b.layers, b.weights.byteLength, c.inC, 'out', format);
      const r = (await harness.call('layerVariants', {
        manifest,
        weights: bytesToB64(b.weights),
        input: f32ToB64(padChannels(b.x)),
        width: c.w,
        height: c.h,
      })) as LayerVariantsResult;
      features = r.features;
      adapter = r.adapter;
      const e = b.expected;
      const kernel = layerKernel(c.kind).name;
      const outputs = { ...r.outputs, '(reference path)': r.reference };
      let worst = 0;
      for (const [variant, data] of Object.entries(outputs)) {
        const padded = b64ToF32(data);
        const got = unpadChannels(padded, e.h, e.w, e.c);
        // Against the weights the format stores: only float32 summation order differs.
        const cmp = compare(got.data, e.data, ATOL, RTOL);
        expect(cmp.count, `${kernel} ${variant} (${format}): ${describeMismatches(cmp, [e.h, e.w, e.c])}`).toBe(0);
        // Against the f32 weights: within what the format's rounding can move each output.
        for (let k = 0; k < got.data.length; k++) {
          const off = Math.abs(got.data[k]! - b.exact.data[k]!);
          worst = Math.max(worst, off / (b.bound[k]! + ATOL));
          if (off > b.bound[k]! + ATOL) {
            expect.fail(
              `${kernel} ${variant} (${format}): element ${k} is ${got.data[k]}, f32 gives ${b.exact.data[k]}, bound ${b.bound[k]}`,
            );
          }
        }
        // Padded channels must stay zero (later layers read them).
        const c4w = c4(e.c) * 4;
        for (let p = 0; p < e.h * e.w; p++) {
          for (let k = e.c; k < c4w; k++) expect(padded[p * c4w + k], `${kernel} ${variant}: padded channel ${k} of pixel ${p}`).toBe(0);
        }
      }
      const key = `${format}/${kernel}`;
      const set = ran.get(key) ?? new Set<string>();
      for (const v of Object.keys(r.outputs)) set.add(v);
      ran.set(key, set);
      console.log(
        `${title}: ${kernel} variants ${Object.keys(r.outputs).join(', ')} and the reference path agree with the CPU` +
          (format === 'f32' ? '' : ` (largest distance from the f32 result: ${(100 * worst).toFixed(0)}% of the ${format} bound)`),
      );
    });
  }

  it('the cases ran every variant of every layer kernel the device can run, in every weight format (subgroups included on SwiftShader)', () => {
    for (const format of ['f32', 'f16', 'int8'] as const) {
      for (const kind of format === 'f32'
        ? (['conv', 'depthwise', 'pointwise', 'maxpool'] as const)
        : (['conv', 'depthwise', 'pointwise'] as const)) {
        const k = layerKernel(kind);
        const runnable = k.variants.filter((v) => (v.features ?? []).every((f) => features.includes(f))).map((v) => v.name);
        expect([...(ran.get(`${format}/${k.name}`) ?? [])].sort(), `${format} ${k.name}`).toEqual(runnable.sort());
      }
    }
    if (adapter.includes('swiftshader')) expect(features).toContain('subgroups');
  });
});

/** TF.js resizeBilinear (no half-pixel centres) of the fitted region, normalised. */
function preprocessReference(
  rgba: Uint8Array,
  srcW: number,
  srcH: number,
  width: number,
  height: number,
  fit: Fit,
  mean: number[],
  scale: number[],
) {
  const out = new Float32Array(width * height * 3);
  const px = (i: number, j: number, ch: number) => {
    const sx = i + fit.originX;
    const sy = j + fit.originY;
    if (sx < 0 || sy < 0 || sx >= srcW || sy >= srcH) return 0;
    return rgba[(sy * srcW + sx) * 4 + ch]!;
  };
  const sX = Math.fround(fit.scaleX);
  const sY = Math.fround(fit.scaleY);
  for (let v = 0; v < height; v++) {
    for (let u = 0; u < width; u++) {
      const inX = Math.fround(u * sX);
      const inY = Math.fround(v * sY);
      const x0 = Math.floor(inX);
      const y0 = Math.floor(inY);
      const x1 = Math.min(x0 + 1, fit.regionW - 1);
      const y1 = Math.min(y0 + 1, fit.regionH - 1);
      const fx = inX - x0;
      const fy = inY - y0;
      for (let ch = 0; ch < 3; ch++) {
        const top = px(x0, y0, ch) + (px(x1, y0, ch) - px(x0, y0, ch)) * fx;
        const bottom = px(x0, y1, ch) + (px(x1, y1, ch) - px(x0, y1, ch)) * fx;
        out[(v * width + u) * 3 + ch] = (top + (bottom - top) * fy - mean[ch]!) * scale[ch]!;
      }
    }
  }
  return out;
}

describe('preprocess and decode_single kernels against CPU references', () => {
  let harness: HarnessPage;
  beforeAll(async () => {
    harness = await openHarness();
  });
  afterAll(async () => {
    await harness?.close();
  });

  const mobilenet = { mean: [127.5, 127.5, 127.5], scale: [1 / 127.5, 1 / 127.5, 1 / 127.5] };
  const resnet = { mean: [123.15, 115.9, 103.06], scale: [1, 1, 1] };
  const preCases: { fit: FitMode; srcW: number; srcH: number; width: number; height: number; norm: typeof mobilenet }[] = [
    { fit: 'pad', srcW: 37, srcH: 23, width: 17, height: 17, norm: mobilenet },
    { fit: 'pad', srcW: 20, srcH: 41, width: 33, height: 17, norm: resnet },
    { fit: 'crop', srcW: 37, srcH: 23, width: 17, height: 33, norm: mobilenet },
    { fit: 'stretch', srcW: 31, srcH: 29, width: 25, height: 13, norm: mobilenet },
    { fit: 'pad', srcW: 11, srcH: 9, width: 33, height: 33, norm: mobilenet },
  ];
  for (const [i, c] of preCases.entries()) {
    it(`preprocess ${c.fit} ${c.srcW}x${c.srcH} -> ${c.width}x${c.height}`, async () => {
      const r = random(77 + i);
      const rgba = Uint8Array.from({ length: c.srcW * c.srcH * 4 }, () => Math.floor(r(0, 256)));
      const out = (await harness.call('preprocess', {
        rgba: bytesToB64(rgba),
        srcW: c.srcW,
        srcH: c.srcH,
        width: c.width,
        height: c.height,
        fit: c.fit,
        ...c.norm,
      })) as { input: string; fit: Fit };
      const expected = preprocessReference(rgba, c.srcW, c.srcH, c.width, c.height, out.fit, c.norm.mean, c.norm.scale);
      const padded = b64ToF32(out.input);
      const got = unpadChannels(padded, c.height, c.width, 3);
      // 1e-4 of the value range: f32 vs f64 arithmetic in the interpolation.
      const tol = 1e-4 * 255 * c.norm.scale[0]!;
      const cmp = compare(got.data, expected, tol, 1e-5);
      expect(cmp.count, describeMismatches(cmp, [c.height, c.width, 3])).toBe(0);
      for (let p = 0; p < c.width * c.height; p++) expect(padded[p * 4 + 3]).toBe(0);
    });
  }

  const decCases = [
    { gridW: 9, gridH: 7, stride: 16 as const, srcW: 300, srcH: 200, inputW: 129, inputH: 97, fit: 'pad' as FitMode, flip: false },
    { gridW: 17, gridH: 17, stride: 16 as const, srcW: 640, srcH: 480, inputW: 257, inputH: 257, fit: 'pad' as FitMode, flip: true },
    { gridW: 5, gridH: 11, stride: 8 as const, srcW: 50, srcH: 90, inputW: 33, inputH: 81, fit: 'crop' as FitMode, flip: false },
  ];
  for (const [i, c] of decCases.entries()) {
    it(`decode_single ${c.gridW}x${c.gridH} stride ${c.stride} ${c.fit}${c.flip ? ' flipped' : ''}`, async () => {
      const r = random(500 + i);
      const C = 120;
      const heads = Float32Array.from({ length: c.gridW * c.gridH * C }, () => r(-8, 8));
      const out = (await harness.call('decode', {
        heads: f32ToB64(heads),
        gridW: c.gridW,
        gridH: c.gridH,
        outputStride: c.stride,
        srcW: c.srcW,
        srcH: c.srcH,
        inputW: c.inputW,
        inputH: c.inputH,
        fit: c.fit,
        flip: c.flip,
      })) as {
        result: number[];
        fit: Fit;
      };
      let total = 0;
      for (let k = 0; k < 17; k++) {
        let best = -1;
        let bestCell = 0;
        for (let cell = 0; cell < c.gridW * c.gridH; cell++) {
          const s = 1 / (1 + Math.exp(-heads[cell * C + k]!));
          if (s > best) {
            best = s;
            bestCell = cell;
          }
        }
        const gy = Math.floor(bestCell / c.gridW);
        const gx = bestCell % c.gridW;
        const y = gy * c.stride + heads[bestCell * C + 20 + k]!;
        const x = gx * c.stride + heads[bestCell * C + 20 + 17 + k]!;
        let sx = x * out.fit.scaleX + out.fit.originX;
        const sy = y * out.fit.scaleY + out.fit.originY;
        if (c.flip) sx = c.srcW - 1 - sx;
        total += best;
        // Positions: f32 products of numbers up to ~1000, so 1e-3 px; scores 1e-5.
        expect(out.result[3 * k], `keypoint ${k} x`).toBeCloseTo(sx, 3);
        expect(out.result[3 * k + 1], `keypoint ${k} y`).toBeCloseTo(sy, 3);
        expect(Math.abs(out.result[3 * k + 2]! - best), `keypoint ${k} score`).toBeLessThan(1e-5);
      }
      expect(Math.abs(out.result[51]! - total / 17)).toBeLessThan(1e-5);
    });
  }
});
