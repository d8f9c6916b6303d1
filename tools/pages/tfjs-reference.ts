/**
 * The TF.js PoseNet reference in the browser: `@tensorflow-models/posenet` 2.2.2 over the
 * original TF.js graph model (weights/tfjs/<name>/model.json, patched by
 * tools/lib/tfjs-posenet.ts so that it runs at any resolution and posenet reads its outputs
 * in the right order), on a chosen TF.js backend (webgpu, webgl, wasm or cpu).
 *
 * Used by the benchmark (tools/pages/bench.ts) and meant for other browser-side tools
 * (e.g. TF.js AP in the eval tool):
 *
 * ```ts
 * import { loadTfjsPoseNet } from '../pages/tfjs-reference.ts';
 * const ref = await loadTfjsPoseNet({ backend: 'wasm', resolution: 257 });
 * const pose = await ref.estimateSinglePose(imageBitmap); // keypoints in source pixels
 * ref.setResolution(513, 385);
 * ref.dispose();
 * ```
 *
 * The page must be served by a Vite server that pre-bundles TF.js (TF.js imports CommonJS
 * packages): tools/lib/browser-run.ts's `TFJS_VITE_CONFIG` does that. Backends are imported
 * on first use, so a page that never asks for TF.js does not load it. In Node (the tools'
 * node runtime) the webgpu backend runs on Dawn's `navigator.gpu`, which
 * tools/lib/runtime-node.ts provides, and sources are decoded RGBA pixels.
 */
import type * as tfc from '@tensorflow/tfjs-core';
import type { GraphModel } from '@tensorflow/tfjs-converter';
import type * as posenetNs from '@tensorflow-models/posenet';

import { loadPosenetGraphModel, makePosenet } from '../lib/tfjs-posenet.ts';
import type { TfjsModelJson } from '../lib/tfjs-model.ts';
import { platform } from './platform.ts';

export type TfjsBackendName = 'webgpu' | 'webgl' | 'wasm' | 'cpu';
export const TFJS_BACKENDS: readonly TfjsBackendName[] = ['webgpu', 'webgl', 'wasm', 'cpu'];

/** The TF.js copy of the default model, as `npm run weights` writes it. */
export const DEFAULT_TFJS_MODEL_URL = '/weights/tfjs/posenet-mobilenet-v1-075-s16/model.json';
/** Where the Vite dev server serves tfjs-backend-wasm's .wasm files. */
export const DEFAULT_WASM_PATH = '/node_modules/@tensorflow/tfjs-backend-wasm/dist/';

/** The pose format of @tensorflow-models/posenet (ours is the same). */
export type TfjsPose = posenetNs.Pose;
type PosenetInput = Parameters<posenetNs.PoseNet['estimateSinglePose']>[0];
/**
 * Anything posenet's estimateSinglePose takes; an ImageBitmap works too, and RGBA pixels as
 * `{ data: Uint8Array, width, height }` (tf.browser.fromPixels reads both).
 */
export type TfjsPoseSource = PosenetInput | ImageBitmap | { data: Uint8Array; width: number; height: number };

export interface ResolutionLike {
  width: number;
  height: number;
}

let tfModule: Promise<typeof tfc> | undefined;
/** @tensorflow/tfjs-core, loaded once. */
export function tfCore(): Promise<typeof tfc> {
  tfModule ??= import('@tensorflow/tfjs-core');
  return tfModule;
}

/** Registers (imports) a backend's package and makes it the active backend; throws naming the backend when it cannot start. */
export async function useTfjsBackend(name: TfjsBackendName, options: { wasmPath?: string } = {}): Promise<void> {
  const tf = await tfCore();
  switch (name) {
    case 'webgpu':
      if (!globalThis.navigator?.gpu) throw new Error('tfjs-webgpu: navigator.gpu is missing (WebGPU is off here)');
      await import('@tensorflow/tfjs-backend-webgpu');
      break;
    case 'webgl':
      await import('@tensorflow/tfjs-backend-webgl');
      break;
    case 'wasm': {
      const wasm = await import('@tensorflow/tfjs-backend-wasm');
      wasm.setWasmPaths(options.wasmPath ?? DEFAULT_WASM_PATH);
      break;
    }
    case 'cpu':
      await import('@tensorflow/tfjs-backend-cpu');
      break;
    default:
      throw new Error(`unknown TF.js backend "${String(name)}" (expected one of ${TFJS_BACKENDS.join(', ')})`);
  }
  let ok: boolean;
  try {
    ok = await tf.setBackend(name);
    await tf.ready();
  } catch (err) {
    throw new Error(`tfjs-${name}: the backend failed to start: ${(err as Error).message ?? String(err)}`);
  }
  if (!ok || tf.getBackend() !== name) {
    throw new Error(`tfjs-${name}: the backend failed to start (tf.setBackend returned ${ok}; active backend: ${tf.getBackend()})`);
  }
}

/** A graph model's model.json and the bytes of its weight shards (over HTTP, or from disk in Node). */
export async function fetchGraphModelFiles(modelUrl: string): Promise<{ json: TfjsModelJson; shards: Uint8Array[] }> {
  let json: TfjsModelJson;
  try {
    json = JSON.parse(new TextDecoder().decode(await platform().readBytes(modelUrl))) as TfjsModelJson;
  } catch (err) {
    throw new Error(`TF.js model ${modelUrl}: ${(err as Error).message} (run \`npm run weights\`?)`);
  }
  const base = modelUrl.slice(0, modelUrl.lastIndexOf('/') + 1);
  const shards = await Promise.all(
    json.weightsManifest.flatMap((group) =>
      group.paths.map(async (p) => {
        try {
          return await platform().readBytes(base + p);
        } catch (err) {
          throw new Error(`TF.js model shard ${base + p}: ${(err as Error).message}`);
        }
      }),
    ),
  );
  return { json, shards };
}

export interface TfjsPoseNetOptions {
  backend: TfjsBackendName;
  /** A number for square, or {width, height}; each k*outputStride+1. Default 257. */
  resolution?: number | ResolutionLike;
  /** URL of the TF.js graph model's model.json (default: the default model's TF.js copy). */
  modelUrl?: string;
  /** The model's output stride (default 16). */
  outputStride?: 8 | 16 | 32;
  /** Where tfjs-backend-wasm's .wasm files are served. */
  wasmPath?: string;
}

/** posenet.PoseNet over the patched graph model on one backend; the resolution can change without reloading. */
export class TfjsPoseNet {
  private net: posenetNs.PoseNet;
  private disposed = false;

  constructor(
    readonly backend: TfjsBackendName,
    readonly graphModel: GraphModel,
    readonly outputStride: 8 | 16 | 32,
    private res: ResolutionLike,
  ) {
    this.net = makePosenet(graphModel, outputStride, [res.height, res.width]);
  }

  get resolution(): ResolutionLike {
    return { ...this.res };
  }

  /** Switches the input resolution (a new posenet.PoseNet over the same graph model). */
  setResolution(width: number, height: number = width): void {
    if (width === this.res.width && height === this.res.height) return;
    this.net = makePosenet(this.graphModel, this.outputStride, [height, width]);
    this.res = { width, height };
  }

  /** posenet's single-pose estimate: keypoints in source pixels, decoded on the CPU. */
  estimateSinglePose(source: TfjsPoseSource, options: { flipHorizontal?: boolean } = {}): Promise<TfjsPose> {
    if (this.disposed) throw new Error('TfjsPoseNet: used after dispose()');
    return this.net.estimateSinglePose(source as PosenetInput, { flipHorizontal: !!options.flipHorizontal });
  }

  /** posenet's multi-pose decoder, for completeness (same defaults as posenet). */
  estimateMultiplePoses(source: TfjsPoseSource, config?: Partial<posenetNs.MultiPersonInferenceConfig>): Promise<TfjsPose[]> {
    if (this.disposed) throw new Error('TfjsPoseNet: used after dispose()');
    return this.net.estimateMultiplePoses(source as PosenetInput, {
      flipHorizontal: false,
      maxDetections: 5,
      scoreThreshold: 0.5,
      nmsRadius: 20,
      ...config,
    });
  }

  /** Releases the model's tensors (the backend stays registered). */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.graphModel.dispose();
  }
}

function toResolution(r: number | ResolutionLike | undefined): ResolutionLike {
  if (r === undefined) return { width: 257, height: 257 };
  return typeof r === 'number' ? { width: r, height: r } : r;
}

/** Starts the backend, fetches and patches the graph model, and wraps it in posenet. */
export async function loadTfjsPoseNet(options: TfjsPoseNetOptions): Promise<TfjsPoseNet> {
  await useTfjsBackend(options.backend, { wasmPath: options.wasmPath });
  const { json, shards } = await fetchGraphModelFiles(options.modelUrl ?? DEFAULT_TFJS_MODEL_URL);
  const graphModel = await loadPosenetGraphModel(json, shards);
  return new TfjsPoseNet(options.backend, graphModel, options.outputStride ?? 16, toResolution(options.resolution));
}
