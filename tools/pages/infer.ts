/**
 * Browser side of `npm run infer` (tools/infer.ts drives it through Puppeteer):
 * `window.infer.run({weights, resolution, images})` decodes every image (bytes in base64;
 * createImageBitmap in the browser, sharp in Node: tools/pages/platform.ts), then runs
 * `estimateSinglePose` on each with one PoseNet, inside WebGPU error scopes. Nothing runs
 * unless every image decodes; an image that does not is reported by its index.
 */
import { createPoseNet } from '../../src/posenet.ts';
import type { Pose } from '../../src/pose/types.ts';
import { GpuErrorGuard } from './gpu-guard.ts';
import { exposePage, platform, type PageImage } from './platform.ts';

export interface InferRequest {
  /** Weights folder URL, e.g. /weights/posenet-mobilenet-v1-075-s16 */
  weights: string;
  resolution: { width: number; height: number };
  /** Each image's bytes in base64. */
  images: string[];
}

export interface InferImageResult {
  width: number;
  height: number;
  pose: Pose;
  ms: number;
}

export type InferResponse =
  | { ok: true; results: InferImageResult[]; adapter: string; errors: string[] }
  | { ok: false; undecodable: number; reason: string };

function bytesOf(b64: string): Uint8Array<ArrayBuffer> {
  const s = atob(b64);
  const bytes = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) bytes[i] = s.charCodeAt(i);
  return bytes;
}

async function run(req: InferRequest): Promise<InferResponse> {
  const images: PageImage[] = [];
  for (const [i, b64] of req.images.entries()) {
    try {
      images.push(await platform().decodeImage(bytesOf(b64)));
    } catch (err) {
      for (const b of images) b.close();
      return { ok: false, undecodable: i, reason: (err as Error).message };
    }
  }
  const { device, adapter } = await platform().requestDevice({ timestamps: false });
  const guard = new GpuErrorGuard(device);
  const results: InferImageResult[] = [];
  const errors: string[] = [];
  try {
    const net = await createPoseNet({ weights: await platform().loadWeights(req.weights), resolution: req.resolution, device });
    try {
      for (const image of images) {
        const t0 = performance.now();
        const pose = await net.estimateSinglePose(image.source);
        results.push({ width: image.width, height: image.height, pose, ms: performance.now() - t0 });
      }
    } finally {
      net.dispose();
    }
  } finally {
    for (const b of images) b.close();
    errors.push(...(await guard.release('infer')));
    device.destroy();
  }
  return { ok: true, results, adapter, errors };
}

const infer = { run };
exposePage('infer', infer);
export type InferPage = typeof infer;
