/**
 * tools/tfjs-to-onnx: the exported ONNX, run by ONNX Runtime, against TF.js (tfjs-core, cpu
 * backend) running the TF.js graph model it came from.
 *
 * - The real PoseNet (human-models MobileNetV1 0.75, stride 16) at 257x257 and at
 *   width 513 x height 385, on a deterministic pseudo-random input in [-1, 1].
 * - Small TF.js graphs built here in memory, one per group of ops.
 * - Errors: unsupported ops, fused ops and layouts; the CLI on missing / truncated shards and
 *   files that are not JSON (non-zero exit, one line, no output file).
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

import * as tf from '@tensorflow/tfjs-core';
import * as posenet from '@tensorflow-models/posenet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { HEAD_NAMES, type HeadName } from '../src/model/manifest.ts';
import * as onnxLib from '../tools/lib/onnx.ts';
import { decodeModel, encodeModel, toNumber, type ModelProto } from '../tools/lib/onnx.ts';
import { decodeWeights, type TfjsModelJson, type TfjsNode, type TfjsWeightEntry } from '../tools/lib/tfjs-model.ts';
import { loadPosenetGraphModel, patchPosenetGraphModel } from '../tools/lib/tfjs-posenet.ts';
import {
  convertTfjsGraph,
  METADATA_KEYS,
  ONNX_HEAD_OUTPUTS,
  tfjsToOnnxModel,
  type ConvertOptions,
  type ConvertResult,
} from '../tools/lib/tfjs-to-onnx.ts';
import { runOnnx, runOnnxHeads } from './support/ort.ts';
import {
  HUMAN_MODELS_POSENET,
  loadReferenceModel,
  loadReferencePosenet,
  readGraphModelFiles,
  repoRoot,
  runTfjsHeads,
  useCpuBackend,
} from './support/tfjs-reference.ts';
import { mulberry32 } from '../tools/lib/mulberry32.ts';

// ---- helpers --------------------------------------------------------------------------------

/** Deterministic uniform [0, 1) numbers (mulberry32). */
function prng(seed: number): () => number {
  return mulberry32(seed);
}

/** An NHWC image [h, w, 3] of values in [-1, 1], the range of a MobileNet-normalised image. */
function randomInput(h: number, w: number, seed: number): Float32Array {
  const r = prng(seed);
  return Float32Array.from({ length: h * w * 3 }, () => r() * 2 - 1);
}

interface Comparison {
  maxErr: number;
  maxRef: number;
}

/**
 * Max |got - ref|; throws, printing the first mismatching indices, where it is above `tol`.
 * `dims` name the indices in messages.
 */
function compare(what: string, ref: Float32Array, got: Float32Array, dims: number[], tol: number): Comparison {
  expect(got.length, `${what}: length`).toBe(ref.length);
  let maxErr = 0;
  let maxRef = 0;
  const bad: string[] = [];
  for (let i = 0; i < ref.length; i++) {
    const e = Math.abs(got[i]! - ref[i]!);
    if (!(e <= maxErr)) maxErr = e; // NaN-safe: NaN becomes the max
    maxRef = Math.max(maxRef, Math.abs(ref[i]!));
    if (!(e <= tol) && bad.length < 5) {
      const idx: number[] = [];
      let rest = i;
      for (let d = dims.length - 1; d >= 0; d--) {
        idx[d] = rest % dims[d]!;
        rest = Math.floor(rest / dims[d]!);
      }
      bad.push(`[${idx.join(', ')}] ref ${ref[i]} got ${got[i]} (err ${e.toExponential(2)})`);
    }
  }
  if (bad.length)
    throw new Error(`${what}: max error ${maxErr.toExponential(3)} > ${tol.toExponential(1)}; first mismatches: ${bad.join('; ')}`);
  return { maxErr, maxRef };
}

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
const A = {
  s: (v: string) => ({ s: b64(v) }),
  ints: (v: number[]) => ({ list: { i: v.map(String) } }),
  strs: (v: string[]) => ({ list: { s: v.map(b64) } }),
  float: { type: 'DT_FLOAT' },
};

type Quant = 'uint8' | 'uint16' | 'float16';

function toFloat16Bits(v: number): number {
  const f = new Float32Array([v]);
  const x = new Uint32Array(f.buffer)[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = ((x >>> 23) & 0xff) - 127 + 15;
  const mant = x & 0x7fffff;
  if (exp <= 0) return sign; // tiny values flush to zero (none here)
  return sign | (exp << 10) | Math.round(mant / 8192);
}

/** Builds a TF.js graph model in memory: model.json object + one weight shard. */
class GraphBuilder {
  readonly nodes: TfjsNode[] = [];
  private readonly entries: TfjsWeightEntry[] = [];
  private readonly chunks: Uint8Array[] = [];
  private readonly rand: () => number;

  constructor(seed: number) {
    this.rand = prng(seed);
  }

  input(name = 'image'): string {
    this.nodes.push({
      name,
      op: 'Placeholder',
      attr: { dtype: { type: 'DT_FLOAT' }, shape: { shape: { dim: [{ size: '1' }, { size: '-1' }, { size: '-1' }, { size: '3' }] } } },
    });
    return name;
  }

  /** A Const of random values in [-scale, scale], stored as float32 or quantized. */
  weight(name: string, shape: number[], scale = 0.5, quant?: Quant): string {
    const n = shape.reduce((a, b) => a * b, 1);
    const values = Array.from({ length: n }, () => (this.rand() * 2 - 1) * scale);
    this.nodes.push({ name, op: 'Const', attr: { dtype: { type: 'DT_FLOAT' }, value: { tensor: { dtype: 'DT_FLOAT' } } } });
    if (!quant) {
      this.entries.push({ name, shape, dtype: 'float32' });
      this.chunks.push(new Uint8Array(Float32Array.from(values).buffer));
    } else if (quant === 'float16') {
      this.entries.push({ name, shape, dtype: 'float32', quantization: { dtype: 'float16' } });
      this.chunks.push(new Uint8Array(Uint16Array.from(values, toFloat16Bits).buffer));
    } else {
      const levels = quant === 'uint8' ? 255 : 65535;
      const min = Math.min(...values);
      const q = (Math.max(...values) - min) / levels;
      this.entries.push({ name, shape, dtype: 'float32', quantization: { dtype: quant, scale: q, min } });
      const ints = values.map((v) => Math.round((v - min) / q));
      this.chunks.push(new Uint8Array((quant === 'uint8' ? Uint8Array.from(ints) : Uint16Array.from(ints)).buffer));
    }
    return name;
  }

  op(name: string, op: string, inputs: string[], attr: TfjsNode['attr'] = {}): string {
    this.nodes.push({ name, op, input: inputs, attr: { T: A.float, ...attr } });
    return name;
  }

  conv(name: string, x: string, filter: string, { strides = [1, 1], padding = 'SAME', dilations = [1, 1] } = {}): string {
    return this.op(name, 'Conv2D', [x, filter], {
      strides: A.ints([1, ...strides, 1]),
      padding: A.s(padding),
      dilations: A.ints([1, ...dilations, 1]),
      data_format: A.s('NHWC'),
    });
  }

  build(): { json: TfjsModelJson; shard: Uint8Array } {
    const total = this.chunks.reduce((a, c) => a + c.byteLength, 0);
    const shard = new Uint8Array(total);
    let at = 0;
    for (const c of this.chunks) {
      shard.set(c, at);
      at += c.byteLength;
    }
    return {
      json: {
        format: 'graph-model',
        generatedBy: 'test',
        convertedBy: 'test',
        modelTopology: { node: this.nodes, library: {}, versions: {} },
        weightsManifest: [{ paths: ['weights.bin'], weights: this.entries }],
      },
      shard,
    };
  }
}

/** Converts a built graph in memory. */
function convertBuilt(json: TfjsModelJson, shard: Uint8Array, options: ConvertOptions = {}): ConvertResult & { bytes: Uint8Array } {
  const weights = decodeWeights(json, [[shard]], 'synthetic.json');
  const result = convertTfjsGraph(json, weights, { label: 'synthetic.json', outputs: 'all', ...options });
  return { ...result, bytes: encodeModel(result.model) };
}

/** TF.js (cpu) outputs of a built graph, by node name, NHWC. */
async function runTfjsGraph(json: TfjsModelJson, shard: Uint8Array, input: Float32Array, [h, w]: [number, number], outputs: string[]) {
  await useCpuBackend();
  const model = await loadPosenetGraphModel(json, [shard], { patch: false });
  const x = tf.tensor4d(input, [1, h, w, 3]);
  const result = model.execute({ image: x }, outputs);
  const ys = Array.isArray(result) ? result : [result]; // one output comes back bare
  const out: Record<string, { data: Float32Array; dims: number[] }> = {};
  for (const [i, name] of outputs.entries()) out[name] = { data: (await ys[i]!.data()) as Float32Array, dims: ys[i]!.shape };
  tf.dispose([x, ...ys]);
  model.dispose();
  return out;
}

/** Converts, runs both, compares every output (absolute tolerance; values here are O(1)). */
async function checkGraph(build: GraphBuilder, [h, w]: [number, number], outputs: string[], seed = 7) {
  const { json, shard } = build.build();
  const converted = convertBuilt(json, shard);
  expect(converted.outputs.map((o) => o.name)).toEqual(outputs);
  const input = randomInput(h, w, seed);
  const ref = await runTfjsGraph(json, shard, input, [h, w], outputs);
  const got = await runOnnx(converted.bytes, { image: { data: input, dims: [1, h, w, 3] } });
  for (const name of outputs) {
    expect(got[name]!.dims, `${name} dims`).toEqual(ref[name]!.dims);
    const { maxErr } = compare(name, ref[name]!.data, got[name]!.data, ref[name]!.dims, 1e-4);
    console.log(`  ${name} [${ref[name]!.dims.join('x')}]: max |ORT - TF.js| = ${maxErr.toExponential(2)}`);
  }
  return converted;
}

const opTypes = (model: ModelProto): string[] => (model.graph?.node ?? []).map((n) => n.opType ?? '');
const metadataOf = (model: ModelProto): Record<string, string> =>
  Object.fromEntries((model.metadataProps ?? []).map((p) => [p.key ?? '', p.value ?? '']));

// ---- the real model -----------------------------------------------------------------------

/**
 * Tolerance for the real model: |ORT - TF.js| <= max(1e-4, 1e-5 * max|TF.js head|), per head.
 * Both run float32 with different summation orders (ORT's MLAS GEMM with FMA, tfjs-cpu's
 * im2col loops). With a noise input the offset and displacement heads reach |x| ~ 80..190
 * and come out of ~28 convolutions whose dot products have up to 384 terms, so the rounding
 * differences are about 1e-6 of the values summed: 2..5e-4 absolute on those heads, which is
 * more than 1e-4. Near-zero outputs can be the difference of large partial sums, so a purely
 * relative bound would not hold either; the bound is relative to the head's scale instead.
 * A layout or padding mistake makes errors of O(1) and more, so this still catches them.
 */
const HEAD_TOL_ABS = 1e-4;
const HEAD_TOL_OF_SCALE = 1e-5;

describe('human-models PoseNet MobileNetV1 0.75 stride 16', () => {
  let exported: ConvertResult & { bytes: Uint8Array };

  beforeAll(async () => {
    exported = await tfjsToOnnxModel(HUMAN_MODELS_POSENET);
  });

  it('exports the graph tf2onnx would make', () => {
    const model = decodeModel(exported.bytes);
    const graph = model.graph!;
    expect(graph.input!.map((i) => i.name)).toEqual(['image']);
    const dims = graph.input![0]!.type!.tensorType!.shape!.dim!.map((d) => d.dimParam || toNumber(d.dimValue));
    expect(dims).toEqual([1, 'height', 'width', 3]);
    expect(graph.output!.map((o) => o.name)).toEqual(['offset_2', 'heatmap_2', 'displacement_fwd_2', 'displacement_bwd_2']);
    const ops = opTypes(model);
    expect(ops[0]).toBe('Transpose');
    expect(ops.filter((o) => o === 'Conv')).toHaveLength(31); // 1 + 13 x (depthwise + pointwise) + 4 heads
    expect(ops.filter((o) => o === 'Clip')).toHaveLength(27);
    expect(ops.filter((o) => o === 'Transpose')).toHaveLength(5);
    const convs = graph.node!.filter((n) => n.opType === 'Conv');
    expect(convs.every((n) => n.input!.length === 3)).toBe(true);
    expect(convs.filter((n) => n.attribute!.some((a) => a.name === 'group'))).toHaveLength(13);
    expect(exported.heads).toMatchObject({
      offsets: { tfNode: 'MobilenetV1/offset_2/BiasAdd', channels: 34, matchedBy: 'name' },
      heatmap: { tfNode: 'MobilenetV1/heatmap_2/BiasAdd', channels: 17, matchedBy: 'name' },
      displacementFwd: { tfNode: 'MobilenetV1/displacement_fwd_2/BiasAdd', channels: 32, matchedBy: 'name' },
      displacementBwd: { tfNode: 'MobilenetV1/displacement_bwd_2/BiasAdd', channels: 32, matchedBy: 'name' },
    });
    const meta = metadataOf(model);
    expect(meta[METADATA_KEYS.architecture]).toBe('MobileNetV1');
    expect(meta[METADATA_KEYS.outputStride]).toBe('16');
    expect(meta[METADATA_KEYS.preprocess]).toBe('mobilenet');
    expect(meta[METADATA_KEYS.sourceSha256]).toMatch(/^[0-9a-f]{64}$/);
    expect(exported.warnings).toEqual([]);
  });

  // [height, width]: square 257, and 513 wide by 385 high.
  it.each([
    [257, 257],
    [385, 513],
  ] as [number, number][])('ORT runs the ONNX like TF.js runs the model, %i high x %i wide', async (h, w) => {
    const input = randomInput(h, w, 1000 + h + w);
    const ref = await runTfjsHeads(await loadReferenceModel(), input, [h, w]);
    const got = await runOnnxHeads(exported.bytes, input, [h, w]);
    const outH = Math.ceil(h / 16);
    const outW = Math.ceil(w / 16);
    const lines: string[] = [];
    for (const head of HEAD_NAMES) {
      expect(got[head].dims, head).toEqual(ref[head].dims);
      expect(ref[head].dims.slice(0, 2)).toEqual([outH, outW]);
      const scale = ref[head].data.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      const tol = Math.max(HEAD_TOL_ABS, HEAD_TOL_OF_SCALE * scale);
      const { maxErr } = compare(`${head} at ${h}x${w}`, ref[head].data, got[head].data, ref[head].dims, tol);
      lines.push(`${head}: max err ${maxErr.toExponential(2)} (max |x| ${scale.toFixed(1)}, tol ${tol.toExponential(1)})`);
    }
    console.log(`PoseNet ${h}x${w} (HxW), ORT vs TF.js:\n  ${lines.join('\n  ')}`);
  });

  it('posenet 2.2.2 estimateSinglePose runs on the patched model and agrees with the ONNX heads', async () => {
    const [h, w] = [257, 257];
    const r = prng(42);
    const pixels = Int32Array.from({ length: h * w * 3 }, () => Math.floor(r() * 256));
    const net = await loadReferencePosenet([h, w]);
    const image = tf.tensor3d(pixels, [h, w, 3], 'int32');
    const pose = await net.estimateSinglePose(image);
    image.dispose();
    expect(pose.keypoints.map((k) => k.part)).toEqual(posenet.partNames);

    // The same decoding on the ONNX heads: MobileNet normalisation as tfjs computes it in
    // float32, heatmap argmax, offsets (y in channels 0..16, x in 17..33), sigmoid score.
    const input = Float32Array.from(pixels, (p) => Math.fround(Math.fround(p / 127.5) - 1));
    const heads = await runOnnxHeads(exported.bytes, input, [h, w]);
    const [hh, hw] = heads.heatmap.dims;
    for (let k = 0; k < 17; k++) {
      let best = -Infinity;
      let at = 0;
      for (let i = 0; i < hh * hw; i++) {
        const v = heads.heatmap.data[i * 17 + k]!;
        if (v > best) [best, at] = [v, i];
      }
      const y = Math.floor(at / hw) * 16 + heads.offsets.data[at * 34 + k]!;
      const x = (at % hw) * 16 + heads.offsets.data[at * 34 + 17 + k]!;
      const kp = pose.keypoints[k]!;
      expect(Math.abs(kp.position.y - y), `${kp.part} y`).toBeLessThan(1e-3);
      expect(Math.abs(kp.position.x - x), `${kp.part} x`).toBeLessThan(1e-3);
      expect(Math.abs(kp.score - 1 / (1 + Math.exp(-best))), `${kp.part} score`).toBeLessThan(1e-5);
    }
  });

  it('the unpatched model is what needs patching: pinned input, outputs out of posenet order', async () => {
    await useCpuBackend();
    const { json, shards } = readGraphModelFiles(HUMAN_MODELS_POSENET);
    const raw = await loadPosenetGraphModel(json, shards, { patch: false });
    expect(raw.inputs[0]!.shape).toEqual([1, 385, 385, 3]);
    // GraphModel outputs follow the key order of signature.outputs.
    expect(raw.outputNodes.map((n) => n.split('/')[1])).toEqual(['displacement_fwd_2', 'heatmap_2', 'displacement_bwd_2', 'offset_2']);
    expect(() => new posenet.MobileNet(raw, 16)).toThrow(/must both be equal to or -1/);
    raw.dispose();

    const patched = patchPosenetGraphModel(json);
    expect(Object.keys(patched.signature!.outputs!).map((k) => k.split('/')[1])).toEqual([
      'offset_2',
      'heatmap_2',
      'displacement_fwd_2',
      'displacement_bwd_2',
    ]);
    expect(patched.modelTopology.node.find((n) => n.op === 'Placeholder')!.attr!.shape!.shape!.dim!.map((d) => Number(d.size))).toEqual([
      1, -1, -1, 3,
    ]);
    // The original is left alone.
    expect(Object.keys(json.signature!.outputs!)[0]).toContain('displacement_fwd_2');
    const model = await loadReferenceModel();
    expect(model.inputs[0]!.shape).toEqual([1, -1, -1, 3]);
  });
});

// ---- synthetic graphs -------------------------------------------------------------------

describe('synthetic TF.js graphs, ORT vs TF.js', () => {
  it('unfused Conv2D + BiasAdd + Relu, stride 2, VALID padding (bias folded into the Conv)', async () => {
    const g = new GraphBuilder(1);
    const x = g.input();
    const c = g.conv('conv', x, g.weight('w', [3, 3, 3, 8]), { strides: [2, 2], padding: 'VALID' });
    const b = g.op('bias', 'BiasAdd', [c, g.weight('b', [8])], { data_format: A.s('NHWC') });
    g.op('relu', 'Relu', [b]);
    const r = await checkGraph(g, [13, 18], ['relu']);
    expect(opTypes(r.model)).toEqual(['Transpose', 'Conv', 'Relu', 'Transpose']);
    const conv = r.model.graph!.node!.find((n) => n.opType === 'Conv')!;
    expect(conv.input).toHaveLength(3);
    expect(conv.attribute!.find((a) => a.name === 'auto_pad')!.s).toEqual(new TextEncoder().encode('VALID'));
  });

  it('DepthwiseConv2dNative with dilation 2 and multiplier 2, Relu6, SAME convs with stride 2 on odd and even sizes', async () => {
    const g = new GraphBuilder(2);
    const x = g.input();
    const d = g.op('dw', 'DepthwiseConv2dNative', [x, g.weight('dw_w', [3, 3, 3, 2])], {
      strides: A.ints([1, 1, 1, 1]),
      dilations: A.ints([1, 2, 2, 1]),
      padding: A.s('SAME'),
      data_format: A.s('NHWC'),
    });
    const r6 = g.op('relu6', 'Relu6', [d]);
    g.conv('conv_s2', r6, g.weight('w', [3, 3, 6, 5]), { strides: [2, 2] });
    g.op('dw_s2', 'DepthwiseConv2dNative', [x, g.weight('dw2_w', [5, 5, 3, 1])], {
      strides: A.ints([1, 2, 2, 1]),
      dilations: A.ints([1, 1, 1, 1]),
      padding: A.s('SAME'),
      data_format: A.s('NHWC'),
    });
    const r = await checkGraph(g, [13, 18], ['conv_s2', 'dw_s2']);
    const dw = r.model.graph!.node!.find((n) => n.name === 'dw')!;
    expect(dw.attribute!.find((a) => a.name === 'group')!.i).toBe(3);
    // ONNX Runtime refuses auto_pad with dilation: SAME is written out, (3 - 1) * 2 = 4 in all.
    expect(dw.attribute!.find((a) => a.name === 'pads')!.ints!.map(toNumber)).toEqual([2, 2, 2, 2]);
    expect(opTypes(r.model)).toContain('Clip');
  });

  it('MaxPool (SAME and VALID), BiasAdd after a pool, Add, AddV2 with a Const, Identity, Sigmoid', async () => {
    const g = new GraphBuilder(3);
    const x = g.input();
    const a = g.conv('a', x, g.weight('wa', [1, 1, 3, 4]));
    const p = g.op('pool', 'MaxPool', [a], {
      ksize: A.ints([1, 3, 3, 1]),
      strides: A.ints([1, 2, 2, 1]),
      padding: A.s('SAME'),
      data_format: A.s('NHWC'),
    });
    const pb = g.op('pool_bias', 'BiasAdd', [p, g.weight('bp', [4])]);
    const c = g.conv('c', x, g.weight('wc', [3, 3, 3, 4]), { strides: [2, 2] });
    const s = g.op('sum', 'Add', [pb, c]);
    const s2 = g.op('sum2', 'AddV2', [s, g.weight('k', [4])]);
    const id = g.op('id', 'Identity', [s2]);
    g.op('sigmoid', 'Sigmoid', [id]);
    g.op('pool_valid', 'MaxPool', [a], { ksize: A.ints([1, 2, 2, 1]), strides: A.ints([1, 2, 2, 1]), padding: A.s('VALID') });
    const r = await checkGraph(g, [15, 20], ['sigmoid', 'pool_valid']);
    const adds = r.model.graph!.node!.filter((n) => n.opType === 'Add');
    expect(adds).toHaveLength(3); // BiasAdd after a pool, Add, AddV2
    const biasInit = r.model.graph!.initializer!.find((t) => t.name === adds.find((n) => n.name === 'pool_bias')!.input![1]);
    expect(biasInit!.dims!.map(toNumber)).toEqual([1, 4, 1, 1]);
  });

  it('fused convs: BiasAdd+Relu with EXPLICIT padding, depthwise BiasAdd+Relu6, BiasAdd only, BiasAdd+Sigmoid, Identity on weights', async () => {
    const g = new GraphBuilder(4);
    const x = g.input();
    const fused = (name: string, op: string, inputs: string[], fusedOps: string[], extra: TfjsNode['attr'] = {}) =>
      g.op(name, op, inputs, {
        strides: A.ints([1, 1, 1, 1]),
        padding: A.s('SAME'),
        dilations: A.ints([1, 1, 1, 1]),
        data_format: A.s('NHWC'),
        fused_ops: A.strs(fusedOps),
        num_args: { i: String(inputs.length - 2) },
        ...extra,
      });
    const f1 = fused('f1', '_FusedConv2D', [x, g.weight('w1', [3, 3, 3, 8]), g.weight('b1', [8])], ['BiasAdd', 'Relu'], {
      padding: A.s('EXPLICIT'),
      explicit_paddings: A.ints([0, 0, 1, 2, 2, 1, 0, 0]),
    });
    const wid = g.op('w2_identity', 'Identity', [g.weight('w2', [3, 3, 8, 1])]);
    const f2 = fused('f2', 'FusedDepthwiseConv2dNative', [f1, wid, g.weight('b2', [8])], ['BiasAdd', 'Relu6'], {
      strides: A.ints([1, 2, 2, 1]),
    });
    fused('f3', '_FusedConv2D', [f2, g.weight('w3', [1, 1, 8, 6]), g.weight('b3', [6])], ['BiasAdd']);
    fused('f4', '_FusedConv2D', [f2, g.weight('w4', [1, 1, 8, 3]), g.weight('b4', [3])], ['BiasAdd', 'Sigmoid']);
    const r = await checkGraph(g, [14, 11], ['f3', 'f4']);
    const f1node = r.model.graph!.node!.find((n) => n.name === 'f1')!;
    expect(f1node.attribute!.find((a) => a.name === 'pads')!.ints!.map(toNumber)).toEqual([1, 2, 2, 1]);
  });

  it('a PoseNet-shaped graph with unnamed heads (found by channel count) and uint8 / uint16 / float16 weights', async () => {
    const g = new GraphBuilder(5);
    const x = g.input();
    const fusedConv = (name: string, input: string, w: string, b: string, stride: number, fusedOps: string[], op = '_FusedConv2D') =>
      g.op(name, op, [input, w, b], {
        strides: A.ints([1, stride, stride, 1]),
        padding: A.s('SAME'),
        dilations: A.ints([1, 1, 1, 1]),
        data_format: A.s('NHWC'),
        fused_ops: A.strs(fusedOps),
        num_args: { i: '1' },
      });
    const c0 = fusedConv('stem', x, g.weight('w0', [3, 3, 3, 8], 0.5, 'uint8'), g.weight('b0', [8], 0.1, 'uint8'), 2, ['BiasAdd', 'Relu6']);
    const d1 = fusedConv(
      'dw1',
      c0,
      g.weight('w1', [3, 3, 8, 1], 0.5, 'uint16'),
      g.weight('b1', [8], 0.1, 'uint16'),
      2,
      ['BiasAdd', 'Relu6'],
      'FusedDepthwiseConv2dNative',
    );
    const p1 = fusedConv('pw1', d1, g.weight('w2', [1, 1, 8, 16], 0.5, 'float16'), g.weight('b2', [16], 0.1, 'float16'), 2, [
      'BiasAdd',
      'Relu6',
    ]);
    // Heads in an unusual order and with names that say nothing.
    fusedConv('head_a', p1, g.weight('wa', [1, 1, 16, 17]), g.weight('ba', [17]), 1, ['BiasAdd']);
    fusedConv('head_b', p1, g.weight('wb', [1, 1, 16, 34]), g.weight('bb', [34]), 1, ['BiasAdd']);
    fusedConv('head_c', p1, g.weight('wc', [1, 1, 16, 32]), g.weight('bc', [32]), 1, ['BiasAdd']);
    fusedConv('head_d', p1, g.weight('wd', [1, 1, 16, 32]), g.weight('bd', [32]), 1, ['BiasAdd']);
    const { json, shard } = g.build();
    const r = convertBuilt(json, shard, { outputs: 'posenet' });
    expect(r.heads).toMatchObject({
      heatmap: { tfNode: 'head_a', matchedBy: 'channels' },
      offsets: { tfNode: 'head_b', matchedBy: 'channels' },
      displacementFwd: { tfNode: 'head_c', matchedBy: 'channels' },
      displacementBwd: { tfNode: 'head_d', matchedBy: 'channels' },
    });
    expect(r.outputStride).toBe(8);
    expect(r.warnings.join('\n')).toMatch(/channel count/);
    expect(r.warnings.join('\n')).toMatch(/neither MobileNet nor ResNet/);
    expect(metadataOf(r.model)[METADATA_KEYS.outputStride]).toBe('8');

    const [h, w] = [33, 49];
    const input = randomInput(h, w, 9);
    const ref = await runTfjsGraph(json, shard, input, [h, w], ['head_a', 'head_b', 'head_c', 'head_d']);
    const got = await runOnnxHeads(r.bytes, input, [h, w]);
    const tfName: Record<HeadName, string> = { heatmap: 'head_a', offsets: 'head_b', displacementFwd: 'head_c', displacementBwd: 'head_d' };
    for (const head of HEAD_NAMES) {
      const { maxErr } = compare(head, ref[tfName[head]]!.data, got[head].data, got[head].dims, 1e-4);
      console.log(`  ${head} (${ONNX_HEAD_OUTPUTS[head]}) [${got[head].dims.join('x')}]: max |ORT - TF.js| = ${maxErr.toExponential(2)}`);
    }
  });
});

// ---- errors -----------------------------------------------------------------------------

/** input → conv → <op under test> */
function tinyGraph(extra: (g: GraphBuilder, conv: string) => void): { json: TfjsModelJson; shard: Uint8Array } {
  const g = new GraphBuilder(11);
  const c = g.conv('conv', g.input(), g.weight('w', [1, 1, 3, 4]));
  extra(g, c);
  return g.build();
}

/** A stride-16 graph with PoseNet's head names, heads in heatmap, offsets, fwd, bwd node order. */
function namedPosenetGraph(): { json: TfjsModelJson; shard: Uint8Array } {
  const g = new GraphBuilder(12);
  let t = g.input();
  for (let i = 0; i < 4; i++) t = g.conv(`MobilenetV1/conv${i}`, t, g.weight(`w${i}`, [3, 3, i ? 4 : 3, 4]), { strides: [2, 2] });
  g.conv('MobilenetV1/heatmap_2/BiasAdd', t, g.weight('wh', [1, 1, 4, 17]));
  g.conv('MobilenetV1/offset_2/BiasAdd', t, g.weight('wo', [1, 1, 4, 34]));
  g.conv('MobilenetV1/displacement_fwd_2/BiasAdd', t, g.weight('wf', [1, 1, 4, 32]));
  g.conv('MobilenetV1/displacement_bwd_2/BiasAdd', t, g.weight('wb', [1, 1, 4, 32]));
  return g.build();
}

describe('support: patchPosenetGraphModel and runOnnxHeads', () => {
  it('patchPosenetGraphModel makes a signature in posenet order for a model without one', async () => {
    const { json, shard } = namedPosenetGraph();
    await useCpuBackend();
    const raw = await loadPosenetGraphModel(json, [shard], { patch: false });
    // Without a signature tfjs returns the nodes nobody reads, in node order.
    expect(raw.outputNodes.map((n) => n.split('/')[1])).toEqual(['heatmap_2', 'offset_2', 'displacement_fwd_2', 'displacement_bwd_2']);
    raw.dispose();
    const patched = await loadPosenetGraphModel(json, [shard]);
    expect(patched.outputNodes.map((n) => n.split('/')[1])).toEqual(['offset_2', 'heatmap_2', 'displacement_fwd_2', 'displacement_bwd_2']);
    patched.dispose();
    expect(() => patchPosenetGraphModel(tinyGraph((g, c) => g.op('relu', 'Relu', [c])).json)).toThrow(/no output for the offsets head/);
  });

  it('runOnnxHeads reads an NCHW model whose heads are found by channel count alone', async () => {
    const lib = onnxLib;
    const [h, w] = [9, 13];
    const r = prng(3);
    const channels = { p: 32, q: 17, s: 34, t: 32 }; // q: heatmap, s: offsets, p then t: fwd, bwd
    const weightsOf = (c: number) => Float32Array.from({ length: c * 3 }, () => r() - 0.5);
    const ws = Object.fromEntries(Object.entries(channels).map(([k, c]) => [k, weightsOf(c)]));
    const graph = {
      name: 'nchw',
      node: Object.keys(channels).map((k) =>
        lib.makeNode('Conv', ['input', `w_${k}`], [k], `conv_${k}`, [lib.attrInts('kernel_shape', [1, 1])]),
      ),
      initializer: Object.entries(channels).map(([k, c]) => lib.floatTensor(`w_${k}`, [c, 3, 1, 1], ws[k]!)),
      input: [lib.valueInfo('input', lib.DataType.FLOAT, [1, 3, 'h', 'w'])],
      output: Object.entries(channels).map(([k, c]) => lib.valueInfo(k, lib.DataType.FLOAT, [1, c, 'h', 'w'])),
    };
    const bytes = encodeModel(lib.makeModel(graph));
    const input = randomInput(h, w, 4);
    const heads = await runOnnxHeads(bytes, input, [h, w]);
    const which: Record<HeadName, keyof typeof channels> = { heatmap: 'q', offsets: 's', displacementFwd: 'p', displacementBwd: 't' };
    for (const head of HEAD_NAMES) {
      const key = which[head];
      const c = channels[key];
      expect(heads[head].dims).toEqual([h, w, c]);
      // Independent reference: the 1x1 conv in NHWC.
      const ref = new Float32Array(h * w * c);
      for (let i = 0; i < h * w; i++)
        for (let o = 0; o < c; o++) ref[i * c + o] = [0, 1, 2].reduce((a, k) => a + input[i * 3 + k]! * ws[key]![o * 3 + k]!, 0);
      compare(head, ref, heads[head].data, [h, w, c], 1e-5);
    }
  });
});

describe('errors', () => {
  it('names the node and op of an unsupported op', () => {
    const { json, shard } = tinyGraph((g, c) => g.op('foo', 'Softmax', [c]));
    expect(() => convertBuilt(json, shard)).toThrow('synthetic.json: node "foo" has op "Softmax", which tfjs-to-onnx does not support');
  });

  it('refuses unsupported fused ops, NCHW, and quantization it cannot read', () => {
    const fusedBn = tinyGraph((g, c) =>
      g.op('bn', '_FusedConv2D', [c, g.weight('w2', [1, 1, 4, 4]), g.weight('s', [4]), g.weight('o', [4])], {
        strides: A.ints([1, 1, 1, 1]),
        padding: A.s('SAME'),
        fused_ops: A.strs(['FusedBatchNorm']),
      }),
    );
    expect(() => convertBuilt(fusedBn.json, fusedBn.shard)).toThrow(/node "bn" has fused_ops \[FusedBatchNorm\]/);
    const elu = tinyGraph((g, c) =>
      g.op('elu', '_FusedConv2D', [c, g.weight('w2', [1, 1, 4, 4]), g.weight('b', [4])], {
        strides: A.ints([1, 1, 1, 1]),
        padding: A.s('SAME'),
        fused_ops: A.strs(['BiasAdd', 'Elu']),
      }),
    );
    expect(() => convertBuilt(elu.json, elu.shard)).toThrow(/node "elu" has fused_ops \[BiasAdd, Elu\]/);
    const nchw = tinyGraph((g, c) => g.op('bias', 'BiasAdd', [c, g.weight('b', [4])], { data_format: A.s('NCHW') }));
    expect(() => convertBuilt(nchw.json, nchw.shard)).toThrow('synthetic.json: node "bias" has data_format "NCHW"; only NHWC is supported');
    const int8 = tinyGraph(() => {});
    int8.json.weightsManifest[0]!.weights[0]!.quantization = { dtype: 'int8', scale: 1, min: 0 };
    expect(() => convertBuilt(int8.json, int8.shard)).toThrow(/weight "w" is quantized as "int8"/);
  });

  describe('the CLI', () => {
    let dir: string;
    const tsx = path.join(repoRoot, 'node_modules/.bin/tsx');
    const cli = path.join(repoRoot, 'tools/tfjs-to-onnx.ts');
    const run = async (args: string[]): Promise<{ code: number; stdout: string; stderr: string }> => {
      try {
        const { stdout, stderr } = await promisify(execFile)(tsx, [cli, ...args], { cwd: repoRoot });
        return { code: 0, stdout, stderr };
      } catch (e) {
        const err = e as { code?: number; stdout?: string; stderr?: string };
        return { code: err.code ?? -1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
      }
    };
    /** Writes a model folder; `edit` may break it. */
    const writeModel = (name: string, json: TfjsModelJson | string, shard?: Uint8Array): string => {
      const d = path.join(dir, name);
      fs.mkdirSync(d);
      fs.writeFileSync(path.join(d, 'model.json'), typeof json === 'string' ? json : JSON.stringify(json));
      if (shard) fs.writeFileSync(path.join(d, 'weights.bin'), shard);
      return path.join(d, 'model.json');
    };
    const filesIn = (d: string) => fs.readdirSync(d).sort();
    const concat = (a: Uint8Array, b: Uint8Array): Uint8Array => {
      const out = new Uint8Array(a.length + b.length);
      out.set(a);
      out.set(b, a.length);
      return out;
    };
    const withFloat = (bytes: Uint8Array, index: number, value: number): Uint8Array => {
      const out = bytes.slice();
      new DataView(out.buffer).setFloat32(index * 4, value, true);
      return out;
    };

    beforeAll(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tfjs-to-onnx-test-'));
    });
    afterAll(() => {
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it('exits non-zero with one line naming the file or node, and writes nothing', async () => {
      const good = tinyGraph((g, c) => g.op('relu', 'Relu', [c]));
      const bad = tinyGraph((g, c) => g.op('foo', 'Softmax', [c]));
      const cases: { name: string; model: string; message: RegExp }[] = [
        {
          name: 'unsupported-op',
          model: writeModel('unsupported-op', bad.json, bad.shard),
          message: /node "foo" has op "Softmax", which tfjs-to-onnx does not support/,
        },
        {
          name: 'missing-shard',
          model: writeModel('missing-shard', good.json),
          message: /model\.json: weight shard "weights\.bin" not found/,
        },
        {
          name: 'truncated-shard',
          model: writeModel('truncated-shard', good.json, good.shard.subarray(0, good.shard.byteLength - 4)),
          message: /weight shard "weights\.bin" holds 44 bytes but its weights need 48/,
        },
        { name: 'not-json', model: writeModel('not-json', '{ "format": "graph-model", '), message: /model\.json: not JSON/ },
        // Issue 8: a shard longer than model.json says, NaN weights, a shard outside the folder.
        {
          name: 'long-shard',
          model: writeModel('long-shard', good.json, concat(good.shard, new Uint8Array(8))),
          message: /weight shard "weights\.bin" holds 56 bytes but its weights need 48 \(8 bytes too many: /,
        },
        {
          name: 'nan-weight',
          model: writeModel('nan-weight', good.json, withFloat(good.shard, 2, Number.NaN)),
          message: /model\.json: weight "w" holds NaN at element 2; weights must be finite$/,
        },
        {
          name: 'shard-outside',
          model: writeModel('shard-outside', {
            ...good.json,
            weightsManifest: [{ ...good.json.weightsManifest[0]!, paths: ['../../../../etc/passwd'] }],
          }),
          message: /model\.json: weight shard "\.\.\/\.\.\/\.\.\/\.\.\/etc\/passwd" lies outside the model's folder/,
        },
        { name: 'no-such-file', model: path.join(dir, 'nowhere', 'model.json'), message: /nowhere\/model\.json: no such file/ },
      ];
      const results = await Promise.all(
        cases.map(async (c) => {
          const out = path.join(dir, `${c.name}.onnx`);
          return { c, out, r: await run([c.model, '--out', out]) };
        }),
      );
      for (const { c, out, r } of results) {
        expect(r.code, `${c.name}: exit code (stderr: ${r.stderr})`).toBe(1);
        const lines = r.stderr.trim().split('\n');
        expect(lines, c.name).toHaveLength(1);
        expect(lines[0], c.name).toMatch(c.message);
        expect(fs.existsSync(out), `${c.name}: output file`).toBe(false);
      }
      expect(filesIn(dir).filter((f) => f.includes('.onnx'))).toEqual([]);
    });

    it('writes the ONNX on success, with flags overriding what the graph says', async () => {
      const { json, shard } = namedPosenetGraph();
      const model = writeModel('ok', json, shard);
      const out = path.join(dir, 'ok', 'out.onnx');
      const r = await run([model, '--out', out, '--preprocess', 'resnet']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/MobileNetV1, output stride 16 \(from the graph\), preprocess resnet;/);
      expect(filesIn(path.dirname(out))).toEqual(['model.json', 'out.onnx', 'weights.bin']);
      const meta = metadataOf(decodeModel(fs.readFileSync(out)));
      expect(meta[METADATA_KEYS.preprocess]).toBe('resnet');
      expect(meta[METADATA_KEYS.outputStride]).toBe('16');

      const usage = await run([model, '--output-stride', '12']);
      expect(usage.code).toBe(2);
      expect(usage.stderr).toMatch(/--output-stride must be 8, 16 or 32/);
    });

    it('refuses --output-stride that contradicts the graph, and writes nothing', async () => {
      const { json, shard } = namedPosenetGraph();
      const model = writeModel('stride', json, shard);
      const out = path.join(dir, 'stride', 'out.onnx');
      const r = await run([model, '--out', out, '--output-stride', '8']);
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(
        /^tfjs-to-onnx: model\.json: --output-stride 8 contradicts the graph, whose heads are at stride 16 \(the product of the strides before them\)/,
      );
      expect(fs.existsSync(out)).toBe(false);
      expect(filesIn(path.dirname(out))).toEqual(['model.json', 'weights.bin']);
    });

    it('--out into a folder, an unusable path or a file that is not an ONNX of ours: one line, nothing written', async () => {
      const { json, shard } = namedPosenetGraph();
      const model = writeModel('outs', json, shard);
      const folder = path.join(dir, 'outs');
      const notes = path.join(dir, 'outs', 'notes.onnx');
      fs.writeFileSync(notes, 'my own notes');
      const cases: [string, RegExp][] = [
        [folder, new RegExp(`^tfjs-to-onnx: --out ${folder}: is a folder, not a file it can write$`)],
        ['/proc/self/x/y.onnx', /^tfjs-to-onnx: --out \/proc\/self\/x\/y\.onnx: cannot create the folder \/proc\/self\/x \(/],
        [path.join(model, 'x.onnx'), new RegExp(`^tfjs-to-onnx: --out ${model}/x\\.onnx: ${model} is a file, not a folder$`)],
        [notes, /exists and is not an ONNX written by posenet-webgpu; it is left alone/],
      ];
      for (const [out, message] of cases) {
        const r = await run([model, '--out', out]);
        expect(r.code, `${out}: ${r.stderr}`).toBe(1);
        const lines = r.stderr.trim().split('\n');
        expect(lines, out).toHaveLength(1);
        expect(lines[0], out).toMatch(message);
      }
      expect(fs.readFileSync(notes, 'utf8')).toBe('my own notes');
      expect(filesIn(folder)).toEqual(['model.json', 'notes.onnx', 'weights.bin']);
    });
  });
});
