/**
 * The worker side of worker mode: one PoseNet, made on the worker's own GPUDevice, and
 * the calls of its WorkerPoseNet (src/worker/client.ts) run on it in the order they come.
 * Frames arrive as transferred ImageBitmap / VideoFrame objects and are closed once the
 * frame has run. Every answer carries the net's state (protocol.ts WorkerState).
 *
 * The device's uncaptured errors and its loss are posted to the client; a loss caused by
 * dispose() or destroyDevice() is not one the client needs to hear about twice.
 */
import type { FrameProfile } from '../gpu/profiler.ts';
import { createPoseNet, type PoseNet, type PoseNetConfig } from '../posenet.ts';
import {
  type FromWorker,
  PROXIED_METHODS,
  PROXIED_PROFILER_METHODS,
  serializeError,
  type ToWorker,
  transferablesIn,
  type WorkerCreated,
  type WorkerState,
} from './protocol.ts';

/** The parts of DedicatedWorkerGlobalScope used here (the project's types are the DOM's). */
interface WorkerScope {
  postMessage(message: FromWorker, transfer?: Transferable[]): void;
  addEventListener(type: 'message', listener: (event: MessageEvent<ToWorker>) => void): void;
}

const scope = self as unknown as WorkerScope;
let net: PoseNet | null = null;
/** The profile last sent, so that a call that ran no frame does not send it again. */
let lastProfileSent: FrameProfile | null = null;
let disposing = false;
/** Calls still running, which dispose() lets finish. */
const running = new Set<Promise<unknown>>();

function post(message: FromWorker, transfer: Transferable[] = []): void {
  try {
    scope.postMessage(message, transfer);
  } catch (err) {
    // An answer that cannot be cloned must still answer its call.
    if (!('id' in message)) throw err;
    const error = new Error(`posenet-webgpu worker: the answer could not be sent (${(err as Error).message})`);
    scope.postMessage({ type: 'error', id: message.id, error: serializeError(error) });
  }
}

function state(n: PoseNet): WorkerState {
  const frames = n.profiler.lastFrames();
  const last = frames[frames.length - 1] ?? null;
  const frameProfile = last && last !== lastProfileSent ? last : null;
  if (frameProfile) lastProfileSent = frameProfile;
  return {
    resolution: n.resolution,
    resolutionSpec: n.resolutionSpec,
    lastInputSize: n.lastInputSize,
    flipTest: n.flipTest,
    targetFpsChoice: n.targetFpsChoice,
    lastTiming: n.lastTiming,
    frameCount: n.frameCount,
    lastMultiPoseStats: n.lastMultiPoseStats,
    fit: n.fit,
    gpuBytes: n.gpuBytes(),
    gpuBufferBytes: n.ledger.bytes(false),
    profilerEnabled: n.profiler.enabled,
    timestampsActive: n.profiler.timestampsActive,
    frameProfile,
    passStats: n.profiler.enabled ? n.profiler.stats() : [],
    tuning: n.tuning,
  };
}

function created(n: PoseNet): WorkerCreated {
  const info = n.device.adapterInfo;
  return {
    manifest: n.manifest,
    uploadPath: n.uploadPath,
    debug: n.debug,
    profilerSupported: n.profiler.supported,
    adapter: { vendor: info?.vendor ?? '', architecture: info?.architecture ?? '', description: info?.description ?? '' },
  };
}

function need(): PoseNet {
  if (!net) throw new Error('posenet-webgpu worker: the net is not made yet, or was disposed');
  return net;
}

/** Frames handed over with a call: the worker owns them now and closes them after the call. */
function closeFrames(args: unknown[]): void {
  for (const a of args) {
    if (
      (typeof ImageBitmap !== 'undefined' && a instanceof ImageBitmap) ||
      (typeof VideoFrame !== 'undefined' && a instanceof VideoFrame)
    ) {
      a.close();
    }
  }
}

async function handle(msg: ToWorker): Promise<void> {
  switch (msg.type) {
    case 'create': {
      const n = await createPoseNet(msg.config as unknown as PoseNetConfig);
      net = n;
      n.device.onuncapturederror = (event) => {
        post({ type: 'gpu-error', message: `${event.error.constructor?.name ?? 'GPUError'}: ${event.error.message}` });
      };
      void n.device.lost.then((info) => {
        if (!disposing) post({ type: 'lost', reason: info.reason, message: info.message });
      });
      post({ type: 'result', id: msg.id, value: undefined, state: state(n), created: created(n) });
      return;
    }
    case 'call': {
      if (!(PROXIED_METHODS as readonly string[]).includes(msg.method)) throw new Error(`posenet-webgpu worker: no method ${msg.method}`);
      const n = need();
      try {
        const method = n[msg.method] as (...args: unknown[]) => unknown;
        const value = await method.apply(n, msg.args);
        const extra = msg.method === 'setModel' ? { created: created(n) } : {};
        post({ type: 'result', id: msg.id, value, state: state(n), ...extra }, transferablesIn(value));
      } finally {
        closeFrames(msg.args);
      }
      return;
    }
    case 'profiler': {
      if (!(PROXIED_PROFILER_METHODS as readonly string[]).includes(msg.method)) {
        throw new Error(`posenet-webgpu worker: no profiler method ${msg.method}`);
      }
      const n = need();
      const method = n.profiler[msg.method] as (...args: unknown[]) => unknown;
      const value = await method.apply(n.profiler, msg.args);
      post({ type: 'result', id: msg.id, value, state: state(n) });
      return;
    }
    case 'set': {
      const n = need();
      if (msg.property !== 'fit') throw new Error(`posenet-webgpu worker: ${String(msg.property)} cannot be set`);
      n.fit = msg.value as PoseNet['fit'];
      post({ type: 'result', id: msg.id, value: undefined, state: state(n) });
      return;
    }
    case 'destroyDevice': {
      const n = need();
      n.device.destroy();
      post({ type: 'result', id: msg.id, value: undefined, state: state(n) });
      return;
    }
    case 'dispose': {
      await Promise.allSettled(running);
      disposing = true;
      const n = net;
      net = null;
      if (n) {
        n.dispose();
        // The worker made this device, so it is the worker's to destroy.
        n.device.destroy();
      }
      post({ type: 'result', id: msg.id, value: undefined, ...(n ? { state: state(n) } : {}) });
      return;
    }
  }
}

scope.addEventListener('message', (event) => {
  const msg = event.data;
  const done = handle(msg).catch((err: unknown) => {
    if (msg.type === 'call') closeFrames(msg.args);
    post({ type: 'error', id: msg.id, error: serializeError(err), ...(net ? { state: state(net) } : {}) });
  });
  if (msg.type !== 'dispose') {
    running.add(done);
    void done.finally(() => running.delete(done));
  }
});
