/**
 * What the converter's stages share: its options and result, its error, the values that
 * flow through the graph while it is read, and the layers being built. The stages are
 * graph.ts (reading the ONNX graph), fusion.ts (folding nodes into layers), shapes.ts
 * (strides and geometry) and pack.ts (the manifest's layers and weights.bin); convert.ts
 * runs them in that order.
 */
import type { Activation, Architecture, LayerKind, Manifest, Padding } from '../../../src/model/manifest.ts';
import type { WeightFormat } from '../../../src/model/weight-format.ts';

export type PreprocessName = 'mobilenet' | 'resnet';
export type OutputStride = 8 | 16 | 32;

export interface ConvertOptions {
  /** Preprocessing when the graph has none of its own (wins over ONNX metadata). */
  preprocess?: PreprocessName;
  /** Manifest name; default: the output folder's basename (file) or the ONNX file's (bytes). */
  name?: string;
  /** Architecture label; default: ONNX metadata `posenet.architecture`, else from the graph. */
  architecture?: Architecture;
  /** Expected output stride: the conversion fails when the graph's differs. */
  outputStride?: OutputStride;
  /** How weights.bin stores the weights (src/model/weight-format.ts); default f32. */
  weights?: WeightFormat;
  /** Where notes go (e.g. "no preprocessing found, using the default"); default stderr. */
  log?: (line: string) => void;
}

export interface ConvertResult {
  manifest: Manifest;
  weights: Uint8Array;
  /** Things worth telling the user (also sent to `options.log` by convertOnnxFile). */
  notes: string[];
}

/** A conversion failure; the message is one line naming the file and what is at fault. */
export class ConvertError extends Error {
  override name = 'ConvertError';
}

/** Makes the errors of one conversion: every message starts with the source file. */
export type Fail = (message: string) => ConvertError;

// ---------------------------------------------------------------------------------------
// Values flowing through the graph

export interface ConstVal {
  kind: 'const';
  name: string;
  dims: number[];
  data: Float32Array;
}

/** The graph input after zero or more per-channel affine ops: value = a * pixel + b. */
export interface ImageVal {
  kind: 'image';
  tensor: string;
  /** perm[i] = canonical NCHW axis held by this tensor's axis i. */
  perm: number[];
  a: [number, number, number];
  b: [number, number, number];
  ops: number;
}

export interface ActVal {
  kind: 'act';
  layer: LayerBuild;
  perm: number[];
  /** True when this value is the layer's current output and its only reader is one node. */
  fusable: boolean;
}

export type Value = ConstVal | ImageVal | ActVal;

/** How far a layer has been fused: affine ops fold only before the residual and activation. */
export type Stage = 'conv' | 'residual' | 'activated' | 'final';

export interface LayerBuild {
  index: number;
  /**
   * Topological position of the last node fused into it (where its final output is made).
   * Layers are listed in this order, so a layer always comes after the layers it reads.
   */
  last: number;
  name: string;
  /** `node "name" (Op)` of the node that made it, for messages. */
  node: string;
  kind: LayerKind;
  input: LayerBuild | ImageVal;
  residual?: LayerBuild;
  kernel: [number, number];
  stride: [number, number];
  dilation: [number, number];
  padding: Padding;
  activation: Activation;
  inChannels: number;
  outChannels: number;
  /** ONNX layout: [out][in / group][kh][kw], float64 while folding. */
  weights?: Float64Array;
  bias?: Float64Array;
  /** The nodes folded into its weights after the conv, for messages (`node "bn" (BatchNormalization)`). */
  folded: string[];
  /** ONNX name of the layer's current (finally: last fused) output. */
  output: string;
  stage: Stage;
}

export const isImage = (r: LayerBuild | ImageVal): r is ImageVal => r.kind === 'image';

export const IDENTITY_PERM = [0, 1, 2, 3];
export const NHWC_PERM = [0, 2, 3, 1];
export const samePerm = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((v, i) => v === b[i]);
export const layoutName = (perm: readonly number[]): string =>
  samePerm(perm, IDENTITY_PERM) ? 'NCHW' : samePerm(perm, NHWC_PERM) ? 'NHWC' : `perm [${perm.join(',')}] of NCHW`;

/** Index of the first NaN or ±Infinity in `values`, or -1. */
export function firstNonFinite(values: ArrayLike<number>): number {
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (v - v !== 0) return i;
  }
  return -1;
}
