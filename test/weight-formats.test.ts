/**
 * Weight formats (src/model/weight-format.ts) on the CPU: the half-float encoder, the
 * converter's round trip per format (`--weights f32|f16|int8`), and manifests of each
 * format that the validator must refuse. The GPU side (every kernel variant decoding
 * f16 and int8) is in test/kernels.test.ts; whole-model keypoints in
 * test/weight-formats-gpu.test.ts.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { c4 } from '../src/model/layout.ts';
import type { Layer, Manifest } from '../src/model/manifest.ts';
import { checkWeightsSize, checkWeightsValues, ManifestError, validateManifest } from '../src/model/validate.ts';
import {
  DEFAULT_WEIGHT_FORMAT,
  decodeWeights,
  formatFolder,
  fromHalfBits,
  toHalfBits,
  WEIGHT_BYTES,
  type WeightFormat,
} from '../src/model/weight-format.ts';
import { DEFAULT_MODEL_NAME } from '../src/default-weights.ts';
import { defaultWeightFiles } from '../tools/build-lib.ts';
import { convertOnnxBytes } from '../tools/lib/convert.ts';
import { repoRoot } from './support/browser.ts';
import { tinyPoseNet } from './support/onnx-graphs.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'weight-formats-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('float16 encoding', () => {
  test('exact values, rounding to nearest even, subnormals, overflow', () => {
    const cases: [number, number][] = [
      [0, 0x0000],
      [-0, 0x8000],
      [1, 0x3c00],
      [-2, 0xc000],
      [65504, 0x7bff],
      [2 ** -14, 0x0400], // smallest normal
      [2 ** -24, 0x0001], // smallest subnormal
      [2 ** -26, 0x0000], // below half the smallest subnormal: 0
      [0.1, 0x2e66],
      [1 + 2 ** -11, 0x3c00], // a tie: to even (down)
      [1 + 3 * 2 ** -11, 0x3c02], // a tie: to even (up)
      [65520, 0x7c00], // rounds past the largest half: infinity
    ];
    for (const [v, bits] of cases) expect(toHalfBits(v), `${v}`).toBe(bits);
    for (const [v, bits] of cases.slice(0, 7)) expect(fromHalfBits(bits), `0x${bits.toString(16)}`).toBe(v);
    expect(fromHalfBits(0x7e00)).toBeNaN();
  });
});

/** The tiny PoseNet of the converter tests, converted in each format. */
function convertAll() {
  const { g } = tinyPoseNet(7);
  const bytes = g.bytes();
  const out = {} as Record<WeightFormat, { manifest: Manifest; weights: Uint8Array }>;
  for (const format of ['f32', 'f16', 'int8'] as const)
    out[format] = convertOnnxBytes(bytes, 'tiny.onnx', { weights: format, preprocess: 'mobilenet' });
  return out;
}

const floatsAt = (bin: Uint8Array, ref: { offset: number; length: number }) =>
  new Float32Array(bin.buffer.slice(bin.byteOffset + ref.offset, bin.byteOffset + ref.offset + ref.length));

describe('convert --weights: round trip per format', () => {
  const all = convertAll();
  const f32 = all.f32;

  test('each manifest records its format, validates, and its weights take 4, 2 or 1 bytes', () => {
    for (const format of ['f32', 'f16', 'int8'] as const) {
      const { manifest, weights } = all[format];
      expect(manifest.weights.format).toBe(format);
      expect(validateManifest(JSON.parse(JSON.stringify(manifest)), 'x')).toEqual(manifest);
      expect(weights.byteLength).toBe(manifest.weights.bytes);
      manifest.layers.forEach((l, i) => {
        const ref = f32.manifest.layers[i]!;
        if (!l.weights) return;
        expect(l.weights.length, l.name).toBe((ref.weights!.length / 4) * WEIGHT_BYTES[format]);
        expect(l.bias!.length).toBe(ref.bias!.length);
        expect(l.scales !== undefined, `${l.name} scales`).toBe(format === 'int8');
      });
    }
    // The tiny model is mostly 16-byte-aligned biases; a real one (npm run weights) is 50% and 26%.
    expect(all.f16.weights.byteLength).toBeLessThan(f32.weights.byteLength);
    expect(all.int8.weights.byteLength).toBeLessThan(all.f16.weights.byteLength);
  });

  test('decoded weights are within the format precision of f32 (f16: 2^-11 relative; int8: scale / 254), biases bit for bit', () => {
    for (const format of ['f16', 'int8'] as const) {
      const { manifest, weights } = all[format];
      for (const [i, l] of manifest.layers.entries()) {
        if (!l.weights) continue;
        const ref = f32.manifest.layers[i]!;
        const exact = floatsAt(f32.weights, ref.weights!);
        const scales = l.scales ? floatsAt(weights, l.scales) : undefined;
        const got = decodeWeights(format, weights.subarray(l.weights.offset, l.weights.offset + l.weights.length), scales);
        const channels = 4 * c4(l.outChannels);
        if (scales) {
          // Each scale is its output channel's largest |w| (padded channels 0).
          const max = new Float32Array(channels);
          exact.forEach((v, k) => {
            max[k % channels] = Math.max(max[k % channels]!, Math.abs(v));
          });
          expect([...scales], `${l.name} scales`).toEqual([...max]);
        }
        let worst = 0;
        exact.forEach((v, k) => {
          const bound = format === 'f16' ? Math.abs(v) * 2 ** -11 + 2 ** -25 : scales![k % channels]! / 254;
          const off = Math.abs(got[k]! - v);
          if (bound > 0) worst = Math.max(worst, off / bound);
          if (off > bound) expect.fail(`${format} ${l.name} weight ${k}: ${got[k]} for ${v} (bound ${bound})`);
        });
        expect(worst, `${format} ${l.name}: the rounding is not nothing`).toBeGreaterThan(0.1);
        expect([...floatsAt(weights, l.bias!)], `${format} ${l.name} bias`).toEqual([...floatsAt(f32.weights, ref.bias!)]);
      }
    }
  });

  test('f16 refuses a weight beyond ±65504, naming the node', () => {
    const { g } = tinyPoseNet(5);
    // The first conv's weights (f32 holds them; f16 cannot): 1e6 each, before batch-norm folding.
    g.inits = g.inits.filter((t) => t.name !== 'Conv2d_0/W');
    g.constant('Conv2d_0/W', [8, 3, 3, 3], new Array(8 * 3 * 3 * 3).fill(1e6));
    expect(() => convertOnnxBytes(g.bytes(), 'b.onnx', { preprocess: 'resnet' })).not.toThrow();
    expect(() => convertOnnxBytes(g.bytes(), 'b.onnx', { preprocess: 'resnet', weights: 'f16' })).toThrow(
      /^b\.onnx: node "Conv2d_0" \(Conv\): f16 weights: weight \d+ is [\d.]+, beyond float16's range \(±65504\) \(after folding node "BatchNormalization_0" \(BatchNormalization\)\)$/,
    );
  });

  test('npm run convert -- --weights int4 is refused in one line', () => {
    const r = spawnSync('npx', ['tsx', 'tools/convert.ts', 'x.onnx', '--out', path.join(tmp, 'o'), '--weights', 'int4'], {
      cwd: repoRoot,
      encoding: 'utf8',
    });
    expect(r.status).toBe(1);
    expect(
      r.stderr
        .trim()
        .split('\n')
        .filter((l) => !l.startsWith('npm warn')),
    ).toEqual(['convert: --weights must be one of f32, f16, int8, got "int4"']);
    expect(fs.existsSync(path.join(tmp, 'o'))).toBe(false);
  });
});

describe('manifests of each format that are refused', () => {
  const all = convertAll();
  const SRC = 'weights/x/model.json';
  const mutated = (format: WeightFormat, mutate: (m: Manifest, layer: Layer) => void) => {
    const m = JSON.parse(JSON.stringify(all[format].manifest)) as Manifest;
    mutate(m, m.layers.find((l) => l.name === 'Conv2d_1_pointwise')!);
    return () => validateManifest(m, SRC);
  };

  test.each<[string, WeightFormat, (m: Manifest, l: Layer) => void, RegExp]>([
    [
      'an unknown format',
      'f32',
      (m) => {
        (m.weights as { format: string }).format = 'f8';
      },
      /^weights\/x\/model\.json: weights\.format must be one of f32, f16, int8, got "f8"$/,
    ],
    [
      'a format that is not a string',
      'f16',
      (m) => {
        (m.weights as { format: unknown }).format = 2;
      },
      /: weights\.format must be one of f32, f16, int8, got 2$/,
    ],
    [
      'f16 weights with the length f32 would have',
      'f16',
      (_, l) => {
        l.weights!.length *= 2;
      },
      /: layer "Conv2d_1_pointwise" \(pointwise\): weights\.length 512 does not match 8→16 f16 packed \(256 bytes\)$/,
    ],
    [
      'an f32 manifest relabelled int8 (weights too long, no scales)',
      'f32',
      (m) => {
        m.weights.format = 'int8';
      },
      /: layer "Conv2d_0" \(conv\): weights\.length \d+ does not match 3×3 3→8 int8 packed \(\d+ bytes\)$/,
    ],
    [
      'int8 weights without scales',
      'int8',
      (_, l) => {
        delete l.scales;
      },
      /: layer "Conv2d_1_pointwise" \(pointwise\): scales must be an object, got undefined$/,
    ],
    [
      'scales of the wrong length',
      'int8',
      (_, l) => {
        l.scales!.length = 32;
      },
      /: layer "Conv2d_1_pointwise" \(pointwise\): scales\.length 32 does not match scales 16 packed \(64 bytes\)$/,
    ],
    [
      'scales overlapping the bias',
      'int8',
      (_, l) => {
        l.scales!.offset = l.bias!.offset;
      },
      /scales \[\d+, \d+\) overlaps layer "Conv2d_1_pointwise" bias|bias \[\d+, \d+\) overlaps layer "Conv2d_1_pointwise" scales/,
    ],
    [
      'scales on f16 weights',
      'f16',
      (_, l) => {
        l.scales = { offset: 0, length: 64 };
      },
      /: layer "Conv2d_1_pointwise" \(pointwise\): has scales, which only int8 weights have \(weights\.format is f16\)$/,
    ],
  ])('%s', (_, format, mutate, message) => {
    const run = mutated(format, mutate);
    expect(run).toThrow(ManifestError);
    expect(run).toThrow(message);
  });

  test('a weights file of the wrong size names the file, both sizes and the format', () => {
    const m = all.f16.manifest;
    expect(() => checkWeightsSize(m, m.weights.bytes * 2, 'weights/x-f16/weights.bin')).toThrow(
      new ManifestError(
        `weights/x-f16/weights.bin: weights.bin is ${m.weights.bytes * 2} bytes, the manifest says weights.bytes = ${m.weights.bytes} (f16 weights)`,
      ),
    );
  });

  test('a NaN half in f16 weights and a negative int8 scale are refused, naming layer and element', () => {
    const f16 = all.f16;
    const bin = f16.weights.slice();
    const l = f16.manifest.layers.find((x) => x.name === 'Conv2d_1_pointwise')!;
    new DataView(bin.buffer).setUint16(l.weights!.offset + 2 * 5, 0x7e00, true);
    expect(() => checkWeightsValues(f16.manifest, bin.buffer, 'w.bin')).toThrow(
      new ManifestError(
        `w.bin: layer "Conv2d_1_pointwise" (pointwise): weights element 5 (byte ${l.weights!.offset + 10} of weights.bin) is NaN; weights must be finite`,
      ),
    );
    const int8 = all.int8;
    const bin8 = int8.weights.slice();
    const l8 = int8.manifest.layers.find((x) => x.name === 'Conv2d_1_pointwise')!;
    expect(() => checkWeightsValues(int8.manifest, bin8.buffer, 'w.bin')).not.toThrow();
    new DataView(bin8.buffer).setFloat32(l8.scales!.offset + 4, -1, true);
    expect(() => checkWeightsValues(int8.manifest, bin8.buffer, 'w.bin')).toThrow(
      new ManifestError(
        `w.bin: layer "Conv2d_1_pointwise" (pointwise): scales element 1 (byte ${l8.scales!.offset + 4} of weights.bin) is -1; scales must be finite and >= 0`,
      ),
    );
  });
});

describe('the default weight format', () => {
  test('the package and the app carry and open the default format of the default model (npm run weights makes it)', () => {
    expect(DEFAULT_MODEL_NAME).toBe(formatFolder('posenet-mobilenet-v1-075-s16', DEFAULT_WEIGHT_FORMAT));
    // src/default-weights.ts's URL literals (what bundlers and build-lib follow) name that folder.
    const files = [`weights/${DEFAULT_MODEL_NAME}/model.json`, `weights/${DEFAULT_MODEL_NAME}/weights.bin`];
    expect(defaultWeightFiles()).toEqual(files);
    const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { files: string[] };
    for (const f of files) expect(pkg.files, 'package.json files').toContain(f);
    const manifest = JSON.parse(fs.readFileSync(path.join(repoRoot, files[0]!), 'utf8')) as Manifest;
    expect(manifest.weights.format).toBe(DEFAULT_WEIGHT_FORMAT);
    expect(manifest.name).toBe(DEFAULT_MODEL_NAME);
  });
});
