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
import { requestPoseNetDevice } from './gpu/device.ts';
import { KernelCache } from './gpu/kernels.ts';
import { Profiler } from './gpu/profiler.ts';
import { GpuLedger, ResourceGroup } from './gpu/resources.ts';
import { HEAD_NAMES, type HeadName, type Manifest } from './model/manifest.ts';
import { Model, fetchWeights, type LoadedWeights } from './model/model.ts';
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
import { PlanCache, type FramePlan } from './plan/plan-cache.ts';
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

export type PoseSource =
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
  /** URL of a weights folder (holding model.json and weights.bin), or weights already fetched. */
  weights: string | LoadedWeights;
  /**
   * Input resolution: a number for square, {width, height} (each k*outputStride+1 in
   * 129..1025), or {longSide} to follow each source's aspect ratio. Default 257.
   */
  resolution?: ResolutionSpec;
  /** A device to run on; by default one is requested (with timestamp-query when available). */
  device?: GPUDevice;
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
    options: { fit?: FitMode; debug?: PlanOptions; upload?: UploadPath; flipTest?: boolean; targetFps?: TargetFps } = {},
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
    this.plans = this.planCache(this.model);
    if (this.spec.kind === 'fixed') this.current = this.plans.get(this.spec.width, this.spec.height, false).frame;
    if (options.targetFps !== undefined) this.setTargetFps(options.targetFps);
  }

  private planCache(model: Model): PlanCache {
    return new PlanCache(
      (width, height) => new Plan(this.device, this.kernels, model, width, height, this.ledger, this.debug),
      (plan) => new FlipTest(this.device, this.kernels, plan, this.ledger),
    );
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
  private recordTargetFps(frame: FramePlan, latencyMs: number): void {
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
    const held = this.inFlight;
    const busy = things.filter((t) => held && (t === held.frame || t === held.flip));
    for (const t of things) if (!busy.includes(t)) t.dispose();
    this.multi?.releaseDisposed();
    this.releaseAfterFrames(busy);
  }

  /** Replaces the model (keeps the resolution when the new model's stride allows it, else the nearest valid one). */
  async setModel(weights: string | LoadedWeights): Promise<void> {
    this.assertAlive();
    const loaded = typeof weights === 'string' ? await fetchWeights(weights) : weights;
    const stride = loaded.manifest.outputStride;
    const spec: InputSizeRule =
      this.spec.kind === 'aspect'
        ? { kind: 'aspect', longSide: snapResolution(this.spec.longSide, stride) }
        : { kind: 'fixed', width: snapResolution(this.spec.width, stride), height: snapResolution(this.spec.height, stride) };
    const model = new Model(this.device, loaded, this.ledger);
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
   * Two paths: `copy` hands the source to copyExternalImageToTexture (the GPU path);
   * `cpu` draws it into a 2D canvas and writes the pixels with writeTexture. `auto` (the
   * default) takes `cpu` on SwiftShader, Chromium's CPU WebGPU, where the GPU path costs
   * ~20 ms for a 640x480 frame (against ~1 ms) and, for <video> and VideoFrame, loses the
   * device (Chromium 150); elsewhere `copy`.
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
    if (this.uploadPath === 'cpu') {
      const pixels = this.readPixels(source as Exclude<PoseSource, GPUTexture>, width, height);
      this.device.queue.writeTexture({ texture: this.sourceTexture }, pixels, { bytesPerRow: width * 4 }, { width, height });
    } else {
      this.device.queue.copyExternalImageToTexture(
        { source: source as GPUCopyExternalImageSource },
        { texture: this.sourceTexture },
        { width, height },
      );
    }
    return { view: this.sourceView!, width, height };
  }

  private pixelCanvas: OffscreenCanvasRenderingContext2D | null = null;
  /** RGBA8 pixels of a source, drawn through a reused 2D canvas (the `cpu` upload path). */
  private readPixels(source: Exclude<PoseSource, GPUTexture>, width: number, height: number): Uint8ClampedArray<ArrayBuffer> {
    if (typeof ImageData !== 'undefined' && source instanceof ImageData) return source.data as Uint8ClampedArray<ArrayBuffer>;
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
   * writes the frame's uniforms (fit, flip).
   */
  private async prepareFrame(source: PoseSource, options: { fit?: FitMode; flipHorizontal?: boolean }, flipTest: boolean) {
    this.applyTargetFps();
    const { view, width, height } = await this.uploadSource(source);
    const size = this.inputSizeFor(width, height);
    const { frame, evicted } = this.plans.get(size.width, size.height, flipTest);
    this.release(evicted);
    this.current = frame;
    this.inFlight = { frame, flip: frame.flip };
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
      const timestamps = this.profiler.beginFrame(frame.framePasses(flipTest, 'single', () => plan.stepsOf('decode')));
      const n = frame.encodeNetwork(encoder, timestamps, flipTest);
      frame.encodeDecode(encoder, timestamps, n);
      encoder.copyBufferToBuffer(plan.resultBuffer, 0, this.staging, 0, SINGLE_RESULT_FLOATS * 4);
      this.profiler.resolve(encoder);
      this.device.queue.submit([encoder.finish()]);
      const t1 = performance.now();
      const [result] = await Promise.all([this.readStaging(), this.profiler.collect()]);
      const t2 = performance.now();
      this.lastTiming = { encodeMs: t1 - t0, latencyMs: t2 - t0 };
      this.profiler.recordFrameTime(t2 - t1, t1);
      this.recordTargetFps(frame, t2 - t0);
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
      const timestamps = this.profiler.beginFrame(frame.framePasses(flipTest, 'multi', () => [multi.candidatesPass(plan)]));
      const n = frame.encodeNetwork(encoder, timestamps, flipTest);
      multi.encode(encoder, plan, settings.scoreThreshold, timestamps, n);
      this.profiler.resolve(encoder);
      this.device.queue.submit([encoder.finish()]);
      const t1 = performance.now();
      const [readback] = await Promise.all([multi.read(plan), this.profiler.collect()]);
      const t2 = performance.now();
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
      this.recordTargetFps(frame, t3 - t0);
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
  const loaded = typeof config.weights === 'string' ? await fetchWeights(config.weights) : config.weights;
  normalizeResolution(config.resolution, loaded.manifest.outputStride);
  const device = config.device ?? (await requestPoseNetDevice());
  return new PoseNet(device, loaded, config.resolution ?? 257, {
    fit: config.fit,
    debug: config.debug,
    upload: config.upload,
    flipTest: config.flipTest,
    targetFps: config.targetFps,
  });
}

export type { Fit };
