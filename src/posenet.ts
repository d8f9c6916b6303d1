/**
 * The public PoseNet object: a model, the plans for the input sizes it runs at
 * (src/plan/plan-cache.ts), the source texture and the readback buffer. A frame is one
 * command encoder (copy the source in, preprocess, every layer, decode; with the flip
 * test also the mirrored network and the merge) and one 52-float readback. Frames are
 * serialised: a call waits for the one before it.
 *
 * The input size is fixed (`resolution: 257` or `{ width, height }`), follows each
 * source's aspect ratio (`{ longSide: 513 }`), or is chosen per frame to hold a frame
 * rate (`targetFps`, src/plan/target-fps.ts).
 */
import { requestPoseNetDevice, type DeviceOptions } from './gpu/device.ts';
import { KernelCache } from './gpu/kernels.ts';
import { Profiler, type FrameProfile, type PassInfo } from './gpu/profiler.ts';
import { GpuLedger, ResourceGroup } from './gpu/resources.ts';
import { currentKernelsVersion, Tuner, type TuningMode, type TuningProgress } from './gpu/tuner.ts';
import { adapterKey, isTuningTable, modelKey, storeKey, type TuningTable } from './gpu/tuning.ts';
import { browserTuningStore, type TuningStore } from './gpu/tuning-store.ts';
import { HEAD_NAMES, type HeadName, type Manifest } from './model/manifest.ts';
import { Model, loadWeights, type LoadedWeights, type WeightsSource } from './model/model.ts';
import { computeFit, type Fit } from './pose/fit.ts';
import { NUM_KEYPOINTS, PART_NAMES } from './pose/keypoints.ts';
import {
  checkMultiPoseOptions,
  confirmCandidates,
  decodeMultiplePoses,
  findCandidates,
  scaleAndFlipPoses,
  type MultiPoseOptions,
} from './pose/multi.ts';
import { MultiPoseGpu } from './pose/multi-gpu.ts';
import { PoseHistory, type SmoothingSetting, type TrackingSetting } from './pose/temporal.ts';
import type { FitMode, Pose } from './pose/types.ts';
import { FlipTest } from './plan/flip-test.ts';
import { Plan, SINGLE_RESULT_FLOATS, type PlanOptions } from './plan/plan.ts';
import { FramePlan, PlanCache } from './plan/plan-cache.ts';
import {
  aspectResolution,
  normalizeResolution,
  sameInputRule,
  snapResolution,
  type AspectResolution,
  type InputSizeRule,
  type ResolutionSpec,
} from './plan/shapes.ts';
import { TARGET_FPS_SIZES, TargetFpsController, type TargetFpsChoice, type TargetFpsOptions } from './plan/target-fps.ts';

/**
 * Decoded RGBA8 pixels, row by row without padding (`data.length === width * height * 4`):
 * an ImageData, or what an image decoder outside the browser gives (src/node/image.ts).
 */
export interface PixelSource {
  data: Uint8Array | Uint8ClampedArray;
  width: number;
  height: number;
}

export type PoseSource =
  | PixelSource
  | HTMLImageElement
  | HTMLVideoElement
  | HTMLCanvasElement
  | OffscreenCanvas
  | ImageBitmap
  | ImageData
  | VideoFrame
  | GPUTexture;

export interface Resolution {
  width: number;
  height: number;
}

export type { AspectResolution, ResolutionSpec };

/** targetFps as the API takes it: frames per second, or the controller's options. */
export type TargetFps = number | (TargetFpsOptions & { shape?: 'square' | 'aspect' });

export interface PoseNetConfig {
  /**
   * The model: the URL of a converted model's folder (holding model.json and weights.bin),
   * each file's URL (`{ manifestUrl, weightsUrl }`), or weights already fetched.
   */
  weights: WeightsSource;
  /**
   * Input resolution: a number for square, {width, height} (each k*outputStride+1 in
   * 129..1025), or {longSide} to follow each source's aspect ratio. Default 257.
   */
  resolution?: ResolutionSpec;
  /** A device to run on; by default one is requested (with timestamp-query when available). */
  device?: GPUDevice;
  /** How that device is requested when `device` is not given. */
  deviceOptions?: DeviceOptions;
  /** How the source is fitted to the input resolution (default `pad`, as TF.js PoseNet). */
  fit?: FitMode;
  /** Debugging: simple reference kernels and/or a buffer per tensor (see PlanOptions). */
  debug?: PlanOptions;
  /**
   * How sources reach the GPU: `copy` (copyExternalImageToTexture), `cpu` (2D canvas +
   * writeTexture), `auto` (default: `cpu` on SwiftShader, else `copy`).
   */
  upload?: UploadPath;
  /**
   * Kernel variants: `auto` (default) times the candidates on this device over the first
   * frames at each resolution and caches the choices; `off` runs the default variants; a
   * table (from `net.tuningTable()`) fixes the choices.
   */
  tuning?: TuningMode;
  /**
   * Where `auto` caches its tables: by default IndexedDB (or localStorage) in a browser;
   * in Node pass `fileTuningStore(path, fs)`; null: no cache.
   */
  tuningStore?: TuningStore | null;
  /**
   * Runs each frame mirrored as well and averages the two runs' heads (left and right
   * parts swapped) on the GPU before decoding: more accurate, about twice the GPU work.
   */
  flipTest?: boolean;
  /**
   * Picks the input size per frame: the largest that holds this frame rate on this device
   * (square, or following the source's aspect when `resolution` is `{ longSide }` or
   * `shape` says `aspect`). See src/plan/target-fps.ts.
   */
  targetFps?: TargetFps;
}

export type UploadPath = 'auto' | 'copy' | 'cpu';

/** The tuner's set-up: mode, cache and the cached table (what createPoseNet loads before the net exists). */
export interface TuningSetup {
  mode: TuningMode;
  store: TuningStore | null;
  cached: TuningTable | null;
  storeError: string | null;
}

/** Loads the cached tuning table for this device and model (a failing cache is reported, not fatal). */
export async function loadTuning(mode: TuningMode, store: TuningStore | null, device: GPUDevice, manifest: Manifest): Promise<TuningSetup> {
  if (typeof mode === 'object' && !isTuningTable(mode)) {
    throw new Error('createPoseNet: tuning is not a tuning table (expected net.tuningTable() output, format posenet-webgpu/tuning)');
  }
  if (mode !== 'auto' || !store) return { mode, store, cached: null, storeError: null };
  const key = storeKey(adapterKey(device.adapterInfo), modelKey(manifest), currentKernelsVersion());
  try {
    return { mode, store, cached: await store.load(key), storeError: null };
  } catch (err) {
    return { mode, store, cached: null, storeError: `tuning cache ${store.name}: cannot read: ${(err as Error).message}` };
  }
}

function isSwiftShader(device: GPUDevice): boolean {
  return device.adapterInfo?.architecture === 'swiftshader';
}

/** Options for a frame of a video: smoothing across frames and the frame's time. */
export interface TemporalOptions {
  /**
   * Smooth the keypoints across frames with a One Euro filter (src/pose/smoother.ts):
   * `true` for the defaults (SMOOTHING_DEFAULTS), an object to set its parameters. The
   * history is kept by the net; `resetSmoothing()` forgets it (do so on a seek or a new
   * source; a time that runs backwards or jumps ahead by over a second resets it anyway).
   */
  smoothing?: SmoothingSetting;
  /**
   * The frame's time in ms. By default: a <video>'s media time (currentTime), a
   * VideoFrame's timestamp, else performance.now().
   */
  timestamp?: number;
}

export interface SinglePoseOptions extends TemporalOptions {
  /** Mirror the keypoints horizontally (x -> width - 1 - x), for selfie cameras. */
  flipHorizontal?: boolean;
  /** Overrides the net's fit mode for this frame. */
  fit?: FitMode;
}

export interface MultiPoseEstimationOptions extends MultiPoseOptions, TemporalOptions {
  /** Overrides the net's fit mode for this frame. */
  fit?: FitMode;
  /**
   * Give each pose a stable `id` across frames (src/pose/tracker.ts: greedy OKS matching,
   * as MoveNet's tracker): `true` for the defaults, an object to set its parameters.
   * `smoothing` implies tracking (each tracked person has a smoother).
   */
  tracking?: TrackingSetting;
}

/** The default frame time (ms) of a source: see TemporalOptions.timestamp. */
export function frameTimestampMs(source: PoseSource): number {
  if (typeof HTMLVideoElement !== 'undefined' && source instanceof HTMLVideoElement) return source.currentTime * 1000;
  if (typeof VideoFrame !== 'undefined' && source instanceof VideoFrame && source.timestamp !== null) return source.timestamp / 1000;
  return performance.now();
}

/** What the last multi-pose frame's candidate search did. */
export interface MultiPoseStats {
  /** Candidates the GPU pass found (a superset of the exact ones, see shaders/decode_candidates.wgsl.ts). */
  gpuCandidates: number;
  /** Candidates left after the CPU's exact check: the decoder's root queue. */
  candidates: number;
  /** The GPU found more than its buffer holds; the CPU scanned the heads instead. */
  overflowed: boolean;
  /** CPU time of the greedy decode (confirm, heap, tree walks, mapping). */
  decodeMs: number;
}

export interface Head {
  /** NHWC values without channel padding. */
  data: Float32Array;
  /** [height, width, channels] */
  shape: [number, number, number];
}

export type Heads = Record<HeadName, Head>;

export interface FrameTiming {
  /** CPU time to encode and submit the frame. */
  encodeMs: number;
  /** From the call until the keypoints were on the CPU. */
  latencyMs: number;
}

/** ImageData, or any `{ data, width, height }` of RGBA8 bytes (checked: a wrong length throws). */
function isPixelSource(source: PoseSource): source is PixelSource {
  if (typeof ImageData !== 'undefined' && source instanceof ImageData) return true;
  const data = (source as Partial<PixelSource>).data;
  if (!(data instanceof Uint8Array || data instanceof Uint8ClampedArray)) return false;
  const { width, height } = source as PixelSource;
  if (data.length !== width * height * 4) {
    throw new Error(`estimateSinglePose: pixel source of ${width}x${height} has ${data.length} bytes, not ${width * height * 4} (RGBA8)`);
  }
  return true;
}

function sourceSize(source: PoseSource): { width: number; height: number } {
  if (typeof GPUTexture !== 'undefined' && source instanceof GPUTexture) return { width: source.width, height: source.height };
  if (typeof HTMLVideoElement !== 'undefined' && source instanceof HTMLVideoElement) {
    if (!source.videoWidth) throw new Error('estimateSinglePose: the video has no frame yet (wait for loadeddata)');
    return { width: source.videoWidth, height: source.videoHeight };
  }
  if (typeof HTMLImageElement !== 'undefined' && source instanceof HTMLImageElement) {
    if (!source.complete || !source.naturalWidth)
      throw new Error(`estimateSinglePose: image ${source.src} is not loaded or could not be decoded`);
    return { width: source.naturalWidth, height: source.naturalHeight };
  }
  if (typeof VideoFrame !== 'undefined' && source instanceof VideoFrame)
    return { width: source.displayWidth, height: source.displayHeight };
  const s = source as { width: number; height: number };
  return { width: s.width, height: s.height };
}

export class PoseNet {
  readonly device: GPUDevice;
  readonly kernels: KernelCache;
  readonly ledger: GpuLedger;
  readonly profiler: Profiler;
  private readonly tuner: Tuner;
  private readonly tuningStore: TuningStore | null;
  private model: Model;
  /** Plans per input size (with their flip tests), for the current model. */
  private plans: PlanCache;
  /** The last frame's plans (or, at a fixed resolution, the ones the next frame uses). */
  private current: FramePlan | null = null;
  /** The input size of the last frame started. */
  private lastInput: Resolution | null = null;
  /** The plans the frame running now uses (from its prepareFrame to its end). */
  private inFlight: { frame: FramePlan; flip: FlipTest | null } | null = null;
  private spec: InputSizeRule;
  private flipTestOn: boolean;
  private targetFpsSetting: TargetFps | null = null;
  private targetFpsController: TargetFpsController | null = null;
  private targetShape: 'square' | 'aspect' = 'square';
  private readonly resources: ResourceGroup;
  private readonly staging: GPUBuffer;
  private sourceTexture: GPUTexture | null = null;
  private sourceView: GPUTextureView | null = null;
  private chain: Promise<unknown> = Promise.resolve();
  private disposed = false;
  /** Multi-pose buffers, made on the first multi-pose frame. */
  private multi: MultiPoseGpu | null = null;
  /** Smoothers and tracks kept across frames (smoothing / tracking options). */
  private readonly history = new PoseHistory();
  /** The last multi-pose frame's candidate search. */
  lastMultiPoseStats: MultiPoseStats = { gpuCandidates: 0, candidates: 0, overflowed: false, decodeMs: 0 };
  fit: FitMode;
  readonly debug: PlanOptions;
  /** Timing of the last frame. */
  lastTiming: FrameTiming = { encodeMs: 0, latencyMs: 0 };
  /** Frames run so far. */
  frameCount = 0;
  /** How sources reach the GPU (see uploadSource). */
  readonly uploadPath: 'copy' | 'cpu';

  constructor(
    device: GPUDevice,
    loaded: LoadedWeights,
    resolution: ResolutionSpec,
    options: {
      fit?: FitMode;
      debug?: PlanOptions;
      upload?: UploadPath;
      tuning?: TuningSetup;
      flipTest?: boolean;
      targetFps?: TargetFps;
    } = {},
  ) {
    this.device = device;
    const upload = options.upload ?? 'auto';
    this.uploadPath = upload === 'auto' ? (isSwiftShader(device) && typeof OffscreenCanvas !== 'undefined' ? 'cpu' : 'copy') : upload;
    this.fit = options.fit ?? 'pad';
    this.debug = options.debug ?? {};
    this.flipTestOn = !!options.flipTest;
    this.spec = normalizeResolution(resolution, loaded.manifest.outputStride);
    this.ledger = new GpuLedger();
    this.kernels = new KernelCache(device);
    this.profiler = new Profiler(device, this.ledger);
    this.resources = new ResourceGroup(device, 'PoseNet', this.ledger);
    this.staging = this.resources.buffer('staging', SINGLE_RESULT_FLOATS * 4, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);
    this.model = new Model(device, loaded, this.ledger);
    const tuning = options.tuning ?? { mode: 'off', store: null, cached: null, storeError: null };
    this.tuningStore = tuning.store;
    this.tuner = new Tuner({
      kernels: this.kernels,
      profiler: this.profiler,
      mode: this.debug.reference ? 'off' : tuning.mode,
      store: tuning.store,
      adapter: adapterKey(device.adapterInfo),
      model: modelKey(loaded.manifest),
      cached: tuning.cached,
    });
    if (tuning.storeError) this.tuner.noteStoreError(tuning.storeError);
    this.plans = this.planCache(this.model);
    if (this.spec.kind === 'fixed') this.current = this.plans.get(this.spec.width, this.spec.height, false).frame;
    if (options.targetFps !== undefined) this.setTargetFps(options.targetFps);
  }

  /**
   * The plans of one model: each built with the tuner's starting choices. Choices are kept
   * per layer shape, so every plan of a size, the flip test's mirrored twin included,
   * shares them (Tuner.sync); the tuner tunes one plan at a time (Tuner.use).
   */
  private planCache(model: Model): PlanCache {
    return new PlanCache(
      (width, height) => this.makePlan(model, width, height),
      (plan) => new FlipTest(this.device, this.kernels, plan, this.ledger, this.tuner.chooser),
    );
  }

  /** A plan with the tuner's starting choices; the tuner takes it up when idle (and the profiler keeps queries for it). */
  private makePlan(model: Model, width: number, height: number): Plan {
    const plan = new Plan(this.device, this.kernels, model, width, height, this.ledger, this.debug, this.tuner.chooser);
    this.tuner.use(plan);
    if (this.tuner.mode === 'auto') this.profiler.reserve(plan.steps.length + 1);
    return plan;
  }

  /** Where tuning stands at the current resolution (`tuning (frame/frames)` while it runs). */
  get tuning(): TuningProgress {
    return this.tuner.progress();
  }

  /**
   * The tuning table: per layer shape, the candidates' times and the choice, for this
   * adapter and model. Pass it as `createPoseNet({ tuning })` to fix the choices.
   */
  tuningTable(): TuningTable {
    return this.tuner.tuningTable();
  }

  /**
   * Tunes the current plan now (compiles the candidates, then at most 20 frames on the
   * network's passes, whatever the input holds) and returns the table. `force`
   * re-measures layers that already have a choice. Frames wait for it. With
   * `{ longSide }` the plan is the last frame's (run a frame first).
   */
  tune(options: { force?: boolean } = {}): Promise<TuningTable> {
    this.assertAlive();
    return this.run(async () => {
      const plan = this.plan;
      await this.tuner.tune(plan, () => this.tuningFrame(plan), !!options.force);
      return this.tuner.tuningTable();
    });
  }

  /** One frame of the network's layers for tune(): timed per pass, or whole on the CPU clock. */
  private async tuningFrame(plan: Plan): Promise<void> {
    const passes = plan.stepsOf('layers');
    const forced = this.tuner.beforeFrame(plan);
    const encoder = this.device.createCommandEncoder({ label: 'PoseNet.tuningFrame' });
    plan.encode(encoder, this.profiler.beginFrame(passes, forced), 'layers');
    this.profiler.resolve(encoder);
    const t0 = performance.now();
    this.device.queue.submit([encoder.finish()]);
    const [profile] = await Promise.all([this.profiler.collect(), this.device.queue.onSubmittedWorkDone()]);
    this.tuner.afterFrame(plan, passes, profile, performance.now() - t0);
  }

  /**
   * Runs the tuner around a frame's encoding: sets this frame's variants (the tuned plan's
   * candidates, or the table's choices), then records its timing. `measuring`: whether the
   * frame tries candidates (its time says little about the size's cost, see recordTargetFps).
   */
  private beginTunedFrame(frame: FramePlan, passes: PassInfo[]) {
    if (frame.flip) this.tuner.sync(frame.flip.mirrored);
    const timestamps = this.profiler.beginFrame(passes, this.tuner.beforeFrame(frame.plan));
    return { timestamps, measuring: this.tuner.measuring(frame.plan) };
  }

  private endTunedFrame(plan: Plan, passes: PassInfo[], profile: FrameProfile | null, frameMs: number): void {
    this.tuner.afterFrame(plan, passes, profile, frameMs);
  }

  get manifest(): Manifest {
    return this.model.manifest;
  }

  /** The plan of the last frame (at a fixed resolution: the one the next frame uses). */
  get plan(): Plan {
    if (!this.current) {
      throw new Error(
        `PoseNet: no plan yet: at ${JSON.stringify(this.resolutionSpec)} the input size follows each frame's source (run a frame first)`,
      );
    }
    return this.current.plan;
  }

  /**
   * The input size of the last frame (at a fixed resolution: that one). With
   * `{ longSide: N }` before any frame: N x N, the most it can be.
   */
  get resolution(): Resolution {
    if (this.current) return { width: this.current.width, height: this.current.height };
    const n = this.spec.kind === 'aspect' ? this.spec.longSide : this.spec.width;
    return { width: n, height: this.spec.kind === 'fixed' ? this.spec.height : n };
  }

  /**
   * The input size the last frame ran at (null before any). Unlike `resolution`, a
   * setResolution during that frame does not change it: the size to label its result with.
   */
  get lastInputSize(): Resolution | null {
    return this.lastInput ? { ...this.lastInput } : null;
  }

  /** The resolution as set: `{ width, height }` or `{ longSide }` (snapped to the stride). */
  get resolutionSpec(): Resolution | AspectResolution {
    return this.spec.kind === 'aspect' ? { longSide: this.spec.longSide } : { width: this.spec.width, height: this.spec.height };
  }

  /** The input size a source of srcW x srcH runs at under the current resolution. */
  inputSizeFor(srcW: number, srcH: number): Resolution {
    if (this.spec.kind === 'fixed') return { width: this.spec.width, height: this.spec.height };
    return aspectResolution(this.spec.longSide, srcW, srcH, this.model.manifest.outputStride);
  }

  /** Input sizes whose plans are held now (least recently used first), e.g. `513x385`. */
  planSizes(): string[] {
    return this.plans.sizes();
  }

  /** The device's lost promise (the app makes a new device and a new PoseNet). */
  get lost(): Promise<GPUDeviceLostInfo> {
    return this.device.lost;
  }

  /**
   * Switches the input resolution: `setResolution(513, 385)`, `setResolution(257)` or
   * `setResolution({ longSide: 513 })`. The next frame uses it; plans of other sizes are
   * released (the one a frame is running on, when that frame is done). Compiles nothing
   * (pipelines are shared across resolutions). Turns targetFps off: the caller chose the size.
   */
  setResolution(resolution: ResolutionSpec, height?: number): void {
    this.assertAlive();
    const spec = normalizeResolution(
      typeof resolution === 'number' ? { width: resolution, height: height ?? resolution } : resolution,
      this.model.manifest.outputStride,
    );
    this.targetFpsSetting = null;
    this.targetFpsController = null;
    if (sameInputRule(spec, this.spec) && (spec.kind === 'aspect' || this.current)) return;
    this.applySpec(spec);
    this.release(this.plans.takeAllExcept(this.current));
    // The tuning of a plan just let go stopped: the new plan takes it up now (as at creation).
    if (this.current) this.tuner.use(this.current.plan);
  }

  /** Makes `spec` current; at a fixed size its plan is built now (so a bad size throws here). */
  private applySpec(spec: InputSizeRule): void {
    if (spec.kind === 'fixed') {
      const { frame, evicted } = this.plans.get(spec.width, spec.height, false);
      this.release(evicted);
      this.current = frame;
    } else if (this.current && this.spec.kind === 'fixed') {
      this.current = null;
    }
    this.spec = spec;
  }

  /** Whether each frame also runs mirrored, its heads averaged with the frame's (see PoseNetConfig.flipTest). */
  get flipTest(): boolean {
    return this.flipTestOn;
  }

  /** Turns the flip test on or off; off releases the mirrored plans (as setResolution releases plans). */
  setFlipTest(on: boolean): void {
    this.assertAlive();
    if (this.flipTestOn && !on) this.release(this.plans.takeFlips());
    this.flipTestOn = on;
  }

  /**
   * Holds a frame rate by picking the input size per frame (null: off, the size stays
   * where it is). `seed`: frame times already measured at some sizes (a sweep), to start
   * from instead of probing.
   */
  setTargetFps(target: TargetFps | null, seed?: readonly { size: number; ms: number }[]): void {
    this.assertAlive();
    this.targetFpsSetting = target;
    if (target === null) {
      this.targetFpsController = null;
      return;
    }
    const options = typeof target === 'number' ? { fps: target } : target;
    const stride = this.model.manifest.outputStride;
    const sizes = (options.sizes ?? TARGET_FPS_SIZES).map((s) => snapResolution(s, stride));
    const controller = new TargetFpsController({ ...options, sizes });
    if (seed) controller.seed(seed);
    this.targetShape = options.shape ?? (this.spec.kind === 'aspect' ? 'aspect' : 'square');
    this.targetFpsController = controller;
  }

  /** targetFps's current choice and why ("481: 24.1 ms at 481, 38.0 at 641; budget 33.3"), or null when off. */
  get targetFpsChoice(): (TargetFpsChoice & { shape: 'square' | 'aspect' }) | null {
    const c = this.targetFpsController;
    return c ? { ...c.choice(), shape: this.targetShape } : null;
  }

  /** Before a frame: the size targetFps wants (plans of other sizes stay cached). */
  private applyTargetFps(): void {
    const c = this.targetFpsController;
    if (!c) return;
    const n = c.size;
    const spec: InputSizeRule = this.targetShape === 'aspect' ? { kind: 'aspect', longSide: n } : { kind: 'fixed', width: n, height: n };
    if (!sameInputRule(spec, this.spec)) this.applySpec(spec);
  }

  /** After a frame: its time, for targetFps. */
  private recordTargetFps(frame: FramePlan, latencyMs: number, tuning: boolean): void {
    // A frame that tried the tuner's candidates (some far slower than the choice) does
    // not say what the size costs: targetFps waits at the size until its tuning is done.
    if (tuning) return;
    this.targetFpsController?.record(Math.max(frame.width, frame.height), latencyMs);
  }

  /** Disposes things once the frames queued so far are done (a frame in flight may hold them). */
  private releaseAfterFrames(things: readonly { dispose(): void }[]): void {
    if (!things.length) return;
    void this.chain.then(() => {
      for (const t of things) t.dispose();
      this.multi?.releaseDisposed();
    });
  }

  /**
   * Disposes plans (or flip tests) let go: at once, but for the one the frame in flight
   * runs, which goes when the frames queued so far are done. Every earlier frame's GPU
   * work is over (a frame ends with its readback), so nothing else can still use them.
   */
  private release(things: readonly (FramePlan | FlipTest)[]): void {
    for (const t of things) if (t instanceof FramePlan) this.tuner.forget(t.plan);
    const held = this.inFlight;
    const busy = things.filter((t) => held && (t === held.frame || t === held.flip));
    for (const t of things) if (!busy.includes(t)) t.dispose();
    this.multi?.releaseDisposed();
    this.releaseAfterFrames(busy);
  }

  /** Replaces the model (keeps the resolution when the new model's stride allows it, else the nearest valid one). */
  async setModel(weights: WeightsSource): Promise<void> {
    this.assertAlive();
    const loaded = await loadWeights(weights);
    const setup = await loadTuning(this.tuner.mode === 'table' ? 'off' : this.tuner.mode, this.tuningStore, this.device, loaded.manifest);
    const stride = loaded.manifest.outputStride;
    const spec: InputSizeRule =
      this.spec.kind === 'aspect'
        ? { kind: 'aspect', longSide: snapResolution(this.spec.longSide, stride) }
        : { kind: 'fixed', width: snapResolution(this.spec.width, stride), height: snapResolution(this.spec.height, stride) };
    const model = new Model(this.device, loaded, this.ledger);
    // The new model's plans start from its own tuning table.
    if (this.tuner.mode !== 'table') this.tuner.setModel(modelKey(loaded.manifest), setup.cached);
    if (setup.storeError) this.tuner.noteStoreError(setup.storeError);
    const plans = this.planCache(model);
    let current: FramePlan | null = null;
    try {
      if (spec.kind === 'fixed') current = plans.get(spec.width, spec.height, false).frame;
    } catch (err) {
      plans.dispose();
      model.dispose();
      throw err;
    }
    // Another model places keypoints its own way: no smoothing across the switch.
    this.history.reset();
    const oldModel = this.model;
    const oldPlans = this.plans;
    this.model = model;
    this.plans = plans;
    this.current = current;
    this.spec = spec;
    if (this.targetFpsSetting !== null) this.setTargetFps(this.targetFpsSetting);
    this.releaseAfterFrames([oldPlans, oldModel]);
  }

  private run<T>(fn: () => Promise<T>): Promise<T> {
    const frame = async () => {
      try {
        return await fn();
      } finally {
        this.inFlight = null;
      }
    };
    const next = this.chain.then(frame, frame);
    this.chain = next.catch(() => undefined);
    return next;
  }

  /**
   * Uploads the source into the source texture. The texture only grows (to the largest
   * source seen in each dimension): a smaller source fills its top-left corner, which is
   * all the preprocess reads (it bounds reads by the source's size), so sources of
   * different sizes in turn (photographs, a camera and a file) allocate nothing per frame.
   * Pixel sources (ImageData, decoded `{ data, width, height }`) are written with
   * writeTexture as they are. Other sources take one of two paths: `copy` hands the
   * source to copyExternalImageToTexture (the GPU path); `cpu` draws it into a 2D canvas
   * and writes the pixels with writeTexture. `auto` (the default) takes `cpu` on
   * SwiftShader, Chromium's CPU WebGPU, where the GPU path costs ~20 ms for a 640x480
   * frame (against ~1 ms) and, for <video> and VideoFrame, loses the device (Chromium
   * 150); elsewhere (and where there is no OffscreenCanvas, as in Node) `copy`.
   */
  private async uploadSource(source: PoseSource): Promise<{ view: GPUTextureView; width: number; height: number }> {
    const { width, height } = sourceSize(source);
    if (!(width > 0 && height > 0)) throw new Error(`estimateSinglePose: source has no pixels (${width}x${height})`);
    if (typeof GPUTexture !== 'undefined' && source instanceof GPUTexture) {
      return { view: this.textureView(source), width, height };
    }
    if (!this.sourceTexture || this.sourceTexture.width < width || this.sourceTexture.height < height) {
      const size = { width: Math.max(width, this.sourceTexture?.width ?? 0), height: Math.max(height, this.sourceTexture?.height ?? 0) };
      if (this.sourceTexture) this.resources.release(this.sourceTexture);
      this.sourceTexture = this.resources.texture('sourceTexture', {
        size,
        format: 'rgba8unorm',
        usage: GPUTextureUsage.TEXTURE_BINDING | GPUTextureUsage.COPY_DST | GPUTextureUsage.RENDER_ATTACHMENT,
      });
      this.sourceView = this.sourceTexture.createView({ label: 'PoseNet.sourceTexture.view' });
    }
    if (isPixelSource(source)) {
      // Already on the CPU: written as they are, whatever the upload path.
      this.writePixels(source.data, width, height);
    } else if (this.uploadPath === 'cpu') {
      this.writePixels(this.readPixels(source as Exclude<PoseSource, GPUTexture | PixelSource>, width, height), width, height);
    } else {
      this.device.queue.copyExternalImageToTexture(
        { source: source as GPUCopyExternalImageSource },
        { texture: this.sourceTexture },
        { width, height },
      );
    }
    return { view: this.sourceView!, width, height };
  }

  private writePixels(pixels: Uint8Array | Uint8ClampedArray, width: number, height: number): void {
    this.device.queue.writeTexture(
      { texture: this.sourceTexture! },
      pixels as Uint8Array<ArrayBuffer>,
      { bytesPerRow: width * 4 },
      { width, height },
    );
  }

  private pixelCanvas: OffscreenCanvasRenderingContext2D | null = null;
  /** RGBA8 pixels of a source, drawn through a reused 2D canvas (the `cpu` upload path). */
  private readPixels(source: Exclude<PoseSource, GPUTexture | PixelSource>, width: number, height: number): Uint8ClampedArray<ArrayBuffer> {
    if (typeof OffscreenCanvas === 'undefined') throw new Error('estimateSinglePose: no OffscreenCanvas here for the cpu upload path');
    let g = this.pixelCanvas;
    if (!g || g.canvas.width !== width || g.canvas.height !== height) {
      g = new OffscreenCanvas(width, height).getContext('2d', { willReadFrequently: true });
      if (!g) throw new Error('estimateSinglePose: no 2D canvas for the cpu upload path');
      this.pixelCanvas = g;
    }
    g.clearRect(0, 0, width, height);
    g.drawImage(source as CanvasImageSource, 0, 0, width, height);
    return g.getImageData(0, 0, width, height).data as Uint8ClampedArray<ArrayBuffer>;
  }

  private readonly externalViews = new WeakMap<GPUTexture, GPUTextureView>();
  private textureView(texture: GPUTexture): GPUTextureView {
    let view = this.externalViews.get(texture);
    if (!view) {
      view = texture.createView({ label: `PoseNet.externalTexture.view` });
      this.externalViews.set(texture, view);
    }
    return view;
  }

  /**
   * Uploads the source, takes the plans for its input size (built on first use) and
   * writes the frame's uniforms (fit, flip). Public for runners that encode the plan's
   * parts themselves, such as the benchmark's ONNX Runtime peers, which run another
   * network between our `preprocess` part (it fills `plan.inputBuffer`) and our `decode`
   * part (it reads `plan.headsBuffer`); they leave `flipTest` off.
   */
  async prepareFrame(source: PoseSource, options: { fit?: FitMode; flipHorizontal?: boolean }, flipTest = false) {
    this.applyTargetFps();
    const { view, width, height } = await this.uploadSource(source);
    const size = this.inputSizeFor(width, height);
    const { frame, evicted } = this.plans.get(size.width, size.height, flipTest);
    this.release(evicted);
    this.current = frame;
    this.inFlight = { frame, flip: frame.flip };
    this.tuner.use(frame.plan);
    this.lastInput = size;
    const fit = computeFit(options.fit ?? this.fit, width, height, size.width, size.height);
    frame.prepare(view, fit, width, height, !!options.flipHorizontal, flipTest);
    return { frame, plan: frame.plan, fit, width, height };
  }

  /**
   * Forgets the smoothing history and the tracks (ids keep counting up): call it on a
   * seek or a new source. A resolution change keeps them; a model change resets them.
   */
  resetSmoothing(): void {
    this.history.reset();
  }

  /** Runs the network on a source and decodes one pose on the GPU (smoothed across frames with `smoothing`). */
  estimateSinglePose(source: PoseSource, options: SinglePoseOptions = {}): Promise<Pose> {
    this.assertAlive();
    return this.run(async () => {
      const t0 = performance.now();
      const timestamp = options.timestamp ?? frameTimestampMs(source);
      const flipTest = this.flipTestOn;
      const { frame, plan } = await this.prepareFrame(source, options, flipTest);
      const encoder = this.device.createCommandEncoder({ label: `PoseNet.frame` });
      const passes = frame.framePasses(flipTest, 'single', () => plan.stepsOf('decode'));
      const { timestamps, measuring } = this.beginTunedFrame(frame, passes);
      const n = frame.encodeNetwork(encoder, timestamps, flipTest);
      frame.encodeDecode(encoder, timestamps, n);
      encoder.copyBufferToBuffer(plan.resultBuffer, 0, this.staging, 0, SINGLE_RESULT_FLOATS * 4);
      this.profiler.resolve(encoder);
      this.device.queue.submit([encoder.finish()]);
      const t1 = performance.now();
      const [result, profile] = await Promise.all([this.readStaging(), this.profiler.collect()]);
      const t2 = performance.now();
      this.endTunedFrame(plan, passes, profile, t2 - t1);
      this.lastTiming = { encodeMs: t1 - t0, latencyMs: t2 - t0 };
      this.profiler.recordFrameTime(t2 - t1, t1);
      this.recordTargetFps(frame, t2 - t0, measuring);
      this.frameCount++;
      return this.history.smoothSingle(toPose(result), timestamp, options.smoothing);
    });
  }

  /**
   * Runs the network on a source and decodes up to `maxDetections` poses: root candidates
   * (local heatmap maxima above `scoreThreshold`) found on the GPU, then TF.js PoseNet's
   * greedy part-tree decode on the CPU over the heads read back with them. Poses come in
   * the order found (decreasing root score), in source pixels. Defaults as TF.js PoseNet:
   * maxDetections 5, scoreThreshold 0.5, nmsRadius 20 (input-resolution pixels). With the
   * flip test every head is averaged, displacements included (see src/pose/flip.ts).
   * With `tracking` (or `smoothing`) each pose has a stable `id` across frames; with
   * `smoothing` each tracked person's keypoints are smoothed.
   */
  estimateMultiplePoses(source: PoseSource, options: MultiPoseEstimationOptions = {}): Promise<Pose[]> {
    this.assertAlive();
    const settings = checkMultiPoseOptions(options);
    return this.run(async () => {
      const t0 = performance.now();
      const timestamp = options.timestamp ?? frameTimestampMs(source);
      this.multi ??= new MultiPoseGpu(this.device, this.kernels, this.ledger);
      const multi = this.multi;
      const flipTest = this.flipTestOn;
      const { frame, plan, fit, width } = await this.prepareFrame(source, options, flipTest);
      const encoder = this.device.createCommandEncoder({ label: `PoseNet.multiPoseFrame` });
      const passes = frame.framePasses(flipTest, 'multi', () => [multi.candidatesPass(plan)]);
      const { timestamps, measuring } = this.beginTunedFrame(frame, passes);
      const n = frame.encodeNetwork(encoder, timestamps, flipTest);
      multi.encode(encoder, plan, settings.scoreThreshold, timestamps, n);
      this.profiler.resolve(encoder);
      this.device.queue.submit([encoder.finish()]);
      const t1 = performance.now();
      const [readback, profile] = await Promise.all([multi.read(plan), this.profiler.collect()]);
      const t2 = performance.now();
      this.endTunedFrame(plan, passes, profile, t2 - t1);
      const { heads } = readback;
      const candidates = readback.candidates
        ? confirmCandidates(heads, readback.candidates, settings.scoreThreshold)
        : findCandidates(heads, settings.scoreThreshold);
      const poses = decodeMultiplePoses(heads, candidates, this.model.manifest.outputStride, settings);
      const scaled = scaleAndFlipPoses(poses, fit, width, !!options.flipHorizontal);
      const result = this.history.trackMultiple(scaled, timestamp, options.tracking, options.smoothing);
      const t3 = performance.now();
      this.lastMultiPoseStats = {
        gpuCandidates: readback.found,
        candidates: candidates.length,
        overflowed: !readback.candidates,
        decodeMs: t3 - t2,
      };
      this.lastTiming = { encodeMs: t1 - t0, latencyMs: t3 - t0 };
      this.profiler.recordFrameTime(t2 - t1, t1);
      this.recordTargetFps(frame, t3 - t0, measuring);
      this.frameCount++;
      return result;
    });
  }

  private async readStaging(): Promise<Float32Array> {
    await this.staging.mapAsync(GPUMapMode.READ);
    const data = new Float32Array(this.staging.getMappedRange().slice(0));
    this.staging.unmap();
    return data;
  }

  /**
   * Debug: the four heads of the last frame, as raw values (heatmap logits, not scores):
   * what the decoders read, so with the flip test the averaged heads. `mirrored`: the
   * flip test's mirrored run before averaging (in its own, mirrored, frame).
   */
  readHeads(options: { mirrored?: boolean } = {}): Promise<Heads> {
    this.assertAlive();
    return this.run(async () => {
      const frame = this.current;
      if (!frame) throw new Error('readHeads: no frame has run yet');
      if (options.mirrored && !frame.flip) throw new Error('readHeads: the last frame ran without the flip test');
      const plan = options.mirrored ? frame.flip!.mirrored : frame.plan;
      const raw = await this.readBuffer(plan.headsBuffer, plan.headsShape.h * plan.headsShape.w * plan.headsShape.c4 * 16);
      const { h, w, c4 } = plan.headsShape;
      const heads = {} as Heads;
      for (const name of HEAD_NAMES) {
        const ref = this.model.manifest.heads[name];
        const data = new Float32Array(h * w * ref.channels);
        for (let p = 0; p < h * w; p++) {
          for (let c = 0; c < ref.channels; c++) data[p * ref.channels + c] = raw[p * c4 * 4 + ref.channelOffset + c]!;
        }
        heads[name] = { data, shape: [h, w, ref.channels] };
      }
      return heads;
    });
  }

  /**
   * Debug: a tensor of the last frame, NHWC without channel padding. The input and the
   * heads are always available; other layers' outputs need `debug.retainAll`.
   * `mirrored`: the flip test's mirrored run's tensor.
   */
  readTensor(name: string, options: { mirrored?: boolean } = {}): Promise<Head> {
    this.assertAlive();
    return this.run(async () => {
      const frame = this.current;
      if (options.mirrored && !frame?.flip) throw new Error('readTensor: the last frame ran without the flip test');
      const plan = options.mirrored ? frame!.flip!.mirrored : this.plan;
      const shape = plan.shapes.tensors.get(name);
      const buffer = plan.tensorBuffers.get(name);
      if (!shape || !buffer) throw new Error(`readTensor: no tensor "${name}" in ${plan.label}`);
      const live = plan.options.retainAll || name === this.model.manifest.input.tensor || buffer === plan.headsBuffer;
      if (!live) throw new Error(`readTensor: "${name}" shares its buffer with later layers; create the net with debug.retainAll`);
      const raw = await this.readBuffer(buffer, shape.h * shape.w * shape.c4 * 16);
      const data = new Float32Array(shape.h * shape.w * shape.c);
      for (let p = 0; p < shape.h * shape.w; p++) {
        for (let c = 0; c < shape.c; c++) data[p * shape.c + c] = raw[p * shape.c4 * 4 + c]!;
      }
      return { data, shape: [shape.h, shape.w, shape.c] as [number, number, number] };
    });
  }

  private async readBuffer(buffer: GPUBuffer, bytes: number): Promise<Float32Array> {
    const staging = this.device.createBuffer({
      label: 'PoseNet.debugReadback',
      size: bytes,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    try {
      const encoder = this.device.createCommandEncoder({ label: 'PoseNet.debugReadback' });
      encoder.copyBufferToBuffer(buffer, 0, staging, 0, bytes);
      this.device.queue.submit([encoder.finish()]);
      await staging.mapAsync(GPUMapMode.READ);
      return new Float32Array(staging.getMappedRange().slice(0));
    } finally {
      staging.destroy();
    }
  }

  /** Bytes of GPU buffers and textures this net holds (weights, plan, staging, source). */
  gpuBytes(): number {
    return this.ledger.bytes();
  }

  /** Releases every GPU resource (the device stays with whoever created it). */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.plans.dispose();
    this.current = null;
    this.model.dispose();
    this.profiler.dispose();
    this.multi?.dispose();
    this.multi = null;
    this.resources.dispose();
  }

  private assertAlive(): void {
    if (this.disposed) throw new Error('PoseNet: used after dispose()');
  }
}

export function toPose(result: Float32Array): Pose {
  const keypoints = PART_NAMES.map((part, k) => ({
    part,
    position: { x: result[3 * k]!, y: result[3 * k + 1]! },
    score: result[3 * k + 2]!,
  }));
  return { score: result[3 * NUM_KEYPOINTS]!, keypoints };
}

/** Loads weights and builds a PoseNet at the given resolution. */
export async function createPoseNet(config: PoseNetConfig): Promise<PoseNet> {
  const loaded = await loadWeights(config.weights);
  normalizeResolution(config.resolution, loaded.manifest.outputStride);
  const device = config.device ?? (await requestPoseNetDevice(config.deviceOptions));
  const mode = config.tuning ?? 'auto';
  const store = config.tuningStore === undefined ? browserTuningStore() : config.tuningStore;
  const tuning = await loadTuning(mode, store, device, loaded.manifest);
  return new PoseNet(device, loaded, config.resolution ?? 257, {
    fit: config.fit,
    debug: config.debug,
    upload: config.upload,
    tuning,
    flipTest: config.flipTest,
    targetFps: config.targetFps,
  });
}

export type { Fit };
export type { TuningMode, TuningProgress, TuningStore, TuningTable };
