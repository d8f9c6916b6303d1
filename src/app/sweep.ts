/**
 * The resolution sweep: the seed's experiment, measured. Runs every preset the model's
 * stride allows for N frames each on the current source (after warm-up frames that are
 * not counted), then shows per resolution the GPU ms, latency and fps, as a table and a
 * small chart, and restores the resolution it started from. Frames keep flowing through
 * the normal loop; the sweep only switches the resolution and listens. With the input
 * following the source's aspect, each preset is a long side. targetFps is off while it
 * runs and then starts again from the sweep's frame times.
 */
import type { FrameRecord, PoseApp } from './app.ts';
import { validPresets } from './controls.ts';
import { h, ms } from './dom.ts';

export interface SweepOptions {
  /** Square sizes; default every preset valid for the model's stride. */
  resolutions?: number[];
  /** Frames measured per resolution (default 10). */
  frames?: number;
  /** Frames run and not counted after each switch (default 2). */
  warmup?: number;
}

export interface SweepRow {
  width: number;
  height: number;
  frames: number;
  /** Mean first-pass-begin to last-pass-end GPU ms over the measured frames (null without timestamps). */
  gpuMs: number | null;
  gpuSdMs: number | null;
  latencyMs: number;
  /** Completed frames per second while measuring (the loop's real rate). */
  fps: number;
  /** GPU bytes held at this resolution. */
  gpuBytes: number;
}

const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
const sd = (v: number[]) => {
  const m = mean(v);
  return v.length > 1 ? Math.sqrt(v.reduce((a, b) => a + (b - m) ** 2, 0) / (v.length - 1)) : 0;
};

export class SweepCancelled extends Error {
  override name = 'SweepCancelled';
}

/** Runs the sweep through the app; `onRow` sees each resolution's result as it completes. */
export async function runSweep(
  app: PoseApp,
  options: SweepOptions = {},
  onRow?: (row: SweepRow, done: number, total: number) => void,
  signal?: AbortSignal,
): Promise<SweepRow[]> {
  const resolutions = options.resolutions ?? validPresets(app.outputStride);
  const frames = Math.max(1, Math.floor(options.frames ?? 10));
  const warmup = Math.max(0, Math.floor(options.warmup ?? 2));
  const start = { ...app.settings.resolution };
  const targetFps = app.settings.targetFps;
  const aspect = app.settings.aspect;
  const rows: SweepRow[] = [];
  try {
    for (const r of resolutions) {
      if (signal?.aborted) throw new SweepCancelled('sweep cancelled');
      app.setResolution(r, r);
      const records = await collect(app, r, aspect, warmup, frames, signal);
      const gpu = records.filter((x) => x.gpuMs !== null).map((x) => x.gpuMs!);
      const span = records[records.length - 1]!.t - records[0]!.t;
      const last = records[records.length - 1]!;
      const row: SweepRow = {
        width: last.width,
        height: last.height,
        frames: records.length - 1,
        gpuMs: gpu.length ? mean(gpu) : null,
        gpuSdMs: gpu.length ? sd(gpu) : null,
        latencyMs: mean(records.map((x) => x.latencyMs)),
        fps: span > 0 ? ((records.length - 1) * 1000) / span : NaN,
        gpuBytes: records[records.length - 1]!.gpuBytes,
      };
      rows.push(row);
      onRow?.(row, rows.length, resolutions.length);
    }
  } finally {
    try {
      app.setResolution(start.width, start.height);
    } catch {
      // The model changed under the sweep; keep what it runs.
    }
    if (targetFps !== null)
      app.setTargetFps(
        targetFps,
        rows.map((row) => ({ size: Math.max(row.width, row.height), ms: row.latencyMs })),
      );
  }
  return rows;
}

/**
 * After `warmup` frames at r×r (long side r with `aspect`), the next `frames + 1` frames
 * (the first one only marks the start of the timing: fps counts frames completed after it).
 */
function collect(app: PoseApp, r: number, aspect: boolean, warmup: number, frames: number, signal?: AbortSignal): Promise<FrameRecord[]> {
  return new Promise((resolve, reject) => {
    let seen = 0;
    const out: FrameRecord[] = [];
    const onAbort = () => {
      off();
      reject(new SweepCancelled('sweep cancelled'));
    };
    const off = app.on('frame', (rec) => {
      if (aspect ? Math.max(rec.width, rec.height) !== r : rec.width !== r || rec.height !== r) return;
      seen++;
      if (seen <= warmup) return;
      out.push(rec);
      if (out.length === frames + 1) {
        off();
        signal?.removeEventListener('abort', onAbort);
        resolve(out);
      }
    });
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** The sweep's section: frames per resolution, run / cancel, table and chart. */
export class SweepPanel {
  readonly element: HTMLElement;
  private readonly framesInput = h('input', {
    id: 'sweep-frames',
    type: 'number',
    min: 1,
    max: 200,
    step: 1,
    value: '10',
    'aria-label': 'frames per resolution',
  });
  private readonly runButton = h('button', { id: 'sweep-run' }, 'Run resolution sweep');
  private readonly progress = h('span', { id: 'sweep-progress', class: 'muted' });
  private readonly table = h('table', { id: 'sweep-table', class: 'sweep-table', hidden: true });
  private readonly chart = h('canvas', { id: 'sweep-chart', width: 560, height: 200, hidden: true });
  private abort: AbortController | null = null;
  running: Promise<SweepRow[]> | null = null;
  lastRows: SweepRow[] = [];

  constructor(private readonly app: PoseApp) {
    this.runButton.addEventListener('click', () => {
      if (this.abort) this.abort.abort();
      else void this.run({ frames: Number(this.framesInput.value) || 10 }).catch(() => undefined);
    });
    this.element = h(
      'section',
      { class: 'sweep', id: 'sweep' },
      h('h2', {}, 'Resolution sweep'),
      h(
        'p',
        { class: 'muted small' },
        'Runs every preset on the current source and measures it: the seed tutorial ran PoseNet at 160 to 840 px and watched the frame rate fall; this is that experiment on your GPU.',
      ),
      h('div', { class: 'row' }, this.runButton, h('label', {}, ' ', this.framesInput, ' frames per resolution '), this.progress),
      h('div', { class: 'sweep-results' }, this.table, this.chart),
    );
  }

  /** Runs a sweep and shows it (also what poseApp.sweep() calls). */
  async run(options: SweepOptions = {}): Promise<SweepRow[]> {
    if (this.running) throw new Error('a sweep is already running');
    const abort = new AbortController();
    this.abort = abort;
    this.runButton.textContent = 'Cancel sweep';
    const total = (options.resolutions ?? validPresets(this.app.outputStride)).length;
    this.progress.textContent = `0 / ${total}…`;
    const rows: SweepRow[] = [];
    this.running = runSweep(
      this.app,
      options,
      (row, done) => {
        rows.push(row);
        this.progress.textContent = `${done} / ${total}${done < total ? '…' : ''}`;
        this.render(rows);
      },
      abort.signal,
    );
    try {
      const result = await this.running;
      this.lastRows = result;
      this.progress.textContent = `done: ${result.length} resolutions × ${options.frames ?? 10} frames`;
      return result;
    } catch (err) {
      this.progress.textContent = err instanceof SweepCancelled ? 'cancelled' : `failed: ${(err as Error).message}`;
      throw err;
    } finally {
      this.running = null;
      this.abort = null;
      this.runButton.textContent = 'Run resolution sweep';
    }
  }

  render(rows: SweepRow[]): void {
    this.table.hidden = this.chart.hidden = rows.length === 0;
    this.table.replaceChildren(
      h('thead', {}, h('tr', {}, ...['input', 'GPU ms', 'latency ms', 'fps', 'frames'].map((t) => h('th', {}, t)))),
      h(
        'tbody',
        {},
        ...rows.map((r) =>
          h(
            'tr',
            {},
            h('td', {}, `${r.width} × ${r.height}`),
            h('td', { class: 'num' }, r.gpuMs === null ? '–' : `${ms(r.gpuMs)} ± ${ms(r.gpuSdMs ?? 0)}`),
            h('td', { class: 'num' }, ms(r.latencyMs)),
            h('td', { class: 'num' }, Number.isFinite(r.fps) ? r.fps.toFixed(r.fps < 10 ? 2 : 1) : '–'),
            h('td', { class: 'num' }, String(r.frames)),
          ),
        ),
      ),
    );
    drawChart(this.chart, rows);
  }
}

/** Bars: GPU ms (or latency) per resolution; line: fps, on its own axis. */
function drawChart(canvas: HTMLCanvasElement, rows: SweepRow[]): void {
  const ctx = canvas.getContext('2d');
  if (!ctx || !rows.length) return;
  const W = canvas.width;
  const H = canvas.height;
  const pad = { l: 44, r: 44, t: 18, b: 30 };
  ctx.clearRect(0, 0, W, H);
  ctx.fillStyle = '#11151c';
  ctx.fillRect(0, 0, W, H);
  const useGpu = rows.every((r) => r.gpuMs !== null);
  const msOf = (r: SweepRow) => (useGpu ? r.gpuMs! : r.latencyMs);
  const maxMs = Math.max(...rows.map(msOf)) * 1.15 || 1;
  const maxFps = Math.max(...rows.map((r) => (Number.isFinite(r.fps) ? r.fps : 0))) * 1.15 || 1;
  const plotW = W - pad.l - pad.r;
  const plotH = H - pad.t - pad.b;
  const slot = plotW / rows.length;
  ctx.font = '11px system-ui, sans-serif';
  ctx.textAlign = 'center';
  rows.forEach((r, i) => {
    const x = pad.l + i * slot;
    const bh = (msOf(r) / maxMs) * plotH;
    ctx.fillStyle = '#3b82f6';
    ctx.fillRect(x + slot * 0.2, pad.t + plotH - bh, slot * 0.6, bh);
    ctx.fillStyle = '#cbd5e1';
    ctx.fillText(String(r.width), x + slot / 2, H - 12);
    ctx.fillText(ms(msOf(r)), x + slot / 2, pad.t + plotH - bh - 4);
  });
  ctx.strokeStyle = '#f59e0b';
  ctx.fillStyle = '#f59e0b';
  ctx.lineWidth = 2;
  ctx.beginPath();
  rows.forEach((r, i) => {
    const x = pad.l + i * slot + slot / 2;
    const y = pad.t + plotH - ((Number.isFinite(r.fps) ? r.fps : 0) / maxFps) * plotH;
    if (i) ctx.lineTo(x, y);
    else ctx.moveTo(x, y);
  });
  ctx.stroke();
  rows.forEach((r, i) => {
    const x = pad.l + i * slot + slot / 2;
    const y = pad.t + plotH - ((Number.isFinite(r.fps) ? r.fps : 0) / maxFps) * plotH;
    ctx.beginPath();
    ctx.arc(x, y, 3, 0, 2 * Math.PI);
    ctx.fill();
    ctx.textAlign = 'left';
    ctx.fillText(Number.isFinite(r.fps) ? r.fps.toFixed(r.fps < 10 ? 1 : 0) : '–', x + 5, y - 5);
  });
  ctx.textAlign = 'left';
  ctx.fillStyle = '#3b82f6';
  ctx.fillText(useGpu ? 'GPU ms' : 'latency ms', 6, 12);
  ctx.textAlign = 'right';
  ctx.fillStyle = '#f59e0b';
  ctx.fillText('fps', W - 6, 12);
  ctx.strokeStyle = '#334155';
  ctx.lineWidth = 1;
  ctx.beginPath();
  ctx.moveTo(pad.l, pad.t + plotH + 0.5);
  ctx.lineTo(W - pad.r, pad.t + plotH + 0.5);
  ctx.stroke();
}
