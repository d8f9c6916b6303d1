/**
 * The demo page's speed–accuracy controls in headless Chromium (WebGPU on SwiftShader):
 * opened on a photograph (?src=) with the input following its aspect ratio and targetFps
 * at 1 fps, a budget SwiftShader meets; then the flip test and a hand-picked resolution.
 * The photograph is coco-mini's skier (640x426), or a generated picture where coco-mini
 * is absent. Every test also asserts no console error and no uncaptured GPU error.
 */
import path from 'node:path';
import type { Browser } from 'puppeteer';
import type { ViteDevServer } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aspectResolution } from '../src/plan/shapes.ts';
import { openApp, waitFrames, type AppPage } from './support/app-page.ts';
import { makeFakeCamera, type FakeCamera } from './support/app-y4m.ts';
import { launchBrowser, repoRoot, startServer } from './support/browser.ts';

const OUT = path.join(repoRoot, 'test-output', 'app-frontier');

let server: ViteDevServer;
let browser: Browser;
let photo: FakeCamera;
let app: AppPage;

function log(line: string): void {
  console.log(`[app frontier] ${line}`);
}

async function noErrors(): Promise<void> {
  expect(app.errors, `console errors:\n${app.errors.join('\n')}`).toEqual([]);
  const gpu = await app.page.evaluate(() => ({ errors: window.poseApp.errors, messages: window.poseApp.errorMessages }));
  expect(gpu.errors, `GPU errors:\n${gpu.messages.join('\n')}`).toBe(0);
}

beforeAll(async () => {
  const s = await startServer();
  server = s.server;
  browser = await launchBrowser();
  photo = await makeFakeCamera(browser, s.url, OUT, 1);
  const src = `/${path.relative(repoRoot, photo.png).split(path.sep).join('/')}`;
  log(`photograph ${photo.width}x${photo.height} from ${photo.origin}`);
  app = await openApp(browser, `${s.url}/?src=${encodeURIComponent(src)}&camera=0&res=161&aspect=1&fps=1`);
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

describe('speed and accuracy controls', () => {
  it('holds 1 fps on the source aspect: shows the size it chose and why, and runs it', async () => {
    const { page } = app;
    // Until the chosen size has been measured (the probe starts at 161).
    await page.waitForFunction(
      () => {
        const c = window.poseApp.targetFps;
        return !!c && c.estimates.some((e) => e.size === c.size && !e.predicted);
      },
      { timeout: 180_000, polling: 100 },
    );
    await waitFrames(page, 1);
    const state = await page.evaluate(() => ({
      choice: window.poseApp.targetFps!,
      resolution: window.poseApp.resolution!,
      settings: window.poseApp.settings,
      reason: document.getElementById('target-fps-reason')?.textContent ?? '',
      checked: {
        aspect: document.querySelector<HTMLInputElement>('#aspect')!.checked,
        target: document.querySelector<HTMLInputElement>('#target-fps-on')!.checked,
      },
      fps: document.querySelector<HTMLInputElement>('#target-fps')!.value,
    }));
    log(`reason "${state.reason}", running ${state.resolution.width}x${state.resolution.height}`);
    expect(state.settings.aspect).toBe(true);
    expect(state.settings.targetFps).toBe(1);
    expect(state.checked).toEqual({ aspect: true, target: true });
    expect(state.fps).toBe('1');
    expect(state.choice.budgetMs).toBe(1000);
    expect(state.reason).toBe(`${state.choice.reason} (long sides; the input follows the source)`);
    expect(state.choice.reason).toMatch(/^\d+: \d+(\.\d)? ms at \d+(, \d+(\.\d)?( predicted)? at \d+| \(the largest size\)); budget 1000$/);
    // The chosen long side was measured within budget, and the page runs it at the photograph's aspect.
    const here = state.choice.estimates.find((e) => e.size === state.choice.size)!;
    expect(here.ms).toBeLessThanOrEqual(1000);
    expect(state.resolution).toEqual(aspectResolution(state.choice.size, photo.width, photo.height, 16));
    await noErrors();
  });

  it('turns the flip test on, and a hand-picked resolution ends targetFps', async () => {
    const { page } = app;
    await page.click('#flip-test');
    await waitFrames(page, 2);
    expect(await page.evaluate(() => [window.poseApp.settings.flipTest, window.poseApp.net!.flipTest])).toEqual([true, true]);
    await page.click('button.preset[data-res="257"]');
    const [rec] = (await waitFrames(page, 2)).slice(-1);
    const state = await page.evaluate(() => ({
      targetFps: window.poseApp.settings.targetFps,
      choice: window.poseApp.targetFps,
      checked: document.querySelector<HTMLInputElement>('#target-fps-on')!.checked,
      reason: document.getElementById('target-fps-reason')?.textContent ?? '',
    }));
    expect(state).toEqual({ targetFps: null, choice: null, checked: false, reason: 'Off: the resolution stays where it is set.' });
    // Long side 257 at the photograph's aspect, with the flip test still on.
    expect({ width: rec!.width, height: rec!.height }).toEqual(aspectResolution(257, photo.width, photo.height, 16));
    await noErrors();
  });
});
