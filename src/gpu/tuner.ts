/**
 * The tuner: for each layer of a plan, the variant chosen by timing the candidates on the
 * device the net runs on (DESIGN.md principle 11).
 *
 * Online, by default: a plan's first frame runs on the starting variants (cached choices,
 * else the nearest tuned shape's, else the kernel's default) while the other candidates
 * compile in the background (createComputePipelineAsync, started after the net's first
 * frame so that the first pose waits for nothing extra). Then up to MAX_TUNING_FRAMES
 * frames measure them:
 * - with timestamp-query, every tuning frame times every layer, each pass in its own
 *   timed compute pass. Layers of one shape share their samples and take different
 *   candidates in the same frame (so 7 identical 17x17 layers try 6 candidates at once),
 *   and shapes start their rotations at different candidates. A candidate far slower
 *   than the best of its shape leaves the rotation (DROP_FACTOR), and one that is
 *   hopeless on several shapes leaves every rotation (GLOBAL_DROP_FACTOR): on
 *   SwiftShader a workgroup barrier costs so much that the workgroup-memory variants run
 *   10 to 1,000 times slower than the register tiles, and running them on every layer
 *   would stall tuning frames for seconds. The pass phase ends when each shape's
 *   remaining candidates have MIN_SAMPLES samples, or at its frame budget. Then, if the
 *   choices differ from the kernels' defaults, CHECK_FRAMES whole frames alternate the
 *   chosen set and the defaults, and the choices are kept only if their frames are
 *   faster: per-pass timestamps can mislead (on SwiftShader a pass next to a very slow
 *   one was measured at a quarter or four times its cost), a whole frame cannot;
 * - without it, one kernel kind at a time is varied over whole frames (timed from submit
 *   to readback), keeping each kind's winner before varying the next.
 * Every tuning frame is a real frame and returns a correct pose: every variant computes
 * the same function. Choices (see tuning.ts chooseVariant) go into the tuning table,
 * keyed by layer shape, which is saved to the store under (adapter, model, kernel code),
 * so a second visit starts tuned. A tuning frame switches pipelines by reference
 * (Plan.useVariant) and creates no GPU object.
 */
import { KERNEL_MODULES } from '../kernels/index.ts';
import type { KernelName } from '../kernels/kernel.ts';
import type { Plan, PlanStep, VariantChooser } from '../plan/plan.ts';
import type { LayerShape } from '../plan/shapes.ts';
import type { KernelCache } from './kernels.ts';
import type { FrameProfile, PassInfo, Profiler } from './profiler.ts';
import type { TuningStore } from './tuning-store.ts';
import {
  chooseVariant,
  emptyTable,
  frameSchedule,
  kernelsVersion,
  MAX_TUNING_FRAMES,
  mergeEntries,
  nearestEntry,
  shapeFamily,
  shapeKey,
  storeKey,
  timestampFrames,
  type AdapterKey,
  type TuningEntry,
  type TuningTable,
} from './tuning.ts';

/** `auto`: tune online and cache; `off`: the kernels' default variants; a table: its choices, fixed. */
export type TuningMode = 'auto' | 'off' | TuningTable;

export interface TuningProgress {
  /**
   * `off`: defaults, no tuning; `fixed`: a given table's choices; `waiting`: the first
   * frame has not run; `compiling`: candidates compile in the background; `tuning`:
   * tuning frames run; `tuned`: every layer of this resolution has its choice.
   */
  state: 'off' | 'fixed' | 'waiting' | 'compiling' | 'tuning' | 'tuned';
  /** Tuning frames run at this resolution, and how many it takes. */
  frame: number;
  frames: number;
  /** Timing used: one pass per layer (timestamp-query) or whole frames. */
  timing: 'pass' | 'frame';
  /** The last error of the cache (reading or saving), if any; tuning goes on without it. */
  storeError: string | null;
}

/** A candidate whose best time is this many times the fastest's leaves its shape's rotation. */
export const DROP_FACTOR = 4;
/** A candidate this many times slower than the fastest on GLOBAL_DROP_SHAPES shapes (all it ran on) leaves every rotation. */
export const GLOBAL_DROP_FACTOR = 8;
export const GLOBAL_DROP_SHAPES = 3;
/**
 * Samples per remaining candidate after which a shape is done (pass timing). Enough for a
 * minimum that sees through preemption on a loaded machine; most shapes reach the frame
 * budget first.
 */
export const MIN_SAMPLES = 6;
/** Whole frames that check the pass phase's choices against the defaults (half each, ABBA). */
export const CHECK_FRAMES = 6;

let versionCache: string | null = null;
/** The kernel code's version (a hash of every variant's WGSL), computed once. */
export function currentKernelsVersion(): string {
  versionCache ??= kernelsVersion(Object.values(KERNEL_MODULES));
  return versionCache;
}

interface StepState {
  step: PlanStep;
  key: string;
  /** Variant it started from (cached, nearest or default): what a candidate must beat by SWITCH_MARGIN. */
  start: string;
  /** Candidates whose pipelines compiled, in the kernel's order. */
  candidates: string[];
  /** Its position among the steps of its shape. */
  rank: number;
}

/** Pass timing: the layers of one shape, which share samples and a rotation. */
interface ShapeGroup {
  key: string;
  /** The variant its layers started from (never dropped). */
  start: string;
  steps: StepState[];
  /** Candidates still in the running. */
  alive: string[];
  /** Tuning frames the group has run (its place in the rotation). */
  turn: number;
  samples: Map<string, number[]>;
}

interface PlanState {
  plan: Plan;
  steps: StepState[];
  byStep: Map<PassInfo, StepState>;
  timing: 'pass' | 'frame';
  frame: number;
  frames: number;
  compile: 'deferred' | 'running' | 'done';
  /** Resolves when every candidate has compiled (or failed to). */
  ready: Promise<void> | null;
  /** Set by beforeFrame when the coming frame measures. */
  measuring: boolean;
  done: boolean;
  /** Pass timing: the shapes, in plan order. */
  groups: ShapeGroup[];
  groupOf: Map<StepState, ShapeGroup>;
  /** Frame timing: the configurations and the frame ms of each. */
  configs: { kernel: KernelName; variant: string; ms: number[] }[];
  framesEach: number;
  /** Frame timing: the winner of each kind tuned so far. */
  winners: Map<KernelName, string>;
  /** Pass timing, after the pass phase: the choices, checked by whole frames against the defaults. */
  check: { entries: TuningEntry[]; choice: Map<StepState, string>; frame: number; tunedMs: number[]; defaultMs: number[] } | null;
}

export interface TunerOptions {
  kernels: KernelCache;
  profiler: Profiler;
  mode: TuningMode;
  /** The cache (null: none). */
  store: TuningStore | null;
  adapter: AdapterKey;
  /** modelKey() of the model. */
  model: string;
  /** The cached table for (adapter, model, kernels), when there is one. */
  cached: TuningTable | null;
}

export class Tuner {
  private table: TuningTable;
  private state: PlanState | null = null;
  private model: string;
  private cached: boolean;
  private storeError: string | null = null;
  private firstFrameDone = false;
  private saving: Promise<void> = Promise.resolve();
  /** Bumped whenever the table's choices change (a plan's sync is current while its mark equals it). */
  private version = 0;
  /** Per plan: the table version whose choices it runs (sync) and the one use() last looked at it under. */
  private readonly synced = new WeakMap<Plan, number>();
  private readonly considered = new WeakMap<Plan, number>();

  constructor(private readonly options: TunerOptions) {
    this.model = options.model;
    const mode = options.mode;
    this.table =
      typeof mode === 'object'
        ? structuredClone(mode)
        : (options.cached ?? emptyTable(options.adapter, options.model, currentKernelsVersion()));
    this.cached = options.cached !== null;
  }

  get mode(): 'auto' | 'off' | 'table' {
    return typeof this.options.mode === 'object' ? 'table' : this.options.mode;
  }

  /** Whether the table came from the cache (a second visit). */
  get fromCache(): boolean {
    return this.cached;
  }

  /** The key the table is stored under. */
  get storeKey(): string {
    return storeKey(this.options.adapter, this.model, currentKernelsVersion());
  }

  /** For the Plan: a layer's starting variant, from the table (exact shape, else nearest), else the kernel's. */
  readonly chooser: VariantChooser = (kernel, ls, candidates) => {
    if (this.mode === 'off') return undefined;
    return nearestEntry(this.table.entries, kernel, ls, (v) => candidates.includes(v))?.entry.choice;
  };

  /** A copy of the table (what `net.tuningTable()` gives). */
  tuningTable(): TuningTable {
    return structuredClone(this.table);
  }

  /** A new model: its own table (the caller loaded it from the cache). */
  setModel(model: string, cached: TuningTable | null): void {
    this.model = model;
    this.table = cached ?? emptyTable(this.options.adapter, model, currentKernelsVersion());
    this.cached = cached !== null;
    this.state = null;
    this.version++;
  }

  /**
   * Starts tuning a new plan (online mode): its layers without a choice for their exact
   * shape become candidates. Compiling starts now, or after the net's first frame.
   */
  attach(plan: Plan, force = false): void {
    this.abandon();
    this.considered.set(plan, this.version);
    if (this.mode !== 'auto' && !force) return;
    const steps: StepState[] = [];
    for (const step of plan.steps) {
      if (!step.shape || step.options.length === 0) continue;
      const key = shapeKey(step.kernel, step.shape);
      const exact = this.table.entries.some((e) => e.shape === key && step.options.some((o) => o.variant === e.choice));
      if (exact && !force) continue;
      steps.push({ step, key, start: step.variant, candidates: [], rank: steps.filter((x) => x.key === key).length });
    }
    if (!steps.length) return;
    const timing = this.options.profiler.supported ? 'pass' : 'frame';
    const state: PlanState = {
      plan,
      steps,
      byStep: new Map(steps.map((s) => [s.step, s])),
      timing,
      frame: 0,
      frames: 0,
      compile: 'deferred',
      ready: null,
      measuring: false,
      done: false,
      groups: [],
      groupOf: new Map(),
      configs: [],
      framesEach: 0,
      winners: new Map(),
      check: null,
    };
    this.schedule(state, (s) => s.step.options.map((o) => o.variant));
    this.state = state;
    if (this.firstFrameDone) void this.startCompiling(state);
  }

  /** Drops unfinished tuning, putting its plan back on the variants it started from. */
  private abandon(): void {
    const s = this.state;
    this.state = null;
    if (!s || s.done) return;
    for (const st of s.steps) s.plan.useVariant(st.step, st.start);
  }

  /**
   * A net keeps several plans (one per input size, and the flip test's mirrored twins),
   * all sharing this table, whose choices are per layer shape. Before a frame on `plan`:
   * gives it the choices made since it was built (sync), and, in online mode when no
   * other plan is being tuned, starts tuning its layers that have no choice yet. One plan
   * is tuned at a time: frames on other plans meanwhile run their starting variants and
   * pick up the choices when that tuning commits, so a stream alternating between two
   * sizes still finishes tuning the first.
   */
  use(plan: Plan): void {
    this.sync(plan);
    if (this.mode !== 'auto' || this.considered.get(plan) === this.version) return;
    const s = this.state;
    if (s && !s.done) return;
    this.attach(plan);
  }

  /**
   * Puts a plan's layers on the table's choices for their shapes (a plan not being
   * tuned; cheap when nothing changed since its last sync). A choice whose pipeline is
   * not compiled yet is compiled in the background and taken at a later sync.
   */
  sync(plan: Plan): void {
    const s = this.state;
    if ((s && s.plan === plan && !s.done) || this.synced.get(plan) === this.version) return;
    let complete = true;
    for (const step of plan.steps) {
      if (!step.shape || step.options.length < 2) continue;
      const key = shapeKey(step.kernel, step.shape);
      const entry = this.table.entries.find((e) => e.shape === key);
      const option = entry && step.options.find((o) => o.variant === entry.choice);
      if (!option || step.variant === option.variant) continue;
      if (!plan.useVariant(step, option.variant)) {
        complete = false;
        void this.options.kernels.pipelineAsync(step.kernel, option.variant, option.constants);
      }
    }
    if (complete) this.synced.set(plan, this.version);
  }

  /** A plan was let go: if it was being tuned, tuning stops (the next plan used takes over). */
  forget(plan: Plan): void {
    if (this.state?.plan === plan) this.state = null;
  }

  /** Whether the frame being run on `plan` tries candidates (between beforeFrame and afterFrame). */
  measuring(plan: Plan): boolean {
    return this.state?.plan === plan && this.state.measuring;
  }

  /** Sets frames (and, without timestamps, the configurations) from each step's candidates. */
  private schedule(state: PlanState, candidatesOf: (s: StepState) => string[]): void {
    if (state.timing === 'pass') {
      const passFrames = timestampFrames(Math.max(...state.steps.map((s) => candidatesOf(s).length)), MAX_TUNING_FRAMES - CHECK_FRAMES);
      state.frames = passFrames + (passFrames ? CHECK_FRAMES : 0);
      return;
    }
    const kinds = new Map<KernelName, string[]>();
    for (const s of state.steps) {
      const list = kinds.get(s.step.kernel) ?? [];
      for (const v of candidatesOf(s)) if (!list.includes(v)) list.push(v);
      kinds.set(s.step.kernel, list);
    }
    const { configs, framesEach } = frameSchedule([...kinds].map(([kernel, variants]) => ({ kernel, variants })));
    state.configs = configs.map((c) => ({ ...c, ms: [] }));
    state.framesEach = framesEach;
    state.frames = configs.length * framesEach;
  }

  private startCompiling(state: PlanState): Promise<void> {
    if (state.ready) return state.ready;
    state.compile = 'running';
    const kernels = this.options.kernels;
    state.ready = Promise.all(
      state.steps.map(async (s) => {
        const ready = await Promise.all(
          s.step.options.map(async (o) => ((await kernels.pipelineAsync(s.step.kernel, o.variant, o.constants)) ? o.variant : null)),
        );
        s.candidates = ready.filter((v): v is string => v !== null);
      }),
    ).then(() => {
      state.compile = 'done';
      for (const st of state.steps) {
        let g = state.groups.find((x) => x.key === st.key);
        if (!g) {
          // Each shape starts its rotation at another candidate, so a new candidate is
          // first tried on a few shapes, not on all at once.
          const i = state.groups.length;
          const alive = st.candidates.map((_, j) => st.candidates[(i + j) % st.candidates.length]!);
          g = { key: st.key, start: st.start, steps: [], alive, turn: 0, samples: new Map() };
          state.groups.push(g);
        }
        g.steps.push(st);
        state.groupOf.set(st, g);
      }
      // Candidates that failed to compile drop out; the frame count stays as planned.
      if (state.timing === 'frame') this.schedule(state, (s) => s.candidates);
      if (state.frames === 0) this.finish(state);
    });
    return state.ready;
  }

  progress(): TuningProgress {
    const timing = this.options.profiler.supported ? 'pass' : 'frame';
    const base = { timing, storeError: this.storeError } as const;
    const s = this.state;
    if (this.mode === 'off' && !s) return { ...base, state: 'off', frame: 0, frames: 0 };
    if (this.mode === 'table' && !s) return { ...base, state: 'fixed', frame: 0, frames: 0 };
    if (!s || s.done) return { ...base, state: 'tuned', frame: s?.frame ?? 0, frames: s?.frames ?? 0 };
    const state = s.compile === 'deferred' ? 'waiting' : s.compile === 'running' ? 'compiling' : 'tuning';
    return { ...base, state, frame: s.frame, frames: s.frames };
  }

  /**
   * Before a frame on `plan`: sets the variants this frame measures. Returns true when
   * the frame needs per-pass timestamps.
   */
  beforeFrame(plan: Plan): boolean {
    const s = this.state;
    if (!s || s.plan !== plan || s.done || s.compile !== 'done') return false;
    s.measuring = true;
    if (s.check) {
      const tuned = isTunedCheckFrame(s.check.frame);
      for (const st of s.steps) plan.useVariant(st.step, tuned ? s.check.choice.get(st)! : defaultOf(st));
      return false;
    }
    if (s.timing === 'pass') {
      for (const g of s.groups) {
        if (!g.alive.length) continue;
        for (const st of g.steps) plan.useVariant(st.step, g.alive[(g.turn + st.rank) % g.alive.length]!);
        g.turn++;
      }
      return true;
    }
    const config = s.configs[Math.floor(s.frame / s.framesEach)]!;
    for (const st of s.steps) {
      const won = s.winners.get(st.step.kernel);
      const v = st.step.kernel === config.kernel ? config.variant : won;
      plan.useVariant(st.step, v && st.candidates.includes(v) ? v : st.start);
    }
    return false;
  }

  /**
   * After a frame on `plan` whose passes were `passes` (profile.passes[i] times passes[i]),
   * `frameMs` from submit to readback: records the measurement; after the last tuning
   * frame, chooses and saves.
   */
  afterFrame(plan: Plan, passes: readonly PassInfo[], profile: FrameProfile | null, frameMs: number): void {
    if (!this.firstFrameDone) {
      this.firstFrameDone = true;
      // The net's first frame is done (on this plan or another size's): compiling may start.
      if (this.state) void this.startCompiling(this.state);
    }
    const s = this.state;
    if (!s || s.plan !== plan || !s.measuring) return;
    s.measuring = false;
    if (s.check) {
      const c = s.check;
      (isTunedCheckFrame(c.frame) ? c.tunedMs : c.defaultMs).push(frameMs);
      c.frame++;
      s.frame++;
      if (c.frame >= CHECK_FRAMES) this.commit(s);
      return;
    }
    if (s.timing === 'pass') {
      if (!profile || profile.passes.length !== passes.length) return;
      for (let i = 0; i < passes.length; i++) {
        const st = s.byStep.get(passes[i]!);
        const g = st && s.groupOf.get(st);
        if (!st || !g) continue;
        const list = g.samples.get(st.step.variant) ?? [];
        list.push(profile.passes[i]!.durationMs);
        g.samples.set(st.step.variant, list);
      }
      for (const g of s.groups) prune(g);
      pruneEverywhere(s.groups);
      s.frame++;
      const sampled = s.groups.every((g) => g.alive.length <= 1 || g.alive.every((v) => (g.samples.get(v)?.length ?? 0) >= MIN_SAMPLES));
      if (sampled || s.frame >= s.frames - CHECK_FRAMES) this.finish(s);
      return;
    } else {
      const ci = Math.floor(s.frame / s.framesEach);
      s.configs[ci]!.ms.push(frameMs);
      const last = ci + 1 === s.configs.length || s.configs[ci + 1]!.kernel !== s.configs[ci]!.kernel;
      if (last && (s.frame + 1) % s.framesEach === 0) this.chooseKind(s, s.configs[ci]!.kernel);
    }
    s.frame++;
    if (s.frame >= s.frames) this.finish(s);
  }

  /** Frame timing: the winner of one kind over its configurations (the tie rule keeps the most common start). */
  private chooseKind(s: PlanState, kernel: KernelName): void {
    const configs = s.configs.filter((c) => c.kernel === kernel);
    const starts = s.steps.filter((st) => st.step.kernel === kernel).map((st) => st.start);
    const common = starts.sort((a, b) => starts.filter((x) => x === b).length - starts.filter((x) => x === a).length)[0]!;
    const { choice } = chooseVariant(
      configs.map((c) => ({ variant: c.variant, ms: c.ms })),
      common,
    );
    s.winners.set(kernel, choice);
  }

  /**
   * The choices of the measurement phase. With pass timing they are checked against the
   * defaults by whole frames first (unless they are the defaults); then committed.
   */
  private finish(s: PlanState): void {
    if (s.done || s.check) return;
    const entries = new Map<string, TuningEntry>();
    const choice = new Map<StepState, string>();
    for (const st of s.steps) {
      const shape = st.step.shape as LayerShape;
      let entry = entries.get(st.key);
      if (!entry) {
        let chosen: string;
        let candidates: TuningEntry['candidates'];
        if (s.timing === 'pass') {
          const byVariant = s.groupOf.get(st)?.samples ?? new Map<string, number[]>();
          ({ choice: chosen, candidates } = chooseVariant(
            st.candidates.map((v) => ({ variant: v, ms: byVariant.get(v) ?? [] })),
            st.start,
          ));
        } else {
          const won = s.winners.get(st.step.kernel);
          chosen = won && st.candidates.includes(won) ? won : st.start;
          candidates = s.configs
            .filter((c) => c.kernel === st.step.kernel && st.candidates.includes(c.variant))
            .map((c) => chooseVariant([{ variant: c.variant, ms: c.ms }], c.variant).candidates[0]!);
        }
        entry = {
          shape: st.key,
          family: shapeFamily(st.step.kernel, shape),
          pixels: shape.output.w * shape.output.h,
          kernel: st.step.kernel,
          layers: [],
          candidates,
          choice: chosen,
          timing: s.timing,
        };
        entries.set(st.key, entry);
      }
      entry.layers.push(shape.layer.name);
      choice.set(st, entry.choice);
    }
    const differs = s.steps.some((st) => choice.get(st) !== defaultOf(st));
    if (s.timing === 'pass' && differs) {
      s.check = { entries: [...entries.values()], choice, frame: 0, tunedMs: [], defaultMs: [] };
      s.frames = s.frame + CHECK_FRAMES;
      return;
    }
    this.commit(s, [...entries.values()], choice);
  }

  /**
   * Applies and saves the choices. After a check, the chosen set is kept only if its
   * fastest frame beat the defaults' fastest frame; else every layer of this plan goes
   * back to its default (the entries say so, with both frame times).
   */
  private commit(s: PlanState, entries = s.check?.entries ?? [], choice = s.check?.choice ?? new Map<StepState, string>()): void {
    if (s.done) return;
    s.done = true;
    const c = s.check;
    if (c) {
      const frameCheck = { tunedMs: Math.min(...c.tunedMs), defaultMs: Math.min(...c.defaultMs), kept: true };
      frameCheck.kept = frameCheck.tunedMs < frameCheck.defaultMs;
      for (const e of entries) {
        e.frameCheck = frameCheck;
        if (!frameCheck.kept) e.choice = defaultOf(s.steps.find((st) => st.key === e.shape)!);
      }
      if (!frameCheck.kept) for (const st of s.steps) choice.set(st, defaultOf(st));
    }
    for (const st of s.steps) s.plan.useVariant(st.step, choice.get(st) ?? st.start);
    mergeEntries(this.table, entries);
    this.version++;
    this.synced.set(s.plan, this.version);
    this.save();
  }

  private save(): void {
    const store = this.options.store;
    if (!store || this.mode !== 'auto') return;
    const table = structuredClone(this.table);
    const key = this.storeKey;
    this.saving = this.saving
      .then(() => store.save(key, table))
      .then(
        () => {
          this.storeError = null;
        },
        (err: unknown) => {
          this.storeError = `tuning cache ${store.name}: cannot save: ${(err as Error).message}`;
        },
      );
  }

  /** Resolves when the last save has finished (for tests and tools). */
  flush(): Promise<void> {
    return this.saving;
  }

  /** Records a cache read error (the caller loads before the net exists). */
  noteStoreError(message: string): void {
    this.storeError = message;
  }

  /**
   * Tunes `plan` now: compiles its candidates and runs `runFrame` (a frame that calls
   * beforeFrame/afterFrame) until every layer has its choice, within MAX_TUNING_FRAMES
   * (plus at most one frame in flight). `force` re-measures layers that already have a
   * choice.
   */
  async tune(plan: Plan, runFrame: () => Promise<void>, force = false): Promise<void> {
    if (force || this.state?.plan !== plan || (this.mode !== 'auto' && !this.state)) this.attach(plan, force || this.mode !== 'auto');
    this.firstFrameDone = true;
    const s = this.state;
    if (!s || s.plan !== plan) return;
    await this.startCompiling(s);
    for (let i = 0; i <= MAX_TUNING_FRAMES && !s.done && this.state === s; i++) await runFrame();
    await this.flush();
  }
}

/** The least sample of each variant measured in a group. */
function bestOf(g: ShapeGroup): Map<string, number> {
  const best = new Map<string, number>();
  for (const [v, list] of g.samples) if (list.length) best.set(v, Math.min(...list));
  return best;
}

/**
 * Once every remaining candidate of a shape has a sample, those slower than DROP_FACTOR
 * times the fastest leave its rotation (their samples stay in the table). The starting
 * variant stays: it is what the others must beat, and a single sample can mislead.
 */
function prune(g: ShapeGroup): void {
  if (g.alive.length <= 1) return;
  const best = bestOf(g);
  if (!g.alive.every((v) => best.has(v))) return;
  const fastest = Math.min(...g.alive.map((v) => best.get(v)!));
  g.alive = g.alive.filter((v) => g.start === v || best.get(v)! <= fastest * DROP_FACTOR);
}

/**
 * A candidate measured on at least GLOBAL_DROP_SHAPES shapes and slower than
 * GLOBAL_DROP_FACTOR times the fastest on every one of them leaves every rotation
 * (each shape keeps at least one candidate).
 */
function pruneEverywhere(groups: ShapeGroup[]): void {
  const verdicts = new Map<string, { shapes: number; hopeless: boolean }>();
  for (const g of groups) {
    const best = bestOf(g);
    if (best.size < 2) continue;
    const fastest = Math.min(...best.values());
    for (const [v, ms] of best) {
      const e = verdicts.get(v) ?? { shapes: 0, hopeless: true };
      e.shapes++;
      e.hopeless &&= ms > fastest * GLOBAL_DROP_FACTOR;
      verdicts.set(v, e);
    }
  }
  for (const [v, e] of verdicts) {
    if (e.shapes < GLOBAL_DROP_SHAPES || !e.hopeless) continue;
    for (const g of groups) if (g.alive.length > 1 && g.alive.includes(v) && g.start !== v) g.alive = g.alive.filter((x) => x !== v);
  }
}

/** A step's kernel default (its first option): the baseline the tuned set must beat. */
const defaultOf = (st: StepState): string => st.step.options[0]!.variant;

/** Check frames alternate ABBA (tuned, default, default, tuned, ...), so drift weighs on both alike. */
const isTunedCheckFrame = (i: number): boolean => i % 4 === 0 || i % 4 === 3;
