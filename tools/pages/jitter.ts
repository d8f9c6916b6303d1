/**
 * Browser side of `npm run jitter` (tools/jitter.ts): `window.jitter.run(request)` decodes
 * the photograph, finds its keypoints at the truth resolution, makes the synthetic clip
 * (synthetic-clip.ts) and runs every frame through single-pose PoseNet at each
 * resolution. It returns the raw keypoints and the truth mapped into every frame; the
 * Node side smooths and measures (the smoother is pure TypeScript: the same code
 * `estimateSinglePose(src, { smoothing })` runs, and the GPU work is the same either
 * way). All GPU work runs inside error scopes.
 *
 * `window.jitter.encode(request)` returns the clip as a WebM (VP8) or MP4 (H.264) file,
 * base64, for `--write-clip` and the video tests.
 */
import { BufferTarget, CanvasSource, Mp4OutputFormat, Output, QUALITY_HIGH, WebMOutputFormat } from 'mediabunny';
import { requestPoseNetDevice } from '../../src/gpu/device.ts';
import { createPoseNet } from '../../src/posenet.ts';
import type { Pose } from '../../src/pose/types.ts';
import { GpuErrorGuard } from './gpu-guard.ts';
import { type ClipSpec, clipSize, clipTransform, drawClipFrame, mapPoint } from './synthetic-clip.ts';

export interface JitterRequest {
  weights: string;
  /** The photograph's bytes, base64. */
  image: string;
  resolutions: { width: number; height: number }[];
  truthResolution: { width: number; height: number };
  frames: number;
  seed: number;
}

/** [x, y, score] per keypoint. */
export type Keypoints = [number, number, number][];

export interface JitterResponse {
  photo: { width: number; height: number };
  clip: { width: number; height: number };
  /** The keypoints found on the photograph at the truth resolution, photograph pixels. */
  truthPose: Keypoints;
  /** Per frame, the truth keypoints mapped into the frame. */
  truth: Keypoints[];
  /** Per resolution, per frame, the raw keypoints. */
  raw: { width: number; height: number; frames: Keypoints[]; msPerFrame: number }[];
  adapter: string;
  errors: string[];
}

function bytesOf(b64: string): Uint8Array<ArrayBuffer> {
  const s = atob(b64);
  const bytes = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) bytes[i] = s.charCodeAt(i);
  return bytes;
}

const keypointsOf = (pose: Pose): Keypoints => pose.keypoints.map((k) => [k.position.x, k.position.y, k.score]);

/** The centre of the box around the confident keypoints (the pan starts there). */
function centreOf(kps: Keypoints, width: number, height: number): { x: number; y: number } {
  const sure = kps.filter((k) => k[2] >= 0.3);
  if (sure.length < 2) return { x: width / 2, y: height / 2 };
  const xs = sure.map((k) => k[0]);
  const ys = sure.map((k) => k[1]);
  return { x: (Math.min(...xs) + Math.max(...xs)) / 2, y: (Math.min(...ys) + Math.max(...ys)) / 2 };
}

function spec(photo: ImageBitmap, truthPose: Keypoints, frames: number, seed: number): ClipSpec {
  const c = centreOf(truthPose, photo.width, photo.height);
  return { photoWidth: photo.width, photoHeight: photo.height, centreX: c.x, centreY: c.y, frames, seed };
}

async function run(req: JitterRequest): Promise<JitterResponse> {
  const photo = await createImageBitmap(new Blob([bytesOf(req.image)]));
  const device = await requestPoseNetDevice({ timestamps: false });
  const guard = new GpuErrorGuard(device);
  const info = device.adapterInfo;
  const adapter = info ? [info.vendor, info.architecture, info.description].filter(Boolean).join(' / ') : 'unknown';
  const errors: string[] = [];
  try {
    const net = await createPoseNet({ weights: req.weights, resolution: req.truthResolution, device });
    try {
      const truthPose = keypointsOf(await net.estimateSinglePose(photo));
      const s = spec(photo, truthPose, req.frames, req.seed);
      const size = clipSize(photo.width, photo.height);
      const truth = Array.from({ length: req.frames }, (_, i) => {
        const t = clipTransform(s, i);
        return truthPose.map(([x, y, score]) => {
          const p = mapPoint(t, x, y);
          return [p.x, p.y, score] as [number, number, number];
        });
      });
      const ctx = new OffscreenCanvas(size.width, size.height).getContext('2d', { willReadFrequently: true })!;
      const frames = Array.from({ length: req.frames }, (_, i) => drawClipFrame(ctx, photo, s, i));
      const raw: JitterResponse['raw'] = [];
      for (const r of req.resolutions) {
        net.setResolution(r.width, r.height);
        const out: Keypoints[] = [];
        const t0 = performance.now();
        for (const frame of frames) out.push(keypointsOf(await net.estimateSinglePose(frame)));
        raw.push({ ...r, frames: out, msPerFrame: (performance.now() - t0) / frames.length });
        errors.push(...(await guard.check(`${r.width}x${r.height}`)));
      }
      return { photo: { width: photo.width, height: photo.height }, clip: size, truthPose, truth, raw, adapter, errors };
    } finally {
      net.dispose();
    }
  } finally {
    photo.close();
    errors.push(...(await guard.release('jitter')));
    device.destroy();
  }
}

export interface EncodeRequest {
  image: string;
  frames: number;
  seed: number;
  fps: number;
  /** Where the pan starts, photograph pixels (default: the centre). */
  centre?: { x: number; y: number };
  container: 'webm' | 'mp4';
}

/** The synthetic clip as a video file (VP8 in WebM, or H.264 in MP4), base64. */
async function encode(req: EncodeRequest): Promise<{ file: string; width: number; height: number; frames: number; codec: string }> {
  const photo = await createImageBitmap(new Blob([bytesOf(req.image)]));
  const s: ClipSpec = {
    photoWidth: photo.width,
    photoHeight: photo.height,
    centreX: req.centre?.x ?? photo.width / 2,
    centreY: req.centre?.y ?? photo.height / 2,
    frames: req.frames,
    seed: req.seed,
  };
  const size = clipSize(photo.width, photo.height);
  const canvas = new OffscreenCanvas(size.width, size.height);
  const ctx = canvas.getContext('2d', { willReadFrequently: true })!;
  const codec = req.container === 'webm' ? 'vp8' : 'avc';
  const output = new Output({
    format: req.container === 'webm' ? new WebMOutputFormat() : new Mp4OutputFormat({ fastStart: 'in-memory' }),
    target: new BufferTarget(),
  });
  const source = new CanvasSource(canvas, { codec, quality: QUALITY_HIGH, keyFrameInterval: 0.5 });
  output.addVideoTrack(source, { frameRate: req.fps });
  await output.start();
  for (let i = 0; i < req.frames; i++) {
    drawClipFrame(ctx, photo, s, i);
    await source.add(i / req.fps, 1 / req.fps);
  }
  await output.finalize();
  photo.close();
  const buffer = new Uint8Array((output.target as BufferTarget).buffer!);
  let text = '';
  for (let i = 0; i < buffer.length; i += 0x8000) text += String.fromCharCode(...buffer.subarray(i, i + 0x8000));
  return { file: btoa(text), ...size, frames: req.frames, codec };
}

const jitter = { run, encode };
(window as unknown as { jitter: typeof jitter }).jitter = jitter;
export type JitterPage = typeof jitter;
