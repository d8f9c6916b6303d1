/**
 * Video, smoothing and tracking end to end, in headless Chromium with WebGPU on
 * SwiftShader, on a clip made here: the synthetic clip of tools/pages/synthetic-clip.ts
 * (a pan and zoom over coco-mini's skier, or over a generated figure where
 * ../shared/coco-mini is absent), 24 frames at 30 fps, encoded as WebM (VP8) and MP4
 * (H.264) by mediabunny in the browser.
 *
 * - the API: `estimateSinglePose(src, { smoothing })` is PoseSmoother on the raw poses; a
 *   resolution switch keeps the history, a model switch resets it; tracked ids are stable;
 * - the app on the WebM: inference follows the presented frame (media times are the
 *   frames'), stops when paused, runs once per frame step and seek, and the pose is the
 *   displayed frame's (checked against the clip's known transform); Record and Snapshot;
 *   the transport controls; the rough edges (aria, narrow layout, profiler headers, trace
 *   count, empty size fields);
 * - a still image runs once per change; URL parameters replaced are explained;
 *   `?mode=multi` holds without `flip=`; `?src=` 404 and "not an image" say so;
 * - the app plays the MP4; `npm run infer` on the WebM (--fps) writes the app's record
 *   format; `npm run jitter` writes its rows.
 *
 * Resolutions are small (161) to keep SwiftShader quick.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'puppeteer';
import type { ViteDevServer } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PoseRecord } from '../src/pose/record.ts';
import { type ClipSpec, clipSize, clipTransform, mapPoint } from '../tools/pages/synthetic-clip.ts';
import type { TemporalResult } from './pages/temporal.ts';
import { openApp, waitFrames, type AppPage } from './support/app-page.ts';
import { collectPageErrors, launchBrowser, repoRoot, startServer } from './support/browser.ts';
import { DEFAULT_MODEL } from '../src/app/models.ts';

const OUT = path.join(repoRoot, 'test-output', 'video');
const COCO_PHOTO = path.resolve(repoRoot, '../shared/coco-mini/images/000000030752.jpg');
const MODEL = 'posenet-mobilenet-v1-075-s16';
const FPS = 30;
const FRAMES = 24;
const SEED = 5;

let server: ViteDevServer;
let url: string;
let browser: Browser;
/** URL (on the test server) and file of the photograph the clip pans over. */
let photoUrl: string;
let photoFile: string;
let spec: ClipSpec;
let webm: string;
let mp4: string;

function log(line: string): void {
  console.log(`[video test] ${line}`);
}

async function encodeClip(page: Page, image: string, container: 'webm' | 'mp4', file: string): Promise<{ width: number; height: number }> {
  const out = await page.evaluate(
    (img: string, c: 'webm' | 'mp4', frames: number, fps: number, seed: number) =>
      (
        window as unknown as {
          jitter: { encode(r: unknown): Promise<{ file: string; width: number; height: number }> };
        }
      ).jitter.encode({ image: img, frames, fps, seed, container: c }),
    image,
    container,
    FRAMES,
    FPS,
    SEED,
  );
  fs.writeFileSync(file, Buffer.from(out.file, 'base64'));
  return out;
}

beforeAll(async () => {
  fs.mkdirSync(OUT, { recursive: true });
  const s = await startServer();
  server = s.server;
  url = s.url;
  browser = await launchBrowser();
  const page = await browser.newPage();
  try {
    if (fs.existsSync(COCO_PHOTO)) {
      photoFile = COCO_PHOTO;
      photoUrl = '/coco-mini/images/000000030752.jpg';
    } else {
      log('../shared/coco-mini is absent: the clip pans over a generated figure');
      await page.goto(`${url}/test/pages/figure.html`);
      await page.waitForFunction(() => 'drawFigure' in window);
      const png = await page.evaluate(() => {
        const c = document.createElement('canvas');
        c.width = 640;
        c.height = 426;
        (window as unknown as { drawFigure: (g: CanvasRenderingContext2D, w: number, h: number) => void }).drawFigure(
          c.getContext('2d')!,
          640,
          426,
        );
        return c.toDataURL('image/png').split(',')[1]!;
      });
      photoFile = path.join(OUT, 'figure.png');
      fs.writeFileSync(photoFile, Buffer.from(png, 'base64'));
      photoUrl = '/test-output/video/figure.png';
    }
    await page.goto(`${url}/tools/pages/jitter.html`);
    await page.waitForFunction(() => 'jitter' in window, { timeout: 120_000 });
    const image = fs.readFileSync(photoFile).toString('base64');
    webm = path.join(OUT, 'clip.webm');
    mp4 = path.join(OUT, 'clip.mp4');
    const t0 = Date.now();
    const size = await encodeClip(page, image, 'webm', webm);
    await encodeClip(page, image, 'mp4', mp4);
    const photo = await page.evaluate(async (u: string) => {
      const b = await createImageBitmap(await (await fetch(u)).blob());
      return { width: b.width, height: b.height };
    }, photoUrl);
    spec = {
      photoWidth: photo.width,
      photoHeight: photo.height,
      centreX: photo.width / 2,
      centreY: photo.height / 2,
      frames: FRAMES,
      seed: SEED,
    };
    expect(clipSize(photo.width, photo.height)).toEqual({ width: size.width, height: size.height });
    log(
      `clips: ${FRAMES} frames of ${size.width}x${size.height} at ${FPS} fps, WebM ${fs.statSync(webm).size} B, MP4 ${fs.statSync(mp4).size} B, in ${Date.now() - t0} ms`,
    );
  } finally {
    await page.close();
  }
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

describe('smoothing and tracking through the API', () => {
  it('smooths as PoseSmoother does, keeps the history across a resolution switch, resets it on a model switch; ids hold', async () => {
    const page = await browser.newPage();
    const errors = collectPageErrors(page);
    try {
      await page.goto(`${url}/test/pages/temporal.html`);
      await page.waitForFunction(() => 'temporal' in window, { timeout: 120_000 });
      const out = await page.evaluate(
        (w: string, i: string) =>
          (
            window as unknown as { temporal: { run(a: unknown): Promise<{ result: TemporalResult | null; errors: string[] }> } }
          ).temporal.run({
            weightsUrl: w,
            imageUrl: i,
          }),
        `/weights/${MODEL}`,
        photoUrl,
      );
      expect(out.errors).toEqual([]);
      const r = out.result!;
      log(
        `API: smoothed vs PoseSmoother max ${r.singleMaxDiff} px (smoothing moved keypoints by up to ${r.smoothingMoved.toFixed(2)} px); ` +
          `across 161->193 ${r.acrossResolutionMaxDiff} px (a reset would give ${r.resetWouldDiffer.toFixed(2)} px); after setModel ${r.afterModelMaxDiff} px from raw; ids ${JSON.stringify(r.multiIds)} then ${JSON.stringify(r.idsAfterReset)}`,
      );
      // The same float arithmetic on the same GPU results: equal to rounding.
      expect(r.singleMaxDiff).toBeLessThan(1e-6);
      expect(r.smoothingMoved).toBeGreaterThan(0.01);
      expect(r.acrossResolutionMaxDiff).toBeLessThan(1e-6);
      expect(r.resetWouldDiffer).toBeGreaterThan(0.01);
      expect(r.afterModelMaxDiff).toBe(0);
      // The skier (or figure) keeps id 1 in every frame.
      for (const ids of r.multiIds) expect(ids[0]).toBe(1);
      expect(Math.min(...r.idsAfterReset)).toBeGreaterThan(Math.max(...r.multiIds.flat()));
      expect(errors).toEqual([]);
    } finally {
      await page.close();
    }
  });
});

/** Median distance between two keypoint lists over the keypoints both score >= 0.5. */
function medianDistance(a: [number, number, number][], b: [number, number, number][]): number {
  const d = a
    .map((k, i) => [k, b[i]!] as const)
    .filter(([p, q]) => p[2] >= 0.5 && q[2] >= 0.5)
    .map(([p, q]) => Math.hypot(p[0] - q[0], p[1] - q[1]))
    .sort((x, y) => x - y);
  return d[(d.length - 1) >> 1] ?? Number.NaN;
}

type Kps = [number, number, number][];

describe('the app on a video file', () => {
  let app: AppPage;
  const downloads = path.join(OUT, 'downloads');

  beforeAll(async () => {
    // Tuning off: this page is about frames on demand, and online tuning runs extra frames.
    app = await openApp(browser, `${url}/?res=161&tuning=off&src=/test-output/video/clip.webm`);
    fs.rmSync(downloads, { recursive: true, force: true });
    fs.mkdirSync(downloads, { recursive: true });
    const cdp = await app.page.createCDPSession();
    await cdp.send('Browser.setDownloadBehavior', { behavior: 'allow', downloadPath: downloads });
  });
  afterAll(async () => {
    await app?.page.close();
  });

  const state = () =>
    app.page.evaluate(() => ({
      frames: window.poseApp.frames,
      last: window.poseApp.history[window.poseApp.history.length - 1]!,
      kps: window.poseApp.poses[0]!.keypoints.map((k) => [k.position.x, k.position.y, k.score] as [number, number, number]),
    }));
  const quiet = () => new Promise((r) => setTimeout(r, 1500));
  /** Waits for the first frame after `before` with media time `t` (s); returns its keypoints. */
  async function frameAt(before: number, t: number): Promise<Kps> {
    await app.page.waitForFunction(
      (b: number, tt: number) =>
        window.poseApp.history.some((h) => h.frame > b && h.mediaTime !== null && Math.abs(h.mediaTime - tt) < 0.002),
      { timeout: 60_000, polling: 50 },
      before,
      t,
    );
    await quiet();
    return (await state()).kps;
  }

  it('infers the frames presented, at their media times, and stops when paused', async () => {
    const { page } = app;
    await waitFrames(page, 3);
    const shown = await page.evaluate(() => ({
      transport: !document.getElementById('transport')!.hidden,
      label: document.getElementById('source-label')!.textContent,
      times: window.poseApp.history.map((h) => h.mediaTime),
    }));
    expect(shown.transport).toBe(true);
    expect(shown.label).toBe('video: clip.webm');
    // Every media time is a frame's: a multiple of 1/30 s (within 1 ms). The first frame can run
    // before the first requestVideoFrameCallback, on the element's currentTime as playback
    // starts: 1-2 ms late, once 5.4 ms on a loaded machine; under half a frame (8 ms) there.
    for (const t of shown.times) expect(Math.abs(t! * FPS - Math.round(t! * FPS)) * (1000 / FPS)).toBeLessThan(t! < 0.5 / FPS ? 8 : 1);
    await page.click('#play-pause');
    await quiet();
    const paused = await state();
    await quiet();
    const still = await state();
    log(
      `playing: media times ${shown.times.map((t) => t!.toFixed(3)).join(' ')}; paused at ${paused.last.mediaTime} after ${paused.frames} frames`,
    );
    expect(await page.evaluate(() => (window.poseApp.source!.element as HTMLVideoElement).paused)).toBe(true);
    expect(still.frames).toBe(paused.frames);
  });

  it('runs once per frame step, on the frame shown, and follows a seek to the displayed frame, resetting the smoothing', async () => {
    const { page } = app;
    const start = await state();
    const t0 = start.last.mediaTime!;
    await page.click('#step-forward');
    const afterStep = await frameAt(start.frames, t0 + 1 / FPS);
    const s1 = await state();
    expect(s1.frames).toBe(start.frames + 1);
    await page.click('#step-back');
    await frameAt(s1.frames, t0);
    const s2 = await state();
    expect(s2.frames).toBe(s1.frames + 1);
    log(
      `steps: ${t0.toFixed(4)} -> ${s1.last.mediaTime} -> ${s2.last.mediaTime} s, one frame each; time shown "${await page.$eval('#media-time', (e) => e.textContent)}"`,
    );
    expect(afterStep).toHaveLength(17);

    // Seek (the seek bar) to frame 0, then to frame 20: the pose moves with the picture.
    const seek = (frame: number) =>
      page.evaluate(
        (v: number) => {
          const bar = document.querySelector<HTMLInputElement>('#seek')!;
          bar.value = String(v);
          bar.dispatchEvent(new Event('input'));
          bar.dispatchEvent(new Event('change'));
        },
        (frame + 0.5) / FPS,
      );
    // Count the smoothing resets the page's net receives (a seek must reset the history).
    const resets = () =>
      page.evaluate(() => {
        const net = window.poseApp.net as unknown as { resetSmoothing(): unknown; resetsSeen?: number };
        if (net.resetsSeen === undefined) {
          net.resetsSeen = 0;
          const reset = net.resetSmoothing.bind(net);
          net.resetSmoothing = () => {
            net.resetsSeen!++;
            return reset();
          };
        }
        return net.resetsSeen;
      });
    const resetsBefore = await resets();
    let before = (await state()).frames;
    await seek(0);
    const p0 = await frameAt(before, 0);
    before = (await state()).frames;
    await seek(20);
    const p20 = await frameAt(before, 20 / FPS);
    // One reset per seek at least (a frame that straddles a seek resets once more).
    expect((await resets()) - resetsBefore).toBeGreaterThanOrEqual(2);
    // Where frame 0's keypoints are in frame 20, through the clip's known transforms.
    const t0x = clipTransform(spec, 0);
    const t20 = clipTransform(spec, 20);
    const mapped = p0.map(([x, y, s]) => {
      const photo = { x: (x + 0.5 - t0x.tx) / t0x.k - 0.5, y: (y + 0.5 - t0x.ty) / t0x.k - 0.5 };
      const q = mapPoint(t20, photo.x, photo.y);
      return [q.x, q.y, s] as [number, number, number];
    });
    const followed = medianDistance(p20, mapped);
    const stale = medianDistance(p20, p0);
    log(
      `seek: frame 20's pose is ${followed.toFixed(1)} px (median) from frame 0's mapped into frame 20, ${stale.toFixed(1)} px from frame 0's unmapped`,
    );
    // Keypoints at 161 wander by several px (the jitter tool's raw RMS error is ~5.5 px at 257,
    // more at 161): 10 px; the picture moved by far more between the frames.
    expect(followed).toBeLessThan(10);
    expect(stale).toBeGreaterThan(3 * followed);
  });

  it('records every frame inferred as JSON Lines and snaps the annotated frame as PNG', async () => {
    const { page } = app;
    await page.click('#snapshot');
    await page.click('#record');
    const before = (await state()).frames;
    await page.click('#play-pause');
    await page.waitForFunction((b: number) => window.poseApp.frames >= b + 4, { timeout: 120_000 }, before);
    await page.click('#play-pause');
    await quiet();
    const recorded = await page.evaluate(() =>
      window.poseApp.history.filter((h) => h.frame > 0).map((h) => ({ frame: h.frame, t: h.mediaTime })),
    );
    await page.click('#record');
    let files: string[] = [];
    for (let i = 0; i < 100 && files.length < 2; i++) {
      await new Promise((r) => setTimeout(r, 100));
      files = fs.readdirSync(downloads).filter((f) => !f.endsWith('.crdownload'));
    }
    const jsonl = files.find((f) => f.endsWith('.jsonl'));
    const png = files.find((f) => f.endsWith('.png'));
    expect(jsonl, `downloads: ${files.join(', ')}`).toBeDefined();
    expect(png).toBeDefined();
    const lines = fs.readFileSync(path.join(downloads, jsonl!), 'utf8').trim().split('\n');
    const records = lines.map((l) => JSON.parse(l) as PoseRecord);
    const status = await page.$eval('#record-status', (e) => e.textContent);
    const ran = recorded.filter((r) => r.frame > before).length;
    log(`record: ${records.length} lines (${status}); ${ran} frames ran while recording; snapshot ${png}`);
    expect(records.length).toBe(ran);
    expect(status).toBe(`saved ${records.length} frames`);
    records.forEach((r, i) => {
      expect(Object.keys(r)).toEqual(['frame', 'mediaTime', 'resolution', 'poses']);
      expect(r.frame).toBe(i);
      expect(r.resolution).toEqual({ width: 161, height: 161 });
      expect(r.poses[0]!.keypoints).toHaveLength(17);
      expect(Math.abs(r.mediaTime! * FPS - Math.round(r.mediaTime! * FPS))).toBeLessThan(0.03);
    });
    const bytes = fs.readFileSync(path.join(downloads, png!));
    expect(bytes.subarray(1, 4).toString('ascii')).toBe('PNG');
    const size = clipSize(spec.photoWidth, spec.photoHeight);
    expect([bytes.readUInt32BE(16), bytes.readUInt32BE(20)]).toEqual([size.width, size.height]);
  });

  it('has working rate and loop controls', async () => {
    const { page } = app;
    await page.select('#playback-rate', '0.5');
    await page.click('#loop');
    const v = await page.evaluate(() => {
      const video = window.poseApp.source!.element as HTMLVideoElement;
      return { rate: video.playbackRate, loop: video.loop };
    });
    expect(v).toEqual({ rate: 0.5, loop: false });
  });

  it('announces its status, names the canvas, keeps the profiler headers apart, refuses bad counts and empty sizes', async () => {
    const { page } = app;
    const tree = await page.accessibility.snapshot({ interestingOnly: true });
    const nodes: { role: string; name?: string }[] = [];
    const walk = (n: { role: string; name?: string; children?: unknown[] } | null) => {
      if (!n) return;
      nodes.push(n);
      for (const c of n.children ?? []) walk(c as typeof n);
    };
    walk(tree as never);
    const status = await page.$eval('#status', (e) => ({
      role: e.getAttribute('role'),
      live: e.getAttribute('aria-live'),
      text: e.textContent,
    }));
    const img = nodes.find((n) => n.role === 'image' || n.role === 'img');
    log(`a11y: status "${status.text}" (${status.role}, aria-live ${status.live}); canvas "${img?.name}"`);
    expect(status).toMatchObject({ role: 'status', live: 'polite' });
    expect(nodes.some((n) => n.role === 'status')).toBe(true);
    expect(img?.name).toMatch(/video: clip\.webm, with the detected pose drawn over it/);

    // Profiler headers: the gap between "GPU ms" and "share of frame".
    const gap = await page.evaluate(() => {
      const th = [...document.querySelectorAll('#profiler thead th')] as HTMLElement[];
      const textRect = (e: HTMLElement) => {
        const r = document.createRange();
        r.selectNodeContents(e);
        return r.getBoundingClientRect();
      };
      return textRect(th[3]!).left - textRect(th[2]!).right;
    });
    log(`profiler headers: ${gap.toFixed(1)} px between "GPU ms" and "share of frame"`);
    expect(gap).toBeGreaterThanOrEqual(8);

    // 0 frames for the trace: said, nothing downloaded.
    const before = fs.readdirSync(downloads).length;
    await page.evaluate(() => {
      document.querySelector<HTMLInputElement>('#trace-frames')!.value = '0';
      document.querySelector<HTMLButtonElement>('#export-trace')!.click();
    });
    await new Promise((r) => setTimeout(r, 500));
    const traceError = await page.$eval('#trace-error', (e) => ((e as HTMLElement).hidden ? null : e.textContent));
    expect(traceError).toBe('frames to export: "0" is not a whole number from 1 to 60');
    expect(fs.readdirSync(downloads).length).toBe(before);

    // Empty size fields.
    await page.evaluate(() => {
      document.querySelector<HTMLInputElement>('#res-w')!.value = '';
      document.querySelector<HTMLInputElement>('#res-h')!.value = '';
      document.querySelector<HTMLButtonElement>('#res-apply')!.click();
    });
    const resError = await page.$eval('#res-error', (e) => e.textContent);
    expect(resError).toBe('Enter a width (and a height, or leave the height empty for a square).');
    expect(app.errors).toEqual([]);
  });

  it('at 800 px wide: the title on one line, the controls before the sweep', async () => {
    const { page } = app;
    await page.setViewport({ width: 800, height: 900 });
    await new Promise((r) => setTimeout(r, 300));
    const layout = await page.evaluate(() => {
      const h1 = document.querySelector('h1')!;
      const lh = parseFloat(getComputedStyle(h1).lineHeight) || 1.4 * parseFloat(getComputedStyle(h1).fontSize);
      return {
        titleLines: Math.round(h1.getBoundingClientRect().height / lh),
        controlsTop: document.getElementById('controls')!.getBoundingClientRect().top,
        sweepTop: document.getElementById('sweep')!.getBoundingClientRect().top,
        stageBottom: document.getElementById('stage')!.getBoundingClientRect().bottom,
      };
    });
    await page.screenshot({ path: path.join(OUT, 'app-800px.png'), fullPage: true });
    await page.setViewport({ width: 1440, height: 1000 });
    log(
      `800 px: title ${layout.titleLines} line(s), controls at ${layout.controlsTop.toFixed(0)} px, sweep at ${layout.sweepTop.toFixed(0)} px`,
    );
    expect(layout.titleLines).toBe(1);
    expect(layout.controlsTop).toBeGreaterThanOrEqual(layout.stageBottom - 1);
    expect(layout.controlsTop).toBeLessThan(layout.sweepTop);
  });
});

describe('the app on a still image and on bad URLs', () => {
  it('runs a still image once per change; explains replaced URL parameters; keeps ?mode=multi without flip=', async () => {
    // Tuning off: the frame counts below are of frames on demand (online tuning runs its own).
    const app = await openApp(browser, `${url}/?res=300x200&minScore=5&model=nope&mode=multi&tuning=off&src=${photoUrl}`);
    const { page } = app;
    try {
      const quiet = () => new Promise((r) => setTimeout(r, 1500));
      const frames = () => page.evaluate(() => window.poseApp.frames);
      await quiet();
      const first = await page.evaluate(() => ({
        frames: window.poseApp.frames,
        settings: window.poseApp.settings,
        mode: window.poseApp.history[0]!.mode,
        notes: [...document.querySelectorAll('#url-notes li')].map((li) => li.textContent),
        notesHidden: document.getElementById('url-notes')!.hidden,
      }));
      log(`URL notes: ${first.notes.join(' | ')}`);
      expect(first.frames).toBe(1);
      expect(first.notesHidden).toBe(false);
      expect(first.notes.join(' ')).toMatch(/res=300x200.*using 305 × 193/);
      expect(first.notes.join(' ')).toMatch(/minScore=5 is outside 0..1: using 1/);
      expect(first.notes.join(' ')).toMatch(/model=nope: no such model/);
      expect(first.settings).toMatchObject({ model: DEFAULT_MODEL, minScore: 1, mode: 'multi', resolution: { width: 305, height: 193 } });
      expect(first.mode).toBe('multi');
      // One frame per change, none in between.
      await page.evaluate(() => window.poseApp.setResolution(161));
      await page.waitForFunction(() => window.poseApp.frames >= 2, { timeout: 60_000 });
      await quiet();
      expect(await frames()).toBe(2);
      await page.evaluate(() => window.poseApp.set({ mode: 'single', minScore: 0.3 }));
      await page.waitForFunction(() => window.poseApp.frames >= 3, { timeout: 60_000 });
      await quiet();
      expect(await frames()).toBe(3);
      // Continuous re-runs (for timing) on request.
      await page.evaluate(() => window.poseApp.set({ continuous: true }));
      await page.waitForFunction(() => window.poseApp.frames >= 6, { timeout: 60_000 });
      await page.evaluate(() => window.poseApp.set({ continuous: false }));
      await quiet();
      const stopped = await frames();
      await quiet();
      expect(await frames()).toBe(stopped);
      const prof = await page.evaluate(() => window.poseApp.profile());
      log(
        `still image: ${stopped} frames in all; profile over ${prof.samples} non-warm-up frames, latency ${prof.latencyMs.toFixed(0)} ms`,
      );
      expect(app.errors).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it('says 404 for a missing ?src=, and "not an image or a video" for a text file', async () => {
    const page = await browser.newPage();
    const errors = collectPageErrors(page);
    try {
      await page.goto(`${url}/?res=161&src=/nope.png`);
      await page.waitForFunction(() => document.getElementById('drop-zone')?.hidden === false, { timeout: 120_000 });
      const reason = await page.$eval('#drop-reason', (e) => e.textContent);
      // The page's own module (a string, so that Vitest does not rewrite the import()).
      const readme = (await page.evaluate(
        "import('/src/app/sources.ts').then((m) => m.openUrl('/README.md')).then(() => 'opened', (e) => e.message)",
      )) as string;
      log(`?src=/nope.png: "${reason}"; /README.md: "${readme}"`);
      expect(reason).toBe('?src=/nope.png: /nope.png: HTTP 404 (not found)');
      expect(readme).toMatch(/^\/README\.md: not an image or a video this browser can decode/);
      expect(readme).not.toMatch(/CORS/);
      // The 404 of the image itself is the browser's console line; nothing else failed.
      expect(errors.filter((e) => !/404/.test(e))).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it('plays an MP4 (H.264) file too', async () => {
    const app = await openApp(browser, `${url}/?res=161&src=/test-output/video/clip.mp4`);
    try {
      const s = await app.page.evaluate(() => ({
        label: document.getElementById('source-label')!.textContent,
        score: window.poseApp.poses[0]!.score,
        t: window.poseApp.history[0]!.mediaTime,
      }));
      log(`MP4: ${s.label}, pose score ${s.score.toFixed(2)} at ${s.t} s`);
      expect(s.label).toBe('video: clip.mp4');
      expect(s.score).toBeGreaterThan(0.3);
      expect(app.errors).toEqual([]);
    } finally {
      await app.page.close();
    }
  });
});

describe('command-line tools on video', () => {
  const tsx = path.join(repoRoot, 'node_modules/.bin/tsx');
  const run = (args: string[]) => spawnSync(tsx, args, { cwd: repoRoot, encoding: 'utf8', timeout: 600_000 });

  it('infer runs a WebM headless, --fps 10 keeps 10 frames per second, in the app record format', () => {
    const out = path.join(OUT, 'infer.jsonl');
    fs.rmSync(out, { force: true });
    const t0 = Date.now();
    const r = run(['tools/infer.ts', webm, '--fps', '10', '--resolution', '161', '--json', out]);
    log(`infer: exit ${r.status} in ${Date.now() - t0} ms; ${r.stderr.trim().split('\n').pop()}`);
    expect(r.status, r.stderr).toBe(0);
    const records = fs
      .readFileSync(out, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as PoseRecord);
    // 24 frames at 30 fps = 0.8 s: ticks at 0, 0.1, ..., 0.7.
    expect(records.map((x) => x.frame)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    records.forEach((x, i) => {
      expect(Object.keys(x)).toEqual(['frame', 'mediaTime', 'resolution', 'poses']);
      expect(x.mediaTime!).toBeCloseTo(i / 10, 3);
      expect(x.resolution).toEqual({ width: 161, height: 161 });
      expect(x.poses).toHaveLength(1);
      expect(x.poses[0]!.id).toBeNull();
      expect(x.poses[0]!.keypoints).toHaveLength(17);
    });
  });

  it('infer names a missing, an undecodable video and a bad --fps, and exits 1', () => {
    const bad = run(['tools/infer.ts', webm, '--fps', '0']);
    expect(bad.status).toBe(1);
    expect(bad.stderr.trim()).toBe('infer: invalid --fps "0": expected a number of frames per second > 0');
    const missing = run(['tools/infer.ts', path.join(OUT, 'missing.webm')]);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain('missing.webm: no such file');
    const junk = path.join(OUT, 'junk.webm');
    fs.writeFileSync(junk, 'not a video at all');
    const undecodable = run(['tools/infer.ts', junk]);
    log(`infer on junk: ${undecodable.stderr.trim()}`);
    expect(undecodable.status).toBe(1);
    expect(undecodable.stderr).toMatch(/^infer: cannot decode .*junk\.webm: /);
  });

  it('jitter writes raw and smoothed rows with the issue’s fields', () => {
    const out = path.join(OUT, 'jitter.json');
    fs.rmSync(out, { force: true });
    const args = ['tools/jitter.ts', '--frames', '16', '--resolutions', '161', '--truth-resolution', '257', '--json', out];
    if (photoFile !== COCO_PHOTO) args.push('--image', photoFile);
    const r = run(args);
    log(`jitter: exit ${r.status}\n${r.stdout}`);
    expect(r.status, r.stderr).toBe(0);
    const rows = JSON.parse(fs.readFileSync(out, 'utf8')) as Record<string, unknown>[];
    expect(rows.map((x) => [x.resolution, x.mode])).toEqual([
      [161, 'raw'],
      [161, 'smoothed'],
    ]);
    for (const x of rows) {
      expect(Object.keys(x)).toEqual(['resolution', 'mode', 'rmsErrorPx', 'jitterPx', 'lagFrames', 'image']);
      expect(x.rmsErrorPx as number).toBeGreaterThan(0);
    }
    // Smoothing takes jitter off (the goals are measured on 120 frames at 257, see the README).
    expect(rows[1]!.jitterPx as number).toBeLessThan(rows[0]!.jitterPx as number);
  });
});
