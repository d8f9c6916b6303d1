/**
 * The TF.js PoseNet reference: the human-models PoseNet graph model, fixed so that
 * `@tensorflow-models/posenet` 2.2.2 runs it at any resolution, and helpers to load it with
 * tfjs-converter from memory and wrap it in a `posenet.PoseNet`.
 *
 * What needs fixing (it is data, so a patched copy of model.json does it):
 * - The input is pinned to 1x385x385x3 (Placeholder `shape` attribute and `signature.inputs`).
 *   posenet's BaseModel asserts that input dims 1 and 2 are -1, and tfjs-converter checks fed
 *   shapes against the Placeholder's, so both become -1.
 * - tfjs-converter's GraphModel returns outputs in the key order of `signature.outputs`
 *   (when a signature is present; else in node order of the nodes nobody reads). This file
 *   lists them displacement_fwd, heatmap, displacement_bwd, offset; posenet's
 *   `MobileNet.nameOutputResults` reads [offsets, heatmap, displacementFwd, displacementBwd]
 *   (ResNet: [displacementFwd, displacementBwd, offsets, heatmap]). The keys are reordered.
 *
 * Browser-safe: no Node imports here (tests read the files in test/support/tfjs-reference.ts).
 */
import type * as tfc from '@tensorflow/tfjs-core';
import { io } from '@tensorflow/tfjs-core';
import { GraphModel } from '@tensorflow/tfjs-converter';
import * as posenet from '@tensorflow-models/posenet';

import type { HeadName } from '../../src/model/manifest.ts';
import type { TfjsModelJson, TfjsSignatureEntry, TfjsTensorShape } from './tfjs-model.ts';
import { concatBytes, parseInputRef, weightSpecsOf } from './tfjs-model.ts';

/** The order posenet's `nameOutputResults` reads the model's outputs in, per architecture. */
export const POSENET_OUTPUT_ORDER: Readonly<Record<'MobileNetV1' | 'ResNet50', readonly HeadName[]>> = {
  MobileNetV1: ['offsets', 'heatmap', 'displacementFwd', 'displacementBwd'],
  ResNet50: ['displacementFwd', 'displacementBwd', 'offsets', 'heatmap'],
};

/** How a head's TF node is named (MobileNet: `MobilenetV1/offset_2/BiasAdd`; ResNet: `float_short_offsets`). */
const HEAD_NAME_PATTERNS: Readonly<Record<HeadName, RegExp>> = {
  offsets: /offset_2|short_offsets/,
  heatmap: /heatmap_2|float_heatmaps/,
  displacementFwd: /displacement_fwd/,
  displacementBwd: /displacement_bwd/,
};

function freeSpatialDims(shape: TfjsTensorShape | undefined): void {
  const dim = shape?.dim;
  if (dim?.length !== 4) return;
  dim[1] = { size: '-1' };
  dim[2] = { size: '-1' };
}

export interface PatchOptions {
  /** Whose output order to use; MobileNetV1 by default. */
  architecture?: 'MobileNetV1' | 'ResNet50';
}

/**
 * A patched deep copy of a PoseNet graph model.json: free spatial input dims, and
 * signature outputs in the order posenet reads them (a signature is made if absent).
 * Throws if a head cannot be found by name.
 */
export function patchPosenetGraphModel<T extends TfjsModelJson>(modelJson: T, options: PatchOptions = {}): T {
  const json = structuredClone(modelJson);
  const order = POSENET_OUTPUT_ORDER[options.architecture ?? 'MobileNetV1'];
  const nodes = json.modelTopology.node;

  for (const n of nodes) {
    if (n.op === 'Placeholder') freeSpatialDims(n.attr?.shape?.shape);
  }
  json.signature ??= {};
  for (const entry of Object.values(json.signature.inputs ?? {})) freeSpatialDims(entry.tensorShape);

  // Heads: among the signature's outputs if any, else among the nodes nobody reads (which
  // is what tfjs-converter would return without a signature).
  const sigEntries = Object.entries(json.signature.outputs ?? {});
  const read = new Set(nodes.flatMap((n) => (n.input ?? []).map((i) => parseInputRef(i).node)));
  const pool: [string, TfjsSignatureEntry][] = sigEntries.length
    ? sigEntries
    : nodes
        .filter((n) => n.op !== 'Const' && n.op !== 'Placeholder' && !read.has(n.name))
        .map((n) => [`${n.name}:0`, { name: `${n.name}:0` }]);
  const outputs: Record<string, TfjsSignatureEntry> = {};
  for (const head of order) {
    const hits = pool.filter(([key, e]) => HEAD_NAME_PATTERNS[head].test(parseInputRef(e.name).node) || HEAD_NAME_PATTERNS[head].test(key));
    const hit = hits[0];
    if (!hit || hits.length > 1) {
      throw new Error(
        `patchPosenetGraphModel: ${hit ? 'several outputs' : 'no output'} for the ${head} head (${HEAD_NAME_PATTERNS[head]}) among ${pool.map(([k]) => k).join(', ')}`,
      );
    }
    const entry = structuredClone(hit[1]);
    freeSpatialDims(entry.tensorShape);
    outputs[hit[0]] = entry;
  }
  // Outputs that are not heads keep their place after the heads.
  for (const [key, e] of sigEntries) if (!(key in outputs)) outputs[key] = e;
  json.signature.outputs = outputs;
  return json;
}

/** Model artifacts for `tf.io.fromMemory`, from a model.json and the bytes of its shards (in manifest order). */
export function posenetArtifacts(modelJson: TfjsModelJson, shardBytes: Uint8Array[]): tfc.io.ModelArtifacts {
  const data = concatBytes(shardBytes);
  return {
    modelTopology: modelJson.modelTopology as unknown as tfc.io.ModelArtifacts['modelTopology'],
    weightSpecs: weightSpecsOf(modelJson) as tfc.io.WeightsManifestEntry[],
    weightData: data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer,
    format: modelJson.format,
    generatedBy: modelJson.generatedBy,
    convertedBy: modelJson.convertedBy,
    signature: modelJson.signature as unknown as object,
    userDefinedMetadata: modelJson.userDefinedMetadata as Record<string, never> | undefined,
  };
}

/**
 * Loads a graph model from memory with tfjs-converter. Patches it first unless `patch` is false.
 * A tfjs backend must be registered and set by the caller (e.g. `cpu` or `webgl`).
 */
export async function loadPosenetGraphModel(
  modelJson: TfjsModelJson,
  shardBytes: Uint8Array[],
  { patch = true, ...options }: PatchOptions & { patch?: boolean } = {},
): Promise<GraphModel> {
  const json = patch ? patchPosenetGraphModel(modelJson, options) : modelJson;
  const model = new GraphModel(io.fromMemory(posenetArtifacts(json, shardBytes)));
  await model.load();
  return model;
}

/**
 * Fetches a graph model (model.json and its shards, relative to it) and loads it patched,
 * e.g. `loadPosenetGraphModelFromUrl('/weights/tfjs/posenet-mobilenet-v1-075-s16/model.json')`
 * in a page. Uses `fetch`, so it works in browsers and in Node 18+ for http(s) URLs.
 */
export async function loadPosenetGraphModelFromUrl(url: string, options: PatchOptions & { patch?: boolean } = {}): Promise<GraphModel> {
  const base = new URL(url, globalThis.location?.href);
  const get = async (u: URL): Promise<Response> => {
    const r = await fetch(u);
    if (!r.ok) throw new Error(`${u.href}: HTTP ${r.status}`);
    return r;
  };
  const json = (await (await get(base)).json()) as TfjsModelJson;
  const shards = await Promise.all(
    json.weightsManifest.flatMap((g) => g.paths).map(async (p) => new Uint8Array(await (await get(new URL(p, base))).arrayBuffer())),
  );
  return loadPosenetGraphModel(json, shards, options);
}

/**
 * A `posenet.PoseNet` over a loaded (patched) MobileNet graph model at input size [height, width]
 * (each `k * outputStride + 1`).
 */
export function makePosenet(graphModel: GraphModel, outputStride: 8 | 16 | 32, [height, width]: [number, number]): posenet.PoseNet {
  const base = new posenet.MobileNet(graphModel, outputStride);
  return new posenet.PoseNet(base, [height, width]);
}
