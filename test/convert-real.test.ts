/**
 * The real model made by `npm run weights` (postinstall): weights/posenet-mobilenet-v1-075-s16
 * converted from weights/posenet-mobilenet-v1-075-s16.onnx. Its manifest must describe
 * PoseNet's MobileNetV1 0.75 at output stride 16, and weights.bin must hold the ONNX
 * initializers in the packed layout of manifest.ts (checked here with the formula written
 * out again, not with the converter's code). If the files are missing the tests FAIL.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { c4 } from '../src/model/layout.ts';
import { HEAD_CHANNELS, HEAD_NAMES, type Layer, type Manifest } from '../src/model/manifest.ts';
import { checkWeightsSize, validateManifest } from '../src/model/validate.ts';
import { decodeModel, toNumber, type TensorProto } from '../tools/lib/onnx.ts';
import { compareWithOrt } from './support/onnx-graphs.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const NAME = 'posenet-mobilenet-v1-075-s16';
const dir = path.join(root, 'weights', NAME);
const onnxPath = path.join(root, 'weights', `${NAME}.onnx`);

function load(): { manifest: Manifest; bin: Buffer; onnx: Buffer } {
  for (const f of [path.join(dir, 'model.json'), path.join(dir, 'weights.bin'), onnxPath]) {
    if (!fs.existsSync(f)) {
      throw new Error(`${path.relative(root, f)} is missing: run \`npm run weights\` (npm install / npm ci run it as postinstall)`);
    }
  }
  const manifest = validateManifest(JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8')), `weights/${NAME}/model.json`);
  const bin = fs.readFileSync(path.join(dir, 'weights.bin'));
  checkWeightsSize(manifest, bin.byteLength, `weights/${NAME}/weights.bin`);
  return { manifest, bin, onnx: fs.readFileSync(onnxPath) };
}

function floats(t: TensorProto): Float32Array {
  if (t.floatData?.length) return Float32Array.from(t.floatData);
  return new Float32Array(Uint8Array.from(t.rawData!).buffer);
}

describe(`the real model: weights/${NAME}`, () => {
  test('the manifest is PoseNet MobileNetV1 0.75 at output stride 16, made from the ONNX beside it', () => {
    const { manifest: m, bin, onnx } = load();
    expect(m.name).toBe(NAME);
    expect(m.architecture).toBe('MobileNetV1');
    expect(m.outputStride).toBe(16);
    expect(m.source.sha256).toBe(createHash('sha256').update(onnx).digest('hex'));
    expect(m.weights.sha256).toBe(createHash('sha256').update(bin).digest('hex'));
    expect(m.preprocess).toMatchObject({ kind: 'mobilenet', mean: [127.5, 127.5, 127.5] });
    // conv0 + 13 depthwise-separable blocks (PoseNet's 14 "conv layers"), then the fused heads.
    expect(m.layers.map((l) => l.kind)).toEqual(['conv', ...Array(13).fill(['depthwise', 'pointwise']).flat(), 'pointwise']);
    const body = m.layers.slice(0, -1);
    expect(body[0]!).toMatchObject({ kernel: [3, 3], stride: [2, 2], inChannels: 3, outChannels: 24, activation: 'relu6' });
    expect(body.map((l) => l.outChannels)).toEqual([24, 24, 48, 48, 96, 96, 96, 96, 192, 192, 192, 192, 384, ...Array(14).fill(384)]);
    expect(body.every((l) => l.activation === 'relu6')).toBe(true);
    expect(body.filter((l) => l.kind === 'depthwise').every((l) => l.kernel.join() === '3,3')).toBe(true);
    const strides = body.reduce((s, l) => s * l.stride[0], 1);
    expect(strides).toBe(16);
    const heads = m.layers[m.layers.length - 1]!;
    expect(heads).toMatchObject({ name: 'heads', output: 'heads', inChannels: 384, outChannels: 120, activation: 'none' });
    for (const h of HEAD_NAMES) expect(m.heads[h]).toMatchObject({ tensor: 'heads', channels: HEAD_CHANNELS[h] });
    expect(
      Object.values(m.heads)
        .map((h) => h.sourceName)
        .sort(),
    ).toEqual(['displacement_bwd_2', 'displacement_fwd_2', 'heatmap_2', 'offset_2']);
  });

  test('weights.bin holds one depthwise and one pointwise layer exactly as the ONNX initializers, packed', () => {
    const { manifest: m, bin, onnx } = load();
    const model = decodeModel(onnx);
    const graph = model.graph!;
    const inits = new Map((graph.initializer ?? []).map((t) => [t.name ?? '', t]));
    const packed = new Float32Array(Uint8Array.from(bin).buffer);
    const checkLayer = (layer: Layer): void => {
      const node = (graph.node ?? []).find((n) => n.name === layer.name && n.opType === 'Conv');
      expect(node, `ONNX Conv node "${layer.name}"`).toBeDefined();
      const wT = inits.get(node!.input![1]!)!;
      const w = floats(wT);
      const dims = (wT.dims ?? []).map((d) => toNumber(d));
      const bias = node!.input![2] ? floats(inits.get(node!.input![2])!) : new Float32Array(layer.outChannels);
      const [kh, kw] = layer.kernel;
      expect(dims).toEqual(layer.kind === 'depthwise' ? [layer.outChannels, 1, kh, kw] : [layer.outChannels, layer.inChannels, kh, kw]);
      const base = layer.weights!.offset / 4;
      let checked = 0;
      if (layer.kind === 'depthwise') {
        const C4 = c4(layer.outChannels);
        for (let ky = 0; ky < kh; ky++)
          for (let kx = 0; kx < kw; kx++)
            for (let c = 0; c < layer.outChannels; c++) {
              if (packed[base + (ky * kw + kx) * 4 * C4 + c] !== w[(c * kh + ky) * kw + kx]) {
                throw new Error(
                  `${layer.name}: packed W[${c}][0][${ky}][${kx}] = ${packed[base + (ky * kw + kx) * 4 * C4 + c]}, ONNX ${w[(c * kh + ky) * kw + kx]}`,
                );
              }
              checked++;
            }
      } else {
        const icp = 4 * c4(layer.inChannels);
        const oc4 = c4(layer.outChannels);
        for (let oc = 0; oc < layer.outChannels; oc++)
          for (let ic = 0; ic < layer.inChannels; ic++)
            for (let ky = 0; ky < kh; ky++)
              for (let kx = 0; kx < kw; kx++) {
                const got = packed[base + ((ky * kw + kx) * icp + ic) * oc4 * 4 + oc];
                const want = w[((oc * layer.inChannels + ic) * kh + ky) * kw + kx];
                if (got !== want) throw new Error(`${layer.name}: packed W[${oc}][${ic}][${ky}][${kx}] = ${got}, ONNX ${want}`);
                checked++;
              }
      }
      expect(checked).toBe(w.length);
      expect(Array.from(packed.subarray(layer.bias!.offset / 4, layer.bias!.offset / 4 + layer.outChannels))).toEqual(Array.from(bias));
    };
    const dw = m.layers.filter((l) => l.kind === 'depthwise')[4]!;
    const pw = m.layers.filter((l) => l.kind === 'pointwise')[6]!;
    expect(dw.name).toMatch(/Conv2d_5_depthwise/);
    expect(pw.name).toMatch(/Conv2d_7_pointwise/);
    checkLayer(dw);
    checkLayer(pw);
  });

  test('the manifest on the CPU matches onnxruntime on the ONNX at 129×129 (1e-3 of the heads range)', async () => {
    const { manifest: m, bin, onnx } = load();
    const r = await compareWithOrt(new Uint8Array(onnx), m, new Uint8Array(bin), {
      height: 129,
      width: 129,
      seed: 9,
      tol: (range) => ({ abs: 1e-3 * range, rel: 1e-3 }),
    });
    expect(r.problems).toEqual([]);
    expect(r.range[1] - r.range[0]).toBeGreaterThan(1);
  });
});
