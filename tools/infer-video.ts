/**
 * `npm run infer -- clip.webm [--fps N] [--smooth] [--multi] [--json out.json]`: the video
 * half of tools/infer.ts. The file is served to headless Chromium by the tools' Vite server
 * and decoded there frame by frame (tools/pages/infer-video.ts); every frame kept becomes
 * one pose record (src/pose/record.ts), the format of the app's "Record". --json writes
 * them as a JSON array, or as JSON Lines when the name ends in .jsonl.
 */
import fs from 'node:fs';
import path from 'node:path';

import type { PoseRecord } from '../src/pose/record.ts';
import { toJsonLines } from '../src/pose/record.ts';
import { openSession, ToolError, type ModelRef } from './lib/browser-run.ts';
import type { InferVideoResponse } from './pages/infer-video.ts';

export const VIDEO_FILE = /\.(webm|mp4|m4v|mov|mkv|ogv)$/i;

export function isVideoFile(file: string): boolean {
  return VIDEO_FILE.test(file);
}

export interface VideoOptions {
  model: ModelRef;
  resolution: { width: number; height: number };
  fps: number | null;
  smooth: boolean;
  multi: boolean;
  json?: string;
}

/** Parses --fps: a number of frames per second of video, > 0. */
export function parseFps(text: string | undefined): number | null {
  if (text === undefined) return null;
  const v = Number(text);
  if (!Number.isFinite(v) || v <= 0) throw new ToolError(`invalid --fps "${text}": expected a number of frames per second > 0`);
  return v;
}

function checkReadable(file: string): string {
  const abs = path.resolve(file);
  let stat: fs.Stats;
  try {
    stat = fs.statSync(abs);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ToolError(`cannot read ${file}: ${code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
  if (!stat.isFile()) throw new ToolError(`cannot read ${file}: not a file`);
  fs.accessSync(abs, fs.constants.R_OK);
  return abs;
}

function writeRecords(file: string, records: PoseRecord[]): void {
  const abs = path.resolve(file);
  fs.mkdirSync(path.dirname(abs), { recursive: true });
  const text = file.endsWith('.jsonl') ? toJsonLines(records) : `${JSON.stringify(records)}\n`;
  const tmp = `${abs}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, abs);
}

export async function inferVideo(file: string, o: VideoOptions): Promise<void> {
  const abs = checkReadable(file);
  const session = await openSession();
  let response: InferVideoResponse;
  try {
    const page = await session.openPage('tools/pages/infer-video.html', 'inferVideo');
    response = await page.call<InferVideoResponse>('run', {
      weights: o.model.url,
      url: `/@fs${abs}`,
      resolution: o.resolution,
      fps: o.fps,
      smooth: o.smooth,
      multi: o.multi,
    });
    if (page.errors.length && process.env.PAGE_LOG) process.stderr.write(`page errors:\n  ${page.errors.join('\n  ')}\n`);
  } finally {
    await session.close();
  }
  if (!response.ok) throw new ToolError(`cannot decode ${file}: ${response.reason}`);
  if (response.errors.length) throw new Error(`WebGPU errors:\n${response.errors.join('\n')}`);
  const r = response;
  const lines = r.records.map((rec) => {
    const best = rec.poses[0];
    return `frame ${String(rec.frame).padStart(5)}  t ${rec.mediaTime?.toFixed(3).padStart(8)} s  ${rec.poses.length} pose(s)${best ? `, best score ${best.score.toFixed(3)}` : ''}`;
  });
  process.stdout.write(`${lines.join('\n')}\n`);
  const res = `${o.resolution.width}x${o.resolution.height}`;
  process.stderr.write(
    `infer: ${file}: ${r.width}x${r.height} ${r.codec}, ${r.duration.toFixed(2)} s, ${r.decoded} frames decoded, ${r.records.length} inferred ` +
      `at ${res}${o.multi ? ' (multi-pose, tracked)' : ''}${o.smooth ? ', smoothed' : ''}: ` +
      `${((1000 * r.records.length) / r.inferMs).toFixed(2)} frames/s of inference, ${((1000 * r.records.length) / r.totalMs).toFixed(2)} frames/s with decoding, on ${r.adapter}\n`,
  );
  if (o.json) {
    writeRecords(o.json, r.records);
    process.stderr.write(`infer: wrote ${o.json}\n`);
  }
}
