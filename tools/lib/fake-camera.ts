/**
 * A Y4M video for Chromium's fake camera (`--use-file-for-fake-video-capture`), made from
 * a coco-mini photograph decoded in the browser (canvas), or, where ../shared/coco-mini
 * is absent, from a generated image (a drawn figure, which PoseNet need not recognise).
 * Frames are I420 (BT.601, limited range), the photograph at its own size rounded down to
 * even sides, so COCO's keypoint annotations map 1:1 onto camera pixels.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Browser } from 'puppeteer';
import { repoRoot } from './browser.ts';

export const COCO_DIR = path.resolve(repoRoot, '../shared/coco-mini');
/** A skier in the snow, alone and whole, 16 annotated keypoints (640x426). */
export const PHOTO_ID = 30752;

export interface FakeCamera {
  file: string;
  /** The same picture as a PNG file (for the file picker, drag-and-drop and ?src= tests). */
  png: string;
  width: number;
  height: number;
  /** 'coco-mini/images/000000030752.jpg', or 'generated' when coco-mini is absent. */
  origin: string;
  /** COCO annotation of the person (x, y, visibility per keypoint), in camera pixels; null for a generated image. */
  keypoints: [number, number, number][] | null;
}

interface CocoAnnotation {
  image_id: number;
  keypoints: number[];
  num_keypoints: number;
  area: number;
}

function photoName(id: number): string {
  return `${String(id).padStart(12, '0')}.jpg`;
}

/**
 * Writes `<outDir>/fake-camera.y4m`, decoding the photograph in `browser` from `baseUrl`.
 * `size` scales the picture to another frame size (e.g. an HD camera's 1280x720; the
 * keypoints are scaled with it); by default the photograph's own size.
 */
export async function makeFakeCamera(
  browser: Browser,
  baseUrl: string,
  outDir: string,
  frames = 4,
  size?: { width: number; height: number },
): Promise<FakeCamera> {
  const haveCoco = fs.existsSync(path.join(COCO_DIR, 'images', photoName(PHOTO_ID)));
  const page = await browser.newPage();
  try {
    await page.goto(`${baseUrl}/test/pages/figure.html`);
    await page.waitForFunction(() => 'drawFigure' in window);
    const out = await page.evaluate(
      async (imageUrl: string | null, size: { width: number; height: number } | null) => {
        let canvas: HTMLCanvasElement;
        let srcWidth = 0;
        let srcHeight = 0;
        if (imageUrl) {
          const bitmap = await createImageBitmap(await (await fetch(imageUrl)).blob());
          srcWidth = bitmap.width;
          srcHeight = bitmap.height;
          canvas = document.createElement('canvas');
          canvas.width = (size?.width ?? bitmap.width) & ~1;
          canvas.height = (size?.height ?? bitmap.height) & ~1;
          canvas.getContext('2d')!.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
        } else {
          // No photographs: a generated scene with a drawn figure.
          canvas = document.createElement('canvas');
          canvas.width = (size?.width ?? 640) & ~1;
          canvas.height = (size?.height ?? 480) & ~1;
          const draw = (window as unknown as { drawFigure: (g: CanvasRenderingContext2D, w: number, h: number) => void }).drawFigure;
          draw(canvas.getContext('2d')!, canvas.width, canvas.height);
        }
        const { width: w, height: h } = canvas;
        const rgba = canvas.getContext('2d')!.getImageData(0, 0, w, h).data;
        const y = new Uint8Array(w * h);
        const u = new Uint8Array((w / 2) * (h / 2));
        const v = new Uint8Array((w / 2) * (h / 2));
        for (let i = 0; i < w * h; i++) {
          const r = rgba[4 * i]! / 255;
          const gg = rgba[4 * i + 1]! / 255;
          const b = rgba[4 * i + 2]! / 255;
          y[i] = Math.round(16 + 65.481 * r + 128.553 * gg + 24.966 * b);
        }
        for (let cy = 0; cy < h / 2; cy++) {
          for (let cx = 0; cx < w / 2; cx++) {
            let r = 0;
            let gg = 0;
            let b = 0;
            for (const [dx, dy] of [
              [0, 0],
              [1, 0],
              [0, 1],
              [1, 1],
            ] as const) {
              const p = 4 * ((2 * cy + dy) * w + 2 * cx + dx);
              r += rgba[p]! / 255 / 4;
              gg += rgba[p + 1]! / 255 / 4;
              b += rgba[p + 2]! / 255 / 4;
            }
            u[cy * (w / 2) + cx] = Math.round(128 - 37.797 * r - 74.203 * gg + 112 * b);
            v[cy * (w / 2) + cx] = Math.round(128 + 112 * r - 93.786 * gg - 18.214 * b);
          }
        }
        const all = new Uint8Array(y.length + u.length + v.length);
        all.set(y, 0);
        all.set(u, y.length);
        all.set(v, y.length + u.length);
        let s = '';
        for (let i = 0; i < all.length; i += 0x8000) s += String.fromCharCode(...all.subarray(i, i + 0x8000));
        return { width: w, height: h, srcWidth, srcHeight, b64: btoa(s), png: canvas.toDataURL('image/png').split(',')[1]! };
      },
      haveCoco ? `/coco-mini/images/${photoName(PHOTO_ID)}` : null,
      size ?? null,
    );
    const frame = Buffer.from(out.b64, 'base64');
    fs.mkdirSync(outDir, { recursive: true });
    const file = path.join(outDir, 'fake-camera.y4m');
    const header = Buffer.from(`YUV4MPEG2 W${out.width} H${out.height} F10:1 Ip A1:1 C420jpeg\n`, 'ascii');
    const parts: Buffer[] = [header];
    for (let i = 0; i < frames; i++) parts.push(Buffer.from('FRAME\n', 'ascii'), frame);
    fs.writeFileSync(file, Buffer.concat(parts));
    const png = path.join(outDir, 'photo.png');
    fs.writeFileSync(png, Buffer.from(out.png, 'base64'));
    let keypoints: FakeCamera['keypoints'] = null;
    if (haveCoco) {
      const coco = JSON.parse(fs.readFileSync(path.join(COCO_DIR, 'person_keypoints.json'), 'utf8')) as { annotations: CocoAnnotation[] };
      const ann = coco.annotations.filter((a) => a.image_id === PHOTO_ID).sort((a, b) => b.num_keypoints - a.num_keypoints)[0];
      // Scaled with the picture (a size of its own), else 1:1 (the even sides crop at most a pixel).
      const sx = size ? out.width / out.srcWidth : 1;
      const sy = size ? out.height / out.srcHeight : 1;
      if (ann)
        keypoints = Array.from({ length: 17 }, (_, k) => [
          ann.keypoints[3 * k]! * sx,
          ann.keypoints[3 * k + 1]! * sy,
          ann.keypoints[3 * k + 2]!,
        ]);
    }
    return {
      file,
      png,
      width: out.width,
      height: out.height,
      origin: haveCoco ? `coco-mini/images/${photoName(PHOTO_ID)}` : 'generated',
      keypoints,
    };
  } finally {
    await page.close();
  }
}
