/**
 * The static site: `npm run build` (tools/build-site.ts) makes a folder that a plain file
 * server hosts, at its root or under any sub-path, and the demo page there behaves as under
 * `npm start`. The build reads a weights folder made here (the default model, a copy of it
 * marked as random weights, and a folder that is not a model), so that the menu has two
 * models to switch between and `--random` has something to include or leave out.
 *
 * One build, served twice with python3 -m http.server (test/support/static-server.ts):
 * `-d <site>` (the root) with Chromium's fake camera, and `-d <host>` with the site at
 * `/apps/posenet/` and a photograph beside it (`?src=/photo.png`), where the model menu,
 * live resolution, profiler, sweep and the "Run in a worker" toggle are exercised. Poses in
 * the worker must equal the page thread's (test/support/same-pose.ts: the same kernels on
 * the same pixels).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser } from 'puppeteer';
import type { ViteDevServer } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_MODEL, type ModelEntry } from '../src/app/models.ts';
import type { Pose } from '../src/pose/types.ts';
import { listModels } from '../tools/lib/weights-index.ts';
import { type AppPage, openApp, waitFrames } from './support/app-page.ts';
import { type FakeCamera, makeFakeCamera } from './support/app-y4m.ts';
import { launchBrowser, repoRoot, startServer } from './support/browser.ts';
import { expectSamePose } from './support/same-pose.ts';
import { type StaticServer, startStaticServer } from './support/static-server.ts';

/** The model the app opens by default (the f16 weights). */
const MODEL = DEFAULT_MODEL;
const RANDOM = 'posenet-random-copy';

let tmp: string;
let weightsDir: string;
/** The site is built straight into <host>/apps/posenet, so one build serves both ways. */
let host: string;
let site: string;
let buildLog: string;
let server: ViteDevServer;
let browser: Browser;
let camera: FakeCamera;
const servers: StaticServer[] = [];

function log(line: string): void {
  console.log(`[site test] ${line}`);
}

function build(args: string[]): { status: number; output: string } {
  const r = spawnSync('npm', ['run', '--silent', 'build', '--', ...args], { cwd: repoRoot, encoding: 'utf8' });
  return { status: r.status ?? -1, output: `${r.stdout}${r.stderr}` };
}

async function serve(dir: string): Promise<string> {
  const s = await startStaticServer(dir);
  servers.push(s);
  return s.url;
}

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'posenet-webgpu-site-'));
  weightsDir = path.join(tmp, 'weights');
  const real = path.join(repoRoot, 'weights', MODEL);
  if (!fs.existsSync(path.join(real, 'model.json'))) throw new Error(`weights/${MODEL} is missing: run \`npm run weights\``);
  fs.cpSync(real, path.join(weightsDir, MODEL), { recursive: true });
  // The same weights, labelled as tools/make-posenet-onnx labels its random ones.
  fs.cpSync(real, path.join(weightsDir, RANDOM), { recursive: true });
  const manifestFile = path.join(weightsDir, RANDOM, 'model.json');
  const manifest = JSON.parse(fs.readFileSync(manifestFile, 'utf8'));
  manifest.name = RANDOM;
  manifest.source = { ...manifest.source, producer: 'posenet-webgpu tools/make-posenet-onnx.ts (a copy for the site test)' };
  fs.writeFileSync(manifestFile, JSON.stringify(manifest));
  fs.mkdirSync(path.join(weightsDir, 'not-a-model'));
  fs.writeFileSync(path.join(weightsDir, 'not-a-model', 'model.json'), '{"format":"tfjs-graph-model"}');

  host = path.join(tmp, 'host');
  site = path.join(host, 'apps', 'posenet');
  const t0 = Date.now();
  const r = build(['--out', site, '--weights', weightsDir, '--random']);
  buildLog = r.output;
  if (r.status !== 0) throw new Error(`npm run build failed:\n${r.output}`);
  log(`npm run build: ${((Date.now() - t0) / 1000).toFixed(1)} s\n${r.output.trim()}`);

  const s = await startServer();
  server = s.server;
  const plain = await launchBrowser();
  try {
    camera = await makeFakeCamera(plain, s.url, path.join(tmp, 'camera'));
  } finally {
    await plain.close();
  }
  fs.copyFileSync(camera.png, path.join(host, 'photo.png'));
  browser = await launchBrowser({
    extraArgs: ['--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', `--use-file-for-fake-video-capture=${camera.file}`],
  });
}, 600_000);

afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  await browser?.close();
  await server?.close();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe('npm run build', () => {
  it('writes the page, every model’s weights and a static index, with relative URLs only', () => {
    const files = fs.readdirSync(site).sort();
    expect(files).toEqual(['assets', 'build-info.json', 'index.html', 'weights']);
    const html = fs.readFileSync(path.join(site, 'index.html'), 'utf8');
    expect(html).not.toMatch(/\b(?:src|href)="\//);
    const assets = fs.readdirSync(path.join(site, 'assets'));
    expect(assets.filter((a) => a.endsWith('.js')).length).toBeGreaterThanOrEqual(2); // the page and the worker
    expect(assets.some((a) => a.endsWith('.css'))).toBe(true);
    // The weights are under weights/ only: no second copy among the assets (a module's URL literals can cause one).
    expect(assets.filter((a) => a.endsWith('.bin') || a.endsWith('.json'))).toEqual([]);
    const index = JSON.parse(fs.readFileSync(path.join(site, 'weights/index.json'), 'utf8')) as { models: ModelEntry[] };
    expect(index.models.map((m) => [m.name, m.url, m.randomWeights])).toEqual([
      [MODEL, `${MODEL}/`, false],
      [RANDOM, `${RANDOM}/`, true],
    ]);
    for (const m of [MODEL, RANDOM]) {
      for (const f of ['model.json', 'weights.bin']) {
        expect(fs.readFileSync(path.join(site, 'weights', m, f)).equals(fs.readFileSync(path.join(weightsDir, m, f))), `${m}/${f}`).toBe(
          true,
        );
      }
    }
    expect(fs.existsSync(path.join(site, 'weights', 'not-a-model'))).toBe(false);
    expect(buildLog).toContain('not a posenet-webgpu manifest');
  });

  it('leaves random-weight models out unless asked (the index code the dev server shares)', () => {
    expect(listModels(weightsDir, { includeRandom: false }).map((m) => m.entry.name)).toEqual([MODEL]);
    expect(listModels(weightsDir, { includeRandom: true }).map((m) => m.entry.name)).toEqual([MODEL, RANDOM]);
  });

  it('refuses to replace a folder it did not make, and a model whose weights do not match', () => {
    const mine = path.join(tmp, 'mine');
    fs.mkdirSync(mine);
    fs.writeFileSync(path.join(mine, 'notes.txt'), 'mine');
    const refused = build(['--out', mine, '--weights', weightsDir]);
    expect(refused.status).not.toBe(0);
    expect(refused.output).toContain('was not made by posenet-webgpu tools/build-site.ts');
    expect(fs.readFileSync(path.join(mine, 'notes.txt'), 'utf8')).toBe('mine');

    const broken = path.join(tmp, 'broken-weights');
    fs.cpSync(path.join(weightsDir, MODEL), path.join(broken, MODEL), { recursive: true });
    const bin = path.join(broken, MODEL, 'weights.bin');
    const bytes = fs.readFileSync(bin);
    bytes[100] = bytes[100]! ^ 0xff;
    fs.writeFileSync(bin, bytes);
    const stale = build(['--out', path.join(tmp, 'never'), '--weights', broken]);
    expect(stale.status).not.toBe(0);
    expect(stale.output).toMatch(/weights\.bin: sha256 [0-9a-f]{64} is not the [0-9a-f]{64} that .*model\.json records/);
    expect(fs.existsSync(path.join(tmp, 'never'))).toBe(false);
  });
});

describe('the built site on a plain static server', () => {
  it('at the root (python3 -m http.server -d <site>): the camera, the model menu, a pose', async () => {
    const url = await serve(site);
    let app: AppPage | null = null;
    try {
      app = await openApp(browser, `${url}/?res=161`);
      await waitFrames(app.page, 2);
      const state = await app.page.evaluate(() => ({
        source: document.getElementById('source-label')?.textContent ?? '',
        options: [...document.querySelectorAll<HTMLOptionElement>('#model-select option')].map((o) => o.value),
        score: window.poseApp.poses[0]?.score ?? 0,
        errors: window.poseApp.errors,
      }));
      log(`root: ${state.source}; models ${state.options.join(', ')}; pose score ${state.score.toFixed(2)}`);
      expect(state.source).toMatch(/^camera: /);
      expect(state.options).toEqual([MODEL, RANDOM]);
      expect(state.score).toBeGreaterThan(0);
      expect(state.errors).toBe(0);
      expect(app.errors).toEqual([]);
    } finally {
      await app?.page.close();
    }
  });

  it('under a sub-path: ?src=, the model menu, live resolution, profiler, sweep and the worker toggle', async () => {
    const url = await serve(host);
    // continuous=1: a still picture is otherwise inferred once per change.
    const app = await openApp(browser, `${url}/apps/posenet/?res=161&src=/photo.png&continuous=1`);
    const { page } = app;
    try {
      await waitFrames(page, 2);
      expect(await page.evaluate(() => document.getElementById('source-label')?.textContent)).toBe('image: photo.png');

      // Live resolution through the preset button.
      await page.evaluate(() => document.querySelector<HTMLButtonElement>('button.preset[data-res="257"]')!.click());
      const recs = await waitFrames(page, 3);
      expect(recs[recs.length - 1]).toMatchObject({ width: 257, height: 257 });

      // The profiler: a row per pass.
      const rows = await page.evaluate(() => document.querySelectorAll('#profiler-rows tr').length);
      expect(rows).toBeGreaterThan(10);

      // The sweep, two resolutions.
      const sweep = await page.evaluate(() => window.poseApp.sweep({ resolutions: [161, 193], frames: 2 }));
      expect(sweep.map((r) => r.width)).toEqual([161, 193]);
      expect(await page.evaluate(() => document.querySelectorAll('#sweep-table tbody tr').length)).toBe(2);

      // The worker toggle: the same pose from the worker, then back. On the page's thread the
      // view holds the frame (opaque); in a worker the page shows the source element itself
      // under the view, which holds the poses alone (transparent where no pose is drawn).
      const picture = () =>
        page.evaluate(() => {
          const view = document.getElementById('view') as HTMLCanvasElement;
          return {
            backdrop: document.querySelector('.canvas-box > .backdrop')?.tagName ?? null,
            overlay: view.classList.contains('overlay'),
            cornerAlpha: view.getContext('2d')!.getImageData(0, 0, 1, 1).data[3],
          };
        });
      const onPage = (await page.evaluate(async () => (await window.poseApp.waitFrames(1)) && window.poseApp.poses[0])) as Pose;
      expect(await picture()).toEqual({ backdrop: null, overlay: false, cornerAlpha: 255 });
      await page.click('#worker-mode');
      await page.waitForFunction(() => document.getElementById('worker-note')?.textContent?.startsWith('Running in a worker'), {
        timeout: 120_000,
      });
      await waitFrames(page, 2);
      const inWorker = await page.evaluate(() => ({
        pose: window.poseApp.poses[0]!,
        note: document.getElementById('worker-note')?.textContent ?? '',
        device: window.poseApp.device,
        res: window.poseApp.resolution,
      }));
      log(`worker toggle: "${inWorker.note}"`);
      expect(inWorker.note).toContain('in a worker');
      expect(inWorker.device).toBeNull();
      expect(inWorker.res).toEqual({ width: 257, height: 257 });
      expectSamePose(inWorker.pose, onPage, 'app, worker vs page thread');
      expect(await picture()).toEqual({ backdrop: 'IMG', overlay: true, cornerAlpha: 0 });
      await page.evaluate(() => document.querySelector<HTMLButtonElement>('button.preset[data-res="161"]')!.click());
      const inWorkerRecs = await waitFrames(page, 2);
      expect(inWorkerRecs[inWorkerRecs.length - 1]).toMatchObject({ width: 161, height: 161 });

      // The model menu, switched while in the worker.
      await page.select('#model-select', RANDOM);
      await page.waitForFunction(
        (m: string) => window.poseApp.history.slice(-2).every((h) => h.model === m) && window.poseApp.frames > 0,
        { timeout: 120_000 },
        RANDOM,
      );

      await page.click('#worker-mode');
      await page.waitForFunction(() => window.poseApp.device !== null, { timeout: 120_000 });
      await waitFrames(page, 2);
      expect(await picture()).toEqual({ backdrop: null, overlay: false, cornerAlpha: 255 });
      const end = await page.evaluate(() => ({
        model: window.poseApp.settings.model,
        failed: window.poseApp.failedFrames,
        errors: window.poseApp.errors,
      }));
      expect(end).toEqual({ model: RANDOM, failed: 0, errors: 0 });
      expect(app.errors).toEqual([]);
    } finally {
      await page.close();
    }
  });
});
