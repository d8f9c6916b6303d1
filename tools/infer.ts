/**
 * infer (`npm run infer`): single-pose keypoints for images on disk, headless (Puppeteer,
 * Chromium with WebGPU, the library through a Vite dev server).
 *
 *   npm run infer -- <images...> [--resolution 257 | 513x385] [--model <name>] [--json out.json]
 *
 * Prints per image the 17 keypoints (part, x, y, score; x and y in source-image pixels)
 * and the pose score. --json writes `[{ file, score, keypoints: [[x, y, score] x17],
 * width, height }]`, keypoints in COCO order (PoseNet's). --model is a weights folder
 * name under weights/ (default posenet-mobilenet-v1-075-s16) or a path to a converted model's folder.
 *
 * Images are read in Node and decoded in the page (createImageBitmap): a file that is
 * missing or cannot be decoded is named in the error, the exit status is 1 and no JSON is
 * written. The resolution is checked against the model's output stride before anything starts.
 *
 * A video file (.webm, .mp4, .mov, ...) goes to tools/infer-video.ts instead:
 *
 *   npm run infer -- clip.webm [--fps N] [--smooth] [--multi] [--resolution R] [--json out.json|out.jsonl]
 *
 * one pose record per frame (every frame, or N per second of video), the format of the
 * app's "Record".
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

import { checkResolution } from '../src/plan/shapes.ts';
import { PART_NAMES } from '../src/pose/keypoints.ts';
import type { InferResponse } from './pages/infer.ts';
import { DEFAULT_MODEL, openSession, parseResolution, resolveModel, runTool, ToolError } from './lib/browser-run.ts';
import { inferVideo, isVideoFile, parseFps } from './infer-video.ts';

const USAGE =
  'usage: npm run infer -- <images...> [--resolution 257 | 513x385] [--model <name | folder>] [--json out.json]\n' +
  '       npm run infer -- <video> [--fps N] [--smooth] [--multi] [--resolution R] [--model M] [--json out.json | out.jsonl]';

export interface InferJsonEntry {
  file: string;
  score: number;
  /** [x, y, score] per keypoint, COCO order, x and y in source pixels. */
  keypoints: [number, number, number][];
  width: number;
  height: number;
}

function readImage(file: string): Buffer {
  try {
    const stat = fs.statSync(file);
    if (stat.isDirectory()) throw new ToolError(`cannot read ${file}: is a directory`);
    return fs.readFileSync(file);
  } catch (err) {
    if (err instanceof ToolError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (err as Error).message;
    throw new ToolError(`cannot read ${file}: ${why}`);
  }
}

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      options: {
        resolution: { type: 'string', default: '257' },
        model: { type: 'string', default: DEFAULT_MODEL },
        json: { type: 'string' },
        fps: { type: 'string' },
        smooth: { type: 'boolean' },
        multi: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: true,
    });
  } catch (err) {
    throw new ToolError(`${(err as Error).message}\n${USAGE}`);
  }
  const { values, positionals: files } = parsed;
  if (values.help) {
    console.log(USAGE);
    return;
  }
  if (!files.length) throw new ToolError(`no images given\n${USAGE}`);

  const manifest = resolveModel(values.model);
  const resolution = parseResolution(values.resolution);
  try {
    checkResolution(resolution.width, resolution.height, manifest.outputStride);
  } catch (err) {
    throw new ToolError(`--resolution ${values.resolution}: ${(err as Error).message}`);
  }
  const videos = files.filter(isVideoFile);
  if (videos.length) {
    if (files.length !== 1) throw new ToolError(`give one video at a time (got ${files.join(', ')})`);
    return inferVideo(files[0]!, {
      model: manifest,
      resolution,
      fps: parseFps(values.fps),
      smooth: !!values.smooth,
      multi: !!values.multi,
      json: values.json,
    });
  }
  for (const flag of ['fps', 'smooth', 'multi'] as const)
    if (values[flag] !== undefined)
      throw new ToolError(`--${flag} is for a video file; ${files.join(', ')} ${files.length > 1 ? 'are images' : 'is an image'}`);
  const images = files.map((f) => readImage(f).toString('base64'));

  const session = await openSession();
  let response: InferResponse;
  try {
    const page = await session.openPage('tools/pages/infer.html', 'infer');
    response = await page.call<InferResponse>('run', { weights: manifest.url, resolution, images });
    if (page.errors.length && process.env.PAGE_LOG) process.stderr.write(`page errors:\n  ${page.errors.join('\n  ')}\n`);
  } finally {
    await session.close();
  }
  if (!response.ok) throw new ToolError(`cannot decode ${files[response.undecodable]} as an image`);
  if (response.errors.length) throw new Error(`WebGPU errors:\n${response.errors.join('\n')}`);

  const res = `${resolution.width}x${resolution.height}`;
  const entries: InferJsonEntry[] = [];
  const out: string[] = [];
  for (const [i, r] of response.results.entries()) {
    const file = files[i]!;
    const kps = r.pose.keypoints;
    if (kps.length !== PART_NAMES.length) throw new Error(`${file}: ${kps.length} keypoints instead of ${PART_NAMES.length}`);
    out.push(`${file} (${r.width}x${r.height}) at ${res}, ${values.model}: pose score ${r.pose.score.toFixed(4)}`);
    out.push(`  ${'part'.padEnd(14)} ${'x'.padStart(8)} ${'y'.padStart(8)} ${'score'.padStart(7)}`);
    for (const k of kps) {
      out.push(
        `  ${k.part.padEnd(14)} ${k.position.x.toFixed(1).padStart(8)} ${k.position.y.toFixed(1).padStart(8)} ${k.score.toFixed(4).padStart(7)}`,
      );
    }
    out.push('');
    entries.push({
      file,
      score: r.pose.score,
      keypoints: kps.map((k) => [k.position.x, k.position.y, k.score]),
      width: r.width,
      height: r.height,
    });
  }
  process.stdout.write(out.join('\n'));
  process.stderr.write(`infer: ${files.length} image(s) on ${response.adapter}\n`);

  if (values.json) {
    const file = path.resolve(values.json);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    // One keypoint a line: [x, y, score].
    const text = JSON.stringify(entries, null, 2).replace(/\[\s+(-?[\d.e+-]+),\s+(-?[\d.e+-]+),\s+(-?[\d.e+-]+)\s+\]/g, '[$1, $2, $3]');
    fs.writeFileSync(`${file}.tmp`, `${text}\n`);
    fs.renameSync(`${file}.tmp`, file);
    process.stderr.write(`infer: wrote ${values.json}\n`);
  }
}

runTool('infer', main);
