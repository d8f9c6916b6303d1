/**
 * PoseNet architectures with seeded random weights (tools/lib/posenet-onnx.ts), exported to
 * ONNX and converted like any user model: for the GPU parity tests and the benchmarks of
 * ResNet50 and stride-8 MobileNets, whose real checkpoints cannot be downloaded here. Their
 * poses mean nothing; their speed and their agreement with ONNX Runtime do.
 *
 * The ONNX files take already-normalised input (preprocessing recorded as metadata), so a
 * test can feed ONNX Runtime the exact tensor the GPU preprocessed.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import type { Manifest } from '../../src/model/manifest.ts';
import { convertOnnxFile } from './convert.ts';
import { encodeModel } from './onnx.ts';
import { buildMobileNetV1, buildResNet50 } from './posenet-onnx.ts';

export interface SyntheticModel {
  name: string;
  architecture: 'MobileNetV1' | 'ResNet50';
  outputStride: 8 | 16 | 32;
  multiplier?: number;
  seed: number;
}

export const SYNTHETIC_MODELS: readonly SyntheticModel[] = [
  { name: 'random-resnet50-s16', architecture: 'ResNet50', outputStride: 16, seed: 50 },
  { name: 'random-resnet50-s32', architecture: 'ResNet50', outputStride: 32, seed: 51 },
  { name: 'random-mobilenet-v1-100-s8', architecture: 'MobileNetV1', outputStride: 8, multiplier: 1.0, seed: 100 },
  { name: 'random-mobilenet-v1-050-s8', architecture: 'MobileNetV1', outputStride: 8, multiplier: 0.5, seed: 101 },
];

const here = path.dirname(fileURLToPath(import.meta.url));

/** Hash of the generator and converter code plus the model's spec: a rebuild trigger. */
function stamp(model: SyntheticModel): string {
  const h = crypto.createHash('sha256').update(JSON.stringify(model));
  const files = [
    'posenet-onnx.ts',
    'convert.ts',
    'onnx.ts',
    'synthetic-models.ts',
    ...fs.readdirSync(path.join(here, 'convert')).map((f) => `convert/${f}`),
  ];
  for (const f of files.sort()) h.update(fs.readFileSync(path.join(here, f)));
  h.update(fs.readFileSync(path.join(here, '../../src/model/layout.ts')));
  return h.digest('hex');
}

/**
 * Makes `<dir>/<name>.onnx` and `<dir>/<name>/` (model.json + weights.bin) unless they are
 * already there for the current code. Returns the ONNX path and the manifest.
 */
export async function ensureSyntheticModel(model: SyntheticModel, dir: string, log: (line: string) => void = () => {}) {
  const onnxPath = path.join(dir, `${model.name}.onnx`);
  const outDir = path.join(dir, model.name);
  const stampPath = path.join(dir, `${model.name}.stamp`);
  const want = stamp(model);
  const manifestPath = path.join(outDir, 'model.json');
  if (fs.existsSync(stampPath) && fs.readFileSync(stampPath, 'utf8') === want && fs.existsSync(onnxPath) && fs.existsSync(manifestPath)) {
    return { onnxPath, outDir, manifest: JSON.parse(fs.readFileSync(manifestPath, 'utf8')) as Manifest };
  }
  fs.mkdirSync(dir, { recursive: true });
  const proto =
    model.architecture === 'ResNet50'
      ? buildResNet50({ outputStride: model.outputStride, seed: model.seed, preprocess: 'metadata' })
      : buildMobileNetV1({ multiplier: model.multiplier ?? 1, outputStride: model.outputStride, seed: model.seed, preprocess: 'metadata' });
  const tmp = `${onnxPath}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, encodeModel(proto));
  fs.renameSync(tmp, onnxPath);
  const manifest = await convertOnnxFile(onnxPath, outDir, { name: model.name, log });
  fs.writeFileSync(stampPath, want);
  log(`made ${path.relative(process.cwd(), outDir)} (${model.architecture}, output stride ${model.outputStride}, random weights)`);
  return { onnxPath, outDir, manifest };
}
