/**
 * tools/convert on small ONNX graphs built here with onnx-proto. Each case checks the
 * manifest against what the graph says (kinds, kernels, strides, dilations, padding,
 * activations, channels, residuals, preprocessing) and checks the packed weights
 * numerically: onnxruntime runs the ORIGINAL graph, the CPU reference executor
 * (test/support/manifest-cpu.ts) runs the manifest from the PACKED weights.bin, and the
 * four heads must agree within 1e-4 absolute OR 1e-4 relative, element by element.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { afterAll, describe, expect, test } from 'vitest';
import { c4 } from '../src/model/layout.ts';
import type { Layer, Manifest } from '../src/model/manifest.ts';
import { checkWeightsSize, validateManifest } from '../src/model/validate.ts';
import { convertOnnxBytes, convertOnnxFile } from '../tools/lib/convert.ts';
import { attrInts, toNumber, type TensorProto } from '../tools/lib/onnx.ts';
import { compareWithOrt, nhwcInput, TestGraph, tinyPoseNet } from './support/onnx-graphs.ts';

/** Element-wise bound: absolute OR relative error within 1e-4. */
const TOL = { abs: 1e-4, rel: 1e-4 };
const H = 36;
const W = 29;

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'convert-test-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

type Expect = Pick<Layer, 'name' | 'kind' | 'kernel' | 'stride' | 'dilation' | 'activation' | 'inChannels' | 'outChannels'> & {
  padding: Layer['padding'];
  residualFrom?: string;
};

/** Checks the layers against expectations and the tensor chain (each reads the one before unless said). */
function checkLayers(m: Manifest, expected: Expect[]): void {
  expect(m.layers.map((l) => l.name)).toEqual(expected.map((e) => e.name));
  const byName = new Map(m.layers.map((l) => [l.name, l]));
  expected.forEach((e, i) => {
    const l = m.layers[i]!;
    const { residualFrom, ...fields } = e;
    expect(
      {
        name: l.name,
        kind: l.kind,
        kernel: l.kernel,
        stride: l.stride,
        dilation: l.dilation,
        activation: l.activation,
        inChannels: l.inChannels,
        outChannels: l.outChannels,
        padding: l.padding,
      },
      `layer ${l.name}`,
    ).toEqual(fields);
    if (residualFrom) expect(l.residual, `layer ${l.name} residual`).toBe(byName.get(residualFrom)!.output);
    else expect(l.residual, `layer ${l.name} residual`).toBeUndefined();
    if (l.kind === 'maxpool') {
      expect(l.weights).toBeUndefined();
    } else {
      expect(l.weights!.offset % 16).toBe(0);
      expect(l.bias!.offset % 16).toBe(0);
    }
  });
}

const explicit = (...pads: [number, number, number, number]): Layer['padding'] => ({ mode: 'explicit', pads });
const same = (mode: 'same_upper' | 'same_lower'): Layer['padding'] => ({ mode, pads: [0, 0, 0, 0] });
const HEADS_LAYER = (inChannels: number): Expect => ({
  name: 'heads',
  kind: 'pointwise',
  kernel: [1, 1],
  stride: [1, 1],
  dilation: [1, 1],
  activation: 'none',
  inChannels,
  outChannels: 120,
  padding: explicit(0, 0, 0, 0),
});

function expectHeads(m: Manifest, sources: Record<string, string>): void {
  expect(m.heads).toEqual({
    heatmap: { tensor: 'heads', channelOffset: 0, channels: 17, sourceName: sources.heatmap },
    offsets: { tensor: 'heads', channelOffset: 20, channels: 34, sourceName: sources.offsets },
    displacementFwd: { tensor: 'heads', channelOffset: 56, channels: 32, sourceName: sources.displacementFwd },
    displacementBwd: { tensor: 'heads', channelOffset: 88, channels: 32, sourceName: sources.displacementBwd },
  });
  const last = m.layers[m.layers.length - 1]!;
  expect(last.output).toBe('heads');
}

async function expectMatchesOrt(
  bytes: Uint8Array,
  m: Manifest,
  weights: Uint8Array,
  outputLayout: 'NHWC' | 'NCHW' = 'NHWC',
): Promise<void> {
  const r = await compareWithOrt(bytes, m, weights, { height: H, width: W, seed: 5, outputLayout, tol: () => TOL });
  expect(r.problems).toEqual([]);
  // The comparison must be about real numbers, not all-zero heads.
  expect(r.range[1] - r.range[0]).toBeGreaterThan(0.1);
}

describe('convert: hand-built graphs', () => {
  test('BatchNorm folding, NHWC input, Clip(0,6) as inputs, SAME upper/lower, bias Add and Mul folding, heads by name', async () => {
    const g = new TestGraph(11);
    let x = nhwcInput(g);
    x = g.relu6(g.batchNorm(g.conv(x, 3, 8, 3, { stride: 2, pads: 'SAME_UPPER', name: 'c0' }), 8));
    x = g.relu(g.batchNorm(g.conv(x, 8, 8, 3, { stride: 2, pads: 'SAME_LOWER', depthwise: true, bias: true, name: 'dw1' }), 8));
    x = g.conv(x, 8, 12, 1, { name: 'pw1' });
    x = g.node('Add', [x, g.uniform('pw1/bias', [1, 12, 1, 1], -1, 1)]);
    x = g.node('Mul', [g.uniform('pw1/mul', [12, 1, 1], 0.5, 2), x]);
    x = g.relu6(x);
    x = g.relu(g.conv(x, 12, 16, 3, { stride: 2, pads: [1, 0, 1, 2], bias: true, name: 'c2' }));
    g.heads(x, 16, {
      order: ['displacementBwd', 'heatmap', 'displacementFwd', 'offsets'],
      identity: true,
      names: { displacementFwd: 'disp_fwd', displacementBwd: 'disp_bwd' },
    });
    const bytes = g.bytes({ metadata: { 'posenet.preprocess': 'mobilenet' } });
    const { manifest: m, weights, notes } = convertOnnxBytes(bytes, 'a.onnx');

    expect(m.architecture).toBe('MobileNetV1');
    expect(m.outputStride).toBe(8);
    expect(m.input).toEqual({ sourceName: 'image', sourceLayout: 'NHWC', tensor: 'input/nchw', channels: 3 });
    expect(m.preprocess).toMatchObject({ kind: 'mobilenet', from: 'metadata', mean: [127.5, 127.5, 127.5] });
    expect(notes).toEqual([]);
    checkLayers(m, [
      {
        name: 'c0',
        kind: 'conv',
        kernel: [3, 3],
        stride: [2, 2],
        dilation: [1, 1],
        padding: same('same_upper'),
        activation: 'relu6',
        inChannels: 3,
        outChannels: 8,
      },
      {
        name: 'dw1',
        kind: 'depthwise',
        kernel: [3, 3],
        stride: [2, 2],
        dilation: [1, 1],
        padding: same('same_lower'),
        activation: 'relu',
        inChannels: 8,
        outChannels: 8,
      },
      {
        name: 'pw1',
        kind: 'pointwise',
        kernel: [1, 1],
        stride: [1, 1],
        dilation: [1, 1],
        padding: explicit(0, 0, 0, 0),
        activation: 'relu6',
        inChannels: 8,
        outChannels: 12,
      },
      {
        name: 'c2',
        kind: 'conv',
        kernel: [3, 3],
        stride: [2, 2],
        dilation: [1, 1],
        padding: explicit(1, 0, 1, 2),
        activation: 'relu',
        inChannels: 12,
        outChannels: 16,
      },
      HEADS_LAYER(16),
    ]);
    // A chain: each layer reads the previous one's output.
    m.layers.forEach((l, i) => {
      expect(l.input).toBe(i === 0 ? m.input.tensor : m.layers[i - 1]!.output);
    });
    expectHeads(m, { heatmap: 'heatmap_2', offsets: 'offset_2', displacementFwd: 'disp_fwd', displacementBwd: 'disp_bwd' });
    await expectMatchesOrt(bytes, m, weights);
  });

  test('NCHW input, in-graph custom preprocessing, explicit asymmetric pads and VALID, float_data and Constant weights, heads by output order', async () => {
    const g = new TestGraph(12);
    g.input('pixels', [1, 3, 'h', 'w']);
    let x = g.node('Sub', ['pixels', g.constant('mean', [1, 3, 1, 1], [100, 110, 120])]);
    x = g.node('Mul', [x, g.constant('scale', [3, 1, 1], [0.01, 0.02, 0.03])]);
    // Pads that keep every map at ceil(input / stride), as the runtime needs (convert checks it).
    x = g.relu(g.conv(x, 3, 6, 5, { stride: 2, pads: [2, 1, 2, 3], constantNode: true, bias: true, name: 'c0' }));
    x = g.relu(g.batchNorm(g.conv(x, 6, 10, 3, { stride: 2, pads: [1, 1, 1, 1], floatData: true, name: 'c1' }), 10));
    x = g.relu6(g.batchNorm(g.conv(x, 10, 10, 3, { stride: 2, pads: [2, 1, 0, 1], depthwise: true, name: 'dw2' }), 10));
    x = g.batchNorm(g.conv(x, 10, 12, 1, { pads: 'VALID', name: 'pw2' }), 12);
    g.heads(x, 12, {
      layout: 'NCHW',
      order: ['displacementFwd', 'heatmap', 'offsets', 'displacementBwd'],
      names: { heatmap: 'out_b', offsets: 'out_c', displacementFwd: 'out_a', displacementBwd: 'out_d' },
    });
    const bytes = g.bytes();
    const { manifest: m, weights } = convertOnnxBytes(bytes, 'b.onnx');

    expect(m.input).toEqual({ sourceName: 'pixels', sourceLayout: 'NCHW', tensor: expect.any(String), channels: 3 });
    expect(m.preprocess.kind).toBe('custom');
    expect(m.preprocess.from).toBe('graph');
    m.preprocess.mean.forEach((v, i) => {
      expect(v).toBeCloseTo([100, 110, 120][i]!, 4);
    });
    m.preprocess.scale.forEach((v, i) => {
      expect(v).toBeCloseTo([0.01, 0.02, 0.03][i]!, 7);
    });
    checkLayers(m, [
      {
        name: 'c0',
        kind: 'conv',
        kernel: [5, 5],
        stride: [2, 2],
        dilation: [1, 1],
        padding: explicit(2, 1, 2, 3),
        activation: 'relu',
        inChannels: 3,
        outChannels: 6,
      },
      {
        name: 'c1',
        kind: 'conv',
        kernel: [3, 3],
        stride: [2, 2],
        dilation: [1, 1],
        padding: explicit(1, 1, 1, 1),
        activation: 'relu',
        inChannels: 6,
        outChannels: 10,
      },
      {
        name: 'dw2',
        kind: 'depthwise',
        kernel: [3, 3],
        stride: [2, 2],
        dilation: [1, 1],
        padding: explicit(2, 1, 0, 1),
        activation: 'relu6',
        inChannels: 10,
        outChannels: 10,
      },
      {
        name: 'pw2',
        kind: 'pointwise',
        kernel: [1, 1],
        stride: [1, 1],
        dilation: [1, 1],
        padding: explicit(0, 0, 0, 0),
        activation: 'none',
        inChannels: 10,
        outChannels: 12,
      },
      HEADS_LAYER(12),
    ]);
    expectHeads(m, { heatmap: 'out_b', offsets: 'out_c', displacementFwd: 'out_a', displacementBwd: 'out_d' });
    await expectMatchesOrt(bytes, m, weights, 'NCHW');
  });

  test('ResNet bottlenecks: stem, MaxPool, strided projection shortcut (created after the main branch), identity shortcut, dilated 3×3', async () => {
    const g = new TestGraph(13);
    let x = nhwcInput(g);
    x = g.node('Sub', [x, g.constant('imagenet_mean', [1, 3, 1, 1], [123.15, 115.9, 103.06])]);
    x = g.relu(g.batchNorm(g.conv(x, 3, 8, 7, { stride: 2, pads: [3, 3, 3, 3], name: 'conv1' }), 8));
    const pool = g.node(
      'MaxPool',
      [x],
      [attrInts('kernel_shape', [3, 3]), attrInts('strides', [2, 2]), attrInts('pads', [1, 1, 1, 1])],
      'pool1',
    );
    // Unit 1: main branch first, the projection shortcut after it in node order.
    let y = g.relu(g.batchNorm(g.conv(pool, 8, 4, 1, { name: 'u1_conv1' }), 4));
    y = g.relu(g.batchNorm(g.conv(y, 4, 4, 3, { stride: 2, pads: [1, 1, 1, 1], name: 'u1_conv2' }), 4));
    y = g.batchNorm(g.conv(y, 4, 16, 1, { name: 'u1_conv3' }), 16);
    const s = g.batchNorm(g.conv(pool, 8, 16, 1, { stride: 2, name: 'u1_shortcut' }), 16);
    const u1 = g.relu(g.node('Add', [y, s], [], 'u1_add'));
    // Unit 2: identity shortcut, given as the Add's first operand; dilated 3×3.
    let z = g.relu(g.batchNorm(g.conv(u1, 16, 4, 1, { name: 'u2_conv1' }), 4));
    z = g.relu(g.batchNorm(g.conv(z, 4, 4, 3, { dilation: 2, pads: [2, 2, 2, 2], name: 'u2_conv2' }), 4));
    z = g.batchNorm(g.conv(z, 4, 16, 1, { name: 'u2_conv3' }), 16);
    const u2 = g.relu(g.node('Add', [u1, z], [], 'u2_add'));
    g.heads(u2, 16);
    const bytes = g.bytes();
    const { manifest: m, weights } = convertOnnxBytes(bytes, 'c.onnx');

    expect(m.architecture).toBe('ResNet50');
    expect(m.outputStride).toBe(8);
    expect(m.preprocess).toMatchObject({ kind: 'resnet', from: 'graph', scale: [1, 1, 1] });
    const pw = (name: string, inC: number, outC: number, act: Layer['activation'], stride = 1, residualFrom?: string): Expect => ({
      name,
      kind: 'pointwise',
      kernel: [1, 1],
      stride: [stride, stride],
      dilation: [1, 1],
      padding: explicit(0, 0, 0, 0),
      activation: act,
      inChannels: inC,
      outChannels: outC,
      ...(residualFrom ? { residualFrom } : {}),
    });
    checkLayers(m, [
      {
        name: 'conv1',
        kind: 'conv',
        kernel: [7, 7],
        stride: [2, 2],
        dilation: [1, 1],
        padding: explicit(3, 3, 3, 3),
        activation: 'relu',
        inChannels: 3,
        outChannels: 8,
      },
      {
        name: 'pool1',
        kind: 'maxpool',
        kernel: [3, 3],
        stride: [2, 2],
        dilation: [1, 1],
        padding: explicit(1, 1, 1, 1),
        activation: 'none',
        inChannels: 8,
        outChannels: 8,
      },
      pw('u1_conv1', 8, 4, 'relu'),
      {
        name: 'u1_conv2',
        kind: 'conv',
        kernel: [3, 3],
        stride: [2, 2],
        dilation: [1, 1],
        padding: explicit(1, 1, 1, 1),
        activation: 'relu',
        inChannels: 4,
        outChannels: 4,
      },
      pw('u1_conv3', 4, 16, 'none'),
      // The later-created conv of the Add takes it: here the projection shortcut.
      pw('u1_shortcut', 8, 16, 'relu', 2, 'u1_conv3'),
      pw('u2_conv1', 16, 4, 'relu'),
      {
        name: 'u2_conv2',
        kind: 'conv',
        kernel: [3, 3],
        stride: [1, 1],
        dilation: [2, 2],
        padding: explicit(2, 2, 2, 2),
        activation: 'relu',
        inChannels: 4,
        outChannels: 4,
      },
      pw('u2_conv3', 4, 16, 'relu', 1, 'u1_shortcut'),
      HEADS_LAYER(16),
    ]);
    const byName = new Map(m.layers.map((l) => [l.name, l]));
    expect(byName.get('u1_conv1')!.input).toBe(byName.get('pool1')!.output);
    expect(byName.get('u1_shortcut')!.input).toBe(byName.get('pool1')!.output);
    expect(byName.get('u2_conv1')!.input).toBe(byName.get('u1_shortcut')!.output);
    expect(byName.get('heads')!.input).toBe(byName.get('u2_conv3')!.output);
    await expectMatchesOrt(bytes, m, weights);
  });

  test('dilated depthwise and dilated conv after the output stride; no preprocessing anywhere → default with a note', async () => {
    const g = new TestGraph(14);
    let x = nhwcInput(g);
    x = g.relu6(g.batchNorm(g.conv(x, 3, 8, 3, { stride: 2, pads: 'SAME_UPPER', name: 'c0' }), 8));
    x = g.relu6(g.batchNorm(g.conv(x, 8, 8, 3, { stride: 2, pads: 'SAME_UPPER', depthwise: true, name: 'dw1' }), 8));
    x = g.relu6(g.batchNorm(g.conv(x, 8, 16, 1, { name: 'pw1' }), 16));
    x = g.relu6(g.batchNorm(g.conv(x, 16, 16, 3, { stride: 2, pads: 'SAME_UPPER', depthwise: true, name: 'dw2' }), 16));
    x = g.relu6(g.batchNorm(g.conv(x, 16, 16, 1, { name: 'pw2' }), 16));
    x = g.relu6(g.batchNorm(g.conv(x, 16, 16, 3, { dilation: 2, pads: [2, 2, 2, 2], depthwise: true, name: 'dw3' }), 16));
    x = g.relu6(g.batchNorm(g.conv(x, 16, 20, 1, { name: 'pw3' }), 20));
    x = g.relu6(g.conv(x, 20, 20, 3, { dilation: 4, pads: [4, 4, 4, 4], depthwise: true, bias: true, name: 'dw4' }));
    x = g.relu6(g.batchNorm(g.conv(x, 20, 24, 3, { dilation: 2, pads: [2, 2, 2, 2], name: 'c5' }), 24));
    g.heads(x, 24);
    const bytes = g.bytes();
    const { manifest: m, weights, notes } = convertOnnxBytes(bytes, 'd.onnx');

    expect(m.preprocess).toMatchObject({ kind: 'mobilenet', from: 'default' });
    expect(notes.join('\n')).toMatch(/d\.onnx: no preprocessing in the graph.*default \(mobilenet\)/);
    const dw = (name: string, c: number, stride: number, dilation: number, padding: Layer['padding']): Expect => ({
      name,
      kind: 'depthwise',
      kernel: [3, 3],
      stride: [stride, stride],
      dilation: [dilation, dilation],
      padding,
      activation: 'relu6',
      inChannels: c,
      outChannels: c,
    });
    const pw = (name: string, inC: number, outC: number): Expect => ({
      name,
      kind: 'pointwise',
      kernel: [1, 1],
      stride: [1, 1],
      dilation: [1, 1],
      padding: explicit(0, 0, 0, 0),
      activation: 'relu6',
      inChannels: inC,
      outChannels: outC,
    });
    checkLayers(m, [
      {
        name: 'c0',
        kind: 'conv',
        kernel: [3, 3],
        stride: [2, 2],
        dilation: [1, 1],
        padding: same('same_upper'),
        activation: 'relu6',
        inChannels: 3,
        outChannels: 8,
      },
      dw('dw1', 8, 2, 1, same('same_upper')),
      pw('pw1', 8, 16),
      dw('dw2', 16, 2, 1, same('same_upper')),
      pw('pw2', 16, 16),
      dw('dw3', 16, 1, 2, explicit(2, 2, 2, 2)),
      pw('pw3', 16, 20),
      dw('dw4', 20, 1, 4, explicit(4, 4, 4, 4)),
      {
        name: 'c5',
        kind: 'conv',
        kernel: [3, 3],
        stride: [1, 1],
        dilation: [2, 2],
        padding: explicit(2, 2, 2, 2),
        activation: 'relu6',
        inChannels: 20,
        outChannels: 24,
      },
      HEADS_LAYER(24),
    ]);
    expect(m.outputStride).toBe(8);
    await expectMatchesOrt(bytes, m, weights);
  });

  test('opset 10: Clip with min/max attributes (relu6, and min-only = relu); --preprocess flag wins over metadata', async () => {
    const g = new TestGraph(15);
    let x = nhwcInput(g);
    x = g.clipAttrs(g.batchNorm(g.conv(x, 3, 8, 3, { stride: 2, pads: 'SAME_UPPER', name: 'c0' }), 8), 0, 6);
    x = g.clipAttrs(g.batchNorm(g.conv(x, 8, 8, 3, { stride: 2, pads: 'SAME_UPPER', depthwise: true, name: 'dw1' }), 8), 0);
    x = g.clipAttrs(g.batchNorm(g.conv(x, 8, 12, 1, { name: 'pw1' }), 12), 0, 6);
    x = g.clipAttrs(g.conv(x, 12, 12, 3, { stride: 2, pads: [1, 1, 1, 1], depthwise: true, bias: true, name: 'dw2' }), 0, 6);
    x = g.relu(g.conv(x, 12, 16, 1, { bias: true, name: 'pw2' }));
    g.heads(x, 16);
    const bytes = g.bytes({ opset: 10, metadata: { 'posenet.preprocess': 'mobilenet' } });
    const { manifest: m, weights } = convertOnnxBytes(bytes, 'e.onnx', { preprocess: 'resnet' });

    expect(m.preprocess).toEqual({ kind: 'resnet', mean: [123.15, 115.9, 103.06], scale: [1, 1, 1], from: 'flag' });
    expect(m.layers.map((l) => [l.name, l.kind, l.activation])).toEqual([
      ['c0', 'conv', 'relu6'],
      ['dw1', 'depthwise', 'relu'],
      ['pw1', 'pointwise', 'relu6'],
      ['dw2', 'depthwise', 'relu6'],
      ['pw2', 'pointwise', 'relu'],
      ['heads', 'pointwise', 'none'],
    ]);
    await expectMatchesOrt(bytes, m, weights);
    // Without the flag, the metadata decides.
    expect(convertOnnxBytes(bytes, 'e.onnx').manifest.preprocess).toMatchObject({ kind: 'mobilenet', from: 'metadata' });
  });
});

/** float32 values of an initializer or a Constant node's tensor in a TestGraph. */
function tensorValues(g: TestGraph, name: string): { dims: number[]; data: Float32Array } {
  let t: TensorProto | undefined = g.inits.find((i) => i.name === name);
  if (!t) t = g.nodes.find((n) => n.opType === 'Constant' && n.output?.[0] === name)?.attribute?.[0]?.t ?? undefined;
  if (!t) throw new Error(`no tensor ${name}`);
  const dims = (t.dims ?? []).map((d) => toNumber(d));
  if (t.floatData?.length) return { dims, data: Float32Array.from(t.floatData) };
  const raw = t.rawData!;
  return { dims, data: new Float32Array(raw.slice().buffer) };
}

describe('convert: packing of weights.bin', () => {
  test('conv, depthwise and bias values sit exactly where manifest.ts says, padding is zero', () => {
    // Convs without BatchNormalization keep their ONNX values bit for bit.
    const g = new TestGraph(21);
    let x = nhwcInput(g);
    x = g.relu6(g.conv(x, 3, 6, 3, { stride: 2, pads: 'SAME_UPPER', bias: true, name: 'conv', floatData: true }));
    x = g.relu6(g.conv(x, 6, 6, [3, 2], { stride: 2, pads: 'SAME_UPPER', bias: true, depthwise: true, name: 'dw', constantNode: true }));
    x = g.relu6(g.conv(x, 6, 10, 1, { stride: 2, bias: true, name: 'pw' }));
    g.heads(x, 10);
    const { manifest: m, weights } = convertOnnxBytes(g.bytes(), 'p.onnx');
    const packed = new Float32Array(weights.slice().buffer);
    const layer = (name: string): Layer => m.layers.find((l) => l.name === name)!;

    for (const name of ['conv', 'pw']) {
      const l = layer(name);
      const { dims, data: w } = tensorValues(g, `${name}/W`);
      const [oc_, ic_, kh, kw] = dims as [number, number, number, number];
      const icp = 4 * c4(ic_);
      const oc4 = c4(oc_);
      const slice = packed.subarray(l.weights!.offset / 4, (l.weights!.offset + l.weights!.length) / 4);
      expect(slice.length).toBe(kh * kw * icp * oc4 * 4);
      const seen = new Uint8Array(slice.length);
      for (let oc = 0; oc < oc_; oc++)
        for (let ic = 0; ic < ic_; ic++)
          for (let ky = 0; ky < kh; ky++)
            for (let kx = 0; kx < kw; kx++) {
              const at = ((ky * kw + kx) * icp + ic) * oc4 * 4 + oc;
              expect(slice[at], `${name} W[${oc}][${ic}][${ky}][${kx}]`).toBe(w[((oc * ic_ + ic) * kh + ky) * kw + kx]);
              seen[at] = 1;
            }
      slice.forEach((v, i) => {
        if (!seen[i]) expect(v, `${name} padding at ${i}`).toBe(0);
      });
      const b = tensorValues(g, `${name}/B`).data;
      const bias = packed.subarray(l.bias!.offset / 4, (l.bias!.offset + l.bias!.length) / 4);
      expect(Array.from(bias)).toEqual([...Array.from(b), ...new Array(4 * oc4 - oc_).fill(0)]);
    }

    const l = layer('dw');
    expect(l.kernel).toEqual([3, 2]);
    const { data: w } = tensorValues(g, 'dw/W');
    const C4 = c4(6);
    const slice = packed.subarray(l.weights!.offset / 4, (l.weights!.offset + l.weights!.length) / 4);
    expect(slice.length).toBe(3 * 2 * C4 * 4);
    for (let ky = 0; ky < 3; ky++)
      for (let kx = 0; kx < 2; kx++)
        for (let c = 0; c < 4 * C4; c++) {
          const v = slice[(ky * 2 + kx) * 4 * C4 + c];
          expect(v, `dw W[${c}][0][${ky}][${kx}]`).toBe(c < 6 ? w[(c * 3 + ky) * 2 + kx] : 0);
        }
  });

  test('the fused heads layer concatenates the four head convs at channel offsets 0, 20, 56, 88', () => {
    const { g, channels } = tinyPoseNet(22);
    const { manifest: m, weights } = convertOnnxBytes(g.bytes(), 't.onnx');
    const packed = new Float32Array(weights.slice().buffer);
    const heads = m.layers[m.layers.length - 1]!;
    const icp = 4 * c4(channels);
    const sources = {
      heatmap: 'heatmap_2',
      offsets: 'offset_2',
      displacementFwd: 'displacement_fwd_2',
      displacementBwd: 'displacement_bwd_2',
    } as const;
    const covered = new Set<number>();
    for (const [head, src] of Object.entries(sources)) {
      const ref = m.heads[head as keyof typeof sources];
      const w = tensorValues(g, `${src}/Conv/W`).data;
      const b = tensorValues(g, `${src}/Conv/B`).data;
      for (let oc = 0; oc < ref.channels; oc++) {
        const out = ref.channelOffset + oc;
        covered.add(out);
        expect(packed[heads.bias!.offset / 4 + out]).toBe(b[oc]);
        for (let ic = 0; ic < channels; ic++) expect(packed[heads.weights!.offset / 4 + ic * 120 + out]).toBe(w[oc * channels + ic]);
      }
    }
    for (let out = 0; out < 120; out++) {
      if (covered.has(out)) continue;
      expect(packed[heads.bias!.offset / 4 + out], `bias gap ${out}`).toBe(0);
      for (let ic = 0; ic < icp; ic++) expect(packed[heads.weights!.offset / 4 + ic * 120 + out]).toBe(0);
    }
  });
});

describe('convert: files', () => {
  test('convertOnnxFile writes model.json + weights.bin beside the folder’s other files, names it after the folder, hashes both, replaces its earlier output', async () => {
    const { g } = tinyPoseNet(23);
    const onnxPath = path.join(tmp, 'tiny.onnx');
    const bytes = g.bytes();
    fs.writeFileSync(onnxPath, bytes);
    const out = path.join(tmp, 'nested', 'my-model');
    fs.mkdirSync(out, { recursive: true });
    fs.writeFileSync(path.join(out, 'notes.txt'), 'mine');
    const logs: string[] = [];
    const m = await convertOnnxFile(onnxPath, out, { log: (l) => logs.push(l) });
    // convert writes its two files and never removes one it did not write.
    expect(fs.readdirSync(out).sort()).toEqual(['model.json', 'notes.txt', 'weights.bin']);
    expect(fs.readFileSync(path.join(out, 'notes.txt'), 'utf8')).toBe('mine');
    expect(fs.readdirSync(path.dirname(out))).toEqual(['my-model']);
    const json = JSON.parse(fs.readFileSync(path.join(out, 'model.json'), 'utf8'));
    expect(json).toEqual(JSON.parse(JSON.stringify(m)));
    const checked = validateManifest(json, 'model.json');
    const bin = fs.readFileSync(path.join(out, 'weights.bin'));
    checkWeightsSize(checked, bin.byteLength, 'weights.bin');
    expect(checked.name).toBe('my-model');
    expect(checked.weights.sha256).toBe(createHash('sha256').update(bin).digest('hex'));
    expect(checked.source).toEqual({
      file: 'tiny.onnx',
      sha256: createHash('sha256').update(bytes).digest('hex'),
      producer: 'posenet-webgpu tests 0.1.0',
    });
    expect(logs.join('\n')).toMatch(/default \(mobilenet\)/);
    // --name wins over the folder name.
    const m2 = await convertOnnxFile(onnxPath, out, { name: 'other', preprocess: 'mobilenet', log: () => {} });
    expect(m2.name).toBe('other');
    expect(m2.preprocess.from).toBe('flag');
  });
});

describe('convert: odd but valid graphs', () => {
  test('a preprocessing node contradicting --preprocess is an error; a matching one is fine', () => {
    const g = new TestGraph(31);
    let x = nhwcInput(g);
    x = g.node('Div', [x, g.constant('d', [], [127.5])]);
    x = g.node('Sub', [x, g.constant('one', [1], [1])]);
    x = g.relu6(g.conv(x, 3, 8, 3, { stride: 8, pads: 'SAME_UPPER', bias: true }));
    g.heads(x, 8);
    const bytes = g.bytes();
    expect(convertOnnxBytes(bytes, 'f.onnx', { preprocess: 'mobilenet' }).manifest.preprocess).toMatchObject({
      kind: 'mobilenet',
      from: 'graph',
    });
    expect(() => convertOnnxBytes(bytes, 'f.onnx', { preprocess: 'resnet' })).toThrow(
      /f\.onnx: --preprocess resnet contradicts the graph's own preprocessing \(mobilenet/,
    );
  });

  test('auto_pad SAME on 1×1 convs and Dropout/Identity in the chain are fused away; an ONNX tensor named "heads" is renamed', async () => {
    const g = new TestGraph(32);
    let x = nhwcInput(g);
    x = g.relu6(g.conv(x, 3, 8, 3, { stride: 4, pads: 'SAME_UPPER', bias: true }));
    x = g.node('Identity', [x]);
    x = g.conv(x, 8, 8, 1, { stride: 2, pads: 'SAME_UPPER', bias: true, name: 'p' });
    x = g.node('Dropout', [x], [], 'drop');
    x = g.node('Relu', [x], [], 'relu', ['heads']);
    g.heads(x, 8);
    const bytes = g.bytes({ metadata: { 'posenet.preprocess': 'mobilenet' } });
    const { manifest: m, weights } = convertOnnxBytes(bytes, 'g.onnx');
    expect(m.layers.map((l) => [l.name, l.kind, l.activation, l.stride[0]])).toEqual([
      ['Conv_0', 'conv', 'relu6', 4],
      ['p', 'pointwise', 'relu', 2],
      ['heads', 'pointwise', 'none', 1],
    ]);
    expect(m.layers.filter((l) => l.output === 'heads').map((l) => l.name)).toEqual(['heads']);
    expect(m.layers[1]!.output).toBe('heads_1');
    expect(m.layers[2]!.input).toBe(m.layers[1]!.output);
    await expectMatchesOrt(bytes, m, weights);
  });

  test('a residual Add whose only fusable operand is the EARLIER conv: that layer moves after the one it adds', async () => {
    const g = new TestGraph(34);
    const x = g.relu(g.conv(nhwcInput(g), 3, 8, 3, { stride: 8, pads: 'SAME_UPPER', bias: true, name: 'stem' }));
    const a = g.conv(x, 8, 12, 1, { bias: true, name: 'a' });
    const b = g.conv(x, 8, 12, 1, { bias: true, name: 'b' }); // read by the Add and by c
    const r = g.relu(g.node('Add', [a, b], [], 'add1'));
    const c = g.conv(b, 12, 12, 1, { bias: true, name: 'c' });
    const y = g.relu(g.node('Add', [c, r], [], 'add2'));
    g.heads(y, 12);
    const bytes = g.bytes({ metadata: { 'posenet.preprocess': 'mobilenet' } });
    const { manifest: m, weights } = convertOnnxBytes(bytes, 'i.onnx');
    expect(m.layers.map((l) => [l.name, l.residual ? m.layers.find((p) => p.output === l.residual)!.name : '-', l.activation])).toEqual([
      ['stem', '-', 'relu'],
      ['b', '-', 'none'],
      ['a', 'b', 'relu'],
      ['c', 'a', 'relu'],
      ['heads', '-', 'none'],
    ]);
    await expectMatchesOrt(bytes, m, weights);
  });

  test('metadata and options: architecture label, output stride checks', () => {
    const { g } = tinyPoseNet(35);
    const plain = g.bytes();
    expect(convertOnnxBytes(plain, 'j.onnx').manifest.architecture).toBe('MobileNetV1');
    expect(convertOnnxBytes(plain, 'j.onnx', { architecture: 'ResNet50' }).manifest).toMatchObject({
      architecture: 'ResNet50',
      preprocess: { kind: 'resnet', from: 'default' },
    });
    expect(convertOnnxBytes(g.bytes({ metadata: { 'posenet.architecture': 'ResNet50' } }), 'j.onnx').manifest.architecture).toBe(
      'ResNet50',
    );
    expect(convertOnnxBytes(plain, 'j.onnx', { outputStride: 8 }).manifest.outputStride).toBe(8);
    expect(() => convertOnnxBytes(plain, 'j.onnx', { outputStride: 16 })).toThrow(
      /^j\.onnx: output stride 16 was asked for but the graph's is 8$/,
    );
    expect(() => convertOnnxBytes(g.bytes({ metadata: { 'posenet.output_stride': '32' } }), 'j.onnx')).toThrow(
      /^j\.onnx: metadata posenet\.output_stride is 32 but the graph's output stride is 8$/,
    );
    expect(() => convertOnnxBytes(g.bytes({ metadata: { 'posenet.preprocess': 'vgg' } }), 'j.onnx')).toThrow(
      /metadata posenet\.preprocess "vgg" is neither mobilenet nor resnet/,
    );
  });

  test('a layout-only graph: heads through NHWC Transpose + NCHW Transpose back keep the converter happy', () => {
    const g = new TestGraph(33);
    let x = nhwcInput(g);
    x = g.relu(g.conv(x, 3, 8, 3, { stride: 8, pads: 'SAME_UPPER', bias: true }));
    const t = g.node('Transpose', [x], [attrInts('perm', [0, 2, 3, 1])]);
    x = g.node('Transpose', [t], [attrInts('perm', [0, 3, 1, 2])]);
    g.heads(x, 8);
    const { manifest: m } = convertOnnxBytes(g.bytes(), 'h.onnx');
    expect(m.layers.map((l) => l.kind)).toEqual(['conv', 'pointwise']);
  });
});
