/**
 * The tuner's choice logic with synthetic timings, in Node (no GPU): argmin, ties, noisy
 * repeats, missing timestamps, cache hit and miss, adapter change, the frame budget, the
 * whole-frame mode without timestamps, and the file cache. The GPU side (real frames,
 * poses, allocations) is test/tuning-gpu.test.ts.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import type { KernelCache } from '../src/gpu/kernels.ts';
import type { FrameProfile, Profiler } from '../src/gpu/profiler.ts';
import { CHECK_FRAMES, MIN_SAMPLES, Tuner, type TuningMode } from '../src/gpu/tuner.ts';
import {
  adapterKey,
  chooseVariant,
  frameSchedule,
  MAX_TUNING_FRAMES,
  nearestEntry,
  shapeFamily,
  shapeKey,
  storeKey,
  timestampFrames,
  type TuningEntry,
} from '../src/gpu/tuning.ts';
import { fileTuningStore, memoryTuningStore, type TuningStore } from '../src/gpu/tuning-store.ts';
import type { KernelName } from '../src/kernels/kernel.ts';
import type { Layer } from '../src/model/manifest.ts';
import type { Plan, PlanStep } from '../src/plan/plan.ts';
import type { LayerShape } from '../src/plan/shapes.ts';

const samples = (o: Record<string, number[]>) => Object.entries(o).map(([variant, ms]) => ({ variant, ms }));

describe('chooseVariant', () => {
  it("takes the least time (the minimum of each candidate's repeats)", () => {
    expect(chooseVariant(samples({ a: [3, 3, 3], b: [1, 1.1, 0.9], c: [2, 2, 2] }), 'a').choice).toBe('b');
  });

  it('keeps the default unless beaten by the switch margin, and the earlier candidate on a tie among others', () => {
    expect(chooseVariant(samples({ a: [1.0], b: [0.99] }), 'a').choice).toBe('a');
    expect(chooseVariant(samples({ a: [1.0], b: [0.92] }), 'a').choice).toBe('a');
    expect(chooseVariant(samples({ a: [1.0], b: [0.85] }), 'a').choice).toBe('b');
    expect(chooseVariant(samples({ x: [1.0], y: [1.0], z: [1.01] }), 'none').choice).toBe('x');
    expect(chooseVariant(samples({ x: [1.0], y: [1.0] }), 'y').choice).toBe('y');
  });

  it('sees through noisy repeats: stalls only add time', () => {
    // b is faster; one sample of b hit a stall.
    expect(chooseVariant(samples({ a: [5.5, 5.6, 5.4], b: [4.5, 4.6, 100] }), 'a').choice).toBe('b');
    // a is faster; two of its three samples were preempted.
    expect(chooseVariant(samples({ a: [5.0, 9, 12], b: [6.0, 6.1, 6.2] }), 'b').choice).toBe('a');
    // Equal costs under noise stay with the default.
    expect(chooseVariant(samples({ a: [5.0, 7, 5.2], b: [4.95, 8, 9] }), 'a').choice).toBe('a');
  });

  it('never chooses an unmeasured candidate (no timestamp, not compiled); nothing measured keeps the default', () => {
    const r = chooseVariant(samples({ a: [2], b: [], c: [3] }), 'c');
    expect(r.choice).toBe('a');
    expect(r.candidates).toEqual([
      { variant: 'a', ms: 2, samples: 1 },
      { variant: 'b', ms: null, samples: 0 },
      { variant: 'c', ms: 3, samples: 1 },
    ]);
    expect(chooseVariant(samples({ a: [], b: [] }), 'b').choice).toBe('b');
    expect(chooseVariant(samples({ a: [Number.NaN], b: [4] }), 'a').choice).toBe('b');
  });
});

function layerShape(kind: Layer['kind'], size: number, inC: number, outC: number, name = `${kind}${size}x${inC}`): LayerShape {
  const layer: Layer = {
    name,
    kind,
    input: 'x',
    output: 'y',
    kernel: kind === 'pointwise' ? [1, 1] : [3, 3],
    stride: [1, 1],
    dilation: [1, 1],
    padding: { mode: 'same_upper', pads: [0, 0, 0, 0] },
    activation: 'relu6',
    inChannels: inC,
    outChannels: outC,
  };
  const t = (c: number) => ({ w: size, h: size, c, c4: Math.ceil(c / 4) });
  return { layer, input: t(inC), output: t(outC), pads: [1, 1, 1, 1], weightFormat: 'f32' };
}

function entry(kernel: KernelName, ls: LayerShape, choice: string): TuningEntry {
  return {
    shape: shapeKey(kernel, ls),
    family: shapeFamily(kernel, ls),
    pixels: ls.output.w * ls.output.h,
    kernel,
    layers: [ls.layer.name],
    candidates: [{ variant: choice, ms: 1, samples: 1 }],
    choice,
    timing: 'pass',
  };
}

describe('the cache: shapes, nearest shapes, keys', () => {
  const pw17 = layerShape('pointwise', 17, 384, 384);
  const pw33 = layerShape('pointwise', 33, 384, 384);
  const pw65 = layerShape('pointwise', 65, 384, 384);
  const all = () => true;

  it('hits on the exact shape', () => {
    const r = nearestEntry([entry('pointwise', pw33, 'tile4x4'), entry('pointwise', pw17, 'split4x4')], 'pointwise', pw17, all);
    expect(r).toMatchObject({ exact: true, entry: { choice: 'split4x4' } });
  });

  it('misses an untuned size, then starts from the nearest tuned size of the same family', () => {
    const entries = [entry('pointwise', pw17, 'split4x4'), entry('pointwise', pw65, 'shared32x32')];
    expect(nearestEntry(entries, 'pointwise', pw33, all)).toMatchObject({ exact: false, entry: { choice: 'split4x4' } });
    expect(nearestEntry(entries, 'pointwise', layerShape('pointwise', 51, 384, 384), all)).toMatchObject({
      exact: false,
      entry: { choice: 'shared32x32' },
    });
    // Another channel count is another family: no start.
    expect(nearestEntry(entries, 'pointwise', layerShape('pointwise', 17, 384, 120), all)).toBeNull();
    // A choice the layer cannot run is skipped.
    expect(nearestEntry(entries, 'pointwise', pw33, (v) => v !== 'split4x4')).toMatchObject({ entry: { choice: 'shared32x32' } });
  });

  it('keys tables by adapter, model and kernel code: another adapter misses', async () => {
    const store = memoryTuningStore();
    const a = adapterKey({ vendor: 'google', architecture: 'swiftshader', description: '' });
    const b = adapterKey({ vendor: 'nvidia', architecture: 'ampere', description: '' });
    expect(storeKey(a, 'm', 'k')).not.toBe(storeKey(b, 'm', 'k'));
    expect(storeKey(a, 'm', 'k')).not.toBe(storeKey(a, 'm', 'k2'));
    expect(storeKey(a, 'm', 'k')).not.toBe(storeKey(a, 'm2', 'k'));
    const tuner = makeTuner({ store, adapter: a });
    const plan = new FakePlan([layerShape('pointwise', 17, 64, 64)]);
    await runOnline(tuner, plan, cost({}));
    await tuner.flush();
    expect(await store.load(storeKey(a, MODEL, tuner.tuningTable().kernels))).not.toBeNull();
    expect(await store.load(storeKey(b, MODEL, tuner.tuningTable().kernels))).toBeNull();
  });
});

describe('schedules', () => {
  it('fits the timestamp schedule in its frames, every candidate of the widest layer sampled equally', () => {
    expect(timestampFrames(1, 20)).toBe(0);
    expect(timestampFrames(6, 20)).toBe(18);
    expect(timestampFrames(4, 20)).toBe(20);
    expect(timestampFrames(6, 14)).toBe(12);
    expect(timestampFrames(25, 20)).toBe(MAX_TUNING_FRAMES);
  });

  it('varies one kind at a time without timestamps, within 20 frames', () => {
    const s = frameSchedule([
      { kernel: 'pointwise', variants: ['a', 'b', 'c'] },
      { kernel: 'depthwise', variants: ['d'] },
      { kernel: 'conv2d', variants: ['e', 'f'] },
    ]);
    expect(s.configs.map((c) => `${c.kernel}:${c.variant}`)).toEqual(['pointwise:a', 'pointwise:b', 'pointwise:c', 'conv2d:e', 'conv2d:f']);
    expect(s.framesEach * s.configs.length).toBeLessThanOrEqual(MAX_TUNING_FRAMES);
    expect(s.framesEach).toBe(4);
  });
});

// ---- the Tuner over a fake plan, with synthetic per-variant costs ----

const MODEL = 'tiny@0123';
const ADAPTER = adapterKey({ vendor: 'google', architecture: 'swiftshader', description: 'test' });

/** A Plan stand-in: one step per layer shape, every kernel variant as an option. */
class FakePlan {
  readonly steps: PlanStep[];
  constructor(shapes: LayerShape[], variants: Partial<Record<KernelName, string[]>> = {}) {
    this.steps = shapes.map((ls) => {
      const kernel: KernelName = ls.layer.kind === 'pointwise' ? 'pointwise' : ls.layer.kind === 'depthwise' ? 'depthwise' : 'conv2d';
      const names = variants[kernel] ?? ['v0', 'v1', 'v2', 'v3'];
      return {
        kernel,
        variant: names[0]!,
        name: `${kernel} ${ls.layer.name}`,
        shapes: '',
        layer: ls.layer.name,
        shape: ls,
        pipeline: {} as GPUComputePipeline,
        bindGroup: null,
        dispatch: [1, 1, 1],
        uniformOffset: 0,
        options: names.map((variant) => ({ variant, constants: {}, dispatch: [1, 1, 1] as [number, number, number] })),
      };
    });
  }
  useVariant(step: PlanStep, variant: string): boolean {
    step.variant = variant;
    return true;
  }
  asPlan(): Plan {
    return this as unknown as Plan;
  }
}

function makeTuner(o: { store?: TuningStore | null; adapter?: typeof ADAPTER; timestamps?: boolean; mode?: TuningMode; cached?: null }) {
  const kernels = { pipelineAsync: async () => ({}) as GPUComputePipeline } as unknown as KernelCache;
  return new Tuner({
    kernels,
    profiler: { supported: o.timestamps ?? true } as Profiler,
    mode: o.mode ?? 'auto',
    store: o.store ?? null,
    adapter: o.adapter ?? ADAPTER,
    model: MODEL,
    cached: o.cached ?? null,
  });
}

/** ms of a pass: by variant name, times the layer's pixels; noise from a fixed sequence. */
function cost(byVariant: Record<string, number>, noise: number[] = [0]) {
  let n = 0;
  return (step: PlanStep) => {
    const base = byVariant[step.variant] ?? 1;
    return base * (step.shape!.output.w * step.shape!.output.h) * (1 + noise[n++ % noise.length]!);
  };
}

/**
 * Runs frames as PoseNet does (beforeFrame, a frame, afterFrame) until the tuner is done or
 * `max` frames ran; returns the frames that measured.
 */
async function runOnline(
  tuner: Tuner,
  fake: FakePlan,
  passMs: (s: PlanStep) => number,
  max = 60,
  frameMsOf: (ms: number[]) => number = (ms) => ms.reduce((a, b) => a + b, 0),
): Promise<number> {
  const plan = fake.asPlan();
  tuner.attach(plan);
  let measured = 0;
  for (let f = 0; f < max; f++) {
    const timestamps = tuner.beforeFrame(plan);
    const ms = fake.steps.map(passMs);
    const profile: FrameProfile | null = timestamps
      ? { startMs: 0, totalGpuMs: 0, passes: fake.steps.map((s, i) => ({ name: s.name, startMs: 0, durationMs: ms[i]! })) }
      : null;
    const frameMs = frameMsOf(ms);
    const before = tuner.progress();
    tuner.afterFrame(plan, fake.steps, profile, frameMs);
    if (before.state === 'tuning') measured++;
    // Let background compiles settle (they are promises).
    await Promise.resolve();
    await Promise.resolve();
    if (tuner.progress().state === 'tuned') break;
  }
  return measured;
}

describe('Tuner (synthetic timings)', () => {
  const shapes = () => [
    layerShape('conv', 33, 3, 8, 'conv0'),
    layerShape('depthwise', 33, 8, 8, 'dw1'),
    layerShape('pointwise', 33, 8, 16, 'pw1'),
    layerShape('pointwise', 17, 16, 16, 'pw2'),
    layerShape('pointwise', 17, 16, 16, 'pw3'),
  ];

  it('waits for the first frame before compiling, then tunes within 20 frames to the cheapest variant per layer', async () => {
    const tuner = makeTuner({});
    const fake = new FakePlan(shapes());
    const plan = fake.asPlan();
    tuner.attach(plan);
    expect(tuner.progress().state).toBe('waiting');
    // v2 is cheapest everywhere, with 5% noise.
    const measured = await runOnline(tuner, fake, cost({ v0: 3, v1: 2, v2: 1, v3: 4 }, [0, 0.05, -0.03, 0.02]));
    expect(tuner.progress()).toMatchObject({ state: 'tuned', timing: 'pass' });
    expect(measured).toBeLessThanOrEqual(MAX_TUNING_FRAMES);
    expect(measured).toBeGreaterThan(0);
    expect(fake.steps.map((s) => s.variant)).toEqual(['v2', 'v2', 'v2', 'v2', 'v2']);
    const table = tuner.tuningTable();
    // pw2 and pw3 share a shape: one entry listing both layers.
    expect(table.entries).toHaveLength(4);
    expect(table.entries.find((e) => e.layers.includes('pw2'))!.layers).toEqual(['pw2', 'pw3']);
    for (const e of table.entries) expect(e.candidates.map((c) => c.variant)).toEqual(['v0', 'v1', 'v2', 'v3']);
  });

  it('drops a hopeless candidate after its first sample (it would make tuning frames slow)', async () => {
    const tuner = makeTuner({});
    const fake = new FakePlan([layerShape('pointwise', 17, 16, 16, 'pw')]);
    const used: string[] = [];
    const passMs = cost({ v0: 2, v1: 1, v2: 1.2, v3: 400 });
    await runOnline(tuner, fake, (s) => {
      used.push(s.variant);
      return passMs(s);
    });
    expect(used.filter((v) => v === 'v3').length).toBe(1);
    expect(fake.steps[0]!.variant).toBe('v1');
    const e = tuner.tuningTable().entries[0]!;
    expect(e.candidates.find((c) => c.variant === 'v3')).toMatchObject({ samples: 1 });
  });

  it('layers of one shape share their samples and try different candidates in the same frame', async () => {
    const tuner = makeTuner({});
    const fake = new FakePlan([0, 1, 2, 3].map((i) => layerShape('pointwise', 17, 64, 64, `pw${i}`)));
    const used: string[] = [];
    const measured = await runOnline(tuner, fake, (s) => {
      used.push(s.variant);
      return 1 + 0.1 * ['v0', 'v1', 'v2', 'v3'].indexOf(s.variant);
    });
    const frames = Array.from({ length: used.length / 4 }, (_, f) => used.slice(4 * f, 4 * f + 4));
    const firstTuning = frames.find((f) => new Set(f).size > 1)!;
    expect(new Set(firstTuning)).toEqual(new Set(['v0', 'v1', 'v2', 'v3']));
    // Four layers x one frame = one sample of each candidate: MIN_SAMPLES frames give MIN_SAMPLES each.
    expect(measured).toBe(MIN_SAMPLES);
    const e = tuner.tuningTable().entries;
    expect(e).toHaveLength(1);
    expect(e[0]!.candidates.map((c) => c.samples)).toEqual([MIN_SAMPLES, MIN_SAMPLES, MIN_SAMPLES, MIN_SAMPLES]);
    expect(e[0]!.choice).toBe('v0');
  });

  it('a candidate hopeless on three shapes leaves every rotation', async () => {
    const tuner = makeTuner({});
    const fake = new FakePlan([9, 11, 13, 15, 17].map((n) => layerShape('pointwise', n, 16, 16, `pw${n}`)));
    const used: string[] = [];
    const passMs = cost({ v0: 2, v1: 1, v2: 1.5, v3: 1000 });
    await runOnline(tuner, fake, (s) => {
      used.push(s.variant);
      return passMs(s);
    });
    expect(used.filter((v) => v === 'v3').length).toBeLessThanOrEqual(3);
    expect(fake.steps.every((s) => s.variant === 'v1')).toBe(true);
  });

  it('keeps pass-timed choices only if whole frames confirm them against the defaults', async () => {
    // Per-pass times favour v1, but frames that run v1 are slower (timestamps misled).
    const passMs = cost({ v0: 2, v1: 1 });
    const misled = makeTuner({});
    const fake = new FakePlan([layerShape('pointwise', 17, 16, 16, 'pw')]);
    await runOnline(misled, fake, passMs, 60, () => (fake.steps[0]!.variant === 'v1' ? 900 : 600));
    expect(fake.steps[0]!.variant).toBe('v0');
    const e = misled.tuningTable().entries[0]!;
    expect(e).toMatchObject({ choice: 'v0', frameCheck: { tunedMs: 900, defaultMs: 600, kept: false } });
    expect(e.candidates.find((c) => c.variant === 'v1')!.ms).toBeLessThan(e.candidates.find((c) => c.variant === 'v0')!.ms!);

    // Confirmed: kept, and the check frames stay within the budget.
    const confirmed = makeTuner({});
    const f2 = new FakePlan([layerShape('pointwise', 17, 16, 16, 'pw')]);
    const measured = await runOnline(confirmed, f2, passMs);
    expect(f2.steps[0]!.variant).toBe('v1');
    expect(confirmed.tuningTable().entries[0]!.frameCheck).toMatchObject({ kept: true });
    expect(measured).toBeLessThanOrEqual(MAX_TUNING_FRAMES);
    expect(measured).toBeGreaterThan(CHECK_FRAMES);
  });

  it('a second visit starts tuned from the cache; another adapter tunes again', async () => {
    const store = memoryTuningStore();
    const first = makeTuner({ store });
    await runOnline(first, new FakePlan(shapes()), cost({ v0: 3, v1: 1, v2: 2, v3: 4 }));
    await first.flush();
    const key = first.storeKey;
    const cached = await store.load(key);
    expect(cached).not.toBeNull();

    const second = new Tuner({
      kernels: { pipelineAsync: async () => ({}) } as unknown as KernelCache,
      profiler: { supported: true } as Profiler,
      mode: 'auto',
      store,
      adapter: ADAPTER,
      model: MODEL,
      cached,
    });
    expect(second.fromCache).toBe(true);
    const fake = new FakePlan(shapes());
    // The plan starts from the chooser's variants (PoseNet builds plans with it).
    for (const s of fake.steps) s.variant = second.chooser(s.kernel, s.shape!, ['v0', 'v1', 'v2', 'v3']) ?? s.variant;
    second.attach(fake.asPlan());
    expect(second.progress().state).toBe('tuned');
    expect(fake.steps.map((s) => s.variant)).toEqual(['v1', 'v1', 'v1', 'v1', 'v1']);

    const other = adapterKey({ vendor: 'apple', architecture: 'metal-3', description: '' });
    expect(await store.load(storeKey(other, MODEL, first.tuningTable().kernels))).toBeNull();
  });

  it('a new resolution starts from the nearest tuned shapes and tunes online', async () => {
    const tuner = makeTuner({});
    await runOnline(tuner, new FakePlan(shapes()), cost({ v0: 3, v1: 2, v2: 1, v3: 4 }));
    const bigger = new FakePlan([layerShape('pointwise', 65, 8, 16, 'pw1'), layerShape('pointwise', 33, 16, 16, 'pw2')]);
    for (const s of bigger.steps) s.variant = tuner.chooser(s.kernel, s.shape!, ['v0', 'v1', 'v2', 'v3']) ?? s.variant;
    expect(bigger.steps.map((s) => s.variant)).toEqual(['v2', 'v2']);
    // At this size v3 wins.
    await runOnline(tuner, bigger, cost({ v0: 3, v1: 2, v2: 1.5, v3: 1 }));
    expect(bigger.steps.map((s) => s.variant)).toEqual(['v3', 'v3']);
    expect(tuner.tuningTable().entries.length).toBe(6);
  });

  it('several plans (input sizes, the flip test’s twin): one tuned at a time, the others take its choices by shape', async () => {
    const tuner = makeTuner({});
    // Two plans of one size (a plan and its mirrored twin), and one of another size.
    const main = new FakePlan(shapes());
    const twin = new FakePlan(shapes());
    const other = new FakePlan([layerShape('pointwise', 65, 8, 16, 'pw1')]);
    tuner.use(main.asPlan());
    expect(tuner.progress().state).toBe('waiting');
    // A frame on another size meanwhile does not take tuning over from the unfinished one.
    tuner.use(other.asPlan());
    tuner.afterFrame(other.asPlan(), other.steps, null, 1);
    expect(tuner.measuring(other.asPlan())).toBe(false);
    // v2 wins; the tuned plan commits it.
    const passMs = cost({ v0: 3, v1: 2, v2: 1, v3: 4 });
    for (let f = 0; f < 60 && tuner.progress().state !== 'tuned'; f++) {
      tuner.use(main.asPlan());
      const timestamps = tuner.beforeFrame(main.asPlan());
      expect(tuner.measuring(main.asPlan())).toBe(tuner.progress().state === 'tuning');
      const ms = main.steps.map(passMs);
      const profile = timestamps
        ? { startMs: 0, totalGpuMs: 0, passes: main.steps.map((s, i) => ({ name: s.name, startMs: 0, durationMs: ms[i]! })) }
        : null;
      tuner.afterFrame(
        main.asPlan(),
        main.steps,
        profile,
        ms.reduce((a, b) => a + b, 0),
      );
      await Promise.resolve();
      await Promise.resolve();
    }
    expect(main.steps.map((s) => s.variant)).toEqual(['v2', 'v2', 'v2', 'v2', 'v2']);
    // The twin never measured; it takes the choices of its shapes at its next frame.
    expect(twin.steps.map((s) => s.variant)).toEqual(['v0', 'v0', 'v0', 'v0', 'v0']);
    tuner.sync(twin.asPlan());
    expect(twin.steps.map((s) => s.variant)).toEqual(['v2', 'v2', 'v2', 'v2', 'v2']);
    // Now idle, the tuner takes up the other size's untuned shape when it runs.
    tuner.use(other.asPlan());
    expect(tuner.progress().state).toBe('compiling');
    // Letting that plan go ends its tuning (the next plan used takes over).
    tuner.forget(other.asPlan());
    expect(tuner.progress().state).toBe('tuned');
  });

  it('without timestamps varies one kernel kind at a time over whole frames', async () => {
    const tuner = makeTuner({ timestamps: false });
    const fake = new FakePlan(shapes(), { pointwise: ['p0', 'p1', 'p2'], depthwise: ['d0', 'd1'], conv2d: ['c0', 'c1'] });
    const measured = await runOnline(tuner, fake, cost({ p0: 3, p1: 1, p2: 2, d0: 1, d1: 2, c0: 2, c1: 1 }));
    expect(tuner.progress()).toMatchObject({ state: 'tuned', timing: 'frame' });
    expect(measured).toBeLessThanOrEqual(MAX_TUNING_FRAMES);
    expect(fake.steps.map((s) => s.variant)).toEqual(['c1', 'd0', 'p1', 'p1', 'p1']);
    expect(tuner.tuningTable().entries.every((e) => e.timing === 'frame')).toBe(true);
  });

  it('off runs the defaults and never tunes; a given table fixes the choices', async () => {
    const off = makeTuner({ mode: 'off' });
    const fake = new FakePlan(shapes());
    off.attach(fake.asPlan());
    expect(off.progress().state).toBe('off');
    expect(off.chooser('pointwise', fake.steps[2]!.shape!, ['v0', 'v1'])).toBeUndefined();
    expect(off.beforeFrame(fake.asPlan())).toBe(false);

    const source = makeTuner({});
    await runOnline(source, new FakePlan(shapes()), cost({ v0: 3, v1: 2, v2: 1, v3: 4 }));
    const fixed = makeTuner({ mode: source.tuningTable() });
    const f2 = new FakePlan(shapes());
    fixed.attach(f2.asPlan());
    expect(fixed.progress().state).toBe('fixed');
    expect(fixed.chooser('pointwise', f2.steps[2]!.shape!, ['v0', 'v1', 'v2', 'v3'])).toBe('v2');
  });

  it('a failing cache is reported and tuning goes on', async () => {
    const broken: TuningStore = {
      name: 'broken',
      load: async () => null,
      save: async () => {
        throw new Error('quota exceeded');
      },
    };
    const tuner = makeTuner({ store: broken });
    const fake = new FakePlan(shapes());
    await runOnline(tuner, fake, cost({ v0: 2, v1: 1 }));
    await tuner.flush();
    expect(tuner.progress()).toMatchObject({ state: 'tuned', storeError: 'tuning cache broken: cannot save: quota exceeded' });
  });
});

describe('fileTuningStore', () => {
  it('round-trips tables through one JSON file, written atomically, and refuses a file that is not a cache', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tuning-'));
    try {
      const file = path.join(dir, 'tuning.json');
      const store = fileTuningStore(file, fsp);
      expect(await store.load('k')).toBeNull();
      const tuner = makeTuner({ store });
      await runOnline(tuner, new FakePlan([layerShape('pointwise', 9, 8, 8)]), cost({ v0: 2, v1: 1 }));
      await tuner.flush();
      const table = tuner.tuningTable();
      expect(await store.load(tuner.storeKey)).toEqual(table);
      expect(fs.readdirSync(dir)).toEqual(['tuning.json']);
      const other = path.join(dir, 'notes.json');
      fs.writeFileSync(other, 'my notes, not JSON');
      const bad = fileTuningStore(other, fsp);
      await expect(bad.load('k')).rejects.toThrow(`tuning cache ${other}: not JSON`);
      await expect(bad.save('k', table)).rejects.toThrow(/not JSON/);
      expect(fs.readFileSync(other, 'utf8')).toBe('my notes, not JSON');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
