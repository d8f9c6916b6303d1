/**
 * The demo page (index.html, src/app) in headless Chromium with WebGPU on SwiftShader and
 * a fake camera fed by a Y4M video made here from a coco-mini photograph (a skier, COCO
 * image 30752; a generated image where ../shared/coco-mini is absent, said in the log).
 * One page runs through every test in order, as a user would: first pose, 20 live
 * resolution switches, the profiler and its trace, the sweep, the pose mode, then a
 * forced device loss. Resolutions are kept small (161..321): SwiftShader runs a 257x257
 * frame in about half a second on two cores.
 *
 * Every test also asserts that the page logged no console error and that the app saw no
 * uncaptured GPU error (device.onuncapturederror, counted in poseApp.errors).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Browser } from 'puppeteer';
import type { ViteDevServer } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APP_OUTPUT, openApp, outputFile, records, waitFrames, type AppPage } from './support/app-page.ts';
import { makeFakeCamera, type FakeCamera } from './support/app-y4m.ts';
import { collectPageErrors, launchBrowser, startServer } from './support/browser.ts';
import { DEFAULT_MODEL } from '../src/app/models.ts';

/** First pose within this long of navigation (model load, device, first SwiftShader frame). */
const FIRST_POSE_BOUND_MS = 90_000;
const SWITCH_TARGETS = [161, 321, 257];
const SWITCHES = 20;

let server: ViteDevServer;
let url: string;
let browser: Browser;
/** WebGPU without a fake camera. */
let plain: Browser;
let camera: FakeCamera;
let app: AppPage;

function log(line: string): void {
  console.log(`[app test] ${line}`);
}

async function noErrors(): Promise<void> {
  expect(app.errors, `console errors:\n${app.errors.join('\n')}`).toEqual([]);
  const gpu = await app.page.evaluate(() => ({ errors: window.poseApp.errors, messages: window.poseApp.errorMessages }));
  expect(gpu.errors, `GPU errors:\n${gpu.messages.join('\n')}`).toBe(0);
}

beforeAll(async () => {
  fs.mkdirSync(APP_OUTPUT, { recursive: true });
  const s = await startServer();
  server = s.server;
  url = s.url;
  plain = await launchBrowser();
  camera = await makeFakeCamera(plain, url, APP_OUTPUT);
  log(
    `fake camera: ${camera.width}x${camera.height} from ${camera.origin}${camera.origin === 'generated' ? ' (../shared/coco-mini is absent: a generated image)' : ''}`,
  );
  browser = await launchBrowser({
    extraArgs: ['--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', `--use-file-for-fake-video-capture=${camera.file}`],
  });
  // Tuning off: these tests are about the page, and tuning on SwiftShader makes frames
  // slow while it runs; the tuning test below opens its own page with it on.
  app = await openApp(browser, `${url}/?res=257&tuning=off`);
  log(`first pose drawn ${app.firstPoseMs} ms after navigation`);
});

afterAll(async () => {
  await plain?.close();
  await browser?.close();
  await server?.close();
});

describe('the demo page', () => {
  it('loads with the fake camera, lists the models and draws the pose over the person', async () => {
    const { page } = app;
    expect(app.firstPoseMs).toBeLessThan(FIRST_POSE_BOUND_MS);
    await waitFrames(page, 2);
    const state = await page.evaluate(() => ({
      status: window.poseApp.status,
      settings: window.poseApp.settings,
      resolution: window.poseApp.resolution,
      pose: window.poseApp.poses[0],
      source: document.getElementById('source-label')?.textContent ?? '',
      options: [...document.querySelectorAll<HTMLOptionElement>('#model-select option')].map((o) => o.value),
      labels: [...document.querySelectorAll<HTMLOptionElement>('#model-select option')].map((o) => o.textContent ?? ''),
      info: document.getElementById('pose-info')?.textContent ?? '',
    }));
    const index = (await (await fetch(`${url}/weights/index.json`)).json()) as { models: { name: string; outputStride: number }[] };
    expect(index.models.length).toBeGreaterThan(0);
    expect(state.options).toEqual(index.models.map((m) => m.name));
    expect(state.settings.model).toBe(DEFAULT_MODEL);
    // The menu shows each model's weight format and size (npm run weights makes f32 and f16).
    for (const label of state.labels) expect(label).toMatch(/ \((f32|f16|int8), [\d.]+ (MiB|KiB|B)(, random weights)?\)$/);
    expect(state.labels.some((l) => l.includes('(f16, '))).toBe(true);
    expect(state.status).toBe('running');
    expect(state.source).toMatch(/^camera: /);
    expect(state.resolution).toEqual({ width: 257, height: 257 });
    // The camera is mirrored by default (selfie view); keypoints come mirrored too.
    expect(state.settings.flip).toBe(true);
    const pose = state.pose!;
    const shown = pose.keypoints.filter((k) => k.score >= state.settings.minScore).length;
    log(`pose score ${pose.score.toFixed(3)}, ${shown}/17 keypoints >= ${state.settings.minScore}; page says "${state.info}"`);
    expect(state.info).toContain(`${shown}/17`);
    if (camera.keypoints) {
      // Against COCO's annotation of the skier, mirrored as the page mirrors the camera.
      const errs: number[] = [];
      camera.keypoints.forEach(([x, y, v], k) => {
        if (v === 0) return;
        const p = pose.keypoints[k]!.position;
        errs.push(Math.hypot(p.x - (camera.width - 1 - x), p.y - y));
      });
      errs.sort((a, b) => a - b);
      const median = errs[Math.floor(errs.length / 2)]!;
      const within = errs.filter((e) => e <= 30).length;
      log(
        `vs COCO: ${errs.length} annotated keypoints, median error ${median.toFixed(1)} px, ${within} within 30 px (person ~300 px tall)`,
      );
      expect(pose.score).toBeGreaterThan(0.5);
      expect(shown).toBeGreaterThanOrEqual(12);
      expect(median).toBeLessThan(20);
      expect(within / errs.length).toBeGreaterThanOrEqual(0.75);
    } else {
      expect(pose.keypoints).toHaveLength(17);
    }
    await page.screenshot({ path: outputFile('app-camera.png') });
    await noErrors();
  });

  it(`switches resolution through the UI ${SWITCHES} times while frames run: in effect within 2 frames, same GPU bytes per resolution`, async () => {
    const { page } = app;
    const startFrame = await page.evaluate(() => window.poseApp.frames);
    const framesToEffect: number[] = [];
    const buffers = new Map<number, number[]>();
    const totals = new Map<number, number[]>();
    let previous = 257;
    for (let i = 0; i < SWITCHES; i++) {
      const r = SWITCH_TARGETS[i % SWITCH_TARGETS.length]!;
      // Click the preset and note the completed-frame count in the same task.
      const before = await page.evaluate((res: number) => {
        const before = window.poseApp.frames;
        document.querySelector<HTMLButtonElement>(`button.preset[data-res="${res}"]`)!.click();
        return before;
      }, r);
      await page.waitForFunction(
        (res: number, b: number) => window.poseApp.history.some((h) => h.frame > b && h.width === res && h.height === res),
        { timeout: 120_000, polling: 50 },
        r,
        before,
      );
      const recs = await records(page, before);
      const first = recs.find((h) => h.width === r && h.height === r)!;
      framesToEffect.push(first.frame - before);
      // Frames before it ran the previous resolution (the frame in flight at the click).
      for (const h of recs.filter((h) => h.frame < first.frame)) expect(h.width).toBe(previous);
      (buffers.get(r) ?? buffers.set(r, []).get(r)!).push(first.gpuBufferBytes);
      (totals.get(r) ?? totals.set(r, []).get(r)!).push(first.gpuBytes);
      const pressed = await page.$eval(`button.preset[data-res="${r}"]`, (b) => b.getAttribute('aria-pressed'));
      expect(pressed).toBe('true');
      previous = r;
    }
    const all = await records(page, startFrame);
    const state = await page.evaluate(() => ({
      failed: window.poseApp.failedFrames,
      frames: window.poseApp.frames,
      switchMs: window.poseApp.profile().switchMs,
    }));
    log(
      `frames to effect per switch: ${framesToEffect.join(' ')} (max ${Math.max(...framesToEffect)}); ${all.length} frames ran, ${state.failed} failed; last switch built its plan in ${state.switchMs.toFixed(1)} ms`,
    );
    for (const [r, b] of buffers)
      log(
        `${r}x${r}: GPU buffer bytes ${[...new Set(b)].join(', ')} (${b.length} visits); with textures ${[...new Set(totals.get(r))].join(', ')}`,
      );
    expect(Math.max(...framesToEffect)).toBeLessThanOrEqual(2);
    expect(state.failed).toBe(0);
    // No frame missing: the records are consecutive.
    all.forEach((h, i) => {
      if (i) expect(h.frame).toBe(all[i - 1]!.frame + 1);
    });
    for (const [r, b] of buffers) {
      expect(new Set(b).size, `GPU buffer bytes at ${r}: ${b.join(', ')}`).toBe(1);
      expect(new Set(totals.get(r)).size).toBe(1);
    }
    // Larger inputs hold more activation bytes.
    expect(buffers.get(161)![0]!).toBeLessThan(buffers.get(257)![0]!);
    expect(buffers.get(257)![0]!).toBeLessThan(buffers.get(321)![0]!);
    await noErrors();
  });

  it('shows an invalid custom size plainly and offers the nearest valid one', async () => {
    const { page } = app;
    await page.evaluate(() => {
      const w = document.querySelector<HTMLInputElement>('#res-w')!;
      const h = document.querySelector<HTMLInputElement>('#res-h')!;
      w.value = '300';
      h.value = '200';
      document.querySelector<HTMLButtonElement>('#res-apply')!.click();
    });
    const shown = await page.evaluate(() => ({
      error: document.getElementById('res-error')!.hidden ? null : document.getElementById('res-error')!.textContent,
      invalid: document.querySelector('#res-w')!.classList.contains('invalid'),
      requested: window.poseApp.settings.resolution,
    }));
    log(`invalid size message: "${shown.error}"`);
    expect(shown.error).toContain('300 × 200 is not a valid input');
    expect(shown.error).toContain('k × 16 + 1');
    expect(shown.error).toContain('Use 305 × 193');
    expect(shown.invalid).toBe(true);
    expect(shown.requested.width).not.toBe(300);
    // The offered size works: a non-square input.
    const before = await page.evaluate(() => {
      const before = window.poseApp.frames;
      document.querySelector<HTMLButtonElement>('#res-snap')!.click();
      return before;
    });
    await page.waitForFunction(
      (b: number) => window.poseApp.history.some((h) => h.frame > b && h.width === 305 && h.height === 193),
      { timeout: 60_000 },
      before,
    );
    const errorHidden = await page.$eval('#res-error', (e) => (e as HTMLElement).hidden);
    expect(errorHidden).toBe(true);
    await noErrors();
  });

  it('profiles every pass of the plan: one row each, non-negative, summing to the total GPU time; exports a Chrome trace', async () => {
    const { page } = app;
    await page.evaluate(() => document.querySelector<HTMLButtonElement>('button.preset[data-res="257"]')!.click());
    await page.waitForFunction(() => window.poseApp.resolution?.width === 257, { timeout: 60_000 });
    await waitFrames(page, 6);
    await new Promise((r) => setTimeout(r, 400)); // the panel redraws at most every 250 ms
    const p = await page.evaluate(() => {
      const prof = window.poseApp.profile();
      const planPasses = window.poseApp.net!.plan.passes.map((x) => x.name);
      const rows = [...document.querySelectorAll<HTMLTableRowElement>('#profiler-rows tr')].map((tr) => ({
        pass: tr.dataset.pass!,
        ms: Number(tr.dataset.ms),
      }));
      const { trace: _t, ...rest } = prof;
      return { ...rest, planPasses, rows, mode: document.getElementById('profiler-mode')!.textContent };
    });
    log(
      `profiler at 257: ${p.passes.length} passes over ${p.samples} frames, sum of pass means ${p.passSumMs.toFixed(1)} ms, ` +
        `total GPU (first begin to last end) ${p.totalGpuMs.toFixed(1)} ± ${p.totalGpuSdMs.toFixed(1)} ms ` +
        `(sum/total ${(p.passSumMs / p.totalGpuMs).toFixed(4)}), encode ${p.encodeMs.toFixed(2)} ms, latency ${p.latencyMs.toFixed(0)} ms, ${p.fps.toFixed(2)} fps`,
    );
    const top = [...p.passes].sort((a, b) => b.meanMs - a.meanMs).slice(0, 3);
    log(`costliest: ${top.map((x) => `${x.name} ${x.meanMs.toFixed(1)} ms (${(100 * x.share).toFixed(1)}%)`).join('; ')}`);
    if (!p.timestamps) {
      // No timestamp-query here: the panel must say so and show whole-frame timing.
      expect(p.mode).toContain('no timestamp-query');
      expect(p.passes.map((x) => x.name)).toEqual(['frame']);
      return;
    }
    expect(p.passes.map((x) => x.name)).toEqual(p.planPasses);
    for (const x of p.passes) {
      expect(x.meanMs).toBeGreaterThanOrEqual(0);
      expect(x.sdMs).toBeGreaterThanOrEqual(0);
    }
    expect(p.samples).toBeGreaterThanOrEqual(5);
    expect(Math.abs(p.passSumMs - p.totalGpuMs) / p.totalGpuMs).toBeLessThanOrEqual(0.1);
    // The panel: one row per pass, sorted by cost.
    expect(p.rows.map((r) => r.pass).sort()).toEqual([...p.planPasses].sort());
    p.rows.forEach((r, i) => {
      if (i) expect(r.ms).toBeLessThanOrEqual(p.rows[i - 1]!.ms);
    });
    await (await page.$('#profiler'))!.screenshot({ path: outputFile('profiler-panel.png') });

    // "Export trace" through the button: a download of the last 5 frames.
    const downloads = outputFile('downloads');
    fs.rmSync(downloads, { recursive: true, force: true });
    fs.mkdirSync(downloads, { recursive: true });
    const cdp = await page.createCDPSession();
    await cdp.send('Browser.setDownloadBehavior', { behavior: 'allow', downloadPath: downloads });
    await page.evaluate(() => {
      document.querySelector<HTMLInputElement>('#trace-frames')!.value = '5';
      document.querySelector<HTMLButtonElement>('#export-trace')!.click();
    });
    let file: string | undefined;
    for (let i = 0; i < 100 && !file; i++) {
      await new Promise((r) => setTimeout(r, 100));
      file = fs.readdirSync(downloads).find((f) => f.endsWith('.json'));
    }
    expect(file, 'no trace downloaded').toBeDefined();
    const trace = JSON.parse(fs.readFileSync(path.join(downloads, file!), 'utf8')) as {
      traceEvents: { name: string; ph: string; ts: number; dur: number; pid: number; tid: number; args: { frame?: number } }[];
      displayTimeUnit: string;
    };
    fs.copyFileSync(path.join(downloads, file!), outputFile('trace.json'));
    const complete = trace.traceEvents.filter((e) => e.ph === 'X');
    const byFrame = new Map<number, string[]>();
    for (const e of complete) {
      expect(typeof e.ts).toBe('number');
      expect(e.dur).toBeGreaterThanOrEqual(0);
      (byFrame.get(e.args.frame!) ?? byFrame.set(e.args.frame!, []).get(e.args.frame!)!).push(e.name);
    }
    log(
      `trace: ${file}, ${complete.length} pass events in ${byFrame.size} frames (${trace.traceEvents.length - complete.length} metadata events)`,
    );
    expect(byFrame.size).toBe(5);
    // Event names carry the pass's variant: `pointwise <layer> [tile16x4]`.
    for (const names of byFrame.values()) {
      expect(names.every((n) => / \[[\w]+\]$/.test(n))).toBe(true);
      expect(names.map((n) => n.replace(/ \[[\w]+\]$/, ''))).toEqual(p.planPasses);
    }
    // The events of a frame lie in order on the GPU clock.
    const frames = [...byFrame.keys()].sort((a, b) => a - b);
    const firstFrame = complete.filter((e) => e.args.frame === frames[0]);
    firstFrame.forEach((e, i) => {
      if (i) expect(e.ts).toBeGreaterThanOrEqual(firstFrame[i - 1]!.ts);
    });
    await noErrors();
  });

  it('runs the resolution sweep and shows its table and chart', async () => {
    const { page } = app;
    const rows = await page.evaluate(() => window.poseApp.sweep({ resolutions: [161, 257, 321], frames: 2, warmup: 1 }));
    for (const r of rows)
      log(
        `sweep ${r.width}x${r.height}: GPU ${r.gpuMs?.toFixed(1)} ms, latency ${r.latencyMs.toFixed(0)} ms, ${r.fps.toFixed(2)} fps, ${r.gpuBytes} bytes`,
      );
    expect(rows.map((r) => r.width)).toEqual([161, 257, 321]);
    for (const r of rows) {
      expect(r.fps).toBeGreaterThan(0);
      expect(r.latencyMs).toBeGreaterThan(0);
    }
    expect(rows[0]!.gpuMs!).toBeLessThan(rows[2]!.gpuMs!);
    const shown = await page.evaluate(() => ({
      rows: document.querySelectorAll('#sweep-table tbody tr').length,
      chart: !document.getElementById('sweep-chart')!.hidden,
      back: window.poseApp.settings.resolution,
    }));
    expect(shown.rows).toBe(3);
    expect(shown.chart).toBe(true);
    expect(shown.back).toEqual({ width: 257, height: 257 });
    await page.waitForFunction(() => window.poseApp.resolution?.width === 257, { timeout: 60_000 });
    await (await page.$('#sweep'))!.screenshot({ path: outputFile('sweep.png') });
    await noErrors();
  });

  it('has the single / multiple poses control (live when the core has multi-pose decoding)', async () => {
    const { page } = app;
    const state = await page.evaluate(() => ({
      available: window.poseApp.multiPoseAvailable,
      disabled: document.querySelector<HTMLInputElement>('#mode-multi')!.disabled,
      note: document.getElementById('multi-note')!.textContent,
    }));
    if (!state.available) {
      log('multi-pose: not in the core yet; the control is disabled and says so');
      expect(state.disabled).toBe(true);
      expect(state.note).toContain('multi-pose decoding arrives with the multi-pose issue');
      return;
    }
    expect(state.disabled).toBe(false);
    const before = await page.evaluate(() => {
      const before = window.poseApp.frames;
      document.querySelector<HTMLInputElement>('#mode-multi')!.click();
      return before;
    });
    await page.waitForFunction(
      (b: number) => window.poseApp.history.some((h) => h.frame > b && h.mode === 'multi'),
      { timeout: 60_000 },
      before,
    );
    await waitFrames(page, 1);
    const multi = await page.evaluate(() => ({ poses: window.poseApp.poses.map((p) => p.score), mode: window.poseApp.settings.mode }));
    log(`multi-pose: ${multi.poses.length} pose(s), scores ${multi.poses.map((s) => s.toFixed(2)).join(', ')}`);
    expect(multi.mode).toBe('multi');
    expect(multi.poses.length).toBeGreaterThanOrEqual(1);
    await page.screenshot({ path: outputFile('app-multi.png') });
    await page.evaluate(() => document.querySelector<HTMLInputElement>('#mode-single')!.click());
    await page.waitForFunction(() => window.poseApp.history[window.poseApp.history.length - 1]!.mode === 'single', { timeout: 60_000 });
    await noErrors();
  });

  it('survives a forced device loss: a new device, frames resume with the same settings', async () => {
    const { page } = app;
    await page.evaluate(() => {
      window.poseApp.set({ minScore: 0.4 });
      document.querySelector<HTMLButtonElement>('button.preset[data-res="161"]')!.click();
    });
    await page.waitForFunction(() => window.poseApp.resolution?.width === 161, { timeout: 60_000 });
    const before = await page.evaluate(() => {
      const a = window.poseApp;
      const s = {
        settings: a.settings,
        resolution: a.resolution,
        frames: a.frames,
        generation: a.history[a.history.length - 1]!.generation,
      };
      (window as unknown as { oldDevice: GPUDevice }).oldDevice = a.device!;
      a.loseDevice();
      return s;
    });
    const t0 = Date.now();
    await page.waitForFunction(
      (g: number) => window.poseApp.history.filter((h) => h.generation > g).length >= 3,
      { timeout: 120_000, polling: 50 },
      before.generation,
    );
    const after = await page.evaluate(() => {
      const a = window.poseApp;
      return {
        settings: a.settings,
        resolution: a.resolution,
        losses: a.deviceLosses,
        status: a.status,
        failed: a.failedFrames,
        newDevice: a.device !== (window as unknown as { oldDevice: GPUDevice }).oldDevice,
        banner: document.getElementById('banner')!.hidden ? '' : document.getElementById('banner')!.textContent!,
        pose: a.poses[0]!.score,
      };
    });
    log(`device loss: recovered and ran 3 frames in ${Date.now() - t0} ms; banner "${after.banner}"`);
    expect(after.losses).toBe(1);
    expect(after.status).toBe('running');
    expect(after.newDevice).toBe(true);
    expect(after.failed).toBe(0);
    expect(after.settings).toEqual(before.settings);
    expect(after.resolution).toEqual(before.resolution);
    expect(after.banner).toContain('GPU device was lost');
    expect(after.banner).toContain('frames resumed');
    expect(after.pose).toBeGreaterThan(0.3);
    // The new net's profiler runs too.
    const prof = await page.evaluate(() => window.poseApp.profile().passes.length);
    expect(prof).toBeGreaterThan(0);
    await page.screenshot({ path: outputFile('app-after-device-loss.png') });
    await noErrors();
  });

  it('takes a picture from the file picker and from a drop, keypoints unmirrored for files', async () => {
    const { page } = app;
    const input = (await page.$('#file-input'))!;
    const before = await page.evaluate(() => window.poseApp.frames);
    await (input as import('puppeteer').ElementHandle<HTMLInputElement>).uploadFile(camera.png);
    await page.waitForFunction(() => document.getElementById('source-label')!.textContent === 'image: photo.png', { timeout: 30_000 });
    // The frame in flight may still be the camera's; then the picture runs once.
    await page.waitForFunction(() => window.poseApp.history.some((h) => h.source === 'image: photo.png'), { timeout: 60_000 });
    expect(await page.evaluate(() => window.poseApp.frames)).toBeGreaterThan(before);
    const picked = await page.evaluate(() => ({ flip: window.poseApp.settings.flip, pose: window.poseApp.poses[0]! }));
    expect(picked.flip).toBe(false);
    expect(picked.pose.score).toBeGreaterThan(0.3);
    if (camera.keypoints) {
      const [x, y] = camera.keypoints[0]!; // the nose, as annotated: not mirrored now
      const nose = picked.pose.keypoints[0]!.position;
      log(`file picker: nose at (${nose.x.toFixed(0)}, ${nose.y.toFixed(0)}), COCO (${x}, ${y})`);
      expect(Math.hypot(nose.x - x, nose.y - y)).toBeLessThan(30);
    }
    // Drag-and-drop of the same picture under another name.
    const b64 = fs.readFileSync(camera.png).toString('base64');
    await page.evaluate((data: string) => {
      const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
      const dt = new DataTransfer();
      dt.items.add(new File([bytes], 'dropped.png', { type: 'image/png' }));
      document.getElementById('stage')!.dispatchEvent(new DragEvent('dragover', { bubbles: true, cancelable: true, dataTransfer: dt }));
      document.getElementById('stage')!.dispatchEvent(new DragEvent('drop', { bubbles: true, cancelable: true, dataTransfer: dt }));
    }, b64);
    await page.waitForFunction(() => document.getElementById('source-label')!.textContent === 'image: dropped.png', { timeout: 30_000 });
    await page.waitForFunction(() => window.poseApp.history.some((h) => h.source === 'image: dropped.png'), { timeout: 60_000 });
    expect(await page.evaluate(() => window.poseApp.failedFrames)).toBe(0);
    await noErrors();
  });
});

describe('the demo page on other sources', () => {
  it('runs on an image URL and switches the model live through the menu', async () => {
    // A second menu entry for the same weights, so that a model switch can run here.
    const opened = await openApp(browser, `${url}/?res=161&tuning=off&src=/test-output/app/photo.png`, {
      async setup(page) {
        await page.setRequestInterception(true);
        page.on('request', (req) => {
          if (!req.url().endsWith('/weights/index.json')) return void req.continue();
          void fetch(`${url}/weights/index.json`)
            .then((r) => r.json() as Promise<{ models: { name: string }[] }>)
            .then((index) => {
              // Of the model the app opens, so that the switch keeps the same weights (and GPU bytes).
              const base = index.models.find((m) => m.name === DEFAULT_MODEL) ?? index.models[0]!;
              index.models.push({ ...base, name: `${base.name}-again` });
              return req.respond({ status: 200, contentType: 'application/json', body: JSON.stringify(index) });
            });
        });
      },
    });
    const pg = opened.page;
    try {
      // A still picture runs once (openApp waited for it), and once more per change.
      const first = await pg.evaluate(() => ({
        source: document.getElementById('source-label')!.textContent,
        flip: window.poseApp.settings.flip,
        models: window.poseApp.models.map((m) => m.name),
        bytes: window.poseApp.profile().gpuBufferBytes,
        score: window.poseApp.poses[0]!.score,
      }));
      log(
        `?src=: ${first.source}, first pose after ${opened.firstPoseMs} ms, score ${first.score.toFixed(2)}; models ${first.models.join(', ')}`,
      );
      expect(first.source).toBe('image: photo.png');
      expect(first.flip).toBe(false);
      // The duplicate entry (weights/ may hold other models too, e.g. the benchmark's random ones).
      const other = first.models.find((m) => m.endsWith('-again'))!;
      expect(other).toBeDefined();
      const before = await pg.evaluate(() => window.poseApp.frames);
      await pg.select('#model-select', other);
      await pg.waitForFunction(
        (m: string, b: number) => window.poseApp.history.filter((h) => h.frame > b && h.model === m).length >= 1,
        { timeout: 60_000 },
        other,
        before,
      );
      const after = await pg.evaluate(() => ({
        model: window.poseApp.settings.model,
        bytes: window.poseApp.profile().gpuBufferBytes,
        failed: window.poseApp.failedFrames,
        errors: window.poseApp.errors,
        res: window.poseApp.resolution,
      }));
      const recs = await records(pg, before);
      log(
        `model switch: ${recs.filter((r) => r.model !== other).length} frame(s) finished on the old model, then ${other}; GPU buffer bytes ${first.bytes} -> ${after.bytes}`,
      );
      expect(after.model).toBe(other);
      expect(after.res).toEqual({ width: 161, height: 161 });
      expect(after.bytes).toBe(first.bytes);
      expect(after.failed).toBe(0);
      expect(after.errors).toBe(0);
      expect(opened.errors).toEqual([]);
    } finally {
      await pg.close();
    }
  });

  it('tunes the kernels on this GPU: the status shows tuning (n/m), then each pass shows its chosen variant', async () => {
    const opened = await openApp(browser, `${url}/?res=129&src=/test-output/app/photo.png`);
    const pg = opened.page;
    try {
      const seen = new Set<string>();
      const t0 = Date.now();
      let state = '';
      while (Date.now() - t0 < 400_000) {
        const s = await pg.evaluate(() => ({
          status: document.getElementById('status')!.textContent!,
          state: window.poseApp.net?.tuning.state ?? '',
        }));
        const m = /tuning \(\d+\/\d+\)/.exec(s.status);
        if (m) seen.add(m[0]);
        state = s.state;
        if (state === 'tuned') break;
        await new Promise((r) => setTimeout(r, 200));
      }
      log(`app tuning at 129: ${state} after ${((Date.now() - t0) / 1000).toFixed(0)} s; status showed ${[...seen].join(', ')}`);
      expect(state).toBe('tuned');
      expect(seen.size).toBeGreaterThan(0);
      // The still picture ran while tuning needed frames, and once more after; now ask for a stream.
      await pg.evaluate(() => window.poseApp.set({ continuous: true }));
      await waitFrames(pg, 2);
      await new Promise((r) => setTimeout(r, 400)); // the panel redraws at most every 250 ms
      const p = await pg.evaluate(() => ({
        steps: window.poseApp.net!.plan.steps.map((s) => ({ name: s.name, variant: s.variant })),
        rows: [...document.querySelectorAll<HTMLTableRowElement>('#profiler-rows tr')].map((tr) => ({
          pass: tr.dataset.pass!,
          variant: tr.dataset.variant!,
          text: tr.querySelector('.variant')!.textContent,
        })),
        tuning: document.getElementById('profiler-tuning')!.textContent!,
        status: document.getElementById('status')!.textContent!,
        // The page's own net (this test runs without the worker).
        table: (window.poseApp.net as import('../src/posenet.ts').PoseNet).tuningTable().entries.length,
      }));
      expect(p.tuning).toMatch(/tuned on this GPU/);
      expect(p.status).not.toMatch(/tuning \(/);
      expect(p.table).toBeGreaterThan(0);
      expect(p.rows.length).toBe(p.steps.length);
      for (const step of p.steps) {
        const row = p.rows.find((r) => r.pass === step.name)!;
        expect(row.variant, step.name).toBe(step.variant);
        expect(row.text).toBe(step.variant);
      }
      await (await pg.$('#profiler'))!.screenshot({ path: outputFile('profiler-tuned.png') });
      expect(opened.errors).toEqual([]);
    } finally {
      await pg.close();
    }
  });

  it('says so without timestamp-query and shows whole-frame timing only', async () => {
    const opened = await openApp(browser, `${url}/?res=161&tuning=off&src=/test-output/app/photo.png&timestamps=0`);
    const pg = opened.page;
    try {
      // A still picture runs once per change: ask for a stream of frames to time.
      await pg.evaluate(() => window.poseApp.set({ continuous: true }));
      await waitFrames(pg, 4);
      await new Promise((r) => setTimeout(r, 400));
      const p = await pg.evaluate(() => {
        const prof = window.poseApp.profile();
        const trace = prof.trace(3);
        return {
          timestamps: prof.timestamps,
          passes: prof.passes.map((x) => x.name),
          total: prof.totalGpuMs,
          rows: document.querySelectorAll('#profiler-rows tr').length,
          mode: document.getElementById('profiler-mode')!.textContent!,
          events: trace.traceEvents.filter((e) => e.ph === 'X').map((e) => e.name),
        };
      });
      log(`without timestamp-query: "${p.mode}"; whole frame ${p.total.toFixed(1)} ms`);
      expect(p.timestamps).toBe(false);
      expect(p.mode).toContain('no timestamp-query');
      expect(p.mode).toContain('whole-frame timing only');
      expect(p.passes).toEqual(['frame']);
      expect(p.rows).toBe(1);
      expect(p.total).toBeGreaterThan(0);
      expect(p.events).toEqual(['frame', 'frame', 'frame']);
      expect(opened.errors).toEqual([]);
      await (await pg.$('#profiler'))!.screenshot({ path: outputFile('profiler-no-timestamps.png') });
    } finally {
      await pg.close();
    }
  });

  it('offers the file drop where there is no camera, and runs on the file dropped', async () => {
    const page = await plain.newPage();
    const errors = collectPageErrors(page);
    try {
      await page.goto(`${url}/?res=161&tuning=off`);
      await page.waitForFunction(() => document.getElementById('drop-zone')?.hidden === false || window.poseApp.problem, {
        timeout: 60_000,
      });
      const shown = await page.evaluate(() => ({ text: document.getElementById('drop-zone')!.innerText, status: window.poseApp.status }));
      log(`no camera: "${shown.text.replace(/\n+/g, ' | ')}"`);
      expect(shown.text).toContain('Drop a video or an image here');
      expect(shown.text).toMatch(/No camera/);
      await page.screenshot({ path: outputFile('app-no-camera.png') });
      const input = (await page.$('#drop-zone input[type=file]')) as import('puppeteer').ElementHandle<HTMLInputElement>;
      await input.uploadFile(camera.png);
      await page.waitForFunction(() => window.poseApp.ready && window.poseApp.frames >= 1, { timeout: 60_000 });
      const after = await page.evaluate(() => ({
        hidden: document.getElementById('drop-zone')!.hidden,
        status: window.poseApp.status,
        errors: window.poseApp.errors,
      }));
      expect(after).toEqual({ hidden: true, status: 'running', errors: 0 });
      expect(errors).toEqual([]);
    } finally {
      await page.close();
    }
  });
});
