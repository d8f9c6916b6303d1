/**
 * Small ONNX graphs for the converter tests, built node by node with onnx-proto, and a
 * helper that runs a graph with onnxruntime-node.
 *
 * Every graph here is PoseNet-shaped (one image input, four 1×1 heads of 17/34/32/32
 * channels at output stride 8, 16 or 32) but tiny, so that each test runs in milliseconds.
 */
import * as ort from 'onnxruntime-node';
import {
  AttributeType,
  attrFloat,
  attrInt,
  attrInts,
  attrString,
  DataType,
  encodeModel,
  floatTensor,
  makeModel,
  makeNode,
  valueInfo,
  type AttributeProto,
  type Dim,
  type ModelProto,
  type NodeProto,
  type TensorProto,
  type ValueInfoProto,
} from '../../tools/lib/onnx.ts';
import { Rng } from '../../tools/lib/posenet-onnx.ts';
import { HEAD_NAMES, type HeadName, type Manifest } from '../../src/model/manifest.ts';
import { runManifestCpu } from './manifest-cpu.ts';

export interface ConvOptions {
  name?: string;
  stride?: number;
  dilation?: number;
  /** Depthwise: group = channels. */
  depthwise?: boolean;
  group?: number;
  /** ONNX pads [top, left, bottom, right] (NOTSET), or an auto_pad value. */
  pads?: number[] | 'SAME_UPPER' | 'SAME_LOWER' | 'VALID';
  bias?: boolean;
  /** Keep weights in float_data instead of raw_data. */
  floatData?: boolean;
  /** Give the weights as a Constant node instead of an initializer. */
  constantNode?: boolean;
}

/** A graph under construction. Arrays are public so that tests can break graphs on purpose. */
export class TestGraph {
  nodes: NodeProto[] = [];
  inits: TensorProto[] = [];
  inputs: ValueInfoProto[] = [];
  outputs: ValueInfoProto[] = [];
  readonly rng: Rng;
  private count = 0;

  constructor(seed = 1) {
    this.rng = new Rng(seed);
  }

  fresh(prefix: string): string {
    return `${prefix}_${this.count++}`;
  }

  input(name: string, dims: Dim[]): string {
    this.inputs.push(valueInfo(name, DataType.FLOAT, dims));
    return name;
  }

  output(name: string, channels: number, layout: 'NHWC' | 'NCHW'): void {
    this.outputs.push(valueInfo(name, DataType.FLOAT, layout === 'NHWC' ? [1, 'oh', 'ow', channels] : [1, channels, 'oh', 'ow']));
  }

  constant(name: string, dims: number[], values: number[] | Float32Array, floatData = false): string {
    const t = floatTensor(name, dims, values);
    if (floatData) {
      delete t.rawData;
      t.floatData = Array.from(values);
    }
    this.inits.push(t);
    return name;
  }

  random(name: string, dims: number[], std: number, opts: { floatData?: boolean; constantNode?: boolean } = {}): string {
    const n = dims.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = this.rng.normal() * std;
    if (opts.constantNode) {
      this.nodes.push(
        makeNode('Constant', [], [name], `${name}/Constant`, [
          { name: 'value', type: AttributeType.TENSOR, t: floatTensor(name, dims, data) },
        ]),
      );
      return name;
    }
    return this.constant(name, dims, data, opts.floatData);
  }

  uniform(name: string, dims: number[], lo: number, hi: number): string {
    const n = dims.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = this.rng.uniform(lo, hi);
    return this.constant(name, dims, data);
  }

  node(op: string, inputs: string[], attrs: AttributeProto[] = [], name?: string, outputs?: string[]): string {
    const nodeName = name ?? this.fresh(op);
    const outs = outputs ?? [`${nodeName}:0`];
    this.nodes.push(makeNode(op, inputs, outs, nodeName, attrs));
    return outs[0]!;
  }

  conv(x: string, cin: number, cout: number, k: number | [number, number], opts: ConvOptions = {}): string {
    const [kh, kw] = typeof k === 'number' ? [k, k] : k;
    const name = opts.name ?? this.fresh('Conv');
    const group = opts.depthwise ? cin : (opts.group ?? 1);
    const cg = cin / group;
    const w = this.random(`${name}/W`, [cout, cg, kh, kw], Math.sqrt(2 / (cg * kh * kw)), opts);
    const inputs = [x, w];
    if (opts.bias) inputs.push(this.uniform(`${name}/B`, [cout], -0.5, 0.5));
    const attrs: AttributeProto[] = [attrInts('kernel_shape', [kh, kw])];
    if (opts.stride) attrs.push(attrInts('strides', [opts.stride, opts.stride]));
    if (opts.dilation) attrs.push(attrInts('dilations', [opts.dilation, opts.dilation]));
    if (group !== 1) attrs.push(attrInt('group', group));
    const pads = opts.pads ?? [0, 0, 0, 0];
    if (typeof pads === 'string') attrs.push(attrString('auto_pad', pads));
    else attrs.push(attrInts('pads', pads));
    return this.node('Conv', inputs, attrs, name);
  }

  batchNorm(x: string, c: number, name = this.fresh('BatchNormalization')): string {
    return this.node(
      'BatchNormalization',
      [
        x,
        this.uniform(`${name}/scale`, [c], 0.5, 1.5),
        this.uniform(`${name}/B`, [c], -0.3, 0.3),
        this.uniform(`${name}/mean`, [c], -0.5, 0.5),
        this.uniform(`${name}/var`, [c], 0.5, 2),
      ],
      [attrFloat('epsilon', 1e-3)],
      name,
    );
  }

  relu(x: string): string {
    return this.node('Relu', [x]);
  }

  /** Clip(0, 6) with min/max as inputs (opset >= 11). */
  relu6(x: string): string {
    const lo = this.constant(this.fresh('clip_min'), [], [0]);
    const hi = this.constant(this.fresh('clip_max'), [], [6]);
    return this.node('Clip', [x, lo, hi]);
  }

  /** Clip with min/max as attributes (opset < 11). */
  clipAttrs(x: string, min: number, max?: number): string {
    const attrs = [attrFloat('min', min)];
    if (max !== undefined) attrs.push(attrFloat('max', max));
    return this.node('Clip', [x], attrs);
  }

  /**
   * The four heads on `feature`. `order` lists the heads in graph-output order; with
   * `layout` NHWC each is transposed (and passed through an Identity when `identity`).
   * Returns head → graph output name.
   */
  heads(
    feature: string,
    channels: number,
    opts: {
      layout?: 'NHWC' | 'NCHW';
      names?: Partial<Record<HeadKey, string>>;
      order?: HeadKey[];
      identity?: boolean;
      /** Channel counts other than PoseNet's (to build broken graphs). */
      channels?: Partial<Record<HeadKey, number>>;
    } = {},
  ): Record<HeadKey, string> {
    const layout = opts.layout ?? 'NHWC';
    const order = opts.order ?? ['offsets', 'heatmap', 'displacementFwd', 'displacementBwd'];
    const names: Record<HeadKey, string> = {
      heatmap: 'heatmap_2',
      offsets: 'offset_2',
      displacementFwd: 'displacement_fwd_2',
      displacementBwd: 'displacement_bwd_2',
      ...opts.names,
    };
    const result = {} as Record<HeadKey, string>;
    for (const head of order) {
      const c = opts.channels?.[head] ?? HEAD_SIZES[head];
      let y = this.conv(feature, channels, c, 1, { name: `${names[head]}/Conv`, bias: true });
      if (layout === 'NHWC') {
        y = this.node('Transpose', [y], [attrInts('perm', [0, 2, 3, 1])], `${names[head]}/Transpose`, [
          opts.identity ? `${names[head]}/nhwc` : names[head],
        ]);
        if (opts.identity) y = this.node('Identity', [y], [], `${names[head]}/Identity`, [names[head]]);
      } else {
        y = this.node('Identity', [y], [], `${names[head]}/Identity`, [names[head]]);
      }
      this.output(names[head], c, layout);
      result[head] = names[head];
    }
    return result;
  }

  model(opts: { opset?: number; metadata?: Record<string, string> } = {}): ModelProto {
    return makeModel(
      { name: 'test', node: this.nodes, initializer: this.inits, input: this.inputs, output: this.outputs },
      { opset: opts.opset ?? 13, metadata: opts.metadata ?? {}, producerName: 'posenet-webgpu tests' },
    );
  }

  bytes(opts: { opset?: number; metadata?: Record<string, string> } = {}): Uint8Array {
    return encodeModel(this.model(opts));
  }
}

export type HeadKey = 'heatmap' | 'offsets' | 'displacementFwd' | 'displacementBwd';
export const HEAD_SIZES: Record<HeadKey, number> = { heatmap: 17, offsets: 34, displacementFwd: 32, displacementBwd: 32 };

/** NHWC input → Transpose to NCHW. Returns the NCHW tensor. */
export function nhwcInput(g: TestGraph, name = 'image', dims: Dim[] = [1, 'height', 'width', 3]): string {
  g.input(name, dims);
  return g.node('Transpose', [name], [attrInts('perm', [0, 3, 1, 2])], 'input/Transpose', ['input/nchw']);
}

/**
 * A small valid PoseNet at output stride 8: conv 3×3/2 + BN + relu6, depthwise /2 + BN +
 * relu6, pointwise, depthwise /2, pointwise, heads. Used by the error tests, which break it.
 */
export function tinyPoseNet(
  seed = 1,
  opts: { inputDims?: Dim[]; headChannels?: Partial<Record<HeadKey, number>> } = {},
): { g: TestGraph; feature: string; channels: number; heads: Record<HeadKey, string> } {
  const g = new TestGraph(seed);
  let x = nhwcInput(g, 'image', opts.inputDims);
  x = g.relu6(g.batchNorm(g.conv(x, 3, 8, 3, { stride: 2, pads: 'SAME_UPPER', name: 'Conv2d_0' }), 8));
  x = g.relu6(g.batchNorm(g.conv(x, 8, 8, 3, { stride: 2, pads: 'SAME_UPPER', depthwise: true, name: 'Conv2d_1_depthwise' }), 8));
  x = g.relu6(g.batchNorm(g.conv(x, 8, 16, 1, { name: 'Conv2d_1_pointwise' }), 16));
  x = g.relu6(g.batchNorm(g.conv(x, 16, 16, 3, { stride: 2, pads: 'SAME_UPPER', depthwise: true, name: 'Conv2d_2_depthwise' }), 16));
  x = g.relu6(g.batchNorm(g.conv(x, 16, 24, 1, { name: 'Conv2d_2_pointwise' }), 24));
  const heads = g.heads(x, 24, { ...(opts.headChannels ? { channels: opts.headChannels } : {}) });
  return { g, feature: x, channels: 24, heads };
}

export interface OrtOutput {
  dims: number[];
  data: Float32Array;
}

/** Runs an ONNX model on one float32 input and returns every output. */
export async function runOrt(bytes: Uint8Array, inputName: string, data: Float32Array, dims: number[]): Promise<Record<string, OrtOutput>> {
  const session = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'disabled' });
  try {
    const results = await session.run({ [inputName]: new ort.Tensor('float32', data, dims) });
    const out: Record<string, OrtOutput> = {};
    for (const [name, t] of Object.entries(results)) out[name] = { dims: [...t.dims].map(Number), data: t.data as Float32Array };
    return out;
  } finally {
    await session.release();
  }
}

/** Random RGB pixels, NHWC, 0..255, seeded. */
export function randomPixels(height: number, width: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  const out = new Float32Array(height * width * 3);
  for (let i = 0; i < out.length; i++) out[i] = rng.uniform(0, 255);
  return out;
}

/** NHWC → NCHW for a batch-1 tensor. */
export function nhwcToNchw(data: Float32Array, height: number, width: number, channels: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < channels; c++) out[(c * height + y) * width + x] = data[(y * width + x) * channels + c]!;
    }
  }
  return out;
}

/**
 * Compares two arrays: an element passes when its absolute error is within `abs` OR its
 * relative error within `rel`. Returns a description of the first failures, or null.
 */
export function compareArrays(
  actual: Float32Array,
  expected: Float32Array,
  tol: { abs: number; rel: number },
  label: string,
): string | null {
  if (actual.length !== expected.length) return `${label}: ${actual.length} values, ${expected.length} expected`;
  const bad: string[] = [];
  let worst = 0;
  let failures = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    const abs = Math.abs(a - e);
    const rel = abs / Math.max(Math.abs(e), 1e-30);
    if (!(abs <= tol.abs || rel <= tol.rel)) {
      failures++;
      if (bad.length < 5) bad.push(`[${i}] ${a} vs ${e}`);
      worst = Math.max(worst, abs);
    }
  }
  return failures
    ? `${label}: ${failures} of ${expected.length} values differ beyond abs ${tol.abs} / rel ${tol.rel} (worst abs ${worst.toExponential(2)}); first: ${bad.join('; ')}`
    : null;
}

export interface HeadComparison {
  /** Problems found (empty when everything matches). */
  problems: string[];
  /** Smallest and largest value over the four ORT heads. */
  range: [number, number];
  /** Largest absolute difference seen. */
  maxAbs: number;
  /** onnxruntime's output shape of each head, as it came. */
  ortDims: Partial<Record<HeadName, number[]>>;
}

/**
 * Runs the ORIGINAL ONNX graph with onnxruntime and the converted manifest with the CPU
 * executor (packed weights) on the same random pixels, and compares the four heads.
 * The graph gets raw pixels when its preprocessing is in the graph, else pixels normalised
 * as the manifest says. `tol` may depend on the heads' range (computed from ORT).
 */
export async function compareWithOrt(
  bytes: Uint8Array,
  manifest: Manifest,
  weights: Uint8Array,
  opts: {
    height: number;
    width: number;
    seed: number;
    outputLayout?: 'NHWC' | 'NCHW';
    tol: (range: number) => { abs: number; rel: number };
  },
): Promise<HeadComparison> {
  const { height: H, width: W } = opts;
  const rgb = randomPixels(H, W, opts.seed);
  const { mean, scale, from } = manifest.preprocess;
  const fed = from === 'graph' ? rgb : rgb.map((v, i) => (v - mean[i % 3]!) * scale[i % 3]!);
  const nchw = manifest.input.sourceLayout === 'NCHW';
  const ortOut = await runOrt(bytes, manifest.input.sourceName, nchw ? nhwcToNchw(fed, H, W, 3) : fed, nchw ? [1, 3, H, W] : [1, H, W, 3]);
  const cpu = runManifestCpu(manifest, weights, rgb, H, W);
  const problems: string[] = [];
  let lo = Infinity;
  let hi = -Infinity;
  const expected = {} as Record<HeadName, Float32Array>;
  const ortDims: Partial<Record<HeadName, number[]>> = {};
  for (const h of HEAD_NAMES) {
    const ref = manifest.heads[h];
    const o = ortOut[ref.sourceName];
    if (!o) {
      problems.push(`onnxruntime has no output "${ref.sourceName}" for ${h}`);
      continue;
    }
    ortDims[h] = o.dims;
    const c = cpu.heads[h];
    const dims = opts.outputLayout === 'NCHW' ? [o.dims[0], o.dims[2], o.dims[3], o.dims[1]] : o.dims;
    if (dims.join() !== [1, c.height, c.width, c.channels].join()) {
      problems.push(`${h}: onnxruntime shape [${o.dims.join(', ')}], manifest CPU [1, ${c.height}, ${c.width}, ${c.channels}] (NHWC)`);
      continue;
    }
    const e = opts.outputLayout === 'NCHW' ? nchwToNhwc(o.data, c.height, c.width, c.channels) : o.data;
    expected[h] = e;
    for (const v of e) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
  }
  let maxAbs = 0;
  const tol = opts.tol(hi - lo);
  for (const h of HEAD_NAMES) {
    const e = expected[h];
    if (!e) continue;
    const a = cpu.heads[h].data;
    for (let i = 0; i < e.length; i++) maxAbs = Math.max(maxAbs, Math.abs(a[i]! - e[i]!));
    const p = compareArrays(a, e, tol, h);
    if (p) problems.push(p);
  }
  return { problems, range: [lo, hi], maxAbs, ortDims };
}

/** NCHW → NHWC for a batch-1 tensor. */
export function nchwToNhwc(data: Float32Array, height: number, width: number, channels: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let c = 0; c < channels; c++) {
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) out[(y * width + x) * channels + c] = data[(c * height + y) * width + x]!;
    }
  }
  return out;
}
