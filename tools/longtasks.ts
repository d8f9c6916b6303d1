/**
 * longtasks (`npm run longtasks`): what worker mode buys the page's thread. PoseNet runs on
 * a camera (Chromium's fake camera, fed a Y4M made from a coco-mini photograph, scaled to
 * each --cameras size: tools/lib/fake-camera.ts) once on the page's thread and once in a
 * worker, on two pages:
 *
 * - `bare` (tools/pages/longtasks.html): the camera's <video> into estimateSinglePose, frame
 *   after frame, nothing else on the page: what PoseNet itself costs the page's thread;
 * - `app`: the demo page (index.html; `?worker=1` is its "Run in a worker" toggle), which
 *   also draws the overlay and refreshes its panels.
 *
 * For each it prints, over the same measuring window after --warmup frames:
 * - main-thread long tasks (PerformanceObserver `longtask`: tasks over 50 ms) per second,
 *   and the longest;
 * - the page thread's busy milliseconds per second and per frame (the time its tasks cover
 *   in a Chrome trace: `toplevel` RunTask events, nested ones counted once, on the thread
 *   where the page marks the window);
 * - frames per second and the end-to-end latency, median and p90 (estimate call to
 *   keypoints on the page's thread; the app's includes drawing the overlay); in a worker it
 *   includes making the VideoFrame / ImageBitmap, the transfer and the answer.
 *
 *   npm run longtasks -- [--pages bare,app] [--cameras photo,1280x720,3840x2160] [--seconds 20]
 *                        [--resolution 257] [--warmup 3] [--json out.json]
 *
 * A measurement, not a test: it reports and does not judge, but it prints for each page and
 * camera the ratio of long tasks per second (page thread / worker). On SwiftShader (no GPU)
 * the GPU's work runs on the same CPU cores as the page, and a loaded machine stretches any
 * task, so single figures are noisy; compare the two modes within one run.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { Browser, Page } from 'puppeteer';
import type { BareState } from './pages/longtasks.ts';
import { launchBrowser } from './lib/browser.ts';
import { openSession, parseResolution, runTool, ToolError } from './lib/browser-run.ts';
import { jsonIsOurs, OutputFile, userPath } from './lib/cli.ts';
import { makeFakeCamera } from './lib/fake-camera.ts';

const USAGE = `usage: npm run longtasks -- [--pages bare,app] [--cameras photo,1280x720,3840x2160] [--seconds 20]
                          [--resolution 257] [--warmup 3] [--json out.json]`;
const PAGES = ['bare', 'app'] as const;
type PageKind = (typeof PAGES)[number];
type Mode = 'main' | 'worker';
const MARK = 'posenet-longtasks-window';

export interface Measurement {
  page: PageKind;
  camera: string;
  mode: Mode;
  seconds: number;
  frames: number;
  fps: number;
  longTasks: number;
  longTasksPerSecond: number;
  longestTaskMs: number;
  /** The page thread's busy ms per second (its tasks in the trace). */
  busyMsPerSecond: number;
  busyMsPerFrame: number;
  endToEndMs: { median: number; p90: number };
}

interface FrameLike {
  t: number;
  endToEndMs: number;
}

function quantile(values: number[], q: number): number {
  if (!values.length) return NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * (s.length - 1) + 0.5))]!;
}

/** Frames completed so far on either page (the app's FrameRecords or the bare page's). */
function frames(page: Page): Promise<FrameLike[]> {
  return page.evaluate(() => {
    const w = window as unknown as { bare?: BareState };
    const list = w.bare ? w.bare.frames : (window.poseApp?.history ?? []);
    return list.map((r) => ({ t: r.t, endToEndMs: r.endToEndMs }));
  });
}

/**
 * Busy ms of the page's main thread in a trace: the time covered by RunTask events on the
 * thread that made MARK. Chromium nests them (`RunTask` around
 * `ThreadControllerImpl::RunTask`), so the union of their spans is summed, not each event.
 */
function pageThreadBusyMs(traceJson: Buffer): number {
  const trace = JSON.parse(traceJson.toString()) as { traceEvents?: TraceEvent[] } | TraceEvent[];
  const events = Array.isArray(trace) ? trace : (trace.traceEvents ?? []);
  const mark = events.find((e) => e.name === MARK);
  if (!mark) throw new Error(`the trace has no ${MARK} mark: cannot tell the page's thread`);
  const spans = events
    .filter((e) => e.pid === mark.pid && e.tid === mark.tid && e.ph === 'X' && e.dur && e.name.includes('RunTask'))
    .map((e) => [e.ts, e.ts + e.dur!] as const)
    .sort((a, b) => a[0] - b[0]);
  let total = 0;
  let end = -Infinity;
  for (const [from, to] of spans) {
    if (to <= end) continue;
    total += to - Math.max(from, end);
    end = to;
  }
  return total / 1000;
}

interface TraceEvent {
  name: string;
  ph: string;
  pid: number;
  tid: number;
  /** Microseconds. */
  ts: number;
  dur?: number;
}

async function measure(
  browser: Browser,
  url: string,
  kind: PageKind,
  camera: string,
  mode: Mode,
  options: { seconds: number; warmup: number; resolution: string },
): Promise<Measurement> {
  const page = await browser.newPage();
  try {
    // The observer runs from the page's first script, so no long task is missed.
    await page.evaluateOnNewDocument(() => {
      const w = window as unknown as { __longTasks: { start: number; duration: number }[] };
      w.__longTasks = [];
      new PerformanceObserver((list) => {
        for (const e of list.getEntries()) w.__longTasks.push({ start: e.startTime, duration: e.duration });
      }).observe({ type: 'longtask', buffered: true });
    });
    const worker = mode === 'worker' ? 1 : 0;
    const address =
      kind === 'bare'
        ? `${url}/tools/pages/longtasks.html?res=${options.resolution}&worker=${worker}`
        : `${url}/?res=${options.resolution}&worker=${worker}`;
    await page.goto(address);
    const start = Date.now();
    for (;;) {
      const state = await page.evaluate(() => {
        const w = window as unknown as { bare?: BareState };
        const error = w.bare
          ? w.bare.error
          : window.poseApp?.problem
            ? `${window.poseApp.problem.title}: ${window.poseApp.problem.detail}`
            : null;
        const count = w.bare ? w.bare.frames.length : (window.poseApp?.frames ?? 0);
        return { error, count };
      });
      if (state.error) throw new ToolError(`${kind} page (${mode}) cannot run: ${state.error}`);
      if (state.count >= options.warmup + 1) break;
      if (Date.now() - start > 300_000) throw new Error(`${kind} page (${mode}): no ${options.warmup + 1} frames in 300 s`);
      await new Promise((r) => setTimeout(r, 200));
    }
    await page.tracing.start({ categories: ['toplevel', 'blink.user_timing'] });
    const t0 = await page.evaluate((mark: string) => {
      performance.mark(mark);
      return performance.now();
    }, MARK);
    await new Promise((r) => setTimeout(r, options.seconds * 1000));
    const t1 = await page.evaluate(() => performance.now());
    const trace = await page.tracing.stop();
    const tasks = (await page.evaluate(
      (from: number, to: number) =>
        (window as unknown as { __longTasks: { start: number; duration: number }[] }).__longTasks.filter(
          (t) => t.start >= from && t.start < to,
        ),
      t0,
      t1,
    )) as { start: number; duration: number }[];
    const recs = (await frames(page)).filter((r) => r.t >= t0 && r.t < t1);
    const span = (t1 - t0) / 1000;
    const busy = trace ? pageThreadBusyMs(Buffer.from(trace)) : NaN;
    return {
      page: kind,
      camera,
      mode,
      seconds: span,
      frames: recs.length,
      fps: recs.length > 1 ? (recs.length - 1) / ((recs[recs.length - 1]!.t - recs[0]!.t) / 1000) : NaN,
      longTasks: tasks.length,
      longTasksPerSecond: tasks.length / span,
      longestTaskMs: Math.max(0, ...tasks.map((t) => t.duration)),
      busyMsPerSecond: busy / span,
      busyMsPerFrame: recs.length ? busy / recs.length : NaN,
      endToEndMs: {
        median: quantile(
          recs.map((r) => r.endToEndMs),
          0.5,
        ),
        p90: quantile(
          recs.map((r) => r.endToEndMs),
          0.9,
        ),
      },
    };
  } finally {
    await page.close();
  }
}

const f1 = (v: number) => (Number.isFinite(v) ? v.toFixed(1) : '–');
const f2 = (v: number) => (Number.isFinite(v) ? v.toFixed(2) : '–');

function table(results: Measurement[]): string {
  const head = [
    'page',
    'camera',
    'PoseNet on',
    'frames',
    'fps',
    'long tasks',
    '/s',
    'longest ms',
    'busy ms/s',
    'busy ms/frame',
    'e2e ms p50',
    'p90',
  ];
  const rows = results.map((r) => [
    r.page,
    r.camera,
    r.mode === 'main' ? 'page thread' : 'worker',
    String(r.frames),
    f2(r.fps),
    String(r.longTasks),
    f2(r.longTasksPerSecond),
    f1(r.longestTaskMs),
    f1(r.busyMsPerSecond),
    f1(r.busyMsPerFrame),
    f1(r.endToEndMs.median),
    f1(r.endToEndMs.p90),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < 3 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(head), ...rows.map(line)].join('\n');
}

function ratios(results: Measurement[]): string[] {
  const out: string[] = [];
  for (const main of results.filter((r) => r.mode === 'main')) {
    const worker = results.find((r) => r.mode === 'worker' && r.page === main.page && r.camera === main.camera);
    if (!worker) continue;
    const lt =
      worker.longTasks > 0
        ? `${(main.longTasksPerSecond / worker.longTasksPerSecond).toFixed(1)}x fewer long tasks`
        : main.longTasks > 0
          ? `long tasks ${main.longTasks} -> none`
          : 'no long tasks either way';
    out.push(
      `${main.page} ${main.camera}: ${lt} in the worker; page-thread busy ${f1(main.busyMsPerFrame)} -> ${f1(worker.busyMsPerFrame)} ms per frame` +
        ` (${(main.busyMsPerSecond / worker.busyMsPerSecond).toFixed(1)}x less per second); e2e p50 ${f1(main.endToEndMs.median)} -> ${f1(worker.endToEndMs.median)} ms`,
    );
  }
  return out;
}

/** An earlier --json of this tool, which a new run may replace. */
const isLongtasksJson = jsonIsOurs(
  (j) => typeof j === 'object' && j !== null && Array.isArray((j as { results?: unknown }).results) && 'resolution' in j,
);

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      pages: { type: 'string', default: 'bare,app' },
      cameras: { type: 'string', default: 'photo,1280x720,3840x2160' },
      seconds: { type: 'string', default: '20' },
      resolution: { type: 'string', default: '257' },
      warmup: { type: 'string', default: '3' },
      json: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const seconds = Number(values.seconds);
  const warmup = Number(values.warmup);
  if (!(seconds > 0)) throw new ToolError(`invalid --seconds "${values.seconds}" (${USAGE})`);
  if (!(warmup >= 0) || !Number.isInteger(warmup)) throw new ToolError(`invalid --warmup "${values.warmup}" (${USAGE})`);
  const res = parseResolution(values.resolution);
  const pages = values.pages.split(',').map((p) => p.trim()) as PageKind[];
  for (const p of pages) if (!PAGES.includes(p)) throw new ToolError(`invalid --pages entry "${p}": bare or app (${USAGE})`);
  const cameras = values.cameras.split(',').map((c) => c.trim());
  const sizes = cameras.map((c) => (c === 'photo' ? undefined : parseResolution(c, '--cameras')));
  // Checked and reserved now: a bad --json fails before minutes of measuring; it replaces only an earlier longtasks output.
  const jsonOut = values.json
    ? OutputFile.reserve(userPath(values.json), values.json, {
        what: '--json',
        isOurs: isLongtasksJson,
        notOursReason: 'is not an earlier longtasks output',
      })
    : null;

  const session = await openSession();
  const results: Measurement[] = [];
  try {
    for (const [i, size] of sizes.entries()) {
      const camera = await makeFakeCamera(session.browser, session.url, path.resolve('out/longtasks'), 4, size);
      const label = `${camera.width}x${camera.height}`;
      console.log(`longtasks: camera ${label} (${camera.origin}${cameras[i] === 'photo' ? ', its own size' : ''})`);
      const browser = await launchBrowser({
        extraArgs: [
          '--use-fake-ui-for-media-stream',
          '--use-fake-device-for-media-stream',
          `--use-file-for-fake-video-capture=${camera.file}`,
        ],
      });
      try {
        for (const kind of pages) {
          for (const mode of ['main', 'worker'] as const) {
            const m = await measure(browser, session.url, kind, label, mode, { seconds, warmup, resolution: `${res.width}x${res.height}` });
            results.push(m);
            console.log(`longtasks: ${kind} ${label} ${mode}: ${m.longTasks} long tasks in ${f1(m.seconds)} s, ${m.frames} frames`);
          }
        }
      } finally {
        await browser.close().catch(() => undefined);
      }
    }
  } finally {
    await session.close();
  }
  console.log(`\nPoseNet at ${res.width}x${res.height}, ${seconds} s per row after ${warmup} frames:\n\n${table(results)}\n`);
  for (const line of ratios(results)) console.log(line);
  if (jsonOut) {
    jsonOut.write(`${JSON.stringify({ results, seconds, warmup, resolution: res }, null, 2)}\n`);
    console.log(`longtasks: wrote ${values.json}`);
  }
}

runTool('longtasks', main);
