/**
 * What the page's engine (PoseApp) needs of a PoseNet, on this thread or in a worker (the
 * "Run in a worker" toggle): the same calls, and synchronous reads of the last frame's
 * profile, the pass statistics and the GPU bytes, which a WorkerPoseNet mirrors from the
 * state its worker sends with every answer.
 *
 * Each EngineNet owns its device: on this thread the one given or requested (watched for
 * uncaptured errors and loss, destroyed by dispose()); in a worker, the worker's.
 */
import { requestPoseNetDevice, type DeviceOptions } from '../gpu/device.ts';
import type { FrameProfile, PassStats } from '../gpu/profiler.ts';
import type { TuningProgress } from '../gpu/tuner.ts';
import type { Manifest } from '../model/manifest.ts';
import type { LoadedWeights } from '../model/model.ts';
import type { Pose } from '../pose/types.ts';
import {
  type AspectResolution,
  createPoseNet,
  type FrameTiming,
  type MultiPoseEstimationOptions,
  type PoseNet,
  type PoseSource,
  type Resolution,
  type ResolutionSpec,
  type SinglePoseOptions,
  type TargetFps,
} from '../posenet.ts';
import { createWorkerPoseNet, type WorkerPoseNet } from '../worker/client.ts';
import { lostSoon, watchDevice } from './device-loss.ts';

export interface LostInfo {
  reason: string;
  message: string;
}

export interface EngineNet {
  /** The PoseNet behind it: on this thread, or the worker's proxy. */
  readonly posenet: PoseNet | WorkerPoseNet;
  readonly inWorker: boolean;
  /** This thread's device; null in a worker. */
  readonly device: GPUDevice | null;
  /** The adapter, for display. */
  readonly adapterInfo: string;
  readonly manifest: Manifest;
  /** The resolution the next frame runs at (with `{ longSide }`: the last frame's, N x N before any). */
  readonly resolution: Resolution;
  /** The input size the last frame ran at (null before any): what its poses are labelled with. */
  readonly lastInputSize: Resolution | null;
  /** The resolution as set: `{ width, height }` or `{ longSide }`. */
  readonly resolutionSpec: Resolution | AspectResolution;
  /** targetFps's choice and why (in a worker, as of its last answer), or null when off. */
  readonly targetFpsChoice: PoseNet['targetFpsChoice'];
  readonly lastTiming: FrameTiming;
  readonly timestampsActive: boolean;
  readonly timestampsSupported: boolean;
  /** Kernel variant tuning at the current resolution (in a worker, as of its last answer). */
  readonly tuning: TuningProgress;
  /** Checked first by the caller (checkResolution); in a worker, other failures arrive through onAsyncError. */
  setResolution(resolution: ResolutionSpec): void;
  /** The flip test on or off for later frames; in a worker, failures arrive through onAsyncError. */
  setFlipTest(on: boolean): void;
  /** targetFps on (with measured sizes to start from) or off; in a worker, failures arrive through onAsyncError. */
  setTargetFps(target: TargetFps | null, seed?: { size: number; ms: number }[]): void;
  setModel(loaded: LoadedWeights): Promise<void>;
  /** Forgets the smoothing history and tracks; in a worker, before the next frame sent. */
  resetSmoothing(): void;
  estimateSinglePose(source: PoseSource, options: SinglePoseOptions): Promise<Pose>;
  estimateMultiplePoses(source: PoseSource, options: MultiPoseEstimationOptions): Promise<Pose[]>;
  /** The profiler's record of the last frame, or null when it made none. */
  lastFrameProfile(): FrameProfile | null;
  passStats(): PassStats[];
  gpuBytes(): number;
  gpuBufferBytes(): number;
  /** Destroys the device, as a GPU reset would (onLost follows). */
  destroyDevice(): void;
  /** Whether the device is lost or about to be reported lost (a frame failed because of it). */
  lostSoon(): Promise<boolean>;
  /** Releases everything, the device included; not reported as a loss. */
  dispose(): void;
}

export interface EngineNetOptions {
  worker: boolean;
  weights: LoadedWeights;
  resolution: ResolutionSpec;
  /** PoseNetConfig.flipTest. */
  flipTest: boolean;
  /** On this thread: a device to use (else one is requested with deviceOptions). */
  device: GPUDevice | null;
  deviceOptions: DeviceOptions;
  /** Kernel variant tuning (PoseNetConfig.tuning). */
  tuning: 'auto' | 'off';
  /** Every uncaptured GPU error. */
  onError(message: string): void;
  /** A failure that surfaced later than its call (a worker's setResolution). */
  onAsyncError(message: string): void;
  /** The device was lost (not by dispose()). */
  onLost(net: EngineNet, info: LostInfo): void;
}

function describeAdapter(info: { vendor?: string; architecture?: string; description?: string } | undefined): string {
  if (!info) return '';
  return [info.vendor, info.architecture, info.description].filter(Boolean).join(' ');
}

/** The reads that are the same on both threads (a WorkerPoseNet mirrors them from its worker). */
abstract class NetView<P extends PoseNet | WorkerPoseNet> {
  constructor(readonly posenet: P) {}

  get manifest(): Manifest {
    return this.posenet.manifest;
  }
  get lastInputSize(): Resolution | null {
    return this.posenet.lastInputSize;
  }
  get resolutionSpec(): Resolution | AspectResolution {
    return this.posenet.resolutionSpec;
  }
  get targetFpsChoice(): PoseNet['targetFpsChoice'] {
    return this.posenet.targetFpsChoice;
  }
  get lastTiming(): FrameTiming {
    return this.posenet.lastTiming;
  }
  get timestampsActive(): boolean {
    return this.posenet.profiler.timestampsActive;
  }
  get tuning(): TuningProgress {
    return this.posenet.tuning;
  }
  get timestampsSupported(): boolean {
    return this.posenet.profiler.supported;
  }
}

class MainThreadNet extends NetView<PoseNet> implements EngineNet {
  readonly inWorker = false;
  private lastSeen: FrameProfile | null = null;
  private readonly release: () => void;

  constructor(posenet: PoseNet, options: EngineNetOptions) {
    super(posenet);
    const watch = watchDevice(posenet.device, { onError: options.onError, onLost: (info) => options.onLost(this, info) });
    this.release = () => watch.release();
  }

  get device(): GPUDevice {
    return this.posenet.device;
  }
  get adapterInfo(): string {
    return describeAdapter(this.posenet.device.adapterInfo);
  }
  get resolution(): Resolution {
    return this.posenet.resolution;
  }
  setResolution(resolution: ResolutionSpec): void {
    this.posenet.setResolution(resolution);
  }
  setFlipTest(on: boolean): void {
    this.posenet.setFlipTest(on);
  }
  setTargetFps(target: TargetFps | null, seed?: { size: number; ms: number }[]): void {
    this.posenet.setTargetFps(target, seed);
  }
  setModel(loaded: LoadedWeights): Promise<void> {
    return this.posenet.setModel(loaded);
  }
  resetSmoothing(): void {
    this.posenet.resetSmoothing();
  }
  estimateSinglePose(source: PoseSource, options: SinglePoseOptions): Promise<Pose> {
    return this.posenet.estimateSinglePose(source, options);
  }
  estimateMultiplePoses(source: PoseSource, options: MultiPoseEstimationOptions): Promise<Pose[]> {
    return this.posenet.estimateMultiplePoses(source, options);
  }
  lastFrameProfile(): FrameProfile | null {
    const frames = this.posenet.profiler.lastFrames();
    const last = frames[frames.length - 1] ?? null;
    if (last === this.lastSeen) return null;
    this.lastSeen = last;
    return last;
  }
  passStats(): PassStats[] {
    return this.posenet.profiler.stats();
  }
  gpuBytes(): number {
    return this.posenet.gpuBytes();
  }
  gpuBufferBytes(): number {
    return this.posenet.ledger.bytes(false);
  }
  destroyDevice(): void {
    this.posenet.device.destroy();
  }
  lostSoon(): Promise<boolean> {
    return lostSoon(this.posenet.device);
  }
  dispose(): void {
    this.posenet.dispose();
    this.release();
  }
}

class WorkerNet extends NetView<WorkerPoseNet> implements EngineNet {
  readonly inWorker = true;
  readonly device = null;
  /** Set by setResolution until the worker has answered it (the next frame sent runs at it). */
  private requested: Resolution | null = null;
  private disposed = false;

  constructor(
    posenet: WorkerPoseNet,
    private readonly options: EngineNetOptions,
  ) {
    super(posenet);
    posenet.onGpuError = options.onError;
    void posenet.lost.then((info) => {
      if (!this.disposed) options.onLost(this, info);
    });
  }

  get adapterInfo(): string {
    return `${describeAdapter(this.posenet.created.adapter)} (in a worker)`;
  }
  get resolution(): Resolution {
    return this.requested ?? this.posenet.resolution;
  }
  setResolution(resolution: ResolutionSpec): void {
    const spec = typeof resolution === 'number' ? { width: resolution, height: resolution } : resolution;
    const requested = 'longSide' in spec ? { width: spec.longSide, height: spec.longSide } : { ...spec };
    this.requested = requested;
    this.posenet.setResolution(resolution).then(
      () => {
        if (this.requested === requested) this.requested = null;
      },
      (err: Error) => {
        if (this.requested === requested) this.requested = null;
        this.options.onAsyncError(`${describeSpec(spec)} cannot run here: ${err.message}`);
      },
    );
  }
  setFlipTest(on: boolean): void {
    this.posenet.setFlipTest(on).catch((err: Error) => this.options.onAsyncError(`flip test ${on ? 'on' : 'off'}: ${err.message}`));
  }
  setTargetFps(target: TargetFps | null, seed?: { size: number; ms: number }[]): void {
    this.posenet.setTargetFps(target, seed).catch((err: Error) => this.options.onAsyncError(`targetFps: ${err.message}`));
  }
  async setModel(loaded: LoadedWeights): Promise<void> {
    await this.posenet.setModel(loaded);
    this.requested = null;
  }
  resetSmoothing(): void {
    void this.posenet.resetSmoothing().catch(() => undefined);
  }
  estimateSinglePose(source: PoseSource, options: SinglePoseOptions): Promise<Pose> {
    return this.posenet.estimateSinglePose(source, options);
  }
  estimateMultiplePoses(source: PoseSource, options: MultiPoseEstimationOptions): Promise<Pose[]> {
    return this.posenet.estimateMultiplePoses(source, options);
  }
  lastFrameProfile(): FrameProfile | null {
    return this.posenet.state.frameProfile;
  }
  passStats(): PassStats[] {
    return this.posenet.state.passStats;
  }
  gpuBytes(): number {
    return this.posenet.state.gpuBytes;
  }
  gpuBufferBytes(): number {
    return this.posenet.state.gpuBufferBytes;
  }
  destroyDevice(): void {
    void this.posenet.destroyDevice().catch(() => undefined);
  }
  lostSoon(): Promise<boolean> {
    return Promise.race([this.posenet.lost.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 300))]);
  }
  dispose(): void {
    this.disposed = true;
    void this.posenet.dispose();
  }
}

function describeSpec(spec: Resolution | AspectResolution): string {
  return 'longSide' in spec ? `long side ${spec.longSide}` : `${spec.width} × ${spec.height}`;
}

/**
 * The current frame of a <video> or an <img> as a VideoFrame, which a WorkerPoseNet
 * transfers (a clone of it) without a pixel copy on this thread; null where VideoFrame is
 * missing or refuses the source (then the caller copies it into a canvas).
 */
export function frameSnapshot(element: HTMLVideoElement | HTMLImageElement): VideoFrame | null {
  if (typeof VideoFrame === 'undefined') return null;
  try {
    return element instanceof HTMLVideoElement ? new VideoFrame(element) : new VideoFrame(element, { timestamp: 0 });
  } catch {
    return null;
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Makes a net with its profiler on. A new device (after a loss) may be refused at first,
 * so a net without a given device is tried a few times.
 */
export async function createEngineNet(options: EngineNetOptions, attempts = 4): Promise<EngineNet> {
  let last: unknown;
  for (let i = 0; i < attempts; i++) {
    try {
      if (options.worker) {
        const posenet = await createWorkerPoseNet({
          weights: options.weights,
          resolution: options.resolution,
          flipTest: options.flipTest,
          deviceOptions: options.deviceOptions,
          tuning: options.tuning,
        });
        await posenet.profiler.setEnabled(true);
        return new WorkerNet(posenet, options);
      }
      const device = options.device ?? (await requestPoseNetDevice(options.deviceOptions));
      let posenet: PoseNet;
      try {
        posenet = await createPoseNet({
          weights: options.weights,
          resolution: options.resolution,
          flipTest: options.flipTest,
          device,
          tuning: options.tuning,
        });
      } catch (err) {
        if (!options.device) device.destroy();
        throw err;
      }
      posenet.profiler.setEnabled(true);
      return new MainThreadNet(posenet, options);
    } catch (err) {
      last = err;
      if (options.device) break;
      await sleep(250 * 2 ** i);
    }
  }
  throw last;
}
