/**
 * Headless Chromium and a Vite dev server, for browser tests, the command-line tools
 * (infer, bench, eval) and benchmarks. test/support/browser.ts re-exports this file.
 *
 * Chromium is found at PUPPETEER_EXECUTABLE_PATH, /usr/bin/chromium, or Puppeteer's own
 * download (in that order). On machines without a GPU, WebGPU runs on SwiftShader
 * (a CPU implementation of Vulkan), which needs --enable-unsafe-swiftshader.
 * Pages are served by Vite from the repository root over http://127.0.0.1 (WebGPU needs
 * a secure context; localhost counts as one).
 */
import fs from 'node:fs';
import path from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer';
import { createServer, type InlineConfig, type ViteDevServer } from 'vite';

import { repoRoot } from './tool.ts';

export { repoRoot };

export const chromiumFlags = [
  '--no-sandbox',
  '--enable-unsafe-webgpu',
  '--enable-unsafe-swiftshader',
  '--enable-features=Vulkan',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-dev-shm-usage',
];

export function chromiumPath(): string | undefined {
  const candidates = [process.env.PUPPETEER_EXECUTABLE_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'];
  return candidates.find((p): p is string => !!p && fs.existsSync(p));
}

export interface LaunchOptions {
  /** Extra Chromium flags, e.g. a fake camera. */
  extraArgs?: string[];
  /** Leave WebGPU off (to test the page's explanation). */
  noWebGPU?: boolean;
}

export async function launchBrowser(options: LaunchOptions = {}): Promise<Browser> {
  let args = [...chromiumFlags, ...(options.extraArgs ?? [])];
  if (options.noWebGPU) {
    args = args.filter((a) => !a.includes('webgpu') && !a.includes('swiftshader'));
    args.push('--disable-webgpu', '--disable-gpu');
  }
  const executablePath = chromiumPath();
  return puppeteer.launch({
    headless: true,
    args,
    ...(executablePath ? { executablePath } : {}),
    protocolTimeout: 30 * 60 * 1000,
  });
}

export interface ServerOptions {
  /**
   * Merged over vite.config.ts, e.g. `optimizeDeps.include` for pages that import CommonJS
   * packages (TF.js). Give such servers their own `cacheDir`, so that they do not rewrite
   * the pre-bundled dependencies of servers running beside them.
   */
  vite?: InlineConfig;
}

/** Vite dev server over the repository root, on a free loopback port. */
export async function startServer(options: ServerOptions = {}): Promise<{ server: ViteDevServer; url: string }> {
  const extra = options.vite ?? {};
  const server = await createServer({
    ...extra,
    configFile: path.join(repoRoot, 'vite.config.ts'),
    root: repoRoot,
    logLevel: extra.logLevel ?? 'error',
    server: { ...extra.server, host: '127.0.0.1', port: 0, strictPort: false, hmr: false, watch: null },
  });
  await server.listen();
  const address = server.httpServer?.address();
  if (!address || typeof address === 'string') throw new Error('vite server has no TCP address');
  return { server, url: `http://127.0.0.1:${address.port}` };
}

/** Forward the page's console errors and uncaught exceptions into a list (and stderr). */
export function collectPageErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(msg.text());
    if (process.env.PAGE_LOG) console.log(`[page:${msg.type()}] ${msg.text()}`);
  });
  page.on('pageerror', (err) => errors.push(String(err)));
  return errors;
}
