/**
 * Node side of the app tests: open index.html in a browser, read `window.poseApp`, wait
 * for frames. The handle's types come from src/app/debug-handle.ts.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'puppeteer';
import type { FrameRecord } from '../../src/app/app.ts';
import { collectPageErrors, repoRoot } from './browser.ts';

export const APP_OUTPUT = path.join(repoRoot, 'test-output', 'app');

export interface AppPage {
  page: Page;
  /** Console errors and uncaught exceptions. */
  errors: string[];
  /** Milliseconds from navigation to `poseApp.ready` (first pose drawn). */
  firstPoseMs: number;
}

/** A frame record without its per-pass profile (smaller over the wire). */
export type Rec = Omit<FrameRecord, 'profile'>;

export async function openApp(
  browser: Browser,
  url: string,
  options: { setup?: (page: Page) => Promise<void>; timeoutMs?: number } = {},
): Promise<AppPage> {
  const timeoutMs = options.timeoutMs ?? 180_000;
  const page = await browser.newPage();
  await options.setup?.(page);
  await page.setViewport({ width: 1440, height: 1000 });
  const errors = collectPageErrors(page);
  const t0 = Date.now();
  await page.goto(url);
  await page.waitForFunction(() => window.poseApp?.ready || window.poseApp?.problem, { timeout: timeoutMs, polling: 100 });
  const problem = await page.evaluate(() => window.poseApp.problem);
  if (problem) throw new Error(`the page cannot run: ${problem.title}: ${problem.detail}`);
  return { page, errors, firstPoseMs: Date.now() - t0 };
}

/** Waits until `n` more frames have completed; returns their records. */
export async function waitFrames(page: Page, n: number, timeoutMs = 120_000): Promise<Rec[]> {
  const start = await page.evaluate(() => window.poseApp.frames);
  await page.waitForFunction((target: number) => window.poseApp.frames >= target, { timeout: timeoutMs, polling: 50 }, start + n);
  return records(page, start);
}

/** Frame records after frame number `after`. */
export function records(page: Page, after = 0): Promise<Rec[]> {
  return page.evaluate(
    (a: number) =>
      window.poseApp.history
        .filter((r) => r.frame > a)
        .map((r) => {
          const { profile: _p, ...rest } = r;
          return rest;
        }),
    after,
  );
}

export function outputFile(name: string): string {
  fs.mkdirSync(APP_OUTPUT, { recursive: true });
  return path.join(APP_OUTPUT, name);
}
