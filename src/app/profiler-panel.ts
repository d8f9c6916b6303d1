/**
 * The profiler panel: per pass of the plan its name, kernel variant and shapes, GPU ms
 * (rolling mean ± sd from timestamp queries) and share of the frame as a bar, sorted by
 * cost; where kernel tuning stands ("tuning (n/m)", then the variants chosen); the
 * frame's totals (GPU ms, CPU encode ms, latency, fps, GPU memory); and "Export trace",
 * which downloads a Chrome trace of the last N frames. Without timestamp-query it says
 * so and shows whole-frame timing only. Redrawn at most four times a second.
 */
import { MIRRORED_PASS_PREFIX } from '../plan/plan.ts';
import type { PoseApp } from './app.ts';
import { bytes, download, h, ms, setText } from './dom.ts';
import { computeProfile, sortedByCost, tuningText, type AppProfile } from './metrics.ts';

const REDRAW_MS = 250;
/** Most frames the trace export takes (the history keeps 240; a trace of 60 frames is already large). */
export const TRACE_MAX_FRAMES = 60;

/** The "last N frames" field: a whole number in 1..TRACE_MAX_FRAMES, else why not. */
export function parseTraceFrames(text: string): number | { error: string } {
  const t = text.trim();
  const n = Number(t);
  if (t === '' || !Number.isInteger(n) || n < 1 || n > TRACE_MAX_FRAMES)
    return { error: `frames to export: "${t}" is not a whole number from 1 to ${TRACE_MAX_FRAMES}` };
  return n;
}

export class ProfilerPanel {
  readonly element: HTMLElement;
  private readonly mode = h('p', { id: 'profiler-mode', class: 'muted small' });
  private readonly tuning = h('p', { id: 'profiler-tuning', class: 'small' });
  private readonly summary = h('dl', { id: 'profiler-summary', class: 'summary' });
  private readonly tbody = h('tbody', { id: 'profiler-rows' });
  private readonly traceFrames = h('input', {
    id: 'trace-frames',
    type: 'number',
    min: 1,
    max: TRACE_MAX_FRAMES,
    step: 1,
    value: '30',
    'aria-label': 'frames to export',
  });
  private readonly traceError = h('div', { id: 'trace-error', class: 'field-error', role: 'alert', hidden: true });
  private readonly continuous = h('input', { id: 'continuous', type: 'checkbox' });
  private readonly rows = new Map<string, HTMLTableRowElement>();
  /** The summary's value cells by key (made on the first draw, then updated in place). */
  private readonly values = new Map<string, HTMLElement>();
  private lastDraw = 0;
  private pending = 0;

  constructor(private readonly app: PoseApp) {
    this.element = h(
      'section',
      { class: 'profiler', id: 'profiler' },
      h('h2', {}, 'Profiler'),
      this.mode,
      this.tuning,
      h(
        'label',
        {
          class: 'row small',
          title: 'A still image or a paused video is inferred once per change; tick this to time it frame after frame.',
        },
        this.continuous,
        ' Re-run still pictures on every frame (for timing)',
      ),
      this.summary,
      h(
        'table',
        { class: 'passes' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            h('th', {}, '#'),
            h('th', {}, 'pass'),
            h('th', { class: 'num' }, 'GPU ms'),
            h('th', { class: 'share' }, 'share of frame'),
          ),
        ),
        this.tbody,
      ),
      h(
        'div',
        { class: 'row export' },
        h('button', { id: 'export-trace', onclick: () => this.exportTrace() }, 'Export trace'),
        h('label', {}, ' last ', this.traceFrames, ' frames'),
        h('span', { class: 'muted small' }, ' Chrome trace JSON: open in ui.perfetto.dev or chrome://tracing'),
      ),
      this.traceError,
    );
    this.continuous.addEventListener('change', () => app.update({ continuous: this.continuous.checked }));
    app.on('frame', () => this.schedule());
    app.on('change', () => {
      this.continuous.checked = app.settings.continuous;
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.pending) return;
    const wait = Math.max(0, REDRAW_MS - (performance.now() - this.lastDraw));
    this.pending = window.setTimeout(() => {
      this.pending = 0;
      this.lastDraw = performance.now();
      this.draw(computeProfile(this.app));
    }, wait);
  }

  /** Downloads the trace of the last N frames; returns its JSON, or null when N is invalid (said under the field). */
  exportTrace(): string | null {
    const n = parseTraceFrames(this.traceFrames.value);
    this.traceError.hidden = typeof n === 'number';
    this.traceFrames.classList.toggle('invalid', typeof n !== 'number');
    if (typeof n !== 'number') {
      this.traceError.textContent = n.error;
      return null;
    }
    const json = JSON.stringify(computeProfile(this.app).trace(n));
    const r = this.app.resolution;
    download(`posenet-trace-${this.app.settings.model}-${r ? `${r.width}x${r.height}` : 'none'}-${Date.now()}.json`, json);
    return json;
  }

  draw(p: AppProfile): void {
    // Only what changed is written: the panel is redrawn four times a second while frames run.
    setText(
      this.mode,
      p.timestamps
        ? 'GPU time per compute pass from timestamp-query: rolling mean ± sd over the last ' +
            `${p.samples} frames at this resolution. Total GPU = first pass begin to last pass end. ` +
            'Bars: share of the frame, scaled to the costliest pass. (Chrome rounds timestamps to 0.1 ms unless ' +
            'chrome://flags/#enable-webgpu-developer-features is on.)'
        : this.app.net && !this.app.net.timestampsSupported
          ? 'This device has no timestamp-query (the adapter lacks it, or the page was opened with ?timestamps=0): ' +
            'no per-pass GPU timing, whole-frame timing only (CPU clock, submit to readback).'
          : 'Per-pass timing is off: whole-frame timing only.',
    );
    this.element.classList.toggle('no-timestamps', !p.timestamps);
    const t = p.tuning;
    setText(
      this.tuning,
      tuningText(t) ??
        (t?.state === 'tuned'
          ? `Kernel variants tuned on this GPU (${t.timing === 'pass' ? 'each layer timed' : 'whole frames timed'}); each pass shows its choice.`
          : t?.state === 'fixed'
            ? 'Kernel variants fixed by the given tuning table.'
            : 'Default kernel variants (tuning off).'),
    );
    setData(this.tuning, 'state', t?.state ?? 'none');
    const items: [string, string, string][] = [
      ['total GPU', p.timestamps ? `${ms(p.totalGpuMs)} ± ${ms(p.totalGpuSdMs)} ms` : `${ms(p.totalGpuMs)} ms (whole frame)`, 'total-gpu'],
      ['sum of passes', p.timestamps ? `${ms(p.passSumMs)} ms` : '–', 'pass-sum'],
      ['CPU encode', `${ms(p.encodeMs)} ms`, 'encode'],
      ['latency', `${ms(p.latencyMs)} ms`, 'latency'],
      ['end to end', `${ms(p.endToEndMs)} ms`, 'end-to-end'],
      ['fps', Number.isFinite(p.fps) ? p.fps.toFixed(p.fps < 10 ? 2 : 1) : '–', 'fps'],
      ['GPU memory', bytes(p.gpuBytes), 'gpu-bytes'],
      ['resolution', p.resolution ? `${p.resolution.width} × ${p.resolution.height}` : '–', 'resolution'],
    ];
    for (const [k, v, id] of items) {
      let dd = this.values.get(id);
      if (!dd) {
        dd = h('dd', { 'data-key': id });
        this.values.set(id, dd);
        this.summary.append(h('dt', {}, k), dd);
      }
      setText(dd, v);
    }

    const short = shortPassNames(p.passes.map((r) => r.name));
    const sorted = sortedByCost(p.passes);
    const maxShare = Math.max(1e-9, ...sorted.map((r) => r.share));
    const seen = new Set<string>();
    const order: HTMLTableRowElement[] = [];
    for (const row of sorted) {
      const key = `${row.index}:${row.name}`;
      seen.add(key);
      let tr = this.rows.get(key);
      if (!tr) {
        tr = h(
          'tr',
          { class: 'pass-row' },
          h('td', { class: 'idx' }),
          h(
            'td',
            { class: 'name' },
            h(
              'div',
              { class: 'pass-name' },
              h('span', { class: 'kernel' }),
              h('span', { class: 'variant' }),
              h('span', { class: 'layer' }),
            ),
            h('div', { class: 'shapes muted small' }),
          ),
          h('td', { class: 'num' }),
          h('td', { class: 'share' }, h('div', { class: 'bar' }, h('div', { class: 'fill' })), h('span', { class: 'pct' })),
        );
        this.rows.set(key, tr);
      }
      const [idx, name, num, share] = [...tr.children] as HTMLElement[];
      setText(idx!, String(row.index));
      const [passName, shapes] = [...name!.children] as HTMLElement[];
      const [kernel, variant, layer] = [...passName!.children] as HTMLElement[];
      setText(kernel!, short[row.index]!.kernel);
      setText(variant!, row.variant ?? '');
      setText(layer!, short[row.index]!.layer);
      setData(tr, 'variant', row.variant ?? '');
      if (passName!.title !== row.name) passName!.title = row.name;
      setData(tr, 'pass', row.name);
      setText(shapes!, row.shapes);
      setText(num!, `${ms(row.meanMs)} ± ${ms(row.sdMs)}`);
      setData(tr, 'ms', String(row.meanMs));
      const fill = share!.querySelector('.fill') as HTMLElement;
      const width = `${((100 * row.share) / maxShare).toFixed(1)}%`;
      if (fill.style.width !== width) fill.style.width = width;
      setText(share!.querySelector('.pct') as HTMLElement, `${(100 * row.share).toFixed(1)}%`);
      order.push(tr);
    }
    // Only rows out of place move: a moved row is laid out and its text shaped afresh, and
    // two passes of about the same cost swap places often.
    order.forEach((tr, i) => {
      const at = this.tbody.children[i];
      if (at !== tr) this.tbody.insertBefore(tr, at ?? null);
    });
    for (const [key, tr] of this.rows) {
      if (!seen.has(key)) {
        tr.remove();
        this.rows.delete(key);
      }
    }
  }
}

function setData(el: HTMLElement, key: string, value: string): void {
  if (el.dataset[key] !== value) el.dataset[key] = value;
}

const NOISE = /^(relu6?|batchnorm|add(_\d+)?|conv|conv2d|biasadd|maxpool|sigmoid)$/i;

/**
 * Pass names are `<kernel> <layer>` with TF scope paths for layers; for display, the
 * scope shared by all layers and trailing op names (Relu6, BatchNorm/.../conv) go.
 */
export function shortPassNames(names: string[]): { kernel: string; layer: string }[] {
  const split = names.map((name) => {
    // The flip test's mirrored passes: the same kernel and layer, marked after the layer.
    const mirrored = name.startsWith(MIRRORED_PASS_PREFIX);
    const n = mirrored ? name.slice(MIRRORED_PASS_PREFIX.length) : name;
    const i = n.indexOf(' ');
    return i < 0 ? { kernel: n, parts: [] as string[], mirrored } : { kernel: n.slice(0, i), parts: n.slice(i + 1).split('/'), mirrored };
  });
  const layered = split.filter((s) => s.parts.length > 1);
  let common = 0;
  if (layered.length > 1) {
    const first = layered[0]!.parts;
    while (common < first.length - 1 && layered.every((s) => s.parts.length > common + 1 && s.parts[common] === first[common])) common++;
  }
  return split.map(({ kernel, parts, mirrored }) => {
    let rest = parts.length > 1 ? parts.slice(common) : parts;
    while (rest.length > 1 && NOISE.test(rest[rest.length - 1]!)) rest = rest.slice(0, -1);
    const layer = rest.join('/');
    return { kernel, layer: mirrored ? `${layer}${layer ? ' ' : ''}(mirrored)` : layer };
  });
}
