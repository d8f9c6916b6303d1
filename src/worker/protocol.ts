/**
 * Worker mode's wire: the messages between WorkerPoseNet (src/worker/client.ts, the main
 * thread) and the worker (src/worker/worker-main.ts), and the one list of what a
 * PoseNet member becomes in worker mode (WORKER_MEMBERS).
 *
 * A call is `{ type: 'call', id, method, args }`; its answer carries the value and a
 * WorkerState, the net's observable state after the call, which the client mirrors so
 * that properties (resolution, lastTiming, ...) read synchronously as on the main thread.
 * Frames travel as transferred ImageBitmap or VideoFrame objects; options objects pass
 * through as they are (structured clone), so options the core gains need no code here.
 */
import type { FrameProfile, PassStats, Profiler } from '../gpu/profiler.ts';
import type { TuningProgress } from '../gpu/tuner.ts';
import type { Manifest } from '../model/manifest.ts';
import type { FitMode } from '../pose/types.ts';
import type { PlanOptions } from '../plan/plan.ts';
import type { AspectResolution, FrameTiming, MultiPoseStats, PoseNet, Resolution } from '../posenet.ts';

/** PoseNet methods that run in the worker: each becomes `(...same args) => Promise<same result>`. */
export const PROXIED_METHODS = [
  'estimateSinglePose',
  'estimateMultiplePoses',
  'setResolution',
  'setModel',
  'readHeads',
  'readTensor',
  'gpuBytes',
  'resetSmoothing',
  'tune',
  'tuningTable',
  'setFlipTest',
  'setTargetFps',
  'inputSizeFor',
  'planSizes',
] as const satisfies readonly (keyof PoseNet)[];
export type ProxiedMethod = (typeof PROXIED_METHODS)[number];

/** Profiler methods that run in the worker, as `net.profiler.<name>(...)`, each a promise. */
export const PROXIED_PROFILER_METHODS = ['setEnabled', 'reset', 'stats', 'lastFrames'] as const satisfies readonly (keyof Profiler)[];
export type ProxiedProfilerMethod = (typeof PROXIED_PROFILER_METHODS)[number];

/** What a PoseNet member becomes in worker mode. */
export type WorkerMember =
  /** A method that runs in the worker; the proxy's returns a promise. */
  | { kind: 'call' }
  /** A property read from the state the worker sends with every answer (as of the last call). */
  | { kind: 'mirror'; settable?: boolean }
  /** Something else that works, said how. */
  | { kind: 'adapted'; how: string }
  /** Not available: reading it throws a WorkerModeError saying why. */
  | { kind: 'none'; why: string };

const call = { kind: 'call' } as const;
const mirror = { kind: 'mirror' } as const;

/**
 * Every public PoseNet member and what it is in worker mode. Typed as a record over
 * `keyof PoseNet`, so a member added to PoseNet does not compile until it is listed here.
 */
export const WORKER_MEMBERS = {
  estimateSinglePose: call,
  estimateMultiplePoses: call,
  setResolution: call,
  setModel: call,
  readHeads: call,
  readTensor: call,
  gpuBytes: call,
  resetSmoothing: call,
  tune: call,
  tuningTable: { kind: 'adapted', how: 'runs in the worker and returns a promise of the table' },
  tuning: mirror,
  setFlipTest: call,
  flipTest: mirror,
  setTargetFps: call,
  targetFpsChoice: mirror,
  lastInputSize: mirror,
  resolutionSpec: mirror,
  inputSizeFor: { kind: 'adapted', how: 'runs in the worker and returns a promise of the size' },
  planSizes: { kind: 'adapted', how: 'runs in the worker and returns a promise of the sizes' },
  prepareFrame: { kind: 'none', why: 'its plan and GPU buffers live in the worker; run a custom network on the main thread (no `worker`)' },
  dispose: { kind: 'adapted', how: 'returns a promise; disposes the net, destroys the worker’s device and ends the worker' },
  profiler: {
    kind: 'adapted',
    how: 'setEnabled, reset, stats and lastFrames run in the worker (promises); enabled, supported and timestampsActive are mirrored',
  },
  lost: { kind: 'adapted', how: 'a promise of { reason, message } when the worker’s device is lost (not when it is disposed)' },
  manifest: mirror,
  resolution: mirror,
  lastTiming: mirror,
  frameCount: mirror,
  lastMultiPoseStats: mirror,
  uploadPath: mirror,
  debug: mirror,
  fit: { kind: 'mirror', settable: true },
  device: {
    kind: 'none',
    why: 'the GPUDevice lives in the worker and cannot cross threads; create the net on the main thread (no `worker`) to share a device',
  },
  kernels: { kind: 'none', why: 'the pipeline cache lives in the worker with its device' },
  ledger: { kind: 'none', why: 'the GPU resources live in the worker; use `await net.gpuBytes()` or `net.state.gpuBytes`' },
  plan: { kind: 'none', why: 'the plan’s GPU buffers live in the worker; `net.resolution` and `await net.profiler.stats()` describe it' },
} as const satisfies Record<keyof PoseNet, WorkerMember>;

/** The net's observable state after a call, mirrored by the client. */
export interface WorkerState {
  resolution: Resolution;
  /** The resolution as set: `{ width, height }` or `{ longSide }`. */
  resolutionSpec: Resolution | AspectResolution;
  /** The input size the last frame ran at (null before any). */
  lastInputSize: Resolution | null;
  flipTest: boolean;
  /** targetFps's choice and why, or null when off. */
  targetFpsChoice: PoseNet['targetFpsChoice'];
  lastTiming: FrameTiming;
  frameCount: number;
  lastMultiPoseStats: MultiPoseStats;
  fit: FitMode;
  /** Bytes of GPU buffers and textures the net holds. */
  gpuBytes: number;
  /** Of which buffers. */
  gpuBufferBytes: number;
  profilerEnabled: boolean;
  timestampsActive: boolean;
  /** The profiler's record of the frame this call ran, or null (no frame, or the profiler made none). */
  frameProfile: FrameProfile | null;
  /** The profiler's rolling per-pass statistics (empty while it is off). */
  passStats: PassStats[];
  /** Kernel variant tuning at the current resolution. */
  tuning: TuningProgress;
}

/** What the worker says once the net is made (the parts that change only with setModel come again then). */
export interface WorkerCreated {
  manifest: Manifest;
  uploadPath: 'copy' | 'cpu';
  debug: PlanOptions;
  profilerSupported: boolean;
  /** The adapter, e.g. `google swiftshader Vulkan...`, for display. */
  adapter: { vendor: string; architecture: string; description: string };
}

export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
}

export type ToWorker =
  | { type: 'create'; id: number; config: Record<string, unknown> }
  | { type: 'call'; id: number; method: ProxiedMethod; args: unknown[] }
  | { type: 'profiler'; id: number; method: ProxiedProfilerMethod; args: unknown[] }
  | { type: 'set'; id: number; property: 'fit'; value: unknown }
  /** Debugging: destroys the worker's device as a GPU reset would. */
  | { type: 'destroyDevice'; id: number }
  | { type: 'dispose'; id: number };

export type FromWorker =
  | { type: 'result'; id: number; value: unknown; state?: WorkerState; created?: WorkerCreated }
  | { type: 'error'; id: number; error: SerializedError; state?: WorkerState }
  /** An uncaptured WebGPU error of the worker's device. */
  | { type: 'gpu-error'; message: string }
  | { type: 'lost'; reason: string; message: string };

export function serializeError(err: unknown): SerializedError {
  if (err instanceof Error) return { name: err.name, message: err.message, stack: err.stack };
  return { name: 'Error', message: String(err) };
}

/** The ArrayBuffers under a value (typed arrays in results), to transfer rather than copy. */
export function transferablesIn(value: unknown, depth = 3, out: Transferable[] = []): Transferable[] {
  if (ArrayBuffer.isView(value)) {
    if (value.buffer instanceof ArrayBuffer && !out.includes(value.buffer)) out.push(value.buffer);
  } else if (value && typeof value === 'object' && depth > 0) {
    for (const v of Object.values(value)) transferablesIn(v, depth - 1, out);
  }
  return out;
}
