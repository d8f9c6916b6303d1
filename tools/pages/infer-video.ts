/**
 * Browser side of `npm run infer` on a video file (tools/infer-video.ts drives it):
 * `window.inferVideo.run(request)` fetches the file, demuxes and decodes it frame by frame
 * (mediabunny over WebCodecs: every frame exactly once, in presentation order, whatever
 * the playback speed of the machine), and runs PoseNet on each frame kept (all of them, or
 * --fps N of them per second of video), single-pose or multi-pose with tracking,
 * optionally smoothed. Frame times are the file's presentation timestamps. GPU work runs
 * inside error scopes.
 */
import { ALL_FORMATS, BlobSource, Input, VideoSampleSink } from 'mediabunny';
import { requestPoseNetDevice } from '../../src/gpu/device.ts';
import { toPoseRecord, type PoseRecord } from '../../src/pose/record.ts';
import { createPoseNet } from '../../src/posenet.ts';
import { GpuErrorGuard } from './gpu-guard.ts';

export interface InferVideoRequest {
  weights: string;
  /** URL of the video file on the tools' server. */
  url: string;
  resolution: { width: number; height: number };
  /** Frames per second of video to keep (null: every frame). */
  fps: number | null;
  smooth: boolean;
  multi: boolean;
}

export type InferVideoResponse =
  | {
      ok: true;
      records: PoseRecord[];
      width: number;
      height: number;
      codec: string;
      /** Frames in the file (decoded), and kept (inferred). */
      decoded: number;
      /** Seconds of video. */
      duration: number;
      /** Wall time of the whole run (decode + inference), and of inference alone, ms. */
      totalMs: number;
      inferMs: number;
      adapter: string;
      errors: string[];
    }
  | { ok: false; reason: string };

/**
 * Which frames --fps keeps: the first frame at or after each tick k / fps from the first
 * frame's time (a frame serves one tick at most, so asking for more than the file has
 * gives every frame once).
 */
export function keepFrame(t: number, first: number, fps: number | null, state: { nextTick: number }): boolean {
  if (fps === null) return true;
  // Half a microsecond of slack for timestamps stored in whole units of a timescale.
  if (t - first + 5e-7 < state.nextTick / fps) return false;
  state.nextTick = Math.floor((t - first + 5e-7) * fps) + 1;
  return true;
}

async function run(req: InferVideoRequest): Promise<InferVideoResponse> {
  const t0 = performance.now();
  const response = await fetch(req.url);
  if (!response.ok) return { ok: false, reason: `HTTP ${response.status}` };
  const input = new Input({ source: new BlobSource(await response.blob()), formats: ALL_FORMATS });
  let track;
  try {
    track = await input.getPrimaryVideoTrack();
  } catch (err) {
    return { ok: false, reason: `not a video file this browser can read (${(err as Error).message})` };
  }
  if (!track) return { ok: false, reason: 'no video track' };
  const codec = (await track.getCodecParameterString()) ?? track.codec ?? 'unknown codec';
  if (!(await track.canDecode())) return { ok: false, reason: `this browser cannot decode its video (${codec})` };

  const device = await requestPoseNetDevice({ timestamps: false });
  const guard = new GpuErrorGuard(device);
  const info = device.adapterInfo;
  const adapter = info ? [info.vendor, info.architecture, info.description].filter(Boolean).join(' / ') : 'unknown';
  const errors: string[] = [];
  const records: PoseRecord[] = [];
  let decoded = 0;
  let inferMs = 0;
  let last = 0;
  try {
    const net = await createPoseNet({ weights: req.weights, resolution: req.resolution, device });
    try {
      const sink = new VideoSampleSink(track);
      const ticks = { nextTick: 0 };
      let first: number | null = null;
      for await (const sample of sink.samples()) {
        try {
          decoded++;
          const t = sample.timestamp;
          first ??= t;
          last = t + (sample.duration || 0);
          if (!keepFrame(t, first, req.fps, ticks)) continue;
          const frame = sample.toVideoFrame();
          try {
            const ti = performance.now();
            const options = { smoothing: req.smooth, timestamp: t * 1000, flipHorizontal: false };
            const poses = req.multi
              ? await net.estimateMultiplePoses(frame, { ...options, tracking: true })
              : [await net.estimateSinglePose(frame, options)];
            inferMs += performance.now() - ti;
            records.push(toPoseRecord(records.length, t, net.resolution, poses));
          } finally {
            frame.close();
          }
        } finally {
          sample.close();
        }
      }
    } finally {
      net.dispose();
    }
  } finally {
    errors.push(...(await guard.release('infer video')));
    device.destroy();
  }
  return {
    ok: true,
    records,
    width: track.displayWidth,
    height: track.displayHeight,
    codec,
    decoded,
    duration: last,
    totalMs: performance.now() - t0,
    inferMs,
    adapter,
    errors,
  };
}

const inferVideo = { run };
(window as unknown as { inferVideo: typeof inferVideo }).inferVideo = inferVideo;
