/**
 * The package's createPoseNet: the core's (src/posenet.ts) with the default model when no
 * `weights` are given, and worker mode (`worker: true`) that runs the whole pipeline in a
 * dedicated worker (src/worker/client.ts).
 */
import { defaultWeights } from './default-weights.ts';
import { ModelLoadError, type WeightsSource } from './model/model.ts';
import { createPoseNet as createOnThisThread, type PoseNet, type PoseNetConfig } from './posenet.ts';
import { createWorkerPoseNet, type WorkerPoseNet } from './worker/client.ts';

export interface CreatePoseNetOptions extends Omit<PoseNetConfig, 'weights'> {
  /**
   * The model (see PoseNetConfig.weights). Default: the package's own PoseNet MobileNetV1
   * 0.75 (output stride 16), found relative to this module.
   */
  weights?: WeightsSource;
  /**
   * Run the whole pipeline in a dedicated worker, on a WebGPU device of the worker's own:
   * `true` starts the package's worker (inlined, nothing to host); a Worker you started
   * from `posenet-webgpu/worker` is used as it is (e.g. where a Content-Security-Policy
   * forbids blob: workers). The net is then a WorkerPoseNet: the same API, each call a promise.
   */
  worker?: boolean | Worker;
}

const DEFAULT_HINT =
  'the default model ships in the package under weights/ and is looked up relative to the bundle; if your bundler did not copy it ' +
  '(esbuild does not), copy node_modules/posenet-webgpu/weights/ to the folder above your bundle, or pass `weights` (README: "Use it in your app")';

/** Loads the weights (by default the package's model) and builds a PoseNet, on this thread or in a worker. */
export function createPoseNet(options: CreatePoseNetOptions & { worker: true | Worker }): Promise<WorkerPoseNet>;
export function createPoseNet(options?: CreatePoseNetOptions & { worker?: false }): Promise<PoseNet>;
export function createPoseNet(options?: CreatePoseNetOptions): Promise<PoseNet | WorkerPoseNet>;
export async function createPoseNet(options: CreatePoseNetOptions = {}): Promise<PoseNet | WorkerPoseNet> {
  const { worker, weights, ...rest } = options;
  const fallback = weights === undefined ? defaultWeights() : null;
  if (weights === undefined && !fallback) {
    throw new ModelLoadError(
      `createPoseNet: no \`weights\` given and this module has no URL to find the default model from; pass \`weights\``,
    );
  }
  const config: PoseNetConfig = { ...rest, weights: weights ?? fallback! };
  try {
    if (worker) return await createWorkerPoseNet(config, worker === true ? undefined : worker);
    return await createOnThisThread(config);
  } catch (err) {
    if (fallback && err instanceof ModelLoadError) throw new ModelLoadError(`${err.message}. ${DEFAULT_HINT}`);
    throw err;
  }
}
