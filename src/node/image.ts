/**
 * Image files to RGBA8 pixels in Node, with sharp (libvips; prebuilt binaries from the
 * npm registry), the way a browser's createImageBitmap gives them: EXIF orientation
 * applied, colours converted to sRGB (from an embedded ICC profile where there is one),
 * 8 bits per channel, an opaque alpha channel added where the file has none. JPEG, PNG,
 * WebP, AVIF, GIF (first frame) and TIFF decode.
 *
 * Pixels can still differ from Chromium's by a level or two: libjpeg-turbo's and
 * Chromium's JPEG decoders upsample chroma differently (test/node-parity.test.ts
 * measures it on coco-mini).
 */
import sharp from 'sharp';

import type { PixelSource } from '../posenet.ts';

export interface DecodedImage extends PixelSource {
  data: Uint8ClampedArray<ArrayBuffer>;
  width: number;
  height: number;
}

export class ImageDecodeError extends Error {
  override name = 'ImageDecodeError';
  constructor(
    message: string,
    /** The decoder's reason alone (without the file's name). */
    readonly reason: string,
  ) {
    super(message);
  }
}

/**
 * Decodes an image file (path) or its bytes. `label` names it in errors (default: the
 * path, or "image bytes"). Throws ImageDecodeError naming the file.
 */
export async function decodeImage(input: string | Uint8Array, label?: string): Promise<DecodedImage> {
  const name = label ?? (typeof input === 'string' ? input : 'image bytes');
  try {
    const { data, info } = await sharp(input, { failOn: 'error', animated: false })
      .rotate() // EXIF orientation, as browsers apply it (image-orientation: from-image)
      .toColourspace('srgb')
      .ensureAlpha()
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 4) throw new Error(`decoded to ${info.channels} channels, not 4`);
    const pixels = new Uint8ClampedArray(data.buffer, data.byteOffset, data.byteLength) as Uint8ClampedArray<ArrayBuffer>;
    return { data: pixels, width: info.width, height: info.height };
  } catch (err) {
    const why = (err as Error).message.split('\n')[0] ?? '';
    throw new ImageDecodeError(`cannot decode ${name} as an image (${why})`, why);
  }
}
