/**
 * `npm run weights-report -- --data <coco dir> [--model <name>] [--formats f32,f16,int8]
 *    [--resolutions 257,513] [--photos 3] [--limit N] [--out out/weights-report] [--json <file>]`
 *
 * What each weight format (src/model/weight-format.ts) costs and gives, for choosing the
 * default (DEFAULT_WEIGHT_FORMAT):
 * - file size of weights.bin;
 * - max |head - f32 head| per head over the first `--photos` images at each resolution
 *   (ours on WebGPU, the same image and resolution for every format);
 * - COCO keypoint AP on `<coco dir>` at each resolution (`npm run eval` in its `square`
 *   mode with TF.js off, one run per format, its outputs in `<out>/eval-<format>/`).
 * The f32 model is weights/<name>/, the others weights/<name>-<format>/; a missing one is
 * converted from weights/<name>.onnx first (f32 and f16 come from `npm run weights`).
 * Prints a table and, with --json, writes the figures (written by rename, never over a
 * file that is not an earlier report's).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

import { isWeightFormat, WEIGHT_FORMATS, type WeightFormat } from '../src/model/weight-format.ts';
import { DEFAULT_MODEL, openSession, parseResolution, repoRoot, runTool, ToolError } from './lib/browser-run.ts';
import { jsonIsOurs, MiB, OutputFile, readInputFile, userPath } from './lib/cli.ts';
import { convertOnnxFile } from './lib/convert.ts';
import type { Res } from './pages/eval.ts';

const USAGE =
  'usage: npm run weights-report -- --data <coco dir> [--model <name>] [--formats f32,f16,int8] [--resolutions 257,513] ' +
  '[--photos 3] [--limit N] [--out out/weights-report] [--json <file>]';

const REPORT_KIND = 'posenet-webgpu/weights-report';

interface FormatRow {
  format: WeightFormat;
  model: string;
  bytes: number;
  /** Per resolution label: max |head - f32 head| per head name. */
  maxHeadDiff: Record<string, Record<string, number>>;
  /** Per resolution label: COCO keypoint AP. */
  ap: Record<string, number>;
}

const label = (r: Res) => (r.width === r.height ? `${r.width}` : `${r.width}x${r.height}`);
const modelName = (base: string, f: WeightFormat) => (f === 'f32' ? base : `${base}-${f}`);

function parse() {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        data: { type: 'string' },
        model: { type: 'string', default: DEFAULT_MODEL },
        formats: { type: 'string', default: WEIGHT_FORMATS.join(',') },
        resolutions: { type: 'string', default: '257,513' },
        photos: { type: 'string', default: '3' },
        limit: { type: 'string', default: '0' },
        out: { type: 'string', default: 'out/weights-report' },
        json: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (err) {
    throw new ToolError(`${(err as Error).message}; ${USAGE}`);
  }
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  if (!values.data) throw new ToolError(`--data <coco dir> is required; ${USAGE}`);
  const formats = values.formats.split(',').map((f) => f.trim());
  for (const f of formats) if (!isWeightFormat(f)) throw new ToolError(`--formats: "${f}" is not one of ${WEIGHT_FORMATS.join(', ')}`);
  if (!formats.includes('f32')) throw new ToolError('--formats must include f32 (the others are measured against it)');
  const count = (flag: string, v: string, min: number) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new ToolError(`--${flag} must be an integer >= ${min}, got "${v}"`);
    return n;
  };
  return {
    data: values.data,
    model: values.model,
    formats: formats as WeightFormat[],
    resolutions: values.resolutions.split(',').map((r) => parseResolution(r.trim(), '--resolutions')),
    photos: count('photos', values.photos, 1),
    limit: count('limit', values.limit, 0),
    out: values.out,
    json: values.json,
  };
}

/** weights/<model>-<format>/, converted from weights/<model>.onnx when it is not there yet. */
async function ensureModel(base: string, format: WeightFormat): Promise<{ name: string; bytes: number }> {
  const name = modelName(base, format);
  const dir = path.join(repoRoot, 'weights', name);
  if (!fs.existsSync(path.join(dir, 'model.json'))) {
    const onnx = path.join(repoRoot, 'weights', `${base}.onnx`);
    if (!fs.existsSync(onnx))
      throw new ToolError(`weights/${name}/model.json and weights/${base}.onnx are missing: run \`npm run weights\``);
    console.log(`weights-report: converting weights/${base}.onnx to weights/${name}/ (${format})`);
    await convertOnnxFile(onnx, dir, { name, weights: format }, { input: `weights/${base}.onnx`, out: `weights/${name}` });
  }
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8')) as { weights: { file: string; format?: string } };
  if ((manifest.weights.format ?? 'f32') !== format) {
    throw new ToolError(`weights/${name}/model.json holds ${manifest.weights.format ?? 'f32'} weights, not ${format}`);
  }
  return { name, bytes: fs.statSync(path.join(dir, manifest.weights.file)).size };
}

const f32 = (b64: string) => {
  const buf = Buffer.from(b64, 'base64');
  return new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
};

async function headDiffs(args: ReturnType<typeof parse>, rows: FormatRow[], dataDir: string, photos: string[]): Promise<void> {
  const session = await openSession();
  try {
    const page = await session.openPage('tools/pages/eval.html', 'evalPage');
    const heads = new Map<string, Record<string, { data: string; shape: number[] }>>();
    for (const row of rows) {
      await page.call('open', { weights: `/weights/${row.model}`, backend: null, resolution: args.resolutions[0]! });
      for (const p of photos) {
        const b64 = readInputFile(path.join(dataDir, 'images', p), path.join(args.data, 'images', p), 256 * MiB).toString('base64');
        await page.call('addImage', { name: p, b64 });
      }
      for (const r of args.resolutions) {
        const diffs: Record<string, number> = {};
        for (const p of photos) {
          const h = await page.call<Record<string, { data: string; shape: number[] }>>('heads', { name: p, resolution: r });
          const key = `${label(r)}/${p}`;
          if (row.format === 'f32') heads.set(key, h);
          const ref = heads.get(key)!;
          for (const [name, v] of Object.entries(h)) {
            const a = f32(v.data);
            const b = f32(ref[name]!.data);
            let max = 0;
            for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
            diffs[name] = Math.max(diffs[name] ?? 0, max);
          }
        }
        row.maxHeadDiff[label(r)] = diffs;
      }
      const errors = await page.call<string[]>('close');
      if (errors.length) throw new ToolError(`GPU errors with ${row.model}:\n${errors.join('\n')}`);
      console.log(`weights-report: ${row.format}: heads read at ${args.resolutions.map(label).join(', ')} on ${photos.length} photo(s)`);
    }
  } finally {
    await session.close();
  }
}

function runEval(args: ReturnType<typeof parse>, row: FormatRow, outDir: string): void {
  const evalOut = path.join(outDir, `eval-${row.format}`);
  const argv = [
    'tsx',
    'tools/eval.ts',
    '--data',
    userPath(args.data),
    '--model',
    row.model,
    '--resolutions',
    args.resolutions.map(label).join(','),
    '--modes',
    'square',
    '--tfjs-backend',
    'none',
    '--out',
    evalOut,
    ...(args.limit ? ['--limit', String(args.limit)] : []),
  ];
  console.log(`weights-report: ${row.format}: npm run eval -- ${argv.slice(2).join(' ')}`);
  const r = spawnSync('npx', argv, { cwd: repoRoot, stdio: 'inherit', env: { ...process.env, INIT_CWD: repoRoot } });
  if (r.status !== 0) throw new ToolError(`eval of ${row.model} failed (exit ${r.status ?? r.signal})`);
  const summary = JSON.parse(fs.readFileSync(path.join(evalOut, 'summary.json'), 'utf8')) as {
    rows: { mode: string; resolution: string; AP: number }[];
  };
  for (const res of summary.rows) if (res.mode === 'square') row.ap[res.resolution] = res.AP;
}

function table(rows: FormatRow[], resolutions: Res[]): string {
  const f32 = rows.find((r) => r.format === 'f32')!;
  const head = [
    'format',
    'weights.bin',
    ...resolutions.map((r) => `AP ${label(r)}`),
    ...resolutions.map((r) => `max head diff ${label(r)}`),
  ];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  for (const row of rows) {
    const aps = resolutions.map((r) => {
      const ap = row.ap[label(r)]!;
      const d = ap - f32.ap[label(r)]!;
      return row === f32 ? ap.toFixed(4) : `${ap.toFixed(4)} (${d >= 0 ? '+' : ''}${d.toFixed(4)})`;
    });
    const diffs = resolutions.map((r) =>
      Object.entries(row.maxHeadDiff[label(r)] ?? {})
        .map(([k, v]) => `${k} ${v.toPrecision(2)}`)
        .join(', '),
    );
    lines.push(
      `| ${row.format} | ${(row.bytes / 1e6).toFixed(2)} MB (${((100 * row.bytes) / f32.bytes).toFixed(0)}%) | ${aps.join(' | ')} | ${diffs.join(' | ')} |`,
    );
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const args = parse();
  const t0 = performance.now();
  const dataDir = userPath(args.data);
  const gtFile = path.join(dataDir, 'person_keypoints.json');
  const gt = JSON.parse(readInputFile(gtFile, path.join(args.data, 'person_keypoints.json'), 256 * MiB).toString('utf8')) as {
    images: { file_name: string }[];
  };
  const photos = gt.images.slice(0, args.photos).map((i) => i.file_name);
  // Reserved before the long run, so a bad --json fails now.
  const json = args.json
    ? OutputFile.reserve(userPath(args.json), args.json, {
        what: 'report',
        isOurs: jsonIsOurs((j) => (j as { kind?: string }).kind === REPORT_KIND),
        notOursReason: 'is not a weights report',
      })
    : null;
  try {
    const rows: FormatRow[] = [];
    // f32 first: the others are measured against it.
    for (const format of ['f32', ...args.formats.filter((f) => f !== 'f32')] as WeightFormat[]) {
      const m = await ensureModel(args.model, format);
      rows.push({ format, model: m.name, bytes: m.bytes, maxHeadDiff: {}, ap: {} });
    }
    await headDiffs(args, rows, dataDir, photos);
    const outDir = userPath(args.out);
    for (const row of rows) runEval(args, row, outDir);
    const text = table(rows, args.resolutions);
    console.log(`\n${text}\n`);
    const seconds = (performance.now() - t0) / 1000;
    json?.write(
      `${JSON.stringify({ kind: REPORT_KIND, model: args.model, data: args.data, images: args.limit || gt.images.length, headPhotos: photos, resolutions: args.resolutions.map(label), seconds, rows, table: text }, null, 1)}\n`,
    );
    console.log(`weights-report: done in ${seconds.toFixed(0)} s${args.json ? `; wrote ${args.json}` : ''}`);
  } finally {
    json?.discard();
  }
}

runTool('weights-report', main);
