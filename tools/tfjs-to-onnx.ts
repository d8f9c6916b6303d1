/**
 * tfjs-to-onnx: converts a TF.js graph model of PoseNet to ONNX (see tools/lib/tfjs-to-onnx.ts).
 *
 *   npm run tfjs-to-onnx -- <model.json> [--out <file.onnx>] [--architecture MobileNetV1|ResNet50]
 *                           [--output-stride 8|16|32] [--preprocess mobilenet|resnet] [--all-outputs]
 *
 * Architecture, output stride and preprocessing are inferred from the graph unless given.
 * `--all-outputs` exports every graph output under its TF name instead of the four PoseNet heads.
 * Paths are relative to the folder the command was typed in. --out is checked before the
 * work (a folder, an unwritable place or a file that is not an ONNX of ours is refused)
 * and written through a temporary file and a rename, so an error leaves no output.
 * Errors print one line naming the file / node and exit with status 1.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import type { Architecture } from '../src/model/manifest.ts';
import { runCli, userPath } from './lib/cli.ts';
import { exportTfjsToOnnxFile, type ConvertOptions, type PreprocessKind } from './lib/tfjs-to-onnx.ts';

const USAGE =
  'usage: npm run tfjs-to-onnx -- <model.json> [--out <file.onnx>] [--architecture MobileNetV1|ResNet50] ' +
  '[--output-stride 8|16|32] [--preprocess mobilenet|resnet] [--all-outputs]';

class UsageError extends Error {}

interface Args {
  input: string;
  out: string;
  options: ConvertOptions;
}

export function parseArgs(argv: string[]): Args {
  let input: string | undefined;
  let out: string | undefined;
  const options: ConvertOptions = {};
  const value = (i: number, flag: string): string => {
    const v = argv[i + 1];
    if (v === undefined || v.startsWith('--')) throw new UsageError(`${flag} needs a value`);
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const [flag, inline] =
      a.startsWith('--') && a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const take = (): string => {
      if (inline !== undefined) return inline;
      const v = value(i, flag);
      i++;
      return v;
    };
    switch (flag) {
      case '--out':
      case '-o':
        out = take();
        break;
      case '--architecture': {
        const v = take();
        const known: Architecture[] = ['MobileNetV1', 'ResNet50'];
        const match = known.find((k) => k.toLowerCase() === v.toLowerCase());
        if (!match) throw new UsageError(`--architecture must be MobileNetV1 or ResNet50, not "${v}"`);
        options.architecture = match;
        break;
      }
      case '--output-stride': {
        const v = take();
        const n = Number(v);
        if (![8, 16, 32].includes(n)) throw new UsageError(`--output-stride must be 8, 16 or 32, not "${v}"`);
        options.outputStride = n;
        break;
      }
      case '--preprocess': {
        const v = take();
        if (v !== 'mobilenet' && v !== 'resnet') throw new UsageError(`--preprocess must be mobilenet or resnet, not "${v}"`);
        options.preprocess = v as PreprocessKind;
        break;
      }
      case '--all-outputs':
        options.outputs = 'all';
        break;
      case '--help':
      case '-h':
        throw new UsageError('');
      default:
        if (a.startsWith('-')) throw new UsageError(`unknown option ${a}`);
        if (input !== undefined) throw new UsageError(`one model.json expected, got "${input}" and "${a}"`);
        input = a;
    }
  }
  if (input === undefined) throw new UsageError('no model.json given');
  out ??= path.join(path.dirname(input), `${path.basename(input, path.extname(input))}.onnx`);
  return { input, out, options };
}

export async function main(argv: string[]): Promise<number> {
  let args: Args;
  try {
    args = parseArgs(argv);
  } catch (e) {
    if (e instanceof UsageError) {
      if (e.message) console.error(`tfjs-to-onnx: ${e.message}`);
      console.error(USAGE);
      return e.message ? 2 : 0;
    }
    throw e;
  }
  const r = await exportTfjsToOnnxFile(userPath(args.input), userPath(args.out), args.options, { input: args.input, out: args.out });
  for (const w of r.warnings) console.warn(`tfjs-to-onnx: warning: ${w}`);
  const facts = r.architecture
    ? `${r.architecture}, output stride ${r.outputStride}${r.inferred.outputStride ? ' (from the graph)' : ''}, preprocess ${r.preprocess}` +
      `${r.inferred.preprocess ? ' (inferred)' : ''}; `
    : '';
  console.log(
    `tfjs-to-onnx: ${args.input} -> ${args.out} (${r.nodeCount} ONNX nodes, ${(r.bytes.byteLength / 1e6).toFixed(2)} MB; ${facts}` +
      `outputs ${r.outputs.map((o) => `${o.name}[${o.channels}]`).join(', ')})`,
  );
  return 0;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  runCli('tfjs-to-onnx', () => main(process.argv.slice(2)));
}
