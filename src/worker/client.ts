/**
 * Worker mode, the main thread's side: WorkerPoseNet has PoseNet's API with the pipeline in
 * a dedicated worker (src/worker/worker-main.ts) on the worker's own WebGPU device. Each
 * method that runs there returns a promise; calls reach the worker in the order they were
 * made. Properties (resolution, lastTiming, manifest, ...) are mirrored from the state the
 * worker sends with every answer, so they read synchronously, as of the last answer.
 * protocol.ts WORKER_MEMBERS lists what every PoseNet member becomes here; members that
 * cannot cross threads (device, kernels, ledger, plan) throw a WorkerModeError.
 *
 * Frames cross as transferables, never as copied pixels: a VideoFrame is cloned (the same
 * media, the caller keeps theirs) and the clone transferred; a <video> becomes a VideoFrame;
 * an image, canvas, OffscreenCanvas, ImageData or ImageBitmap becomes an ImageBitmap
 * (createImageBitmap, in the browser) that is transferred. The worker closes them.
 */
import { WebGPUUnavailableError } from '../gpu/device.ts';
import type { FrameProfile, PassStats } from '../gpu/profiler.ts';
import type { TuningProgress } from '../gpu/tuner.ts';
import type { Manifest } from '../model/manifest.ts';
import { isLoadedWeights, ModelLoadError, type WeightsSource } from '../model/model.ts';
import type { PlanOptions } from '../plan/plan.ts';
import { ResolutionError } from '../plan/shapes.ts';
import type { FitMode } from '../pose/types.ts';
import type { AspectResolution, FrameTiming, MultiPoseStats, PoseNet, PoseNetConfig, Resolution } from '../posenet.ts';
import {
  type FromWorker,
  type ProxiedMethod,
  type ProxiedProfilerMethod,
  type SerializedError,
  type ToWorker,
  WORKER_MEMBERS,
  type WorkerCreated,
  type WorkerState,
} from './protocol.ts';
import { spawnPoseNetWorker } from './spawn.ts';

/** A PoseNet member or a source that worker mode cannot offer, or a worker that failed. */
export class WorkerModeError extends Error {
  override name = 'WorkerModeError';
}

/** createPoseNet's options in worker mode: as on the main thread, less `device` (the worker makes its own). */
export type WorkerPoseNetConfig = Omit<PoseNetConfig, 'device'>;

/** What `lost` resolves to (a GPUDeviceLostInfo's fields). */
export interface WorkerDeviceLost {
  reason: string;
  message: string;
}

/** Errors the core throws by class, so that `instanceof` works on the main thread too. */
const ERROR_CLASSES: Record<string, new (message: string) => Error> = {
  ResolutionError,
  ModelLoadError,
  WebGPUUnavailableError,
  WorkerModeError,
};

function reviveError(e: SerializedError): Error {
  const Class = ERROR_CLASSES[e.name];
  const err = Class ? new Class(e.message) : new Error(e.message);
  if (!Class) err.name = e.name;
  if (e.stack) err.stack = `${err.name}: ${e.message}\n    (in the posenet-webgpu worker)\n${e.stack.split('\n').slice(1).join('\n')}`;
  return err;
}

function notProxied(member: string, why: string): WorkerModeError {
  return new WorkerModeError(`PoseNet.${member} is not available in worker mode: ${why}`);
}

function baseUrl(): string | undefined {
  return (globalThis as { document?: Document }).document?.baseURI ?? globalThis.location?.href;
}

/** URLs resolved here, against the page: the worker's own base is its script's. */
function absoluteWeights(weights: WeightsSource): WeightsSource {
  if (isLoadedWeights(weights)) return weights;
  const abs = (u: string | URL) => new URL(String(u), baseUrl()).href;
  if (typeof weights === 'object' && !(weights instanceof URL)) {
    return { manifestUrl: abs(weights.manifestUrl), weightsUrl: abs(weights.weightsUrl) };
  }
  return abs(weights);
}

/**
 * The transferable frame for a source argument (null: not a source, sent as it is): a new
 * VideoFrame or ImageBitmap that the worker will own; the caller's source is left as it was.
 */
async function transferableFrame(value: unknown, method: string): Promise<ImageBitmap | VideoFrame | null> {
  if (typeof GPUTexture !== 'undefined' && value instanceof GPUTexture) {
    throw new WorkerModeError(
      `${method}: a GPUTexture cannot be used in worker mode (it belongs to a device on this thread); pass a video, image, canvas, ImageBitmap or VideoFrame`,
    );
  }
  if (typeof VideoFrame !== 'undefined' && value instanceof VideoFrame) return value.clone();
  if (typeof HTMLVideoElement !== 'undefined' && value instanceof HTMLVideoElement) {
    if (!value.videoWidth || value.readyState < HTMLMediaElement.HAVE_CURRENT_DATA) {
      throw new Error(`${method}: the video has no frame yet (wait for loadeddata)`);
    }
    return typeof VideoFrame !== 'undefined' ? new VideoFrame(value) : createImageBitmap(value);
  }
  if (typeof HTMLImageElement !== 'undefined' && value instanceof HTMLImageElement) {
    if (!value.complete || !value.naturalWidth) throw new Error(`${method}: image ${value.src} is not loaded or could not be decoded`);
    return createImageBitmap(value);
  }
  const bitmapSources = [globalThis.HTMLCanvasElement, globalThis.OffscreenCanvas, globalThis.ImageBitmap, globalThis.ImageData];
  if (bitmapSources.some((type) => type !== undefined && value instanceof type)) {
    const source = value as HTMLCanvasElement | OffscreenCanvas | ImageBitmap | ImageData;
    if (!(source.width > 0 && source.height > 0)) throw new Error(`${method}: source has no pixels (${source.width}x${source.height})`);
    return createImageBitmap(source);
  }
  return null;
}

interface Pending {
  resolve(value: unknown): void;
  reject(err: Error): void;
}

type Outgoing = { message: DistributiveOmit<ToWorker, 'id'>; transfer: Transferable[]; frames: (ImageBitmap | VideoFrame)[] };
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** `net.profiler` in worker mode: the methods run in the worker; the flags are mirrored. */
export class WorkerProfiler {
  constructor(private readonly net: WorkerPoseNet) {}

  get enabled(): boolean {
    return this.net.state.profilerEnabled;
  }

  get supported(): boolean {
    return this.net.created.profilerSupported;
  }

  get timestampsActive(): boolean {
    return this.net.state.timestampsActive;
  }

  setEnabled(on: boolean): Promise<void> {
    return this.call('setEnabled', [on]);
  }

  reset(): Promise<void> {
    return this.call('reset', []);
  }

  stats(): Promise<PassStats[]> {
    return this.call('stats', []);
  }

  lastFrames(): Promise<FrameProfile[]> {
    return this.call('lastFrames', []);
  }

  private call<T>(method: ProxiedProfilerMethod, args: unknown[]): Promise<T> {
    return this.net.send<T>(() => ({ message: { type: 'profiler', method, args }, transfer: [], frames: [] }));
  }
}

export class WorkerPoseNet {
  readonly worker: Worker;
  readonly profiler: WorkerProfiler;
  /** Resolves when the worker's device is lost (or the worker dies); not on dispose(). */
  readonly lost: Promise<WorkerDeviceLost>;
  /** Called with each uncaptured WebGPU error of the worker's device; by default they go to console.error. */
  onGpuError: ((message: string) => void) | null = null;
  /** The state the worker sent with its last answer. */
  private stateValue!: WorkerState;
  private createdValue!: WorkerCreated;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  /** Calls go out in the order they were made, each after its frame is ready. */
  private outgoing: Promise<void> = Promise.resolve();
  private failure: Error | null = null;
  private disposed: Promise<void> | null = null;
  private resolveLost!: (info: WorkerDeviceLost) => void;

  /** Use createPoseNet({ worker: true }) (or createWorkerPoseNet); this wraps a started worker. */
  constructor(worker: Worker) {
    this.worker = worker;
    this.profiler = new WorkerProfiler(this);
    this.lost = new Promise((resolve) => (this.resolveLost = resolve));
    worker.addEventListener('message', (event: MessageEvent<FromWorker>) => this.receive(event.data));
    worker.addEventListener('error', (event: ErrorEvent) => {
      event.preventDefault();
      this.fail(
        new WorkerModeError(
          `the posenet-webgpu worker failed: ${event.message || 'its script could not be loaded or run'}` +
            ' (a Content-Security-Policy without `worker-src blob:` blocks the inlined worker: then pass `worker: new Worker(<posenet-webgpu/worker URL>)`)',
        ),
      );
    });
    worker.addEventListener('messageerror', () =>
      this.fail(new WorkerModeError('a message from the posenet-webgpu worker could not be read')),
    );
  }

  /** The net's state as of the last answer (what the mirrored properties read). */
  get state(): WorkerState {
    return this.stateValue;
  }

  /** What the worker said when the net was made (or the model last changed). */
  get created(): WorkerCreated {
    return this.createdValue;
  }

  get manifest(): Manifest {
    return this.createdValue.manifest;
  }

  get resolution(): Resolution {
    return { ...this.stateValue.resolution };
  }

  /** The resolution as set (`{ width, height }` or `{ longSide }`), as of the last answer. */
  get resolutionSpec(): Resolution | AspectResolution {
    return { ...this.stateValue.resolutionSpec };
  }

  /** The input size the last frame ran at (null before any). */
  get lastInputSize(): Resolution | null {
    const size = this.stateValue.lastInputSize;
    return size ? { ...size } : null;
  }

  /** Whether frames run the flip test, as of the last answer. */
  get flipTest(): boolean {
    return this.stateValue.flipTest;
  }

  /** targetFps's choice and why (null when off), as of the last answer. */
  get targetFpsChoice(): PoseNet['targetFpsChoice'] {
    return this.stateValue.targetFpsChoice;
  }

  get lastTiming(): FrameTiming {
    return this.stateValue.lastTiming;
  }

  get frameCount(): number {
    return this.stateValue.frameCount;
  }

  get lastMultiPoseStats(): MultiPoseStats {
    return this.stateValue.lastMultiPoseStats;
  }

  get uploadPath(): 'copy' | 'cpu' {
    return this.createdValue.uploadPath;
  }

  get debug(): PlanOptions {
    return this.createdValue.debug;
  }

  get fit(): FitMode {
    return this.stateValue.fit;
  }

  /** Tuning progress as of the last answer. */
  get tuning(): TuningProgress {
    return this.stateValue.tuning;
  }

  /** Sets the fit mode of later frames (sent in order with the calls). */
  set fit(mode: FitMode) {
    this.stateValue = { ...this.stateValue, fit: mode };
    void this.send(() => ({ message: { type: 'set', property: 'fit', value: mode }, transfer: [], frames: [] })).catch(() => undefined);
  }

  get device(): never {
    throw notProxied('device', WORKER_MEMBERS.device.why);
  }

  get kernels(): never {
    throw notProxied('kernels', WORKER_MEMBERS.kernels.why);
  }

  get ledger(): never {
    throw notProxied('ledger', WORKER_MEMBERS.ledger.why);
  }

  get plan(): never {
    throw notProxied('plan', WORKER_MEMBERS.plan.why);
  }

  estimateSinglePose(...args: Parameters<PoseNet['estimateSinglePose']>) {
    return this.call('estimateSinglePose', args);
  }

  estimateMultiplePoses(...args: Parameters<PoseNet['estimateMultiplePoses']>) {
    return this.call('estimateMultiplePoses', args);
  }

  /** Rejects with a ResolutionError for an invalid size; the next frame sent uses it. */
  setResolution(...args: Parameters<PoseNet['setResolution']>) {
    return this.call('setResolution', args);
  }

  /** A relative URL is resolved against this page (the worker's base URL is its script's). */
  setModel(weights: WeightsSource) {
    return this.call('setModel', [absoluteWeights(weights)]);
  }

  readHeads(...args: Parameters<PoseNet['readHeads']>) {
    return this.call('readHeads', args);
  }

  readTensor(...args: Parameters<PoseNet['readTensor']>) {
    return this.call('readTensor', args);
  }

  gpuBytes(...args: Parameters<PoseNet['gpuBytes']>) {
    return this.call('gpuBytes', args);
  }

  /** Forgets the worker's smoothing history and tracks (in order with the frames sent). */
  resetSmoothing(...args: Parameters<PoseNet['resetSmoothing']>) {
    return this.call('resetSmoothing', args);
  }

  /** Tunes the current resolution in the worker (see PoseNet.tune). */
  tune(...args: Parameters<PoseNet['tune']>) {
    return this.call('tune', args);
  }

  /** The worker's tuning table, for `createPoseNet({ tuning: table })`. */
  tuningTable(...args: Parameters<PoseNet['tuningTable']>) {
    return this.call('tuningTable', args);
  }

  /** Turns the flip test on or off for the frames sent after it. */
  setFlipTest(...args: Parameters<PoseNet['setFlipTest']>) {
    return this.call('setFlipTest', args);
  }

  /** targetFps on or off in the worker (it measures the worker's frames). */
  setTargetFps(...args: Parameters<PoseNet['setTargetFps']>) {
    return this.call('setTargetFps', args);
  }

  inputSizeFor(...args: Parameters<PoseNet['inputSizeFor']>) {
    return this.call('inputSizeFor', args);
  }

  planSizes(...args: Parameters<PoseNet['planSizes']>) {
    return this.call('planSizes', args);
  }

  get prepareFrame(): never {
    throw notProxied('prepareFrame', WORKER_MEMBERS.prepareFrame.why);
  }

  /** Debugging: destroys the worker's device, as a GPU reset would (`lost` then resolves). */
  destroyDevice(): Promise<void> {
    return this.send(() => ({ message: { type: 'destroyDevice' }, transfer: [], frames: [] }));
  }

  /**
   * Waits for the calls already made, releases every GPU resource, destroys the worker's
   * device and ends the worker. Later calls reject.
   */
  dispose(): Promise<void> {
    if (this.disposed) return this.disposed;
    const done = this.send<void>(() => ({ message: { type: 'dispose' }, transfer: [], frames: [] }));
    this.disposed = done
      .catch(() => undefined)
      .finally(() => {
        this.worker.terminate();
        this.fail(new WorkerModeError('PoseNet: used after dispose()'));
      });
    return this.disposed;
  }

  /** Sends the net's creation (createWorkerPoseNet does; resolves once the worker's net is made). */
  async init(config: WorkerPoseNetConfig): Promise<void> {
    await this.send(() => ({ message: { type: 'create', config: config as Record<string, unknown> }, transfer: [], frames: [] }));
  }

  private call<K extends ProxiedMethod>(method: K, args: unknown[]): Promise<Awaited<ReturnType<PoseNet[K]>>> {
    return this.send(async () => {
      const frames: (ImageBitmap | VideoFrame)[] = [];
      try {
        const sent: unknown[] = [];
        for (const arg of args) {
          const frame = await transferableFrame(arg, method);
          if (frame) frames.push(frame);
          sent.push(frame ?? arg);
        }
        return { message: { type: 'call', method, args: sent }, transfer: [...frames], frames };
      } catch (err) {
        for (const f of frames) f.close();
        throw err;
      }
    });
  }

  /** Queues a message (its preparation may await a frame) and resolves with the worker's answer. */
  send<T>(prepare: () => Outgoing | Promise<Outgoing>): Promise<T> {
    const id = this.nextId++;
    const answer = new Promise<T>((resolve, reject) => this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject }));
    this.outgoing = this.outgoing.then(async () => {
      let out: Outgoing | null = null;
      try {
        if (this.failure) throw this.failure;
        out = await prepare();
        if (this.failure) throw this.failure;
        this.worker.postMessage({ ...out.message, id } as ToWorker, out.transfer);
      } catch (err) {
        for (const f of out?.frames ?? []) f.close();
        const e =
          err instanceof DOMException && err.name === 'DataCloneError'
            ? new WorkerModeError(`${describe(out?.message)}: its arguments must be plain data to reach the worker (${err.message})`)
            : (err as Error);
        this.settle(id, e);
      }
    });
    return answer;
  }

  private settle(id: number, result: { value: unknown } | Error): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    if (result instanceof Error) p.reject(result);
    else p.resolve(result.value);
  }

  private receive(msg: FromWorker): void {
    switch (msg.type) {
      case 'result':
        if (msg.state) this.stateValue = msg.state;
        if (msg.created) this.createdValue = msg.created;
        this.settle(msg.id, { value: msg.value });
        return;
      case 'error':
        if (msg.state) this.stateValue = msg.state;
        this.settle(msg.id, reviveError(msg.error));
        return;
      case 'gpu-error':
        if (this.onGpuError) this.onGpuError(msg.message);
        else console.error(`posenet-webgpu worker: uncaptured WebGPU error: ${msg.message}`);
        return;
      case 'lost':
        this.resolveLost({ reason: msg.reason, message: msg.message });
        return;
    }
  }

  /** The worker is gone or unusable: every waiting call rejects, later ones too. */
  private fail(err: Error): void {
    const first = !this.failure;
    this.failure ??= err;
    for (const id of [...this.pending.keys()]) this.settle(id, err);
    if (first && !this.disposed) this.resolveLost({ reason: 'unknown', message: err.message });
  }
}

function describe(message: DistributiveOmit<ToWorker, 'id'> | undefined): string {
  if (!message) return 'posenet-webgpu worker';
  if (message.type === 'call') return message.method;
  if (message.type === 'profiler') return `profiler.${message.method}`;
  return message.type === 'create' ? 'createPoseNet' : message.type;
}

/**
 * Starts a worker (or takes the one given: e.g. `new Worker(<posenet-webgpu/worker URL>)`
 * where a Content-Security-Policy forbids blob: workers) and makes the net in it. The
 * options are PoseNet's, passed through as they are; relative weights URLs are resolved
 * against this page first.
 */
export async function createWorkerPoseNet(config: WorkerPoseNetConfig, worker?: Worker): Promise<WorkerPoseNet> {
  if ((config as PoseNetConfig).device) {
    throw new WorkerModeError(
      'createPoseNet: `device` cannot be used with `worker` (a GPUDevice cannot cross threads; the worker requests its own: use `deviceOptions`)',
    );
  }
  if ((config as PoseNetConfig).tuningStore) {
    throw new WorkerModeError(
      'createPoseNet: `tuningStore` cannot be used with `worker` (it cannot cross threads; the worker caches tuning in IndexedDB)',
    );
  }
  if (typeof Worker === 'undefined') throw new WorkerModeError('createPoseNet: `worker` needs Web Workers (this context has no Worker)');
  const net = new WorkerPoseNet(worker ?? spawnPoseNetWorker());
  try {
    await net.init({ ...config, weights: absoluteWeights(config.weights) });
  } catch (err) {
    net.worker.terminate();
    throw err;
  }
  return net;
}
