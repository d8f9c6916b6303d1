/**
 * ONNX PoseNet → weights/<name>/model.json + weights.bin (see tools/lib/convert.ts).
 *
 *   npm run convert -- <model.onnx> --out <dir> [--preprocess mobilenet|resnet] [--name <name>]
 *
 * On failure it prints one line naming the file and the node, op or tensor at fault, exits
 * with status 1 and leaves nothing at --out (an existing --out is replaced only on success).
 */
import { parseArgs } from 'node:util';
import { convertOnnxFile, ConvertError, type PreprocessName } from './lib/convert.ts';

const USAGE = 'usage: npm run convert -- <model.onnx> --out <dir> [--preprocess mobilenet|resnet] [--name <name>]';

function fail(message: string): never {
  process.stderr.write(`convert: ${message}\n`);
  process.exit(1);
}

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: {
        out: { type: 'string', short: 'o' },
        preprocess: { type: 'string' },
        name: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    fail(`${(e as Error).message}; ${USAGE}`);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (positionals.length !== 1) fail(`expected one ONNX file, got ${positionals.length}; ${USAGE}`);
  const onnxPath = positionals[0]!;
  if (!values.out) fail(`missing --out <dir> (where model.json and weights.bin go); ${USAGE}`);
  const preprocess = values.preprocess;
  if (preprocess !== undefined && preprocess !== 'mobilenet' && preprocess !== 'resnet') {
    fail(`--preprocess must be mobilenet or resnet, got "${preprocess}"`);
  }
  const started = performance.now();
  try {
    const m = await convertOnnxFile(onnxPath, values.out, {
      ...(preprocess ? { preprocess: preprocess as PreprocessName } : {}),
      ...(values.name ? { name: values.name } : {}),
    });
    const counts = new Map<string, number>();
    for (const l of m.layers) counts.set(l.kind, (counts.get(l.kind) ?? 0) + 1);
    const kinds = [...counts].map(([k, n]) => `${n} ${k}`).join(', ');
    process.stdout.write(
      `convert: ${onnxPath} → ${values.out}/model.json + ${m.weights.file} ` +
        `(${m.name}: ${m.architecture}, output stride ${m.outputStride}, input ${m.input.sourceLayout}, ` +
        `preprocess ${m.preprocess.kind} from ${m.preprocess.from}; ${m.layers.length} layers: ${kinds}; ` +
        `${(m.weights.bytes / 1048576).toFixed(2)} MiB; ${((performance.now() - started) / 1000).toFixed(1)} s)\n`,
    );
  } catch (e) {
    if (e instanceof ConvertError) fail(e.message);
    fail(`${onnxPath}: ${(e as Error).stack ?? e}`);
  }
}

await main();
