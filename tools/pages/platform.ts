/**
 * What the tool pages (infer, bench, eval) need from where they run, so that the same page
 * code runs in headless Chromium and in Node on Dawn (tools/lib/runtime.ts chooses):
 * a device and its adapter's name, images decoded to something PoseNet and TF.js take,
 * files (weights, TF.js models) by the URL the tools' Vite server would serve them at.
 *
 * The browser platform is the default; tools/lib/runtime-node.ts installs Node's with
 * setPlatform() before it imports a page. Pages publish their entry points with
 * exposePage(): on `window` in the browser, on `globalThis` in Node.
 */
import { requestPoseNetDevice } from '../../src/gpu/device.ts';
import { fetchWeights, type LoadedWeights } from '../../src/model/model.ts';
import type { PoseSource } from '../../src/posenet.ts';

/** A decoded image: what our PoseNet and TF.js PoseNet both take, its size, and how to free it. */
export interface PageImage {
  source: PoseSource & (ImageBitmap | { data: Uint8Array; width: number; height: number });
  width: number;
  height: number;
  close(): void;
}

export interface PagePlatform {
  readonly name: 'browser' | 'node';
  /** A PoseNet device and a one-line description of its adapter (name, vendor, driver). */
  requestDevice(options?: { timestamps?: boolean }): Promise<{ device: GPUDevice; adapter: string }>;
  /** Decodes image file bytes; throws when they are not an image. */
  decodeImage(bytes: Uint8Array): Promise<PageImage>;
  /** Decodes the image at a URL of the tools' server (in Node: the file it maps to). */
  loadImage(url: string): Promise<PageImage>;
  /** Converted weights at a URL of the tools' server (a weights folder). */
  loadWeights(url: string): Promise<LoadedWeights>;
  /** A file's bytes by URL (TF.js model files). */
  readBytes(url: string): Promise<Uint8Array>;
  /** A decoded image's RGBA8 pixels (eval's degradations work on them). */
  pixels(image: PageImage): Promise<RgbaPixels>;
  /** An image made from RGBA8 pixels (a degraded copy). */
  fromPixels(pixels: RgbaPixels): Promise<PageImage>;
  /** RGBA8 pixels as a JPEG file at `quality` (0..1): the browser's canvas encoder, or libjpeg-turbo (sharp) in Node. */
  encodeJpeg(pixels: RgbaPixels, quality: number): Promise<Uint8Array>;
}

/** RGBA8 pixels, row by row without padding. */
export interface RgbaPixels {
  data: Uint8ClampedArray<ArrayBuffer>;
  width: number;
  height: number;
}

function bitmapImage(bitmap: ImageBitmap): PageImage {
  return { source: bitmap, width: bitmap.width, height: bitmap.height, close: () => bitmap.close() };
}

function canvasOf(pixels: RgbaPixels): OffscreenCanvas {
  const canvas = new OffscreenCanvas(pixels.width, pixels.height);
  const g = canvas.getContext('2d');
  if (!g) throw new Error('no 2D canvas here');
  g.putImageData(new ImageData(pixels.data, pixels.width, pixels.height), 0, 0);
  return canvas;
}

/** The adapter's vendor, architecture, device and description (the driver), as a browser reports them. */
export function adapterLabel(device: GPUDevice): string {
  const info = device.adapterInfo;
  return info ? [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' / ') : 'unknown';
}

/** The power preference the tool chose (`--adapter`), passed in the page's URL. */
function urlPowerPreference(): GPUPowerPreference | undefined {
  const power = typeof location === 'undefined' ? null : new URLSearchParams(location.search).get('power');
  return power === 'low-power' || power === 'high-performance' ? power : undefined;
}

const browserPlatform: PagePlatform = {
  name: 'browser',
  async requestDevice(options) {
    const device = await requestPoseNetDevice({ ...options, powerPreference: urlPowerPreference() });
    return { device, adapter: adapterLabel(device) };
  },
  async decodeImage(bytes) {
    return bitmapImage(await createImageBitmap(new Blob([bytes as Uint8Array<ArrayBuffer>])));
  },
  async loadImage(url) {
    const res = await fetch(url);
    if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
    const bitmap = await createImageBitmap(await res.blob());
    return { source: bitmap, width: bitmap.width, height: bitmap.height, close: () => bitmap.close() };
  },
  loadWeights: (url) => fetchWeights(url),
  async readBytes(url) {
    const res = await fetch(url);
    if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
    return new Uint8Array(await res.arrayBuffer());
  },
  async pixels(image) {
    const canvas = new OffscreenCanvas(image.width, image.height);
    const g = canvas.getContext('2d', { willReadFrequently: true });
    if (!g) throw new Error('no 2D canvas here');
    g.drawImage(image.source as ImageBitmap, 0, 0);
    const { data } = g.getImageData(0, 0, image.width, image.height);
    return { data, width: image.width, height: image.height };
  },
  async fromPixels(pixels) {
    return bitmapImage(await createImageBitmap(new ImageData(pixels.data, pixels.width, pixels.height)));
  },
  async encodeJpeg(pixels, quality) {
    const blob = await canvasOf(pixels).convertToBlob({ type: 'image/jpeg', quality });
    return new Uint8Array(await blob.arrayBuffer());
  },
};

let current: PagePlatform = browserPlatform;

export function platform(): PagePlatform {
  return current;
}

export function setPlatform(p: PagePlatform): void {
  current = p;
}

/** Publishes a page's entry points as `window[name]` (browser) or `globalThis[name]` (Node). */
export function exposePage(name: string, api: object): void {
  (globalThis as unknown as Record<string, unknown>)[name] = api;
}
