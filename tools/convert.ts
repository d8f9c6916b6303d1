/**
 * ONNX PoseNet → weights/<name>/model.json + weights.bin (see tools/lib/convert.ts).
 *
 *   npm run convert -- <model.onnx> --out <dir> [--preprocess mobilenet|resnet] [--name <name>]
 *                       [--weights f32|f16|int8]
 *
 * --weights picks how weights.bin stores the weights (src/model/weight-format.ts): f32
 * (the default), f16 (half the size) or int8 with per-output-channel scales (a quarter),
 * as TF.js's quantBytes 4/2/1.
 *
 * Paths are relative to the folder the command was typed in. convert writes model.json and
 * weights.bin into <dir> and nothing else; it replaces them only when they are an earlier
 * conversion's, and refuses a <dir> that is a file or holds the input. On failure it
 * prints one line naming the file and the node, op or tensor at fault, exits with status 1
 * and leaves <dir> as it was.
 */
import { parseArgs } from 'node:util';
import { runCli, ToolError, userPath } from './lib/cli.ts';
import { isWeightFormat, WEIGHT_FORMATS } from '../src/model/weight-format.ts';
import { convertOnnxFile, type PreprocessName } from './lib/convert.ts';

const USAGE = 'usage: npm run convert -- <model.onnx> --out <dir> [--preprocess mobilenet|resnet] [--name <name>] [--weights f32|f16|int8]';

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: {
        out: { type: 'string', short: 'o' },
        preprocess: { type: 'string' },
        name: { type: 'string' },
        weights: { type: 'string', short: 'w' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    throw new ToolError(`${(e as Error).message}; ${USAGE}`);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (positionals.length !== 1) throw new ToolError(`expected one ONNX file, got ${positionals.length}; ${USAGE}`);
  const onnxPath = positionals[0]!;
  if (!values.out) throw new ToolError(`missing --out <dir> (where model.json and weights.bin go); ${USAGE}`);
  const preprocess = values.preprocess;
  if (preprocess !== undefined && preprocess !== 'mobilenet' && preprocess !== 'resnet') {
    throw new ToolError(`--preprocess must be mobilenet or resnet, got "${preprocess}"`);
  }
  const weights = values.weights ?? 'f32';
  if (!isWeightFormat(weights)) throw new ToolError(`--weights must be one of ${WEIGHT_FORMATS.join(', ')}, got "${weights}"`);
  if (values.name !== undefined && !/^[^\n\r]{1,200}$/.test(values.name))
    throw new ToolError('--name must be 1 to 200 characters on one line');
  const started = performance.now();
  const m = await convertOnnxFile(
    userPath(onnxPath),
    userPath(values.out),
    {
      ...(preprocess ? { preprocess: preprocess as PreprocessName } : {}),
      ...(values.name ? { name: values.name } : {}),
      weights,
      log: (line) => process.stderr.write(`convert: ${line}\n`),
    },
    { input: onnxPath, out: values.out },
  );
  const counts = new Map<string, number>();
  for (const l of m.layers) counts.set(l.kind, (counts.get(l.kind) ?? 0) + 1);
  const kinds = [...counts].map(([k, n]) => `${n} ${k}`).join(', ');
  process.stdout.write(
    `convert: ${onnxPath} → ${values.out}/model.json + ${m.weights.file} ` +
      `(${m.name}: ${m.architecture}, output stride ${m.outputStride}, input ${m.input.sourceLayout}, ` +
      `preprocess ${m.preprocess.kind} from ${m.preprocess.from}; ${m.layers.length} layers: ${kinds}; ${weights} weights, ` +
      `${(m.weights.bytes / 1048576).toFixed(2)} MiB; ${((performance.now() - started) / 1000).toFixed(1)} s)\n`,
  );
}

runCli('convert', main);
