/**
 * `window.poseApp`: the page's debug handle, for tests and for scripting the page from
 * the console. It exists from the first script tick; until the engine runs (or when the
 * page cannot run: `problem`) its counters are zero and its actions throw.
 *
 * ```js
 * await poseApp.started;             // true once the first pose is drawn, false if the page cannot run
 * poseApp.setResolution(321);        // as clicking the 321 preset
 * await poseApp.waitFrames(2);
 * poseApp.resolution;                // {width: 321, height: 321}: the last completed frame's
 * const p = poseApp.profile();       // per-pass GPU ms, totals, fps, GPU bytes
 * p.trace(10);                       // Chrome trace of the last 10 frames
 * await poseApp.sweep({ resolutions: [161, 257], frames: 5 });
 * poseApp.set({ aspect: true });     // the input follows the source's aspect ratio
 * poseApp.setTargetFps(30);          // then poseApp.targetFps.reason says what it chose and why
 * ```
 */
import type { TargetFpsChoice } from '../plan/target-fps.ts';
import type { Pose } from '../pose/types.ts';
import type { PoseNet, Resolution } from '../posenet.ts';
import type { WorkerPoseNet } from '../worker/client.ts';
import type { AppStatus, FrameRecord, PoseApp, Settings } from './app.ts';
import { computeProfile, type AppProfile } from './metrics.ts';
import type { ModelEntry } from './models.ts';
import type { FrameSource } from './sources.ts';
import type { SweepOptions, SweepPanel, SweepRow } from './sweep.ts';
import type { Diagnosis } from './unsupported.ts';

export interface PoseAppHandle {
  /** True once the first pose has been drawn (stays true through device loss). */
  readonly ready: boolean;
  /** Resolves to true when the first pose is drawn, to false when the page cannot run (see `problem`). Never rejects. */
  readonly started: Promise<boolean>;
  /** `starting`, `waiting-for-source`, `running`, `recovering` (device loss) or `failed`. */
  readonly status: AppStatus;
  /** Why the page cannot run (no WebGPU, no adapter, no weights...), else null. */
  readonly problem: Diagnosis | null;
  /** Completed frames. */
  readonly frames: number;
  /** Frames that threw (not counting those cut short by device loss). */
  readonly failedFrames: number;
  /** Uncaptured GPU errors seen (device.onuncapturederror); should stay 0. */
  readonly errors: number;
  readonly errorMessages: readonly string[];
  /** Input resolution of the last completed frame. */
  readonly resolution: Resolution | null;
  /** Poses of the last completed frame, in source pixels (one in single-pose mode). */
  readonly poses: readonly Pose[];
  /** Current settings (the resolution here is the requested one). */
  readonly settings: Readonly<Settings>;
  /** The last 240 frames: resolution, GPU / CPU ms, GPU bytes, per-pass profile. */
  readonly history: readonly FrameRecord[];
  readonly deviceLosses: number;
  /** The page's device; null while the PoseNet runs in a worker. */
  readonly device: GPUDevice | null;
  /** The PoseNet: on the page's thread, or the worker's proxy (settings.worker). */
  readonly net: PoseNet | WorkerPoseNet | null;
  readonly models: readonly ModelEntry[];
  /** The source frames come from (kind, label, element: the <video> or <img>). */
  readonly source: FrameSource | null;
  readonly multiPoseAvailable: boolean;
  /** Profiler figures (see metrics.ts for definitions) and `trace(n)`. */
  profile(): AppProfile;
  /** Same as the resolution controls; throws a ResolutionError for an invalid size. */
  setResolution(width: number, height?: number): void;
  setModel(name: string): Promise<void>;
  /**
   * Changes minScore, flip, mode, maxDetections, nmsRadius, smoothing, smoothingStrength,
   * continuous, aspect (the input follows the source) or flipTest.
   */
  set(
    patch: Partial<
      Pick<
        Settings,
        | 'minScore'
        | 'flip'
        | 'mode'
        | 'maxDetections'
        | 'nmsRadius'
        | 'smoothing'
        | 'smoothingStrength'
        | 'continuous'
        | 'aspect'
        | 'flipTest'
      >
    >,
  ): void;
  /** As the "Run in a worker" toggle: moves the PoseNet into a worker or back (resolves once the new one is made). */
  setWorker(on: boolean): Promise<void>;
  /** targetFps on (frames per second, optionally from measured { size, ms }) or off (null). */
  setTargetFps(fps: number | null, seed?: { size: number; ms: number }[]): void;
  /** targetFps's choice and why ("481: 24.1 ms at 481, 38.0 at 641; budget 33.3"), or null when off. */
  readonly targetFps: TargetFpsChoice | null;
  /** `device.destroy()`: simulates a GPU reset; the page makes a new device and carries on. */
  loseDevice(): void;
  /** Runs the resolution sweep (as its button) and resolves with its rows. */
  sweep(options?: SweepOptions): Promise<SweepRow[]>;
  /** Resolves with the record of the n-th frame completed from now. */
  waitFrames(n?: number): Promise<FrameRecord>;
}

export interface HandleParts {
  app(): PoseApp | null;
  sweep(): SweepPanel | null;
  problem(): Diagnosis | null;
  ready(): boolean;
  started: Promise<boolean>;
}

function need(app: PoseApp | null): PoseApp {
  if (!app) throw new Error('poseApp: the page is not running (see poseApp.problem / poseApp.status)');
  return app;
}

export function installHandle(parts: HandleParts): PoseAppHandle {
  const handle: PoseAppHandle = {
    get ready() {
      return parts.ready();
    },
    started: parts.started,
    get status() {
      return parts.app()?.status ?? (parts.problem() ? 'failed' : 'starting');
    },
    get problem() {
      return parts.problem();
    },
    get frames() {
      return parts.app()?.frames ?? 0;
    },
    get failedFrames() {
      return parts.app()?.failedFrames ?? 0;
    },
    get errors() {
      return parts.app()?.gpuErrors.length ?? 0;
    },
    get errorMessages() {
      return parts.app()?.gpuErrors ?? [];
    },
    get resolution() {
      const r = parts.app()?.resolution;
      return r ? { ...r } : null;
    },
    get poses() {
      return parts.app()?.poses ?? [];
    },
    get settings() {
      const s = parts.app()?.settings;
      return s ? { ...s, resolution: { ...s.resolution } } : ({} as Settings);
    },
    get history() {
      return parts.app()?.history ?? [];
    },
    get deviceLosses() {
      return parts.app()?.deviceLosses ?? 0;
    },
    get device() {
      return parts.app()?.device ?? null;
    },
    get net() {
      return parts.app()?.net?.posenet ?? null;
    },
    get models() {
      return parts.app()?.models ?? [];
    },
    get source() {
      return parts.app()?.source ?? null;
    },
    get multiPoseAvailable() {
      return parts.app()?.multiPoseAvailable ?? false;
    },
    profile: () => computeProfile(need(parts.app())),
    setResolution: (width, height = width) => need(parts.app()).setResolution(width, height),
    setModel: (name) => need(parts.app()).setModel(name),
    set: (patch) => need(parts.app()).update(patch),
    setWorker: (on) => need(parts.app()).setWorkerMode(on),
    setTargetFps: (fps, seed) => need(parts.app()).setTargetFps(fps, seed),
    get targetFps() {
      return parts.app()?.targetFpsChoice ?? null;
    },
    loseDevice: () => need(parts.app()).loseDevice(),
    sweep: (options) => {
      const panel = parts.sweep();
      if (!panel) throw new Error('poseApp: the page is not running');
      return panel.run(options);
    },
    waitFrames: (n = 1) =>
      new Promise((resolve) => {
        let left = Math.max(1, n);
        const off = need(parts.app()).on('frame', (r) => {
          if (--left === 0) {
            off();
            resolve(r);
          }
        });
      }),
  };
  window.poseApp = handle;
  return handle;
}

declare global {
  interface Window {
    /** The demo page's debug handle (src/app/debug-handle.ts). */
    poseApp: PoseAppHandle;
  }
}
