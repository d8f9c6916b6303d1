/**
 * What the profiler panel shows and `poseApp.profile()` returns, computed from the core
 * profiler's rolling per-pass statistics and the app's frame records; and the Chrome
 * trace export.
 *
 * Definitions (stated in the panel too):
 * - pass GPU ms: the core profiler's rolling mean ± sd of each pass's timestamp-query
 *   duration (end-of-pass minus beginning-of-pass), over the last 30 frames at the
 *   current resolution and model;
 * - total GPU ms: mean over the same frames of first-pass-beginning to
 *   last-pass-end, so it includes the gaps between passes; the passes' sum can only be
 *   smaller or equal;
 * - CPU encode ms: building and submitting the command encoder;
 * - latency ms: from the estimate call until the poses are on the CPU (readback
 *   included); end-to-end ms adds drawing the overlay;
 * - fps: completed frames per second over the same frames.
 * The first frame after a new PoseNet, model, resolution or mode (FrameRecord.warmup)
 * pays for first-use costs and is left out of every mean and of the fps.
 * Without timestamp-query there is no per-pass timing: one row, `frame`, measured on the
 * CPU from submit to readback, and total GPU ms is that figure.
 */
import { STATS_WINDOW, summarize, type PassStats, type TraceEvent } from '../gpu/profiler.ts';
import type { TuningProgress } from '../gpu/tuner.ts';
import type { Resolution } from '../posenet.ts';
import type { FrameRecord, PoseApp } from './app.ts';

export interface PassRow extends PassStats {
  /** Position in the plan (0 = first pass). */
  index: number;
  /** meanMs / sum of the passes' means. */
  share: number;
}

export interface ChromeTrace {
  traceEvents: (TraceEvent | { name: string; ph: 'M'; pid: number; tid: number; args: Record<string, unknown> })[];
  displayTimeUnit: 'ms';
  otherData: Record<string, unknown>;
}

export interface AppProfile {
  /** Per-pass GPU timing from timestamp-query is active. */
  timestamps: boolean;
  model: string;
  /** Resolution the statistics describe (the last completed frame's). */
  resolution: Resolution | null;
  frames: number;
  /** Frames the statistics cover. */
  samples: number;
  /** Per pass, in plan order (see `sortedByCost`). */
  passes: PassRow[];
  /** Sum of the passes' mean ms. */
  passSumMs: number;
  /** Mean of first-pass-begin to last-pass-end (timestamps), else the CPU-timed whole frame. */
  totalGpuMs: number;
  totalGpuSdMs: number;
  encodeMs: number;
  latencyMs: number;
  endToEndMs: number;
  fps: number;
  /** Bytes of GPU buffers and textures held (net.gpuBytes()). */
  gpuBytes: number;
  /** Of which buffers. */
  gpuBufferBytes: number;
  /** CPU ms of the last resolution switch (building the new plan). */
  switchMs: number;
  /** Kernel variant tuning at the current resolution (null before the net exists). */
  tuning: TuningProgress | null;
  /** Chrome trace of the last `frames` frames (default: all kept, up to 60). */
  trace(frames?: number): ChromeTrace;
}

/** The status of tuning in a few words: `tuning (n/m)` while it runs, else null. */
export function tuningText(t: TuningProgress | null): string | null {
  if (!t) return null;
  if (t.state === 'tuning') return `tuning (${t.frame}/${t.frames})`;
  if (t.state === 'compiling' || t.state === 'waiting') return `tuning (0/${t.frames}): compiling variants`;
  return null;
}

export function sortedByCost(rows: PassRow[]): PassRow[] {
  return [...rows].sort((a, b) => b.meanMs - a.meanMs || a.index - b.index);
}

/** Means over frame records, warm-up frames left out (NaN where no frame is left). */
export function frameMeans(records: readonly FrameRecord[]): {
  samples: number;
  gpu: { mean: number; sd: number };
  encodeMs: number;
  latencyMs: number;
  endToEndMs: number;
  fps: number;
} {
  const timed = records.filter((r) => !r.warmup);
  const last = timed[timed.length - 1];
  const first = timed[0];
  const gpu = summarize(timed.filter((r) => r.gpuMs !== null).map((r) => r.gpuMs!));
  return {
    samples: timed.length,
    gpu: { mean: gpu.meanMs, sd: gpu.sdMs },
    encodeMs: summarize(timed.map((r) => r.encodeMs)).meanMs,
    latencyMs: summarize(timed.map((r) => r.latencyMs)).meanMs,
    endToEndMs: summarize(timed.map((r) => r.endToEndMs)).meanMs,
    fps: timed.length > 1 && last && first && last.t > first.t ? ((timed.length - 1) * 1000) / (last.t - first.t) : NaN,
  };
}

export function computeProfile(app: PoseApp): AppProfile {
  const net = app.net;
  const records = app.currentRecords(STATS_WINDOW);
  const means = frameMeans(records);
  const stats = net ? net.passStats() : [];
  const passSumMs = stats.reduce((a, p) => a + p.meanMs, 0);
  const passes: PassRow[] = stats.map((p, index) => ({ ...p, index, share: passSumMs > 0 ? p.meanMs / passSumMs : 0 }));
  const timestamps = !!net?.timestampsActive;
  const gpu = timestamps ? means.gpu : stats[0] ? { mean: stats[0].meanMs, sd: stats[0].sdMs } : { mean: NaN, sd: NaN };
  const fps = means.fps;
  return {
    timestamps,
    model: app.settings.model,
    resolution: app.resolution,
    frames: app.frames,
    samples: means.samples,
    passes,
    passSumMs,
    totalGpuMs: gpu.mean,
    totalGpuSdMs: gpu.sd,
    encodeMs: means.encodeMs,
    latencyMs: means.latencyMs,
    endToEndMs: means.endToEndMs,
    fps,
    gpuBytes: net?.gpuBytes() ?? 0,
    gpuBufferBytes: net?.gpuBufferBytes() ?? 0,
    switchMs: app.lastSwitchMs,
    tuning: net ? net.tuning : null,
    trace: (frames?: number) => buildTrace(app.history, frames, app.adapterInfo),
  };
}

/**
 * A Chrome trace (the JSON object format that chrome://tracing and Perfetto open) of the
 * last `frames` profiled frames: one complete event (`ph: 'X'`, microseconds) per pass
 * per frame on one track, on the GPU clock relative to the first exported frame, with
 * the frame number and resolution in `args`. Frames of an earlier device are left out
 * (another GPU clock).
 */
export function buildTrace(history: FrameRecord[], frames = 60, adapter = ''): ChromeTrace {
  const profiled = history.filter((r) => r.profile);
  const lastGen = profiled[profiled.length - 1]?.generation;
  const chosen = profiled.filter((r) => r.generation === lastGen).slice(-Math.max(1, Math.floor(frames)));
  const events: ChromeTrace['traceEvents'] = [
    { name: 'process_name', ph: 'M', pid: 1, tid: 0, args: { name: 'posenet-webgpu GPU' } },
    { name: 'thread_name', ph: 'M', pid: 1, tid: 1, args: { name: 'compute passes' } },
  ];
  const origin = chosen[0]?.profile?.startMs ?? 0;
  for (const r of chosen) {
    const p = r.profile!;
    for (const pass of p.passes) {
      events.push({
        name: pass.variant ? `${pass.name} [${pass.variant}]` : pass.name,
        cat: 'pass',
        ph: 'X',
        ts: round3((p.startMs - origin + pass.startMs) * 1000),
        dur: round3(pass.durationMs * 1000),
        pid: 1,
        tid: 1,
        args: { frame: r.frame, resolution: `${r.width}x${r.height}`, model: r.model, ...(pass.variant ? { variant: pass.variant } : {}) },
      });
    }
  }
  return {
    traceEvents: events,
    displayTimeUnit: 'ms',
    otherData: {
      producer: 'posenet-webgpu demo',
      adapter,
      frames: chosen.map((r) => r.frame),
      timing: chosen.some((r) => r.gpuMs !== null) ? 'timestamp-query' : 'whole frame, CPU submit to readback',
    },
  };
}

const round3 = (v: number) => Math.round(v * 1000) / 1000;
