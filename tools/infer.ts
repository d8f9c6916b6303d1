/**
 * infer (`npm run infer`): single-pose keypoints for images on disk, headless: in Chromium
 * with WebGPU (the library through a Vite dev server), or with `--runtime node` in Node on
 * Dawn (tools/lib/runtime.ts).
 *
 *   npm run infer -- <images...> [--resolution 257 | 513x385] [--model <name>] [--json out.json]
 *                    [--runtime browser|node] [--adapter list | <adapter>]
 *
 * Prints per image the 17 keypoints (part, x, y, score; x and y in source-image pixels)
 * and the pose score. --json writes `[{ file, score, keypoints: [[x, y, score] x17],
 * width, height }]`, keypoints in COCO order (PoseNet's). --model is a weights folder
 * name under weights/ (default posenet-mobilenet-v1-075-s16) or a path to a converted model's folder.
 * Paths are relative to the folder the command was typed in.
 *
 * Images are read in Node and decoded in the page (createImageBitmap; sharp under
 * --runtime node, EXIF orientation applied as browsers do). A batch goes on past a bad
 * image: one that is missing, not a file, too large or not decodable gets `{ file, error }`
 * in the JSON and a line on stderr, the others their results, and the exit status is 1 at
 * the end. An image larger than the GPU's maxTextureDimension2D is downscaled to fit (its
 * entry has `downscaledTo: [w, h]`), with keypoints in the original's pixels. The
 * resolution and the --json path are checked before anything starts; --json never
 * replaces a file that is not an earlier infer output.
 *
 * A video file (.webm, .mp4, .mov, ...) goes to tools/infer-video.ts instead:
 *
 *   npm run infer -- clip.webm [--fps N] [--smooth] [--multi] [--resolution R] [--json out.json|out.jsonl]
 *
 * one pose record per frame (every frame, or N per second of video), the format of the
 * app's "Record".
 */
import fs from 'node:fs';
import { parseArgs } from 'node:util';

import { checkResolution } from '../src/plan/shapes.ts';
import { PART_NAMES } from '../src/pose/keypoints.ts';
import type { InferImageResult, InferResponse } from './pages/infer.ts';
import { maybeListAdapters, openRuntime, RUNTIME_OPTIONS, RUNTIME_USAGE, runtimeOptions } from './lib/runtime.ts';
import { DEFAULT_MODEL, parseResolution, resolveModel, runTool, ToolError } from './lib/tool.ts';
import { inferVideo, isVideoFile, parseFps } from './infer-video.ts';
import { MiB, OutputFile, readInputFile, userPath } from './lib/cli.ts';

const USAGE =
  `usage: npm run infer -- <images...> [--resolution 257 | 513x385] [--model <name | folder>] [--json out.json] ${RUNTIME_USAGE}\n` +
  '       npm run infer -- <video> [--fps N] [--smooth] [--multi] [--resolution R] [--model M] [--json out.json | out.jsonl]';

/** The largest image file infer reads. */
const MAX_IMAGE_BYTES = 256 * MiB;

export interface InferJsonEntry {
  file: string;
  score: number;
  /** [x, y, score] per keypoint, COCO order, x and y in source pixels. */
  keypoints: [number, number, number][];
  width: number;
  height: number;
  /** Present when the image was over the GPU's texture limit: the size the network saw. */
  downscaledTo?: [number, number];
}

/** An image that could not be read, decoded or run. */
export interface InferJsonError {
  file: string;
  error: string;
}

/** An image entry, an image error, or a video frame's pose record: what infer writes. */
const isInferItem = (e: unknown): boolean =>
  typeof e === 'object' &&
  e !== null &&
  ((typeof (e as InferJsonError).file === 'string' &&
    (Array.isArray((e as InferJsonEntry).keypoints) || typeof (e as InferJsonError).error === 'string')) ||
    (typeof (e as { frame?: unknown }).frame === 'number' && Array.isArray((e as { poses?: unknown }).poses)));

/** An earlier infer --json output (a JSON array, or JSON Lines for video), which a new run may replace. */
function isInferOutput(file: string): boolean {
  const stat = fs.statSync(file);
  if (stat.size === 0) return true;
  if (stat.size > 1024 * MiB) return false;
  const text = fs.readFileSync(file, 'utf8');
  if (file.endsWith('.jsonl')) return text.split('\n').every((line) => !line.trim() || isInferItem(JSON.parse(line)));
  const json = JSON.parse(text) as unknown;
  return Array.isArray(json) && json.every(isInferItem);
}

/** The image's bytes, or why it cannot be used (without the file name). */
function readImage(file: string): Buffer | { error: string } {
  try {
    return readInputFile(userPath(file), file, MAX_IMAGE_BYTES);
  } catch (err) {
    if (!(err instanceof ToolError)) throw err;
    const message = err.message.startsWith(`${file}: `) ? err.message.slice(file.length + 2) : err.message;
    return { error: message };
  }
}

async function main(): Promise<number> {
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
        ...RUNTIME_OPTIONS,
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
    return 0;
  }
  const runtimeChoice = runtimeOptions(values);
  if (await maybeListAdapters('infer', runtimeChoice)) return 0;
  if (!files.length) throw new ToolError(`no images given\n${USAGE}`);

  const manifest = resolveModel(values.model);
  const resolution = parseResolution(values.resolution);
  try {
    checkResolution(resolution.width, resolution.height, manifest.outputStride);
  } catch (err) {
    throw new ToolError(`--resolution ${values.resolution}: ${(err as Error).message}`);
  }
  const videos = files.filter(isVideoFile);
  if (videos.length && files.length !== 1) throw new ToolError(`give one video at a time (got ${files.join(', ')})`);
  const fps = videos.length ? parseFps(values.fps) : null;
  if (!videos.length) {
    for (const flag of ['fps', 'smooth', 'multi'] as const)
      if (values[flag] !== undefined)
        throw new ToolError(`--${flag} is for a video file; ${files.join(', ')} ${files.length > 1 ? 'are images' : 'is an image'}`);
  }
  const jsonOut = values.json
    ? OutputFile.reserve(userPath(values.json), values.json, {
        what: '--json',
        isOurs: isInferOutput,
        notOursReason: 'is not an earlier infer output',
      })
    : null;
  if (videos.length) {
    if (runtimeChoice.runtime !== 'browser' || runtimeChoice.adapter !== undefined)
      throw new ToolError(
        `${files[0]}: video runs in the browser runtime only (its decoder is the browser's WebCodecs); drop --runtime / --adapter`,
      );
    await inferVideo(files[0]!, {
      model: manifest,
      resolution,
      fps,
      smooth: !!values.smooth,
      multi: !!values.multi,
      ...(values.json && jsonOut ? { json: values.json, jsonOut } : {}),
    });
    return 0;
  }

  const read = files.map(readImage);
  const readable = read.flatMap((r, i) => (Buffer.isBuffer(r) ? [i] : []));
  let response: InferResponse | null = null;
  let runtimeDescription = '';
  if (readable.length) {
    const runtime = await openRuntime(runtimeChoice);
    runtimeDescription = runtime.description;
    try {
      const page = await runtime.openPage('tools/pages/infer.html', 'infer');
      const images = readable.map((i) => (read[i] as Buffer).toString('base64'));
      response = await page.call<InferResponse>('run', { weights: manifest.url, resolution, images });
      if (page.errors.length && process.env.PAGE_LOG) process.stderr.write(`page errors:\n  ${page.errors.join('\n  ')}\n`);
    } finally {
      await runtime.close();
    }
    if (response.errors.length) throw new ToolError(`WebGPU errors: ${response.errors.join('; ')}`);
  }

  const outcome = read.map((r, i): InferImageResult | { error: string } =>
    Buffer.isBuffer(r) ? response!.results[readable.indexOf(i)]! : r,
  );
  const res = `${resolution.width}x${resolution.height}`;
  const entries: (InferJsonEntry | InferJsonError)[] = [];
  const out: string[] = [];
  let failed = 0;
  for (const [i, r] of outcome.entries()) {
    const file = files[i]!;
    if ('error' in r) {
      failed++;
      process.stderr.write(`infer: ${file}: ${r.error}\n`);
      entries.push({ file, error: r.error });
      continue;
    }
    const kps = r.pose.keypoints;
    if (kps.length !== PART_NAMES.length) throw new Error(`${file}: ${kps.length} keypoints instead of ${PART_NAMES.length}`);
    const scaled = r.downscaledTo ? `, downscaled to ${r.downscaledTo.join('x')} for the GPU` : '';
    out.push(`${file} (${r.width}x${r.height}${scaled}) at ${res}, ${values.model}: pose score ${r.pose.score.toFixed(4)}`);
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
      ...(r.downscaledTo ? { downscaledTo: r.downscaledTo } : {}),
    });
  }
  process.stdout.write(out.join('\n'));
  const summary = failed ? `, ${failed} failed` : '';
  process.stderr.write(
    `infer: ${files.length - failed} of ${files.length} image(s)${summary}${response ? ` on ${response.adapter} (${runtimeDescription})` : ''}\n`,
  );

  if (jsonOut && values.json) {
    // One keypoint a line: [x, y, score].
    const text = JSON.stringify(entries, null, 2).replace(/\[\s+(-?[\d.e+-]+),\s+(-?[\d.e+-]+),\s+(-?[\d.e+-]+)\s+\]/g, '[$1, $2, $3]');
    jsonOut.write(`${text}\n`);
    process.stderr.write(`infer: wrote ${values.json}\n`);
  }
  return failed ? 1 : 0;
}

runTool('infer', main);
