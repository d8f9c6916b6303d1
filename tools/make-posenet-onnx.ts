/**
 * Writes a PoseNet architecture as ONNX with seeded pseudo-random weights (see
 * tools/lib/posenet-onnx.ts), for tests and benchmarks without the real checkpoints.
 *
 *   npm run make-posenet-onnx -- --arch mobilenet --multiplier 1.0 --stride 8 --seed 1 --out x.onnx
 *   npm run make-posenet-onnx -- --arch resnet50 --stride 16 --out r.onnx [--preprocess graph|metadata|none]
 *
 * --preprocess graph (default) puts the input normalisation in the graph (so the model
 * takes RGB 0..255); metadata / none leave it out (the model takes normalised input) and
 * record it as `posenet.preprocess` metadata or not at all. --out (relative to the folder
 * the command was typed in) is written through a temporary file and a rename, and never
 * replaces a file that is not an ONNX of this project.
 */
import { parseArgs } from 'node:util';
import { OutputFile, runCli, ToolError, userPath } from './lib/cli.ts';
import { encodeModel } from './lib/onnx.ts';
import { buildMobileNetV1, buildResNet50, type PreprocessPlacement } from './lib/posenet-onnx.ts';
import { isOurOnnx } from './lib/tfjs-to-onnx.ts';

const USAGE =
  'usage: npm run make-posenet-onnx -- --arch mobilenet|resnet50 [--multiplier 0.5|0.75|1.0] [--stride 8|16|32] ' +
  '[--seed N] [--preprocess graph|metadata|none] --out <file.onnx>';

async function main(): Promise<void> {
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
    throw new ToolError(`${(e as Error).message}; ${USAGE}`);
  }
  if (!values.out) throw new ToolError(`missing --out <file.onnx>; ${USAGE}`);
  const stride = Number(values.stride);
  if (stride !== 8 && stride !== 16 && stride !== 32) throw new ToolError(`--stride must be 8, 16 or 32, got ${values.stride}`);
  const seed = Number(values.seed);
  if (!Number.isInteger(seed)) throw new ToolError(`--seed must be an integer, got ${values.seed}`);
  const preprocess = values.preprocess as PreprocessPlacement;
  if (!['graph', 'metadata', 'none'].includes(preprocess)) {
    throw new ToolError(`--preprocess must be graph, metadata or none, got ${values.preprocess}`);
  }
  const out = OutputFile.reserve(userPath(values.out), values.out, {
    what: '--out',
    isOurs: isOurOnnx,
    notOursReason: 'is not an ONNX written by posenet-webgpu',
  });
  let model;
  if (values.arch === 'mobilenet' || values.arch === 'mobilenetv1') {
    const multiplier = Number(values.multiplier);
    if (!(multiplier > 0 && multiplier <= 2)) throw new ToolError(`--multiplier must be in (0, 2], got ${values.multiplier}`);
    model = buildMobileNetV1({ multiplier, outputStride: stride, seed, preprocess });
  } else if (values.arch === 'resnet50' || values.arch === 'resnet') {
    model = buildResNet50({ outputStride: stride, seed, preprocess });
  } else {
    throw new ToolError(`--arch must be mobilenet or resnet50, got ${values.arch}`);
  }
  const bytes = encodeModel(model);
  out.write(bytes);
  process.stdout.write(`make-posenet-onnx: wrote ${values.out} (${model.docString}; ${(bytes.byteLength / 1048576).toFixed(1)} MiB)\n`);
}

runCli('make-posenet-onnx', main);
