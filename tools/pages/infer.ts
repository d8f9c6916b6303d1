/**
 * The page side of `npm run infer` (tools/infer.ts drives it in Chromium, or in Node on
 * Dawn: tools/lib/runtime.ts): `infer.run({weights, resolution, images})` decodes each
 * image (bytes in base64; createImageBitmap in the browser, sharp in Node:
 * tools/pages/platform.ts) and runs `estimateSinglePose` on it with one PoseNet, inside
 * WebGPU error scopes. Each image stands alone: one that does not decode, or fails, gets
 * an `{ error }` in its place and the others go on. In the browser an image larger than
 * the device's maxTextureDimension2D is downscaled to fit (keeping its aspect) and its
 * keypoints are mapped back to the original pixels; in Node such an image gets an error.
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
  /** The size the network saw when the image was over the device's texture limit. */
  downscaledTo?: [number, number];
  /** Keypoints in the original image's pixels. */
  pose: Pose;
  ms: number;
}

export interface InferResponse {
  /** One per image, in order. */
  results: (InferImageResult | { error: string })[];
  adapter: string;
  maxTextureDimension2D: number;
  /** WebGPU errors outside any one image (device set-up, model load, release). */
  errors: string[];
}

function bytesOf(b64: string): Uint8Array<ArrayBuffer> {
  const s = atob(b64);
  const bytes = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) bytes[i] = s.charCodeAt(i);
  return bytes;
}

/**
 * The image itself, or a copy scaled down (aspect kept) so that neither side exceeds `max`;
 * null when it is too large and cannot be scaled here (decoded pixels in Node).
 */
async function fitTexture(image: PageImage, max: number): Promise<PageImage | null> {
  if (image.width <= max && image.height <= max) return image;
  if (typeof ImageBitmap === 'undefined' || !(image.source instanceof ImageBitmap)) return null;
  const scale = Math.min(max / image.width, max / image.height);
  const resizeWidth = Math.max(1, Math.min(max, Math.round(image.width * scale)));
  const resizeHeight = Math.max(1, Math.min(max, Math.round(image.height * scale)));
  const bitmap = await createImageBitmap(image.source, { resizeWidth, resizeHeight, resizeQuality: 'high' });
  return { source: bitmap, width: bitmap.width, height: bitmap.height, close: () => bitmap.close() };
}

/** The pose with its keypoints scaled from `from` pixels to `to` pixels. */
function scalePose(pose: Pose, from: { width: number; height: number }, to: { width: number; height: number }): Pose {
  const sx = to.width / from.width;
  const sy = to.height / from.height;
  return {
    ...pose,
    keypoints: pose.keypoints.map((k) => ({ ...k, position: { x: k.position.x * sx, y: k.position.y * sy } })),
  };
}

async function run(req: InferRequest): Promise<InferResponse> {
  const { device, adapter } = await platform().requestDevice({ timestamps: false });
  const guard = new GpuErrorGuard(device);
  const max = device.limits.maxTextureDimension2D;
  const results: InferResponse['results'] = [];
  const errors: string[] = [];
  try {
    // A few images: compiling and timing kernel variants would cost more than it saves.
    const weights = await platform().loadWeights(req.weights);
    const net = await createPoseNet({ weights, resolution: req.resolution, device, tuning: 'off' });
    errors.push(...(await guard.check('loading the model')));
    try {
      for (const b64 of req.images) results.push(await inferOne(b64, net, guard, max));
    } finally {
      net.dispose();
    }
  } finally {
    errors.push(...(await guard.release('infer')));
    device.destroy();
  }
  return { results, adapter, maxTextureDimension2D: max, errors };
}

async function inferOne(
  b64: string,
  net: Awaited<ReturnType<typeof createPoseNet>>,
  guard: GpuErrorGuard,
  max: number,
): Promise<InferImageResult | { error: string }> {
  let original: PageImage;
  try {
    original = await platform().decodeImage(bytesOf(b64));
  } catch (err) {
    // The entry names the file: the decoder's reason alone (sharp's error carries it apart).
    const reason = (err as { reason?: string }).reason ?? (err as Error).message;
    return { error: `cannot decode as an image (${reason})` };
  }
  let fitted: PageImage | null = null;
  try {
    fitted = await fitTexture(original, max);
    if (!fitted) {
      return {
        error: `${original.width}x${original.height} is larger than the GPU's maxTextureDimension2D (${max}); downscale it, or use the browser runtime`,
      };
    }
    const t0 = performance.now();
    const pose = await net.estimateSinglePose(fitted.source);
    const ms = performance.now() - t0;
    const gpuErrors = await guard.check('image');
    if (gpuErrors.length) return { error: gpuErrors.join('; ') };
    const size = { width: original.width, height: original.height };
    if (fitted === original) return { ...size, pose, ms };
    return { ...size, downscaledTo: [fitted.width, fitted.height], pose: scalePose(pose, fitted, size), ms };
  } catch (err) {
    const gpuErrors = await guard.check('image');
    return { error: [(err as Error).message, ...gpuErrors].join('; ') };
  } finally {
    if (fitted && fitted !== original) fitted.close();
    original.close();
  }
}

const infer = { run };
exposePage('infer', infer);
export type InferPage = typeof infer;
