/**
 * The PoseNet architectures of tools/lib/posenet-onnx.ts (seeded random weights) through
 * the converter: the manifest must have the architecture's layers, and the CPU executor on
 * the manifest (packed weights) must match onnxruntime on the original ONNX at the four
 * heads, element by element within 1e-3 of the heads' value range (absolute) or 1e-3
 * relative, at 129×97.
 */
import { describe, expect, test } from 'vitest';
import type { Manifest } from '../src/model/manifest.ts';
import { convertOnnxBytes } from '../tools/lib/convert.ts';
import { encodeModel } from '../tools/lib/onnx.ts';
import { buildMobileNetV1, buildResNet50, mobileNetSpec, RESNET_UNITS, RESNET_WIDTHS } from '../tools/lib/posenet-onnx.ts';
import { compareWithOrt } from './support/onnx-graphs.ts';

const H = 129;
const W = 97;
const tolerance = (range: number) => ({ abs: 1e-3 * range, rel: 1e-3 });

async function checkAgainstOrt(bytes: Uint8Array, m: Manifest, weights: Uint8Array, seed: number, height = H, width = W): Promise<void> {
  const started = performance.now();
  const r = await compareWithOrt(bytes, m, weights, { height, width, seed, tol: tolerance });
  expect(r.problems).toEqual([]);
  // onnxruntime's heads: NHWC at the output stride (SAME padding: ceil(size / stride)).
  const grid = [1, Math.ceil(height / m.outputStride), Math.ceil(width / m.outputStride)];
  expect(r.ortDims).toEqual({
    heatmap: [...grid, 17],
    offsets: [...grid, 34],
    displacementFwd: [...grid, 32],
    displacementBwd: [...grid, 32],
  });
  // Heads of a sane size: not collapsed to a constant, not exploded.
  expect(r.range[1] - r.range[0]).toBeGreaterThan(0.5);
  expect(Math.max(-r.range[0], r.range[1])).toBeLessThan(100);
  console.log(
    `${m.name}: heads range [${r.range[0].toFixed(2)}, ${r.range[1].toFixed(2)}], max |cpu - ort| ${r.maxAbs.toExponential(2)}, compare ${(performance.now() - started).toFixed(0)} ms`,
  );
}

describe('convert: MobileNetV1 from make-posenet-onnx', () => {
  const cases = [
    { multiplier: 1.0, outputStride: 8, preprocess: 'graph', seed: 1 },
    { multiplier: 0.5, outputStride: 8, preprocess: 'metadata', seed: 2 },
  ] as const;
  for (const c of cases) {
    test(`MobileNetV1 ${c.multiplier} stride ${c.outputStride} (preprocessing in ${c.preprocess})`, async () => {
      const bytes = encodeModel(buildMobileNetV1(c));
      const { manifest: m, weights } = convertOnnxBytes(bytes, `mobilenet-${c.multiplier}-s${c.outputStride}.onnx`);
      expect(m.architecture).toBe('MobileNetV1');
      expect(m.outputStride).toBe(c.outputStride);
      expect(m.preprocess).toMatchObject({ kind: 'mobilenet', from: c.preprocess });
      const spec = mobileNetSpec(c.multiplier, c.outputStride);
      const body = m.layers.slice(0, -1);
      expect(
        body.map((l) => ({
          kind: l.kind,
          stride: l.stride[0],
          dilation: l.dilation[0],
          inChannels: l.inChannels,
          outChannels: l.outChannels,
        })),
      ).toEqual(
        spec.map((s) => ({ kind: s.kind, stride: s.stride, dilation: s.dilation, inChannels: s.inChannels, outChannels: s.outChannels })),
      );
      // Output stride 8 (tfjs-models rule): the block that would have gone to stride 16
      // keeps rate 1 and the rate becomes 2; the one that would go to 32 has rate 2, then 4.
      expect(body.filter((l) => l.kind === 'depthwise').map((l) => [l.stride[0], l.dilation[0]])).toEqual([
        [1, 1],
        [2, 1],
        [1, 1],
        [2, 1],
        [1, 1],
        [1, 1],
        [1, 2],
        [1, 2],
        [1, 2],
        [1, 2],
        [1, 2],
        [1, 2],
        [1, 4],
      ]);
      expect(body.every((l) => l.activation === 'relu6')).toBe(true);
      expect(body[0]!.outChannels).toBe(32 * c.multiplier);
      expect(body[body.length - 1]!.outChannels).toBe(1024 * c.multiplier);
      expect(m.layers[m.layers.length - 1]!.inChannels).toBe(1024 * c.multiplier);
      await checkAgainstOrt(bytes, m, weights, c.seed);
    });
  }
});

describe('convert: every MobileNetV1 multiplier and output stride (small input)', () => {
  for (const multiplier of [0.5, 0.75, 1.0]) {
    for (const outputStride of [8, 16, 32] as const) {
      test(`MobileNetV1 ${multiplier} stride ${outputStride} at 65×49`, async () => {
        const bytes = encodeModel(buildMobileNetV1({ multiplier, outputStride, seed: 10 + outputStride }));
        const { manifest: m, weights } = convertOnnxBytes(bytes, `m-${multiplier}-${outputStride}.onnx`);
        expect(m.outputStride).toBe(outputStride);
        const spec = mobileNetSpec(multiplier, outputStride);
        expect(m.layers.slice(0, -1).map((l) => [l.kind, l.stride[0], l.dilation[0], l.outChannels])).toEqual(
          spec.map((s) => [s.kind, s.stride, s.dilation, s.outChannels]),
        );
        await checkAgainstOrt(bytes, m, weights, outputStride, 65, 49);
      });
    }
  }
});

describe('convert: ResNet50 from make-posenet-onnx', () => {
  const cases = [
    { outputStride: 16, preprocess: 'graph', seed: 3 },
    { outputStride: 32, preprocess: 'metadata', seed: 4 },
  ] as const;
  for (const c of cases) {
    test(`ResNet50 stride ${c.outputStride} (preprocessing in ${c.preprocess})`, async () => {
      const bytes = encodeModel(buildResNet50(c));
      const { manifest: m, weights } = convertOnnxBytes(bytes, `resnet50-s${c.outputStride}.onnx`);
      expect(m.architecture).toBe('ResNet50');
      expect(m.outputStride).toBe(c.outputStride);
      expect(m.preprocess).toMatchObject({ kind: 'resnet', from: c.preprocess, mean: [123.15, 115.9, 103.06] });
      const units = RESNET_UNITS.reduce((a, b) => a + b, 0);
      // stem conv, max pool, 3 convs a unit, one projection a stage, heads
      expect(m.layers.length).toBe(2 + 3 * units + RESNET_UNITS.length + 1);
      expect(m.layers.slice(0, 2).map((l) => [l.kind, l.kernel[0], l.stride[0]])).toEqual([
        ['conv', 7, 2],
        ['maxpool', 3, 2],
      ]);
      const withResidual = m.layers.filter((l) => l.residual !== undefined);
      expect(withResidual.length).toBe(units);
      expect(withResidual.every((l) => l.kind === 'pointwise' && l.activation === 'relu')).toBe(true);
      const strided = m.layers.filter((l) => l.kind === 'pointwise' && l.stride[0] === 2);
      expect(strided.length).toBe(c.outputStride === 32 ? 3 : 2); // projection shortcuts of strided stages
      const threeByThree = m.layers.filter((l) => l.kind === 'conv' && l.kernel[0] === 3);
      expect(threeByThree.length).toBe(units);
      const lastStage = threeByThree.slice(-RESNET_UNITS[3]);
      expect(lastStage.map((l) => [l.stride[0], l.dilation[0]])).toEqual(
        c.outputStride === 16
          ? [
              [1, 2],
              [1, 2],
              [1, 2],
            ]
          : [
              [2, 1],
              [1, 1],
              [1, 1],
            ],
      );
      expect(m.layers[m.layers.length - 1]!.inChannels).toBe(4 * RESNET_WIDTHS[3]);
      await checkAgainstOrt(bytes, m, weights, c.seed);
    });
  }
});
