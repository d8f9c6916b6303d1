/**
 * Image decoding in Node (src/node/image.ts, sharp) gives what Chromium gives: EXIF
 * orientation applied as browsers apply it (all eight orientations, compared with
 * Chromium's decode of the same bytes), grey, RGBA and 16-bit images as 8-bit RGBA, and
 * a clear error for bytes that are no image.
 *
 * The pictures are generated: four flat quadrants (red, green, blue, yellow) in a 64x48
 * JPEG at quality 95 without chroma subsampling, so that JPEG error stays a few levels;
 * quadrant centres must agree within COLOUR_TOL levels (a wrong orientation moves a
 * quadrant and differs by ~255).
 */
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { decodeImage, ImageDecodeError } from '../src/node/image.ts';
import { b64ToBytes } from './support/b64.ts';
import { openHarness, type HarnessPage } from './support/harness-page.ts';

const W = 64;
const H = 48;
const COLOUR_TOL = 8;
const QUADRANTS = [
  [255, 0, 0],
  [0, 255, 0],
  [0, 0, 255],
  [255, 255, 0],
];

function quadrantPicture(): Buffer {
  const raw = Buffer.alloc(W * H * 3);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) raw.set(QUADRANTS[(y < H / 2 ? 0 : 2) + (x < W / 2 ? 0 : 1)]!, (y * W + x) * 3);
  }
  return raw;
}

/** The colours at the centres of the four quadrants of an RGB(A) image. */
function quadrantCentres(data: ArrayLike<number>, width: number, height: number, channels: number): number[][] {
  return [
    [width / 4, height / 4],
    [(3 * width) / 4, height / 4],
    [width / 4, (3 * height) / 4],
    [(3 * width) / 4, (3 * height) / 4],
  ].map(([x, y]) => {
    const i = (Math.floor(y!) * width + Math.floor(x!)) * channels;
    return [data[i]!, data[i + 1]!, data[i + 2]!];
  });
}

describe('images decoded in Node as a browser decodes them', () => {
  let harness: HarnessPage;
  const jpegs = new Map<number, Buffer>();

  beforeAll(async () => {
    for (let orientation = 1; orientation <= 8; orientation++) {
      jpegs.set(
        orientation,
        await sharp(quadrantPicture(), { raw: { width: W, height: H, channels: 3 } })
          .jpeg({ quality: 95, chromaSubsampling: '4:4:4' })
          .withMetadata({ orientation })
          .toBuffer(),
      );
    }
    harness = await openHarness();
  });
  afterAll(async () => {
    await harness?.close();
  });

  for (let orientation = 1; orientation <= 8; orientation++) {
    it(`EXIF orientation ${orientation} is applied as Chromium applies it`, async () => {
      const jpeg = jpegs.get(orientation)!;
      expect((await sharp(jpeg).metadata()).orientation).toBe(orientation);
      const node = await decodeImage(jpeg, `orientation-${orientation}.jpg`);
      const url = `data:image/jpeg;base64,${jpeg.toString('base64')}`;
      const chromium = (await harness.call('imagePixels', url)) as { width: number; height: number; rgb: string };
      expect([node.width, node.height]).toEqual([chromium.width, chromium.height]);
      // Orientations 5 to 8 turn the picture a quarter.
      expect([node.width, node.height]).toEqual(orientation >= 5 ? [H, W] : [W, H]);
      const ours = quadrantCentres(node.data, node.width, node.height, 4);
      const theirs = quadrantCentres(b64ToBytes(chromium.rgb), chromium.width, chromium.height, 3);
      for (let q = 0; q < 4; q++) {
        for (let c = 0; c < 3; c++) {
          expect(Math.abs(ours[q]![c]! - theirs[q]![c]!), `quadrant ${q} channel ${c}: ${ours[q]} vs ${theirs[q]}`).toBeLessThanOrEqual(
            COLOUR_TOL,
          );
        }
      }
    });
  }

  it('gives 8-bit RGBA for grey, RGBA and 16-bit PNGs', async () => {
    const grey = await sharp(Buffer.from([0, 128, 255, 64]), { raw: { width: 2, height: 2, channels: 1 } })
      .png()
      .toBuffer();
    const g = await decodeImage(grey);
    expect([g.width, g.height, g.data.length]).toEqual([2, 2, 16]);
    expect(Array.from(g.data.slice(4, 8))).toEqual([128, 128, 128, 255]);

    const rgba = await sharp(Buffer.from([10, 20, 30, 40, 50, 60, 70, 80]), { raw: { width: 2, height: 1, channels: 4 } })
      .png()
      .toBuffer();
    expect(Array.from((await decodeImage(rgba)).data)).toEqual([10, 20, 30, 40, 50, 60, 70, 80]);

    const deep = await sharp(Buffer.from([0, 255, 128, 10, 20, 30]), { raw: { width: 2, height: 1, channels: 3 } })
      .toColourspace('rgb16')
      .png()
      .toBuffer();
    expect((await sharp(deep).metadata()).depth).toBe('ushort');
    expect(Array.from((await decodeImage(deep)).data)).toEqual([0, 255, 128, 255, 10, 20, 30, 255]);
  });

  it('names the file when the bytes are no image', async () => {
    await expect(decodeImage(Buffer.from('not an image'), 'holiday.jpg')).rejects.toThrow(ImageDecodeError);
    await expect(decodeImage(Buffer.from('not an image'), 'holiday.jpg')).rejects.toThrow(/holiday\.jpg/);
    await expect(decodeImage('/nonexistent/photo.jpg')).rejects.toThrow(/\/nonexistent\/photo\.jpg/);
  });
});
