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
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { c4, layerGeometry, packLayer } from '../src/model/layout.ts';
import type { Activation, Layer, LayerKind, Manifest } from '../src/model/manifest.ts';
import type { Fit } from '../src/pose/fit.ts';
import type { FitMode } from '../src/pose/types.ts';
import { b64ToF32, f32ToB64, bytesToB64 } from './support/b64.ts';
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
  weights: Float32Array;
}

/** One conv-like layer with random weights: its manifest entry, packed weights and CPU result. */
function makeLayer(
  c: Case,
  name: string,
  input: string,
  output: string,
  x: Tensor,
  seed: number,
  residual?: { tensor: string; value: Tensor },
) {
  const r = random(seed);
  const p = pads(c);
  if (c.kind === 'maxpool') {
    return {
      built: { layer: { ...geometry(c), name, input, output, inChannels: c.inC, outChannels: c.outC }, weights: new Float32Array(0) },
      result: maxPool(x, c.kernel, c.stride, p),
    };
  }
  const group = c.kind === 'depthwise' ? c.inC : 1;
  const weights = Float32Array.from({ length: c.outC * (c.inC / group) * c.kernel[0] * c.kernel[1] }, () => r(-1, 1));
  const bias = Float32Array.from({ length: c.outC }, () => r(-0.5, 0.5));
  const result = conv2d(x, {
    outChannels: c.outC,
    kernel: c.kernel,
    stride: c.stride,
    dilation: c.dilation,
    pads: p,
    group,
    weights,
    bias,
    activation: c.activation,
    residual: residual?.value,
  });
  const packed = packLayer(c.kind, weights, c.inC, c.outC, c.kernel);
  const packedBias = new Float32Array(c4(c.outC) * 4);
  packedBias.set(bias);
  const all = new Float32Array(packed.length + packedBias.length);
  all.set(packed);
  all.set(packedBias, packed.length);
  const layer: Layer = {
    ...geometry(c),
    name,
    input,
    output,
    inChannels: c.inC,
    outChannels: c.outC,
    ...(residual ? { residual: residual.tensor } : {}),
    weights: { offset: 0, length: packed.length * 4 },
    bias: { offset: packed.length * 4, length: packedBias.length * 4 },
  };
  return { built: { layer, weights: all }, result };
}

function geometry(c: Case) {
  return { kind: c.kind, kernel: c.kernel, stride: c.stride, dilation: c.dilation, padding: c.padding, activation: c.activation };
}

/**
 * A case as a manifest. With `residual`, a strided 1x1 layer (ResNet's projection
 * shortcut) first makes the tensor `skip` from the input, which the tested layer adds.
 */
function buildCase(c: Case, seed: number) {
  const x = randomTensor(c.h, c.w, c.inC, seed);
  const built: BuiltLayer[] = [];
  let residual: { tensor: string; value: Tensor } | undefined;
  if (c.residual) {
    const shortcut: Case = {
      ...c,
      kind: 'pointwise',
      kernel: [1, 1],
      dilation: [1, 1],
      padding: { mode: 'explicit', pads: [0, 0, 0, 0] },
      activation: 'none',
    };
    const s = makeLayer(shortcut, 'shortcut', 'image', 'skip', x, seed + 7);
    built.push(s.built);
    residual = { tensor: 'skip', value: s.result };
  }
  const t = makeLayer(c, c.name, 'image', 'out', x, seed + 3, residual);
  built.push(t.built);
  // Lay the layers' weights one after another (16-byte aligned by construction).
  let offset = 0;
  const chunks: Float32Array[] = [];
  for (const b of built) {
    if (b.layer.weights) {
      b.layer.weights = { ...b.layer.weights, offset: b.layer.weights.offset + offset };
      b.layer.bias = { ...b.layer.bias!, offset: b.layer.bias!.offset + offset };
    }
    chunks.push(b.weights);
    offset += b.weights.length * 4;
  }
  const weights = new Float32Array(offset / 4);
  let at = 0;
  for (const ch of chunks) {
    weights.set(ch, at);
    at += ch.length;
  }
  return { x, expected: t.result, layers: built.map((b) => b.layer), weights };
}

function manifestFor(layers: Layer[], weightsBytes: number, inC: number, headsTensor: string): Manifest {
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
    weights: { file: 'weights.bin', bytes: weightsBytes, sha256: '' },
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

describe('WGSL kernels against CPU references, every variant', () => {
  let harness: HarnessPage;
  /** Variants run, by kernel; and the device's features. */
  const ran = new Map<string, Set<string>>();
  let features: string[] = [];
  let adapter = '';
  beforeAll(async () => {
    harness = await openHarness();
  });
  afterAll(async () => {
    await harness?.close();
  });

  for (const [i, c] of CASES.entries()) {
    it(`${c.name}: every variant and the reference path`, async () => {
      const b = buildCase(c, 1000 + i * 17);
      const manifest = manifestFor(b.layers, b.weights.byteLength, c.inC, 'out');
      const r = (await harness.call('layerVariants', {
        manifest,
        weights: bytesToB64(new Uint8Array(b.weights.buffer)),
        input: f32ToB64(padChannels(b.x)),
        width: c.w,
        height: c.h,
      })) as LayerVariantsResult;
      features = r.features;
      adapter = r.adapter;
      const e = b.expected;
      const kernel = layerKernel(c.kind).name;
      const runs = { ...r.outputs, '(reference path)': r.reference };
      for (const [variant, data] of Object.entries(runs)) {
        const padded = b64ToF32(data);
        const got = unpadChannels(padded, e.h, e.w, e.c);
        const cmp = compare(got.data, e.data, ATOL, RTOL);
        expect(cmp.count, `${kernel} ${variant}: ${describeMismatches(cmp, [e.h, e.w, e.c])}`).toBe(0);
        // Padded channels must stay zero (later layers read them).
        const c4w = c4(e.c) * 4;
        for (let p = 0; p < e.h * e.w; p++) {
          for (let k = e.c; k < c4w; k++) expect(padded[p * c4w + k], `${kernel} ${variant}: padded channel ${k} of pixel ${p}`).toBe(0);
        }
      }
      const set = ran.get(kernel) ?? new Set<string>();
      for (const v of Object.keys(r.outputs)) set.add(v);
      ran.set(kernel, set);
      console.log(`${c.name}: ${kernel} variants ${Object.keys(r.outputs).join(', ')} and the reference path agree with the CPU`);
    });
  }

  it('the cases ran every variant of every layer kernel the device can run (subgroups included on SwiftShader)', () => {
    for (const kind of ['conv', 'depthwise', 'pointwise', 'maxpool'] as const) {
      const k = layerKernel(kind);
      const runnable = k.variants.filter((v) => (v.features ?? []).every((f) => features.includes(f))).map((v) => v.name);
      expect([...(ran.get(k.name) ?? [])].sort(), k.name).toEqual(runnable.sort());
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
