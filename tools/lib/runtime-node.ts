/**
 * The Node runtime (tools/lib/runtime.ts): the tool pages' modules imported into this
 * process, on Dawn's WebGPU (src/node). The page platform (tools/pages/platform.ts) here:
 *
 * - devices on the chosen Dawn adapter; TF.js's webgpu backend gets the same adapter as
 *   `navigator.gpu`;
 * - images decoded by sharp, as RGBA pixels `{ data: Uint8Array, width, height }`, which
 *   both our PoseNet and TF.js take;
 * - files by the URLs the tools' Vite server would serve them at (`/weights/...`,
 *   `/coco-mini/...`, `/@fs/<absolute path>`), mapped to the files that server would send.
 *
 * Without a Vulkan driver configured (no VK_ICD_FILENAMES / VK_DRIVER_FILES, no ICD
 * manifest in the standard folders) it falls back to Chromium's SwiftShader where Debian's
 * chromium package installed it, and says so (src/node/vulkan.ts).
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

import sharp from 'sharp';

import { listAdapters, nodeGpu, requestNodeDevice } from '../../src/node/device.ts';
import { decodeImage } from '../../src/node/image.ts';
import { describeVulkanSearch, preferSwiftShaderWhenNoDriver } from '../../src/node/vulkan.ts';
import { loadWeights } from '../../src/node/weights.ts';
import { setPlatform, type PageImage, type PagePlatform } from '../pages/platform.ts';
import type { RuntimeOptions, ToolPage, ToolRuntime } from './runtime.ts';
import { repoRoot, ToolError } from './tool.ts';

/** The page modules, by the global each publishes (static imports, so that a bundler finds them). */
const PAGES: Record<string, () => Promise<unknown>> = {
  infer: () => import('../pages/infer.ts'),
  bench: () => import('../pages/bench.ts'),
  evalPage: () => import('../pages/eval.ts'),
};

/** The file the tools' Vite server would send for a URL path (vite.config.ts: the repository root, /coco-mini/, /@fs/). */
export function fileForUrl(url: string): string {
  const clean = decodeURIComponent(url.split(/[?#]/)[0]!);
  if (clean.startsWith('/@fs/')) return clean.slice('/@fs'.length);
  if (clean.startsWith('/coco-mini/')) return path.resolve(repoRoot, '../shared/coco-mini', clean.slice('/coco-mini/'.length));
  if (clean.startsWith('/')) return path.join(repoRoot, clean);
  return path.resolve(clean);
}

function fromDecoded(img: { data: Uint8ClampedArray; width: number; height: number }): PageImage {
  // TF.js's fromPixels wants a Uint8Array (not clamped); ours takes either: one view serves both.
  const data = new Uint8Array(img.data.buffer, img.data.byteOffset, img.data.byteLength);
  return { source: { data, width: img.width, height: img.height }, width: img.width, height: img.height, close: () => undefined };
}

function nodePlatform(adapter: string | undefined): PagePlatform {
  return {
    name: 'node',
    async requestDevice(options) {
      const granted = await requestNodeDevice({ adapter, timestamps: options?.timestamps });
      return { device: granted.device, adapter: granted.adapter.label };
    },
    decodeImage: async (bytes) => fromDecoded(await decodeImage(bytes)),
    loadImage: async (url) => fromDecoded(await decodeImage(fileForUrl(url), url)),
    loadWeights: (url) => loadWeights(fileForUrl(url)),
    readBytes: async (url) => new Uint8Array(await fs.promises.readFile(fileForUrl(url))),
    async pixels(image) {
      const { data, width, height } = image.source as { data: Uint8Array; width: number; height: number };
      return { data: new Uint8ClampedArray(data), width, height };
    },
    fromPixels: async (pixels) => fromDecoded(pixels),
    async encodeJpeg(pixels, quality) {
      const { width, height } = pixels;
      const jpeg = await sharp(Buffer.from(pixels.data.buffer, pixels.data.byteOffset, pixels.data.byteLength), {
        raw: { width, height, channels: 4 },
      })
        .jpeg({ quality: Math.max(1, Math.round(quality * 100)) })
        .toBuffer();
      return new Uint8Array(jpeg);
    },
  };
}

/** `navigator.gpu` for TF.js's webgpu backend: Dawn, on the tools' adapter. */
function installNavigatorGpu(gpu: GPU): void {
  const nav = (globalThis as { navigator?: object }).navigator;
  if (nav) Object.defineProperty(nav, 'gpu', { value: gpu, configurable: true });
  else Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
}

export async function openNodeRuntime(options: RuntimeOptions): Promise<ToolRuntime> {
  const note = preferSwiftShaderWhenNoDriver();
  if (note) process.stderr.write(`node runtime: ${note}\n`);
  let gpu: GPU;
  try {
    gpu = (await nodeGpu({ adapter: options.adapter })).gpu;
    // Fail here, before any page work, when there is no adapter (the error says what was looked for).
    (await requestNodeDevice({ adapter: options.adapter, timestamps: false })).device.destroy();
  } catch (err) {
    throw new ToolError((err as Error).message);
  }
  installNavigatorGpu(gpu);
  setPlatform(nodePlatform(options.adapter));
  return {
    name: 'node',
    description: `Node ${process.version}, Dawn (npm webgpu ${webgpuVersion()})`,
    async openPage(_pagePath: string, global: string): Promise<ToolPage> {
      const load = PAGES[global];
      if (!load) throw new Error(`the node runtime has no page publishing "${global}" (pages: ${Object.keys(PAGES).join(', ')})`);
      await load();
      const api = (globalThis as unknown as Record<string, Record<string, (arg: unknown) => Promise<unknown>>>)[global];
      if (!api) throw new Error(`page module for "${global}" did not publish globalThis.${global}`);
      return {
        errors: [],
        call: async <T>(fn: string, arg?: unknown) => {
          const f = api[fn];
          if (!f) throw new Error(`page "${global}" has no entry point "${fn}"`);
          return (await f(arg)) as T;
        },
        close: async () => undefined,
      };
    },
    close: async () => undefined,
  };
}

/** The installed `webgpu` package's version (read at run time: in the GPU bundle it sits beside bench.mjs). */
function webgpuVersion(): string {
  try {
    return (createRequire(import.meta.url)('webgpu/package.json') as { version: string }).version;
  } catch {
    return 'unknown version';
  }
}

/** `--adapter list` under node: Dawn's adapters, and what Vulkan pieces were found. */
export async function listNodeAdapters(): Promise<string[]> {
  const note = preferSwiftShaderWhenNoDriver();
  const adapters = await listAdapters();
  const lines = note ? [note] : [];
  if (!adapters.length) {
    lines.push('Dawn found no adapter.', ...describeVulkanSearch().split('\n'));
    return lines;
  }
  for (const a of adapters) lines.push(`${a.index}: ${a.name} (${a.backend})`);
  lines.push('choose with --adapter <number> or --adapter <part of the name>');
  return lines;
}
