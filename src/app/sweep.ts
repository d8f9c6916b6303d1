/**
 * The resolution sweep: the seed's experiment, measured. Runs every preset the model's
 * stride allows for N frames each on the current source (after warm-up frames that are
 * not counted), then shows per resolution the GPU ms, latency and fps, as a table and a
 * small chart, and restores the resolution it started from. Frames keep flowing through
 * the normal loop (on a still image or a paused video the sweep asks the app for a stream
 * of frames while it runs); the sweep only switches the resolution and listens. With the
 * input following the source's aspect, each preset is a long side. targetFps is off
 * while it runs and then starts again from the sweep's frame times.
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
  const release = app.holdStream();
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
    release();
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

/** A text label's box on the chart (top-left corner, size) and its text. */
export interface LabelBox {
  text: string;
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface ChartLayout {
  bars: { x: number; y: number; w: number; h: number }[];
  points: { x: number; y: number }[];
  /** Under each bar: its resolution. */
  axisLabels: LabelBox[];
  /** Each bar's ms, above it (inside its top when the bar reaches the top). */
  barLabels: LabelBox[];
  /** Each point's fps, on whichever side of the point overlaps no other label. */
  fpsLabels: LabelBox[];
  useGpu: boolean;
}

export const CHART_PAD = { l: 44, r: 44, t: 18, b: 30 };
const LABEL_H = 11;

export function overlaps(a: { x: number; y: number; w: number; h: number }, b: { x: number; y: number; w: number; h: number }): boolean {
  return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
}

/**
 * Where the sweep chart puts its bars (GPU ms, or latency without timestamps), fps points
 * and labels on a W×H canvas. The fps labels try the eight places around their point, in
 * order, and take the first that overlaps no bar label, axis label or earlier fps label
 * and stays on the canvas. `measure` gives a text's width in px (the canvas's measureText).
 */
export function layoutChart(rows: readonly SweepRow[], W: number, H: number, measure: (text: string) => number): ChartLayout {
  const pad = CHART_PAD;
  const useGpu = rows.every((r) => r.gpuMs !== null);
  const msOf = (r: SweepRow) => (useGpu ? r.gpuMs! : r.latencyMs);
  const maxMs = Math.max(...rows.map(msOf)) * 1.15 || 1;
  const fpsOf = (r: SweepRow) => (Number.isFinite(r.fps) ? r.fps : 0);
  const maxFps = Math.max(...rows.map(fpsOf)) * 1.15 || 1;
  const plotW = W - pad.l - pad.r;
  const plotH = H - pad.t - pad.b;
  const slot = plotW / Math.max(1, rows.length);
  const box = (text: string, cx: number, top: number): LabelBox => {
    const w = measure(text);
    return { text, x: cx - w / 2, y: top, w, h: LABEL_H };
  };
  const bars = rows.map((r, i) => {
    const bh = (msOf(r) / maxMs) * plotH;
    return { x: pad.l + i * slot + slot * 0.2, y: pad.t + plotH - bh, w: slot * 0.6, h: bh };
  });
  const axisLabels = rows.map((r, i) => box(String(r.width), pad.l + i * slot + slot / 2, H - 12 - LABEL_H + 2));
  const barLabels = rows.map((r, i) => {
    const b = bars[i]!;
    const top = b.y - 4 - LABEL_H;
    return box(ms(msOf(r)), b.x + b.w / 2, top >= 0 ? top : b.y + 3);
  });
  const points = rows.map((r, i) => ({ x: pad.l + i * slot + slot / 2, y: pad.t + plotH - (fpsOf(r) / maxFps) * plotH }));
  const fpsLabels: LabelBox[] = [];
  rows.forEach((r, i) => {
    const text = Number.isFinite(r.fps) ? r.fps.toFixed(r.fps < 10 ? 1 : 0) : '–';
    const w = measure(text);
    const p = points[i]!;
    const g = 5;
    const candidates: [number, number][] = [
      [p.x + g, p.y - g - LABEL_H],
      [p.x + g, p.y + g],
      [p.x - g - w, p.y - g - LABEL_H],
      [p.x - g - w, p.y + g],
      [p.x - w / 2, p.y - 2 * g - LABEL_H],
      [p.x - w / 2, p.y + 2 * g],
      [p.x + 2 * g, p.y - LABEL_H / 2],
      [p.x - 2 * g - w, p.y - LABEL_H / 2],
    ];
    // The corner titles ("GPU ms", "fps") are taken too.
    const titles = [
      { text: '', x: 0, y: 0, w: 60, h: 14 },
      { text: '', x: W - 30, y: 0, w: 30, h: 14 },
    ];
    const taken = [...barLabels, ...axisLabels, ...fpsLabels, ...titles];
    const fits = (b: LabelBox) => b.x >= 0 && b.y >= 0 && b.x + b.w <= W && b.y + b.h <= H && !taken.some((t) => overlaps(b, t));
    const options = candidates.map(([x, y]) => ({ text, x, y, w, h: LABEL_H }));
    fpsLabels.push(options.find(fits) ?? options[0]!);
  });
  return { bars, points, axisLabels, barLabels, fpsLabels, useGpu };
}

/** Bars: GPU ms (or latency) per resolution; line: fps, on its own axis. */
function drawChart(canvas: HTMLCanvasElement, rows: SweepRow[]): void {
  const ctx = canvas.getContext('2d');
  if (!ctx || !rows.length) return;
  const W = canvas.width;
  const H = canvas.height;
  const pad = CHART_PAD;
  ctx.clearRect(0, 0, W, H);
  ctx.fillStyle = '#11151c';
  ctx.fillRect(0, 0, W, H);
  ctx.font = '11px system-ui, sans-serif';
  ctx.textBaseline = 'top';
  const layout = layoutChart(rows, W, H, (t) => ctx.measureText(t).width);
  const useGpu = layout.useGpu;
  ctx.fillStyle = '#3b82f6';
  for (const b of layout.bars) ctx.fillRect(b.x, b.y, b.w, b.h);
  ctx.fillStyle = '#cbd5e1';
  ctx.textAlign = 'left';
  for (const l of [...layout.axisLabels, ...layout.barLabels]) ctx.fillText(l.text, l.x, l.y);
  ctx.strokeStyle = '#f59e0b';
  ctx.fillStyle = '#f59e0b';
  ctx.lineWidth = 2;
  ctx.beginPath();
  layout.points.forEach((p, i) => {
    if (i) ctx.lineTo(p.x, p.y);
    else ctx.moveTo(p.x, p.y);
  });
  ctx.stroke();
  for (const p of layout.points) {
    ctx.beginPath();
    ctx.arc(p.x, p.y, 3, 0, 2 * Math.PI);
    ctx.fill();
  }
  for (const l of layout.fpsLabels) ctx.fillText(l.text, l.x, l.y);
  ctx.textBaseline = 'alphabetic';
  ctx.textAlign = 'left';
  ctx.fillStyle = '#3b82f6';
  ctx.fillText(useGpu ? 'GPU ms' : 'latency ms', 6, 12);
  ctx.textAlign = 'right';
  ctx.fillStyle = '#f59e0b';
  ctx.fillText('fps', W - 6, 12);
  ctx.strokeStyle = '#334155';
  ctx.lineWidth = 1;
  ctx.beginPath();
  const axisY = H - pad.b + 0.5;
  ctx.moveTo(pad.l, axisY);
  ctx.lineTo(W - pad.r, axisY);
  ctx.stroke();
}
