/**
 * Writes a PoseNet architecture as ONNX with seeded pseudo-random weights (see
 * tools/lib/posenet-onnx.ts), for tests and benchmarks without the real checkpoints.
 *
 *   npm run make-posenet-onnx -- --arch mobilenet --multiplier 1.0 --stride 8 --seed 1 --out x.onnx
 *   npm run make-posenet-onnx -- --arch resnet50 --stride 16 --out r.onnx [--preprocess graph|metadata|none]
 *
 * --preprocess graph (default) puts the input normalisation in the graph (so the model
 * takes RGB 0..255); metadata / none leave it out (the model takes normalised input) and
 * record it as `posenet.preprocess` metadata or not at all.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { encodeModel } from './lib/onnx.ts';
import { buildMobileNetV1, buildResNet50, type PreprocessPlacement } from './lib/posenet-onnx.ts';

const USAGE =
  'usage: npm run make-posenet-onnx -- --arch mobilenet|resnet50 [--multiplier 0.5|0.75|1.0] [--stride 8|16|32] ' +
  '[--seed N] [--preprocess graph|metadata|none] --out <file.onnx>';

function fail(message: string): never {
  process.stderr.write(`make-posenet-onnx: ${message}\n${USAGE}\n`);
  process.exit(1);
}

let values;
try {
  ({ values } = parseArgs({
    options: {
      arch: { type: 'string', default: 'mobilenet' },
      multiplier: { type: 'string', default: '1.0' },
      stride: { type: 'string', default: '16' },
      seed: { type: 'string', default: '1' },
      preprocess: { type: 'string', default: 'graph' },
      out: { type: 'string' },
    },
  }));
} catch (e) {
  fail((e as Error).message);
}
if (!values.out) fail('missing --out <file.onnx>');
const stride = Number(values.stride);
if (stride !== 8 && stride !== 16 && stride !== 32) fail(`--stride must be 8, 16 or 32, got ${values.stride}`);
const seed = Number(values.seed);
if (!Number.isInteger(seed)) fail(`--seed must be an integer, got ${values.seed}`);
const preprocess = values.preprocess as PreprocessPlacement;
if (!['graph', 'metadata', 'none'].includes(preprocess)) fail(`--preprocess must be graph, metadata or none, got ${values.preprocess}`);

let model;
if (values.arch === 'mobilenet' || values.arch === 'mobilenetv1') {
  const multiplier = Number(values.multiplier);
  if (!(multiplier > 0 && multiplier <= 2)) fail(`--multiplier must be in (0, 2], got ${values.multiplier}`);
  model = buildMobileNetV1({ multiplier, outputStride: stride, seed, preprocess });
} else if (values.arch === 'resnet50' || values.arch === 'resnet') {
  model = buildResNet50({ outputStride: stride, seed, preprocess });
} else {
  fail(`--arch must be mobilenet or resnet50, got ${values.arch}`);
}
const bytes = encodeModel(model);
fs.mkdirSync(path.dirname(path.resolve(values.out)), { recursive: true });
fs.writeFileSync(values.out, bytes);
process.stdout.write(`make-posenet-onnx: wrote ${values.out} (${model.docString}; ${(bytes.byteLength / 1048576).toFixed(1)} MiB)\n`);
