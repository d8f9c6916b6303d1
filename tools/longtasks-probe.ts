/**
 * longtasks-probe: what the page's thread spends its time on, the diagnostic behind
 * `npm run longtasks`. Opens the demo page (or the bare page) on Chromium's fake camera,
 * waits for 4 frames, then records for --seconds a Chrome trace (timeline categories) and a
 * V8 CPU profile (CDP Profiler) of the page, and prints:
 * - the JS functions by self and total time (drawImage and the panels show up here);
 * - the page thread's trace events by inclusive time over the window (layout, paint, ...);
 * - for each task over 50 ms, what ran inside it;
 * - busy ms per renderer / GPU-process thread.
 * It writes the trace (out/longtasks/probe-<page>-<camera>-w<worker>.json, opens in
 * ui.perfetto.dev) and a screenshot beside it. `--file TRACE` only analyses a saved trace.
 *
 *   npx tsx tools/longtasks-probe.ts [--page app|bare] [--camera 3840x2160|photo] [--worker 1|0]
 *                                    [--seconds 8] [--query '&tuning=off'] [--file trace.json]
 *
 * The profiler itself stops in a task of its own (`Receive mojo message`, hundreds of ms at
 * the window's end): not the page's work.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { launchBrowser } from './lib/browser.ts';
import { openSession, parseResolution, runTool } from './lib/browser-run.ts';
import { makeFakeCamera } from './lib/fake-camera.ts';

interface Ev {
  name: string;
  cat: string;
  ph: string;
  pid: number;
  tid: number;
  ts: number;
  dur?: number;
  args?: { data?: Record<string, unknown>; name?: string };
}

function analyse(events: Ev[], label: string): void {
  const mark = events.find((e) => e.name === 'probe-mark');
  if (!mark) throw new Error('no mark');
  const main = events.filter((e) => e.pid === mark.pid && e.tid === mark.tid && e.ph === 'X' && e.dur !== undefined);
  main.sort((a, b) => a.ts - b.ts);
  // Outermost tasks only (RunTask wraps ThreadControllerImpl::RunTask).
  const tasks: Ev[] = [];
  for (const e of main) {
    if (e.name !== 'RunTask' && e.name !== 'ThreadControllerImpl::RunTask') continue;
    const last = tasks[tasks.length - 1];
    if (!last || e.ts >= last.ts + last.dur!) tasks.push(e);
  }
  const busy = tasks.reduce((a, t) => a + t.dur!, 0) / 1000;
  const span = (main[main.length - 1]!.ts - main[0]!.ts) / 1e6;
  console.log(`\n== ${label}: ${tasks.length} tasks, busy ${busy.toFixed(0)} ms over ${span.toFixed(1)} s`);
  const describe = (e: Ev) => {
    const d = e.args?.data ?? {};
    const extra = d.functionName
      ? ` ${d.functionName}@${String(d.url ?? '')
          .split('/')
          .pop()}:${d.lineNumber}`
      : d.type
        ? ` ${d.type}`
        : '';
    return `${e.name}${extra}`;
  };
  const aggregate = (list: Ev[]) => {
    const m = new Map<string, { n: number; ms: number }>();
    for (const e of list) {
      if (e === undefined) continue;
      const k = describe(e);
      const v = m.get(k) ?? { n: 0, ms: 0 };
      v.n++;
      v.ms += e.dur! / 1000;
      m.set(k, v);
    }
    return [...m.entries()].sort((a, b) => b[1].ms - a[1].ms);
  };
  const inside = (t: Ev) => main.filter((e) => e !== t && e.ts >= t.ts && e.ts + e.dur! <= t.ts + t.dur!);
  console.log('-- whole window, inclusive ms by event (top 30):');
  for (const [k, v] of aggregate(main).slice(0, 30)) console.log(`  ${v.ms.toFixed(1).padStart(8)} ms  ${String(v.n).padStart(5)}x  ${k}`);
  const long = tasks.filter((t) => t.dur! > 50_000);
  console.log(`-- ${long.length} tasks > 50 ms:`);
  for (const t of long.slice(0, 12)) {
    console.log(`  task ${(t.dur! / 1000).toFixed(1)} ms:`);
    for (const [k, v] of aggregate(inside(t)).slice(0, 12))
      console.log(`    ${v.ms.toFixed(1).padStart(8)} ms  ${String(v.n).padStart(4)}x  ${k}`);
  }
  // Other threads of the renderer: what they do (compositor, media, workers).
  const threads = new Map<string, string>();
  for (const e of events) if (e.ph === 'M' && e.name === 'thread_name') threads.set(`${e.pid}:${e.tid}`, String(e.args?.name));
  const perThread = new Map<string, number>();
  for (const e of events) {
    if (e.ph !== 'X' || !e.dur || e.name !== 'RunTask') continue;
    const k = `${e.pid}:${e.tid}`;
    perThread.set(k, (perThread.get(k) ?? 0) + e.dur / 1000);
  }
  console.log('-- busy ms per thread (RunTask events):');
  for (const [k, v] of [...perThread.entries()].sort((a, b) => b[1] - a[1]).slice(0, 12))
    console.log(`  ${v.toFixed(0).padStart(7)} ms  ${threads.get(k) ?? '?'} (${k})${k === `${mark.pid}:${mark.tid}` ? ' <- page' : ''}`);
}

interface CpuNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: CpuNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}
function cpuSummary(p: CpuProfile): void {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<number, number>();
  p.samples.forEach((id, i) => {
    self.set(id, (self.get(id) ?? 0) + (p.timeDeltas[i] ?? 0) / 1000);
  });
  const name = (n: CpuNode) => `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.split('/').pop()}:${n.callFrame.lineNumber + 1}`;
  const selfBy = new Map<string, number>();
  const totalBy = new Map<string, number>();
  for (const [id, ms] of self) {
    const n = byId.get(id)!;
    selfBy.set(name(n), (selfBy.get(name(n)) ?? 0) + ms);
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const k = name(byId.get(cur)!);
      if (seen.has(k)) continue;
      seen.add(k);
      totalBy.set(k, (totalBy.get(k) ?? 0) + ms);
    }
  }
  console.log(`-- CPU profile over ${((p.endTime - p.startTime) / 1e6).toFixed(1)} s, self ms (top 25):`);
  for (const [k, v] of [...selfBy].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log(`  ${v.toFixed(1).padStart(8)}  ${k}`);
  console.log('-- total ms (top 40):');
  for (const [k, v] of [...totalBy].sort((a, b) => b[1] - a[1]).slice(0, 40)) console.log(`  ${v.toFixed(1).padStart(8)}  ${k}`);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      camera: { type: 'string', default: '3840x2160' },
      worker: { type: 'string', default: '1' },
      seconds: { type: 'string', default: '8' },
      query: { type: 'string', default: '' },
      page: { type: 'string', default: 'app' },
      file: { type: 'string' },
    },
  });
  if (values.file) {
    analyse((JSON.parse(fs.readFileSync(values.file, 'utf8')) as { traceEvents: Ev[] }).traceEvents, values.file);
    return;
  }
  const session = await openSession();
  try {
    const size = values.camera === 'photo' ? undefined : parseResolution(values.camera, '--camera');
    const camera = await makeFakeCamera(session.browser, session.url, path.resolve('out/longtasks'), 4, size);
    const browser = await launchBrowser({
      extraArgs: [
        '--use-fake-ui-for-media-stream',
        '--use-fake-device-for-media-stream',
        `--use-file-for-fake-video-capture=${camera.file}`,
      ],
    });
    try {
      const page = await browser.newPage();
      page.on('console', (m) => console.log(`[page] ${m.text()}`));
      const address =
        values.page === 'bare'
          ? `${session.url}/tools/pages/longtasks.html?res=257&worker=${values.worker}${values.query}`
          : `${session.url}/?res=257&worker=${values.worker}${values.query}`;
      await page.goto(address);
      await page.waitForFunction(
        () => ((window as unknown as { bare?: { frames: unknown[] } }).bare?.frames.length ?? window.poseApp?.frames ?? 0) >= 4,
        { timeout: 300_000, polling: 500 },
      );
      await page.tracing.start({
        categories: [
          'toplevel',
          'blink.user_timing',
          'devtools.timeline',
          'disabled-by-default-devtools.timeline',
          'v8.execute',
          'blink',
          'cc',
          'gpu',
          'media',
          '__metadata',
        ],
      });
      const cdp = await page.createCDPSession();
      await cdp.send('Profiler.enable');
      await cdp.send('Profiler.setSamplingInterval', { interval: 500 });
      await cdp.send('Profiler.start');
      await page.evaluate(() => performance.mark('probe-mark'));
      await new Promise((r) => setTimeout(r, Number(values.seconds) * 1000));
      const { profile } = (await cdp.send('Profiler.stop')) as unknown as { profile: CpuProfile };
      cpuSummary(profile);
      const buf = await page.tracing.stop();
      const file = path.resolve(`out/longtasks/probe-${values.page}-${values.camera}-w${values.worker}.json`);
      fs.writeFileSync(file, Buffer.from(buf!));
      const trace = JSON.parse(Buffer.from(buf!).toString()) as { traceEvents: Ev[] };
      const frames = await page.evaluate(() => window.poseApp?.frames ?? 0);
      await page.setViewport({ width: 1280, height: 900 });
      await new Promise((r) => setTimeout(r, 1500));
      await page.screenshot({ path: file.replace(/\.json$/, '.png') });
      analyse(trace.traceEvents, `${values.page} ${values.camera} worker=${values.worker} frames=${frames} (${file})`);
    } finally {
      await browser.close();
    }
  } finally {
    await session.close();
  }
}

runTool('longtasks-probe', main);
