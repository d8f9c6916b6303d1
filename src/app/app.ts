/**
 * The page's engine: one PoseNet on one device, one source, and a frame loop that never
 * overlaps frames (requestAnimationFrame, then `await` the pose). A frame runs only when
 * there is something new to see: a new frame on screen (a playing video or camera, a seek:
 * FrameSource.onFrame), or a change (source, resolution, model, settings). A still image
 * or a paused video is inferred once per change, not on every animation frame, unless
 * `continuous` (or a sweep) asks for a stream of frames to time, or kernel tuning needs
 * frames to measure. Settings change live:
 * the resolution through `net.setResolution` (the frame in flight finishes at the old
 * size, the next one uses the new), the model through `net.setModel`, the rest per frame.
 * Every completed frame leaves a FrameRecord (resolution, GPU and CPU timings, the
 * profiler's frame, GPU bytes) that the profiler panel, the sweep and the debug handle
 * read. On device loss it makes a new device and a new PoseNet with the same settings.
 * The PoseNet runs on this thread or, with `settings.worker` ("Run in a worker"), in a
 * dedicated worker (engine-net.ts); switching rebuilds it between two frames.
 *
 * DOM use is limited to the picture: the canvases it draws on and, in a worker, the
 * source element shown under the view (backdrop.ts), so that the page's thread never
 * copies a frame; the controls and panels live in their own modules and listen to
 * `on('frame' | 'change' | 'device', ...)`.
 */
import type { DeviceOptions } from '../gpu/device.ts';
import { STATS_WINDOW, type FrameProfile } from '../gpu/profiler.ts';
import { fetchWeights, type LoadedWeights } from '../model/model.ts';
import { checkResolution, snapResolution } from '../plan/shapes.ts';
import { toPoseRecord, type PoseRecord } from '../pose/record.ts';
import { SMOOTHING_DEFAULTS, type SmoothingOptions } from '../pose/smoother.ts';
import type { Pose } from '../pose/types.ts';
import type { PoseSource, Resolution, ResolutionSpec } from '../posenet.ts';
import { createEngineNet, type EngineNet, frameSnapshot, type LostInfo } from './engine-net.ts';
import { SourceBackdrop } from './backdrop.ts';
import type { ModelEntry } from './models.ts';
import { drawOverlay } from './overlay.ts';
import type { FrameSource } from './sources.ts';

export type PoseMode = 'single' | 'multi';

export interface Settings {
  /** Model name (an entry of weights/index.json). */
  model: string;
  resolution: Resolution;
  /** Keypoints (and edges touching them) below this score are hidden; multi-pose's scoreThreshold. */
  minScore: number;
  /** Mirror the keypoints and the picture (selfie camera). */
  flip: boolean;
  mode: PoseMode;
  /** Multi-pose only. */
  maxDetections: number;
  /** Multi-pose only, input-resolution pixels. */
  nmsRadius: number;
  /** Run the PoseNet in a dedicated worker (its own WebGPU device) rather than on the page's thread. */
  worker: boolean;
  /**
   * Size each frame's input to the source's aspect ratio, the resolution's long side
   * being the long side (`{ longSide }`): no padding to a square.
   */
  aspect: boolean;
  /** Run each frame mirrored too and average the heads (the flip test). */
  flipTest: boolean;
  /**
   * Pick the resolution per frame to hold this frame rate (null: off; see
   * src/plan/target-fps.ts). While it is on, frames run continuously, even on a still image.
   */
  targetFps: number | null;
  /** Smooth keypoints across the frames of a video or camera (PoseSmoother). */
  smoothing: boolean;
  /** 0 (light) .. 1 (strong); 0.5 is the library's defaults (see smoothingOptions). */
  smoothingStrength: number;
  /** Re-run a still image or paused video on every animation frame (for timing it). */
  continuous: boolean;
}

/** The net's resolution for these settings: the fixed size, or `{ longSide }` with `aspect`. */
export function resolutionSpec(s: Pick<Settings, 'resolution' | 'aspect'>): ResolutionSpec {
  return s.aspect ? { longSide: Math.max(s.resolution.width, s.resolution.height) } : s.resolution;
}

/** What targetFps measured on a net (not its predictions): a fair start for the net that replaces it. */
function measuredSizes(net: EngineNet | null): { size: number; ms: number }[] | undefined {
  return net?.targetFpsChoice?.estimates.filter((e) => !e.predicted).map(({ size, ms }) => ({ size, ms }));
}

/** The app's smoothing strength at start (the library's defaults). */
export const SMOOTHING_STRENGTH_DEFAULT = 0.5;

/**
 * The smoother's parameters for a strength in [0, 1]: the cutoff at rest is the default's
 * times 4^(1 - 2·strength) (strength 0: 4× the default, lighter; 1: a quarter, stronger);
 * the other parameters stay at their defaults.
 */
export function smoothingOptions(strength: number): SmoothingOptions {
  const s = Math.min(1, Math.max(0, strength));
  return { minCutoff: SMOOTHING_DEFAULTS.minCutoff * 4 ** (1 - 2 * s) };
}

export type AppStatus = 'starting' | 'waiting-for-source' | 'running' | 'recovering' | 'failed';

export interface FrameRecord {
  /** 1-based: poseApp.frames after this frame completed. */
  frame: number;
  /** The source, as `kind: label`. */
  source: string;
  /** Media time (s) of the frame estimated (video or camera); null for an image. */
  mediaTime: number | null;
  /** The first frame after a new PoseNet, model, resolution or mode: its timings include warm-up, so the means leave it out. */
  warmup: boolean;
  width: number;
  height: number;
  model: string;
  mode: PoseMode;
  /** GPU time: first pass's beginning to last pass's end (timestamp-query); null without timestamps. */
  gpuMs: number | null;
  /** Sum of the passes' GPU durations; null without timestamps. */
  passSumMs: number | null;
  /** CPU time to encode and submit (PoseNet.lastTiming.encodeMs). */
  encodeMs: number;
  /** From the estimate call until the poses were on the CPU (PoseNet.lastTiming.latencyMs). */
  latencyMs: number;
  /** From the estimate call until the overlay was drawn. */
  endToEndMs: number;
  /** performance.now() when the frame completed. */
  t: number;
  /** net.gpuBytes(): buffers and textures the app's PoseNet holds. */
  gpuBytes: number;
  /** Buffers only. */
  gpuBufferBytes: number;
  poses: number;
  /** Which PoseNet ran it (changes after device loss). */
  generation: number;
  /** The profiler's record of this frame (per-pass timings), if it made one. */
  profile: FrameProfile | null;
}

export interface DeviceEvent {
  kind: 'lost' | 'recovered' | 'recovery-failed';
  reason?: string;
  message: string;
  ms?: number;
}

interface Events {
  frame: FrameRecord;
  change: undefined;
  device: DeviceEvent;
  error: string;
}

const HISTORY = 240;

const nextAnimationFrame = () => new Promise<number>((resolve) => requestAnimationFrame(resolve));

export class PoseApp {
  readonly settings: Settings;
  models: ModelEntry[] = [];
  net: EngineNet | null = null;
  source: FrameSource | null = null;
  status: AppStatus = 'starting';
  /** Completed frames. */
  frames = 0;
  failedFrames = 0;
  deviceLosses = 0;
  /** Uncaptured GPU errors (validation, out-of-memory, internal), as messages. */
  readonly gpuErrors: string[] = [];
  /** Last frame failure (not counting failures caused by device loss). */
  lastError: string | null = null;
  poses: Pose[] = [];
  /** Resolution of the last completed frame. */
  resolution: Resolution | null = null;
  readonly history: FrameRecord[] = [];
  /** Milliseconds the last resolution switch took on the CPU (plan build), for the "no stall" claim. */
  lastSwitchMs = 0;
  /** A model being fetched, for the controls. */
  modelLoading: string | null = null;
  adapterInfo = '';
  private loaded: LoadedWeights | null = null;
  private generation = 0;
  private stopped = false;
  private looping = false;
  /** A new PoseNet being made (device loss, or the worker toggle): no frame starts meanwhile. */
  private recovering: Promise<void> | null = null;
  /** The frame being run, which a rebuild lets finish. */
  private inFlight: Promise<void> | null = null;
  /** targetFps's measurements carried to the PoseNet made after a device loss or a worker switch. */
  private targetFpsSeed: { size: number; ms: number }[] | undefined;
  /** Something new to infer: a new frame on screen, or a change. */
  private dirty = true;
  /** The last frame ran because tuning needed it (see loop). */
  private framesForTuning = false;
  /** Holders of a stream of frames on a still source (the sweep). */
  private streamHolds = 0;
  private unwatchSource: (() => void) | null = null;
  /** Counts smoothing resets (seeks, new sources): a frame that spans one must not seed the new history. */
  private historyEpoch = 0;
  /** Poses of the frames run since "Record" (null when not recording). */
  private recording: PoseRecord[] | null = null;
  private readonly listeners: { [K in keyof Events]: Set<(e: Events[K]) => void> } = {
    frame: new Set(),
    change: new Set(),
    device: new Set(),
    error: new Set(),
  };
  /** On the page's thread: the source as the network saw it, drawn at the frame's start. */
  private readonly frameCanvas = document.createElement('canvas');
  private readonly frameCtx: CanvasRenderingContext2D;
  private readonly viewCtx: CanvasRenderingContext2D;
  /** In a worker: the source element itself under the view, which then holds the poses alone. */
  private readonly backdrop: SourceBackdrop;

  /**
   * Hand the network the source element itself instead of the frame's copy on a canvas.
   * Off by default: Chromium on SwiftShader (no GPU) destroys the device on
   * copyExternalImageToTexture from a video or VideoFrame, and the copy keeps the overlay
   * on exactly the frame that was estimated. On a GPU the canvas copy is a GPU blit.
   * In a worker there is no copy either way: the frame crosses as a VideoFrame.
   */
  readonly direct: boolean;
  /** How devices are requested, the first (by the page) and any replacement. */
  readonly deviceOptions: DeviceOptions;
  /** Kernel variant tuning (see PoseNetConfig.tuning). */
  readonly tuning: 'auto' | 'off';

  constructor(
    readonly view: HTMLCanvasElement,
    settings: Settings,
    options: { direct?: boolean; device?: DeviceOptions; tuning?: 'auto' | 'off' } = {},
  ) {
    this.direct = !!options.direct;
    this.tuning = options.tuning ?? 'auto';
    this.deviceOptions = options.device ?? {};
    this.settings = { ...settings, resolution: { ...settings.resolution } };
    this.frameCtx = this.frameCanvas.getContext('2d', { alpha: false })!;
    // With alpha: in a worker the view is a transparent overlay on the source element.
    this.viewCtx = view.getContext('2d')!;
    this.backdrop = new SourceBackdrop(view);
  }

  on<K extends keyof Events>(event: K, fn: (e: Events[K]) => void): () => void {
    this.listeners[event].add(fn);
    return () => this.listeners[event].delete(fn);
  }

  private emit<K extends keyof Events>(event: K, value: Events[K]): void {
    for (const fn of this.listeners[event]) {
      try {
        fn(value);
      } catch (err) {
        console.error(`poseApp: a ${event} listener failed`, err);
      }
    }
  }

  private changed(): void {
    this.emit('change', undefined);
  }

  get device(): GPUDevice | null {
    return this.net?.device ?? null;
  }

  get outputStride(): number {
    return this.net?.manifest.outputStride ?? this.models.find((m) => m.name === this.settings.model)?.outputStride ?? 16;
  }

  /** Multi-pose needs a loaded net (every PoseNet decodes multiple poses). */
  get multiPoseAvailable(): boolean {
    return this.net !== null;
  }

  /** Builds the first PoseNet (on `device`, or in a worker with settings.worker) and starts the frame loop. */
  async start(device: GPUDevice, models: ModelEntry[]): Promise<void> {
    this.models = models;
    const entry = models.find((m) => m.name === this.settings.model) ?? models[0];
    if (!entry) throw new Error('no models');
    this.settings.model = entry.name;
    this.loaded = await fetchWeights(entry.url);
    const stride = this.loaded.manifest.outputStride;
    const { width, height } = this.settings.resolution;
    this.settings.resolution = { width: snapResolution(width, stride), height: snapResolution(height, stride) };
    // In a worker, the worker requests its own device: the page's is not needed.
    if (this.settings.worker) device.destroy();
    await this.attach(this.settings.worker ? null : device);
    this.status = this.source ? 'running' : 'waiting-for-source';
    this.changed();
    void this.loop();
  }

  /** Makes the PoseNet (on `device`, a new device, or in a worker) with the current model and settings. */
  private async attach(device: GPUDevice | null): Promise<void> {
    const net = await createEngineNet({
      worker: this.settings.worker,
      weights: this.loaded!,
      resolution: resolutionSpec(this.settings),
      flipTest: this.settings.flipTest,
      device,
      deviceOptions: this.deviceOptions,
      tuning: this.tuning,
      onError: (message) => {
        this.gpuErrors.push(message);
        console.error(`poseApp: uncaptured GPU error: ${message}`);
        this.emit('error', message);
        this.changed();
      },
      onAsyncError: (message) => {
        this.lastError = message;
        this.emit('error', message);
        this.changed();
      },
      onLost: (lostNet, info) => {
        if (this.net === lostNet) void this.recover(info);
      },
    });
    const s = this.settings;
    if (s.targetFps !== null) net.setTargetFps(this.targetFpsOptions(s.targetFps), this.targetFpsSeed);
    this.targetFpsSeed = undefined;
    this.generation++;
    this.net = net;
    this.adapterInfo = net.adapterInfo;
  }

  /**
   * Moves the PoseNet onto the page's thread or into a worker: the frame in flight
   * finishes, the old net is released, a new one is made with the same model and settings.
   */
  async setWorkerMode(on: boolean): Promise<void> {
    if (this.settings.worker === on) return;
    this.settings.worker = on;
    this.changed();
    while (this.recovering) await this.recovering;
    // Not started (start() reads the setting), failed, or already made with it.
    if (!this.net || this.net.inWorker === this.settings.worker) return;
    const switching = (async () => {
      await this.inFlight;
      const old = this.net;
      this.net = null;
      this.targetFpsSeed = measuredSizes(old);
      old?.dispose();
      try {
        await this.attach(null);
        this.dirty = true;
      } catch (err) {
        this.status = 'failed';
        this.lastError = `could not make the PoseNet ${this.settings.worker ? 'in a worker' : 'on the page'}: ${(err as Error)?.message ?? String(err)}`;
        this.emit('error', this.lastError);
      }
    })();
    this.recovering = switching;
    try {
      await switching;
    } finally {
      this.recovering = null;
      this.changed();
    }
  }

  setSource(source: FrameSource | null): void {
    const old = this.source;
    this.source = source;
    if (old && old !== source) {
      this.unwatchSource?.();
      old.stop();
    }
    this.unwatchSource = source ? source.onFrame(() => (this.dirty = true)) : null;
    // The old source is stopped: the picture shows the new one straight away.
    if (this.backdrop.shown && old !== source) {
      if (source) this.backdrop.show(source.element, this.settings.flip);
      else this.backdrop.hide(false);
    }
    if (source?.kind === 'video') {
      // A seek: what was smoothed before it says nothing about the frames after it.
      const video = source.element as HTMLVideoElement;
      const onSeek = () => this.resetHistory();
      video.addEventListener('seeking', onSeek);
      const unwatch = this.unwatchSource!;
      this.unwatchSource = () => {
        unwatch();
        video.removeEventListener('seeking', onSeek);
      };
    }
    this.resetHistory();
    this.dirty = true;
    if (this.status === 'waiting-for-source' && source) this.status = 'running';
    if (this.status === 'running' && !source) this.status = 'waiting-for-source';
    this.changed();
  }

  /**
   * Switches the input resolution (k*outputStride+1 in 129..1025; throws a
   * ResolutionError otherwise). The next frame started uses it.
   */
  setResolution(width: number, height: number = width): void {
    checkResolution(width, height, this.outputStride);
    const t0 = performance.now();
    this.settings.resolution = { width, height };
    // A size chosen by hand ends targetFps (the net turns it off too).
    this.settings.targetFps = null;
    this.net?.setResolution(resolutionSpec(this.settings));
    this.lastSwitchMs = performance.now() - t0;
    this.dirty = true;
    this.changed();
  }

  /**
   * Turns targetFps on (frames per second) or off (null). It starts from `seed` (a sweep's
   * frame times per long side) or probes from the current size.
   */
  setTargetFps(fps: number | null, seed?: { size: number; ms: number }[]): void {
    if (fps !== null && !(Number.isFinite(fps) && fps > 0))
      throw new RangeError(`targetFps ${fps}: must be a number of frames per second > 0`);
    this.settings.targetFps = fps;
    this.dirty = true;
    const net = this.net;
    if (net) {
      if (fps === null) net.setTargetFps(null);
      else net.setTargetFps(this.targetFpsOptions(fps), seed);
    }
    this.changed();
  }

  private targetFpsOptions(fps: number) {
    const r = this.settings.resolution;
    return { fps, shape: this.settings.aspect ? ('aspect' as const) : ('square' as const), startSize: Math.max(r.width, r.height) };
  }

  /** targetFps's choice and why, or null when it is off. */
  get targetFpsChoice() {
    return this.net?.targetFpsChoice ?? null;
  }

  /** Loads another model (keeps the resolution when its stride allows, else the nearest valid one). */
  async setModel(name: string): Promise<void> {
    const entry = this.models.find((m) => m.name === name);
    if (!entry) throw new Error(`no model named "${name}" (have: ${this.models.map((m) => m.name).join(', ')})`);
    if (name === this.settings.model && !this.modelLoading) return;
    this.modelLoading = name;
    this.changed();
    try {
      const loaded = await fetchWeights(entry.url);
      if (this.recovering) await this.recovering;
      const net = this.net;
      // Swaps model and plan in one go (nothing awaited for weights already fetched):
      // the next frame started runs the new model.
      if (net) await net.setModel(loaded);
      this.loaded = loaded;
      this.settings.model = name;
      if (net) {
        const spec = net.resolutionSpec;
        this.settings.resolution = 'longSide' in spec ? { width: spec.longSide, height: spec.longSide } : spec;
      }
      // net.setModel forgot the smoothing history; a frame in flight must not seed it.
      this.historyEpoch++;
      this.dirty = true;
    } finally {
      this.modelLoading = null;
      this.changed();
    }
  }

  update(patch: Partial<Omit<Settings, 'resolution' | 'model' | 'worker' | 'targetFps'>>): void {
    const before = { aspect: this.settings.aspect, flipTest: this.settings.flipTest };
    Object.assign(this.settings, patch);
    const net = this.net;
    if (net && this.settings.flipTest !== before.flipTest) net.setFlipTest(this.settings.flipTest);
    if (net && this.settings.aspect !== before.aspect) {
      // The sizes cost differently now: targetFps, if on, measures afresh.
      net.setResolution(resolutionSpec(this.settings));
      if (this.settings.targetFps !== null) net.setTargetFps(this.targetFpsOptions(this.settings.targetFps));
    } else if (net && this.settings.flipTest !== before.flipTest && this.settings.targetFps !== null) {
      net.setTargetFps(this.targetFpsOptions(this.settings.targetFps));
    }
    this.dirty = true;
    this.changed();
  }

  /** Forgets the smoothing history and the tracks (a seek, a new source). */
  resetHistory(): void {
    this.historyEpoch++;
    this.net?.resetSmoothing();
  }

  /** Runs frames continuously, even on a still source, until the returned release is called (the sweep). */
  holdStream(): () => void {
    this.streamHolds++;
    let held = true;
    return () => {
      if (held) this.streamHolds--;
      held = false;
    };
  }

  /** Asks for one more frame of the current source (e.g. after a redraw-only change). */
  requestFrame(): void {
    this.dirty = true;
  }

  get isRecording(): boolean {
    return this.recording !== null;
  }

  /** Frames recorded so far (0 when not recording). */
  get recordedFrames(): number {
    return this.recording?.length ?? 0;
  }

  /** Starts keeping every frame's poses (see src/pose/record.ts). */
  startRecording(): void {
    this.recording = [];
    this.changed();
  }

  /** Stops recording; returns the records kept. */
  stopRecording(): PoseRecord[] {
    const out = this.recording ?? [];
    this.recording = null;
    this.changed();
    return out;
  }

  /** Destroys the GPU device as a driver reset would (the app recovers). */
  loseDevice(): void {
    this.net?.destroyDevice();
  }

  private async loop(): Promise<void> {
    if (this.looping) return;
    this.looping = true;
    try {
      while (!this.stopped) {
        await nextAnimationFrame();
        if (this.recovering) {
          await this.recovering;
          continue;
        }
        const net = this.net;
        const source = this.source;
        if (!net || !source?.ready()) continue;
        // Online tuning measures over frames: a still source keeps running until it is done.
        // (A worker's progress is mirrored from its answers, so there frames also run while
        // its candidates compile, or the end of compiling would never be seen.)
        const state = net.tuning.state;
        const tuning = state === 'tuning' || (state === 'compiling' && net.inWorker);
        // One more frame when tuning ends, so that the pose and the profiler show the tuned choice.
        if (this.framesForTuning && !tuning) this.dirty = true;
        this.framesForTuning = tuning;
        // targetFps measures frames too: while it is on they run continuously, as with `continuous`.
        const measuring = tuning || this.settings.targetFps !== null;
        if (!this.dirty && !this.settings.continuous && this.streamHolds === 0 && !measuring) continue;
        this.dirty = false;
        this.inFlight = this.runFrame(net, source);
        await this.inFlight;
        this.inFlight = null;
      }
    } finally {
      this.looping = false;
    }
  }

  private async runFrame(net: EngineNet, source: FrameSource): Promise<void> {
    // In a worker the frame crosses as a VideoFrame of the source, made without copying
    // pixels on this thread (the page shows the source element itself under the poses);
    // else it is copied to a canvas.
    const snapshot = net.inWorker ? frameSnapshot(source.element) : null;
    try {
      await this.estimateAndDraw(net, source, snapshot);
    } finally {
      snapshot?.close();
    }
  }

  private async estimateAndDraw(net: EngineNet, source: FrameSource, snapshot: VideoFrame | null): Promise<void> {
    const s = this.settings;
    const model = s.model;
    const width = source.width();
    const height = source.height();
    const inWorker = net.inWorker;
    if (!inWorker) {
      if (this.frameCanvas.width !== width || this.frameCanvas.height !== height) {
        this.frameCanvas.width = width;
        this.frameCanvas.height = height;
      }
      this.frameCtx.drawImage(source.element, 0, 0, width, height);
    }
    const mediaTime = source.mediaTime();
    const multi = s.mode === 'multi';
    const flip = s.flip;
    // The network reads the copy (see `direct`): the overlay then shows exactly the frame
    // estimated. In a worker, the VideoFrame (or, where VideoFrame refuses the source, the
    // element, which the worker client turns into an ImageBitmap).
    const input: PoseSource = inWorker ? (snapshot ?? source.element) : this.direct ? source.element : this.frameCanvas;
    // Smoothing follows the media's clock; a still image has nothing to smooth across.
    const smoothing = s.smoothing && mediaTime !== null ? smoothingOptions(s.smoothingStrength) : false;
    const timestamp = (mediaTime ?? 0) * 1000;
    const epoch = this.historyEpoch;
    const t0 = performance.now();
    let poses: Pose[];
    try {
      poses = multi
        ? await net.estimateMultiplePoses(input, {
            maxDetections: s.maxDetections,
            scoreThreshold: s.minScore,
            nmsRadius: s.nmsRadius,
            flipHorizontal: flip,
            tracking: true,
            smoothing,
            timestamp,
          })
        : [await net.estimateSinglePose(input, { flipHorizontal: flip, smoothing, timestamp })];
    } catch (err) {
      // A frame cut short by device loss is not a failure of its own: recovery follows.
      if (this.net !== net || this.recovering || (await net.lostSoon())) return;
      this.failedFrames++;
      this.lastError = (err as Error)?.message ?? String(err);
      console.error('poseApp: frame failed:', err);
      this.emit('error', this.lastError);
      this.changed();
      return;
    }
    if (this.net !== net) return;
    // A seek or a new source came while this frame ran: its pose must not seed the new history.
    if (epoch !== this.historyEpoch) net.resetSmoothing();
    // The input size this frame ran at ({ longSide } and targetFps decide it per frame; a
    // switch during the frame applies to the next).
    const resolution = net.lastInputSize ?? net.resolution;
    if (inWorker) this.backdrop.show(source.element, flip);
    else this.backdrop.hide();
    drawOverlay(this.viewCtx, inWorker ? null : this.frameCanvas, width, height, poses, {
      minScore: s.minScore,
      mirrored: flip,
      byInstance: multi,
    });
    const t1 = performance.now();
    const profile = net.lastFrameProfile();
    const timestamps = net.timestampsActive && profile !== null && !(profile.passes.length === 1 && profile.passes[0]!.name === 'frame');
    const previous = this.history[this.history.length - 1];
    const mode = multi ? 'multi' : 'single';
    const warmup =
      !previous ||
      previous.generation !== this.generation ||
      previous.width !== resolution.width ||
      previous.height !== resolution.height ||
      previous.model !== model ||
      previous.mode !== mode;
    this.frames++;
    this.poses = poses;
    this.resolution = resolution;
    if (this.recording && source.kind !== 'image') this.recording.push(toPoseRecord(this.recording.length, mediaTime, resolution, poses));
    const record: FrameRecord = {
      frame: this.frames,
      source: `${source.kind}: ${source.label}`,
      mediaTime,
      warmup,
      width: resolution.width,
      height: resolution.height,
      model,
      mode,
      gpuMs: timestamps ? span(profile!) : null,
      passSumMs: timestamps ? profile!.passes.reduce((a, p) => a + p.durationMs, 0) : null,
      encodeMs: net.lastTiming.encodeMs,
      latencyMs: net.lastTiming.latencyMs,
      endToEndMs: t1 - t0,
      t: t1,
      gpuBytes: net.gpuBytes(),
      gpuBufferBytes: net.gpuBufferBytes(),
      poses: poses.length,
      generation: this.generation,
      profile,
    };
    this.history.push(record);
    if (this.history.length > HISTORY) this.history.shift();
    this.emit('frame', record);
  }

  /**
   * The picture as shown, frame and poses, on a canvas (for a snapshot): the view itself on
   * the page's thread; in a worker, the source element's current frame drawn with the last
   * poses on a new canvas.
   */
  picture(): HTMLCanvasElement {
    const element = this.backdrop.shown;
    if (!element) return this.view;
    const width = element instanceof HTMLVideoElement ? element.videoWidth : element.naturalWidth;
    const height = element instanceof HTMLVideoElement ? element.videoHeight : element.naturalHeight;
    const canvas = document.createElement('canvas');
    const s = this.settings;
    drawOverlay(canvas.getContext('2d')!, element, width, height, this.poses, {
      minScore: s.minScore,
      mirrored: this.backdrop.mirrored,
      byInstance: s.mode === 'multi',
    });
    return canvas;
  }

  /** Records of the current PoseNet, model, resolution and mode: what the statistics describe. */
  currentRecords(limit = STATS_WINDOW): FrameRecord[] {
    const last = this.history[this.history.length - 1];
    if (!last) return [];
    const out: FrameRecord[] = [];
    for (let i = this.history.length - 1; i >= 0 && out.length < limit; i--) {
      const r = this.history[i]!;
      if (
        r.generation !== last.generation ||
        r.width !== last.width ||
        r.height !== last.height ||
        r.model !== last.model ||
        r.mode !== last.mode
      )
        break;
      out.unshift(r);
    }
    return out;
  }

  private async recover(info: LostInfo): Promise<void> {
    if (this.recovering) return;
    this.deviceLosses++;
    const t0 = performance.now();
    const lost = this.net;
    this.status = 'recovering';
    this.emit('device', { kind: 'lost', reason: info.reason, message: info.message });
    this.changed();
    this.recovering = (async () => {
      this.net = null;
      // What targetFps measured on the lost device is a fair start on its replacement.
      this.targetFpsSeed = measuredSizes(lost);
      try {
        lost?.dispose();
      } catch {
        // Its device is gone; nothing to release.
      }
      try {
        await this.attach(null);
        this.dirty = true;
        this.status = this.source ? 'running' : 'waiting-for-source';
        const ms = performance.now() - t0;
        this.emit('device', { kind: 'recovered', reason: info.reason, message: info.message, ms });
      } catch (err) {
        this.status = 'failed';
        this.lastError = `could not make a new GPU device: ${(err as Error)?.message ?? String(err)}`;
        this.emit('device', { kind: 'recovery-failed', reason: info.reason, message: this.lastError });
      }
      this.changed();
    })();
    try {
      await this.recovering;
    } finally {
      this.recovering = null;
    }
  }

  /** Stops the loop and releases the GPU (the device is destroyed on purpose: not a loss). */
  dispose(): void {
    this.stopped = true;
    this.unwatchSource?.();
    this.source?.stop();
    this.net?.dispose();
    this.net = null;
  }
}

/** First pass's beginning to last pass's end, in ms. */
export function span(profile: FrameProfile): number {
  let begin = Infinity;
  let end = -Infinity;
  for (const p of profile.passes) {
    begin = Math.min(begin, p.startMs);
    end = Math.max(end, p.startMs + p.durationMs);
  }
  return end > begin ? end - begin : 0;
}
