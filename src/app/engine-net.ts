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
  createPoseNet,
  type FrameTiming,
  type MultiPoseEstimationOptions,
  type PoseNet,
  type PoseSource,
  type Resolution,
  type SinglePoseOptions,
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
  /** The resolution the next frame runs at. */
  readonly resolution: Resolution;
  readonly lastTiming: FrameTiming;
  readonly timestampsActive: boolean;
  readonly timestampsSupported: boolean;
  /** Kernel variant tuning at the current resolution (in a worker, as of its last answer). */
  readonly tuning: TuningProgress;
  /** Checked first by the caller (checkResolution); in a worker, other failures arrive through onAsyncError. */
  setResolution(width: number, height: number): void;
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
  resolution: Resolution;
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

class MainThreadNet implements EngineNet {
  readonly inWorker = false;
  private lastSeen: FrameProfile | null = null;
  private readonly release: () => void;

  constructor(
    readonly posenet: PoseNet,
    options: EngineNetOptions,
  ) {
    const watch = watchDevice(posenet.device, { onError: options.onError, onLost: (info) => options.onLost(this, info) });
    this.release = () => watch.release();
  }

  get device(): GPUDevice {
    return this.posenet.device;
  }
  get adapterInfo(): string {
    return describeAdapter(this.posenet.device.adapterInfo);
  }
  get manifest(): Manifest {
    return this.posenet.manifest;
  }
  get resolution(): Resolution {
    return this.posenet.resolution;
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
  setResolution(width: number, height: number): void {
    this.posenet.setResolution(width, height);
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

class WorkerNet implements EngineNet {
  readonly inWorker = true;
  readonly device = null;
  /** Set by setResolution until the worker has answered it (the next frame sent runs at it). */
  private requested: Resolution | null = null;
  private disposed = false;

  constructor(
    readonly posenet: WorkerPoseNet,
    private readonly options: EngineNetOptions,
  ) {
    posenet.onGpuError = options.onError;
    void posenet.lost.then((info) => {
      if (!this.disposed) options.onLost(this, info);
    });
  }

  get adapterInfo(): string {
    return `${describeAdapter(this.posenet.created.adapter)} (in a worker)`;
  }
  get manifest(): Manifest {
    return this.posenet.manifest;
  }
  get resolution(): Resolution {
    return this.requested ?? this.posenet.resolution;
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
  setResolution(width: number, height: number): void {
    const requested = { width, height };
    this.requested = requested;
    this.posenet.setResolution(width, height).then(
      () => {
        if (this.requested === requested) this.requested = null;
      },
      (err: Error) => {
        if (this.requested === requested) this.requested = null;
        this.options.onAsyncError(`${width} × ${height} cannot run here: ${err.message}`);
      },
    );
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
          deviceOptions: options.deviceOptions,
          tuning: options.tuning,
        });
        await posenet.profiler.setEnabled(true);
        return new WorkerNet(posenet, options);
      }
      const device = options.device ?? (await requestPoseNetDevice(options.deviceOptions));
      let posenet: PoseNet;
      try {
        posenet = await createPoseNet({ weights: options.weights, resolution: options.resolution, device, tuning: options.tuning });
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
