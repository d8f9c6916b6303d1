/**
 * Node side of the GPU tests: a Vite server, headless Chromium with WebGPU, and the
 * harness page (test/pages/harness.ts) whose entry points run GPU work in error scopes.
 */
import type { Browser, Page } from 'puppeteer';
import type { ViteDevServer } from 'vite';
import type { GpuResult, Harness } from '../pages/harness.ts';
import { collectPageErrors, launchBrowser, startServer } from './browser.ts';

export interface HarnessPage {
  url: string;
  page: Page;
  /** Console errors and exceptions seen on the page. */
  pageErrors: string[];
  /** Calls window.harness[fn](arg) and fails on any GPU error it reports. */
  call<K extends keyof Harness>(fn: K, arg: Parameters<Harness[K]>[0]): Promise<unknown>;
  close(): Promise<void>;
}

/** The test harness page (test/pages/harness.ts). */
export function openHarness(): Promise<HarnessPage> {
  return openTestPage<Harness>('/test/pages/harness.html', 'harness') as Promise<HarnessPage>;
}

export interface TestPage<H> {
  url: string;
  page: Page;
  pageErrors: string[];
  call<K extends keyof H & string>(fn: K, arg: unknown): Promise<unknown>;
  close(): Promise<void>;
}

/**
 * Opens a test page that puts its entry points on `window[globalName]`; `call` runs one
 * and fails on any GPU error it reports (entry points return GpuResult).
 */
export async function openTestPage<H>(pagePath: string, globalName: string): Promise<TestPage<H>> {
  let server: ViteDevServer | undefined;
  let browser: Browser | undefined;
  try {
    const s = await startServer();
    server = s.server;
    browser = await launchBrowser();
    const page = await browser.newPage();
    const pageErrors = collectPageErrors(page);
    await page.goto(`${s.url}${pagePath}`);
    await page.waitForFunction((g) => g in window, { timeout: 120_000 }, globalName);
    const hasGpu = await page.evaluate(() => !!navigator.gpu);
    if (!hasGpu) throw new Error('navigator.gpu is missing in headless Chromium: WebGPU flags not honoured?');
    const b = browser;
    const srv = server;
    return {
      url: s.url,
      page,
      pageErrors,
      async call(fn, arg) {
        const out = (await page.evaluate(
          (g, name, a) => (window as unknown as Record<string, Record<string, (x: unknown) => Promise<unknown>>>)[g]![name]!(a),
          globalName,
          fn,
          arg as never,
        )) as GpuResult<unknown> | unknown;
        if (out && typeof out === 'object' && 'errors' in out && 'result' in out) {
          const r = out as GpuResult<unknown>;
          if (r.errors.length) throw new Error(`GPU errors in ${globalName}.${String(fn)}:\n${r.errors.join('\n')}`);
          return r.result;
        }
        return out;
      },
      async close() {
        await b.close();
        await srv.close();
      },
    };
  } catch (err) {
    await browser?.close();
    await server?.close();
    throw err;
  }
}
