/**
 * The tuner's data and its choice logic, with no GPU in it (unit-tested with synthetic
 * timings): what a tuning table holds, how a layer's shape becomes a cache key, how
 * samples become a choice, which tuned shape is nearest to an untuned one, and how the
 * cache is keyed by adapter, model and kernel code.
 */
import { variantSource, type KernelModule, type KernelName } from '../kernels/kernel.ts';
import type { LayerShape } from '../plan/shapes.ts';

export const TUNING_FORMAT = 'posenet-webgpu/tuning';
export const TUNING_VERSION = 1;

/** The adapter a table was measured on (GPUAdapterInfo's identifying fields). */
export interface AdapterKey {
  vendor: string;
  architecture: string;
  description: string;
}

export interface TuningCandidate {
  variant: string;
  /** The least of its samples in ms (one pass with timestamps; the whole frame without), null if never measured. */
  ms: number | null;
  samples: number;
}

/** The choice for one layer shape. */
export interface TuningEntry {
  /** The layer shape (see shapeKey): what the choice is keyed by. */
  shape: string;
  /** The shape without its spatial size (see shapeFamily), to find the nearest tuned shape. */
  family: string;
  /** Output pixels (width x height). */
  pixels: number;
  kernel: KernelName;
  /** The layers of the model that have this shape (informative). */
  layers: string[];
  candidates: TuningCandidate[];
  choice: string;
  /** What `ms` measures: one pass (timestamp-query) or whole frames (one kernel kind varied at a time). */
  timing: 'pass' | 'frame';
  /**
   * Pass timing: the whole-frame check of the plan's choices against the defaults (the
   * fastest frame of each); when `kept` is false the choice went back to the default.
   */
  frameCheck?: { tunedMs: number; defaultMs: number; kept: boolean };
}

/** Everything tuned for one (adapter, model, kernel code): what `net.tuningTable()` returns and the cache stores. */
export interface TuningTable {
  format: typeof TUNING_FORMAT;
  version: typeof TUNING_VERSION;
  adapter: AdapterKey;
  /** The model's name and the start of its weights' sha256. */
  model: string;
  /** A hash of every kernel variant's WGSL: timings of other code do not apply. */
  kernels: string;
  entries: TuningEntry[];
}

export function emptyTable(adapter: AdapterKey, model: string, kernels: string): TuningTable {
  return { format: TUNING_FORMAT, version: TUNING_VERSION, adapter, model, kernels, entries: [] };
}

/** Whether a value read from a cache or given by a user is a tuning table this version understands. */
export function isTuningTable(value: unknown): value is TuningTable {
  const t = value as TuningTable | null;
  return (
    !!t &&
    typeof t === 'object' &&
    t.format === TUNING_FORMAT &&
    t.version === TUNING_VERSION &&
    Array.isArray(t.entries) &&
    typeof t.model === 'string' &&
    typeof t.kernels === 'string' &&
    !!t.adapter &&
    t.entries.every((e) => typeof e?.shape === 'string' && typeof e.choice === 'string' && Array.isArray(e.candidates))
  );
}

export function adapterKey(info: Partial<GPUAdapterInfo> | undefined | null): AdapterKey {
  return { vendor: info?.vendor ?? '', architecture: info?.architecture ?? '', description: info?.description ?? '' };
}

/** The cache key of a table: adapter, model and kernel code. */
export function storeKey(adapter: AdapterKey, model: string, kernels: string): string {
  return `${adapter.vendor}|${adapter.architecture}|${adapter.description}|${model}|${kernels}`;
}

/** The model part of the key: its name and the start of its weights' hash. */
export function modelKey(manifest: { name: string; weights: { sha256: string } }): string {
  return `${manifest.name}@${manifest.weights.sha256.slice(0, 16)}`;
}

/** FNV-1a over text, as 8 hex digits. */
function fnv1a(text: string, hash = 0x811c9dc5): number {
  let h = hash;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** A hash of the WGSL of every variant of these kernels (computed once per call; cheap). */
export function kernelsVersion(kernels: readonly KernelModule<never>[]): string {
  let h = 0x811c9dc5;
  for (const k of kernels) for (const v of k.variants) h = fnv1a(`${k.name}/${v.name}\n${variantSource(k, v.name)}`, h);
  return h.toString(16).padStart(8, '0');
}

/** A layer's shape without its spatial size: channels, kernel, stride, dilation, residual. */
export function shapeFamily(kernel: KernelName, ls: LayerShape): string {
  const l = ls.layer;
  const res = l.residual !== undefined ? ' +residual' : '';
  return `${kernel} ${ls.input.c}->${ls.output.c} k${l.kernel[0]}x${l.kernel[1]} s${l.stride[0]}x${l.stride[1]} d${l.dilation[0]}x${l.dilation[1]} ${l.activation}${res}`;
}

/** A layer's shape: its family and its input and output sizes. */
export function shapeKey(kernel: KernelName, ls: LayerShape): string {
  return `${shapeFamily(kernel, ls)} ${ls.input.w}x${ls.input.h}->${ls.output.w}x${ls.output.h}`;
}

/**
 * Below this relative margin two candidates count as tied, and the earlier one is kept.
 */
export const TIE_MARGIN = 0.03;
/**
 * A candidate replaces the starting variant (the one already running: the kernel's
 * default, or a cached choice) only when it is faster by more than this. Timing noise
 * then cannot make a switch for nothing: on a loaded machine pass times scatter by 10%
 * and more, while real differences between variants on a GPU are several-fold.
 */
export const SWITCH_MARGIN = 0.1;

/**
 * The choice among measured candidates: the least time (ties within TIE_MARGIN going to
 * the earlier candidate), where a candidate must beat the default by more than
 * `switchMargin` (relative) to replace it. A candidate's time is the least
 * of its samples: timing noise is one-sided (preemption, contention, clock ramps only add
 * time), so the minimum of repeats estimates the cost best. `samples` lists every
 * candidate in order; those never measured (no timestamp, not compiled) cannot win.
 */
export function chooseVariant(
  samples: readonly { variant: string; ms: readonly number[] }[],
  defaultVariant: string,
  switchMargin = SWITCH_MARGIN,
): { choice: string; candidates: TuningCandidate[] } {
  const candidates: TuningCandidate[] = samples.map((s) => ({
    variant: s.variant,
    ms: s.ms.length ? Math.min(...s.ms) : null,
    samples: s.ms.length,
  }));
  const measured = candidates.filter((c): c is TuningCandidate & { ms: number } => c.ms !== null && Number.isFinite(c.ms));
  if (!measured.length) return { choice: defaultVariant, candidates };
  let best = measured[0]!;
  for (const c of measured) if (c.ms < best.ms * (1 - TIE_MARGIN)) best = c;
  const dflt = measured.find((c) => c.variant === defaultVariant);
  const choice = dflt && !(best.ms < dflt.ms * (1 - switchMargin)) ? dflt : best;
  return { choice: choice.variant, candidates };
}

/**
 * The entry to start an untuned shape from: the same shape, else the same family with
 * the nearest output size (by ratio of pixels), else none. Entries whose choice the
 * layer cannot run are skipped (`usable`).
 */
export function nearestEntry(
  entries: readonly TuningEntry[],
  kernel: KernelName,
  ls: LayerShape,
  usable: (variant: string) => boolean,
): { entry: TuningEntry; exact: boolean } | null {
  const key = shapeKey(kernel, ls);
  const exact = entries.find((e) => e.shape === key && usable(e.choice));
  if (exact) return { entry: exact, exact: true };
  const family = shapeFamily(kernel, ls);
  const pixels = ls.output.w * ls.output.h;
  let best: TuningEntry | null = null;
  let bestDistance = Infinity;
  for (const e of entries) {
    if (e.family !== family || !usable(e.choice)) continue;
    const d = Math.abs(Math.log(e.pixels / pixels));
    if (d < bestDistance) {
      best = e;
      bestDistance = d;
    }
  }
  return best ? { entry: best, exact: false } : null;
}

/** Adds or replaces entries by shape. */
export function mergeEntries(table: TuningTable, entries: readonly TuningEntry[]): void {
  for (const e of entries) {
    const i = table.entries.findIndex((x) => x.shape === e.shape);
    if (i >= 0) table.entries[i] = e;
    else table.entries.push(e);
  }
}

/** Most tuning frames per resolution (the bound). */
export const MAX_TUNING_FRAMES = 20;

/**
 * With timestamps every tuning frame times every layer: frame f runs candidate
 * f mod n of a layer with n candidates, so each candidate of the widest layer gets
 * floor(max / n) samples. Returns the number of tuning frames.
 */
export function timestampFrames(maxCandidates: number, maxFrames: number): number {
  if (maxCandidates <= 1) return 0;
  const rounds = Math.max(1, Math.floor(maxFrames / maxCandidates));
  return Math.min(maxFrames, rounds * maxCandidates);
}

/**
 * Without timestamps one kernel kind is varied at a time and whole frames are timed:
 * returns the configurations to time, in order, and how many frames each gets, within
 * `maxFrames` (kinds past the budget keep their starting variants).
 */
export function frameSchedule(
  kinds: readonly { kernel: KernelName; variants: readonly string[] }[],
  maxFrames = MAX_TUNING_FRAMES,
): { configs: { kernel: KernelName; variant: string }[]; framesEach: number } {
  const configs: { kernel: KernelName; variant: string }[] = [];
  for (const k of kinds) if (k.variants.length > 1) for (const v of k.variants) configs.push({ kernel: k.kernel, variant: v });
  if (configs.length > maxFrames) configs.length = maxFrames;
  const framesEach = configs.length ? Math.max(1, Math.floor(maxFrames / configs.length)) : 0;
  return { configs, framesEach };
}
