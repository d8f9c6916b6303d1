/**
 * GPU pass profiler over `timestamp-query`.
 *
 * Off, it costs nothing: the plan encodes all its dispatches in one compute pass and
 * no query is written. On, every pass gets its own compute pass with beginning and end
 * timestamps, resolved into one buffer per frame and read back with the frame. Per pass
 * it keeps a rolling window of durations and reports `{name, shapes, mean ± sd}`; the
 * last frames (`lastFrames()`) are kept for a Chrome trace, which the app builds
 * (src/app/metrics.ts `buildTrace`).
 *
 * Without `timestamp-query` it degrades to whole-frame timing (submit to readback on the
 * CPU), reported as one row named `frame`.
 *
 * Each pass carries the kernel variant it ran (the tuner may switch it): statistics are
 * kept per pass and variant, stats() reports the variant running now, and the trace
 * names it. The tuner borrows the timestamp machinery for its tuning frames
 * (`beginFrame(passes, true)`) without turning the profiler on: such frames are timed
 * and returned by collect(), not recorded.
 */
import type { GpuLedger } from './resources.ts';
import { ResourceGroup } from './resources.ts';

export interface PassInfo {
  /** Kernel name and layer, e.g. `pointwise Conv2d_3_pointwise`. */
  name: string;
  /** Human-readable shapes, e.g. `65x65x96 -> 65x65x96`. */
  shapes: string;
  /** The kernel variant the pass runs (e.g. `tile16x4`); absent for passes without variants. */
  variant?: string;
}

export interface PassStats extends PassInfo {
  meanMs: number;
  sdMs: number;
  lastMs: number;
  samples: number;
}

export interface FrameProfile {
  /** Frame start on the GPU clock, in ms (timestamp mode), else on performance.now(). */
  startMs: number;
  passes: { name: string; variant?: string; startMs: number; durationMs: number }[];
  totalGpuMs: number;
}

export interface TraceEvent {
  name: string;
  cat: string;
  ph: 'X';
  ts: number;
  dur: number;
  pid: number;
  tid: number;
  args?: Record<string, unknown>;
}

/** Frames in each pass's rolling statistics. */
export const STATS_WINDOW = 30;
const TRACE_FRAMES = 60;

export class Profiler {
  readonly supported: boolean;
  private enabledFlag = false;
  private resources: ResourceGroup;
  private querySet: GPUQuerySet | null = null;
  private resolveBuffer: GPUBuffer | null = null;
  private readBuffer: GPUBuffer | null = null;
  private capacity = 0;
  private passes: PassInfo[] = [];
  /** The variant of each pass in the frame being timed (passes' variants can change between frames). */
  private frameVariants: (string | undefined)[] = [];
  private pendingCount = 0;
  /** The pending frame is timed for the tuner only (the profiler is off). */
  private pendingForced = false;
  /** The tuner keeps the queries allocated (reserve()). */
  private reserved = false;
  private history = new Map<string, number[]>();
  private frames: FrameProfile[] = [];
  private frameWindow: number[] = [];

  constructor(
    readonly device: GPUDevice,
    ledger: GpuLedger,
  ) {
    this.supported = device.features.has('timestamp-query');
    this.resources = new ResourceGroup(device, 'Profiler', ledger);
  }

  get enabled(): boolean {
    return this.enabledFlag;
  }

  /** Turns per-pass timing on or off; clears the statistics. */
  setEnabled(on: boolean): void {
    if (on === this.enabledFlag) return;
    this.enabledFlag = on;
    this.reset();
    if (!on && !this.reserved) this.releaseQueries();
  }

  /**
   * Allocates the queries for frames of up to `passCount` passes now and keeps them until
   * dispose (the tuner calls this outside frames, so tuning frames allocate nothing).
   */
  reserve(passCount: number): void {
    if (!this.supported) return;
    if (passCount > this.capacity) this.allocate(passCount);
    this.reserved = true;
  }

  get timestampsActive(): boolean {
    return this.enabledFlag && this.supported;
  }

  reset(): void {
    this.history.clear();
    this.frames = [];
    this.frameWindow = [];
  }

  /**
   * Starts a frame with these passes; returns a function giving the timestampWrites of
   * pass i, or null when timestamps are off. `force` (the tuner) times the frame even
   * with the profiler off, without recording it.
   */
  beginFrame(passes: PassInfo[], force = false): ((i: number) => GPUComputePassTimestampWrites) | null {
    this.pendingForced = false;
    if (!this.timestampsActive && !(force && this.supported)) return null;
    this.pendingForced = !this.timestampsActive;
    if (passes.length > this.capacity) this.allocate(passes.length);
    if (this.passes !== passes) {
      // New plan (resolution or model changed): old statistics describe other shapes.
      if (this.passes.length && this.passes.map((p) => p.name + p.shapes).join() !== passes.map((p) => p.name + p.shapes).join()) {
        this.history.clear();
      }
      this.passes = passes;
    }
    this.pendingCount = passes.length;
    this.frameVariants.length = passes.length;
    for (let i = 0; i < passes.length; i++) this.frameVariants[i] = passes[i]!.variant;
    const querySet = this.querySet!;
    return (i: number) => ({ querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 });
  }

  /** Resolves this frame's queries into the readback buffer (call before finish()). */
  resolve(encoder: GPUCommandEncoder): void {
    if (this.pendingCount === 0) return;
    const n = this.pendingCount * 2;
    encoder.resolveQuerySet(this.querySet!, 0, n, this.resolveBuffer!, 0);
    encoder.copyBufferToBuffer(this.resolveBuffer!, 0, this.readBuffer!, 0, n * 8);
  }

  /** Reads the frame's timestamps back (after submit). */
  async collect(): Promise<FrameProfile | null> {
    if (this.pendingCount === 0) return null;
    const count = this.pendingCount;
    const record = !this.pendingForced;
    this.pendingCount = 0;
    const buffer = this.readBuffer!;
    await buffer.mapAsync(GPUMapMode.READ, 0, count * 16);
    const stamps = new BigInt64Array(buffer.getMappedRange(0, count * 16).slice(0));
    buffer.unmap();
    const t0 = stamps[0]!;
    const frame: FrameProfile = { startMs: Number(t0) / 1e6, passes: [], totalGpuMs: 0 };
    for (let i = 0; i < count; i++) {
      const begin = stamps[2 * i]!;
      const end = stamps[2 * i + 1]!;
      const durationMs = end >= begin ? Number(end - begin) / 1e6 : 0;
      const info = this.passes[i]!;
      const variant = this.frameVariants[i];
      frame.passes.push({ name: info.name, variant, startMs: Number(begin - t0) / 1e6, durationMs });
      frame.totalGpuMs += durationMs;
      if (!record) continue;
      const key = historyKey(i, info.name, variant);
      let h = this.history.get(key);
      if (!h) {
        h = [];
        this.history.set(key, h);
      }
      h.push(durationMs);
      if (h.length > STATS_WINDOW) h.shift();
    }
    if (record) this.pushFrame(frame);
    return frame;
  }

  /** Whole-frame timing when timestamps are unavailable (or for end-to-end latency). */
  recordFrameTime(ms: number, startMs: number): void {
    if (!this.enabledFlag || this.timestampsActive) return;
    this.frameWindow.push(ms);
    if (this.frameWindow.length > STATS_WINDOW) this.frameWindow.shift();
    this.pushFrame({ startMs, passes: [{ name: 'frame', startMs: 0, durationMs: ms }], totalGpuMs: ms });
  }

  private pushFrame(frame: FrameProfile): void {
    this.frames.push(frame);
    if (this.frames.length > TRACE_FRAMES) this.frames.shift();
  }

  /**
   * Rolling statistics per pass, in plan order (one `frame` row without timestamps), of
   * the variant each pass runs now.
   */
  stats(): PassStats[] {
    if (!this.timestampsActive) {
      if (!this.frameWindow.length) return [];
      return [{ name: 'frame', shapes: '', ...summarize(this.frameWindow) }];
    }
    const out: PassStats[] = [];
    this.passes.forEach((info, i) => {
      const h = this.history.get(historyKey(i, info.name, info.variant));
      // Only the PassInfo fields: the plan's steps carry pipelines and bind groups too.
      if (h?.length)
        out.push({ name: info.name, shapes: info.shapes, ...(info.variant ? { variant: info.variant } : {}), ...summarize(h) });
    });
    return out;
  }

  lastFrames(): FrameProfile[] {
    return [...this.frames];
  }

  dispose(): void {
    this.reserved = false;
    this.releaseQueries();
    this.resources.dispose();
  }

  private allocate(passCount: number): void {
    this.releaseQueries();
    this.capacity = Math.max(passCount, 64);
    this.querySet = this.device.createQuerySet({ label: 'Profiler.querySet', type: 'timestamp', count: this.capacity * 2 });
    this.resolveBuffer = this.resources.buffer('resolveBuffer', this.capacity * 16, GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC);
    this.readBuffer = this.resources.buffer('readBuffer', this.capacity * 16, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);
  }

  private releaseQueries(): void {
    this.querySet?.destroy();
    this.querySet = null;
    if (this.resolveBuffer) this.resources.release(this.resolveBuffer);
    if (this.readBuffer) this.resources.release(this.readBuffer);
    this.resolveBuffer = this.readBuffer = null;
    this.capacity = 0;
    this.pendingCount = 0;
  }
}

const historyKey = (i: number, name: string, variant: string | undefined): string => `${i}:${name}:${variant ?? ''}`;

/** Mean, sample standard deviation (0 for one value), last value and count; NaNs when empty. */
export function summarize(values: readonly number[]): { meanMs: number; sdMs: number; lastMs: number; samples: number } {
  const n = values.length;
  if (!n) return { meanMs: NaN, sdMs: NaN, lastMs: NaN, samples: 0 };
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const variance = n > 1 ? values.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1) : 0;
  return { meanMs: mean, sdMs: Math.sqrt(variance), lastMs: values[n - 1]!, samples: n };
}
