/**
 * The weights manifest: `weights/<name>/model.json`, written by `tools/convert.ts`, read by
 * the GPU runtime. It describes a PoseNet as a list of layers over named tensors, in the
 * order they run, and says where each layer's packed weights lie in `weights.bin`.
 *
 * ## Tensors
 * Every activation tensor is channels-last (NHWC, batch 1) with its channels padded to a
 * multiple of 4, so one pixel is `ceil(C / 4)` `vec4<f32>`s. Padded channels hold zeros.
 * The tensor named by `input.tensor` is the preprocessed image (3 channels, padded to 4).
 *
 * ## Packing of `weights.bin` (little-endian, every array zero-padded)
 * Weights are stored in `weights.format` (weight-format.ts: f32, f16 or int8; absent means
 * f32), element for element in the order below; biases, and int8's per-output-channel
 * `scales`, are float32 in every format.
 * Let `C4(c) = ceil(c / 4)`, `icp = 4 * C4(inChannels)`, `oc4 = C4(outChannels)`.
 * - `conv` and `pointwise` weights: `[kh][kw][icp][oc4][4]`, element
 *   `((ky * kw + kx) * icp + ic) * oc4 * 4 + oc` = ONNX `W[oc][ic][ky][kx]`. A `vec4` at
 *   `(ky, kx, ic, o4)` holds the weights of input channel `ic` for output channels
 *   `4*o4 .. 4*o4+3`, so a shader multiplies one input channel into four outputs at once.
 * - `depthwise` weights: `[kh][kw][C4(channels)][4]`, element `(ky * kw + kx) * 4 * C4 + c`
 *   = ONNX `W[c][0][ky][kx]` (channel multiplier 1).
 * - `bias`: `[oc4][4]`; int8 `scales` likewise.
 * Offsets are in bytes and multiples of 16, so every array starts at a whole vec4 of
 * floats (and a whole vec4 of weights in any format). layout.ts packs and sizes these arrays (`packLayer`,
 * `packedWeightsBytes`, `c4`) for the converter, the validator and the plan alike.
 *
 * ## Layers
 * Each layer reads `input` (and `residual`, added before the activation) and writes
 * `output`. Batch normalisation, bias, activation and residual adds are already fused.
 */

import type { WeightFormat } from './weight-format.ts';

export const MANIFEST_FORMAT = 'posenet-webgpu/manifest';
export const MANIFEST_VERSION = 1;

export type Architecture = 'MobileNetV1' | 'ResNet50';
export type Activation = 'none' | 'relu' | 'relu6';
export type LayerKind = 'conv' | 'depthwise' | 'pointwise' | 'maxpool';
export type HeadName = 'heatmap' | 'offsets' | 'displacementFwd' | 'displacementBwd';
export const HEAD_NAMES: readonly HeadName[] = ['heatmap', 'offsets', 'displacementFwd', 'displacementBwd'];
/** Channel count of each head (17 keypoints; 16 part-tree edges for the displacements). */
export const HEAD_CHANNELS: Readonly<Record<HeadName, number>> = {
  heatmap: 17,
  offsets: 34,
  displacementFwd: 32,
  displacementBwd: 32,
};

/**
 * How a layer pads its input.
 * - `same_upper` / `same_lower`: TensorFlow/ONNX SAME: output = ceil(input / stride); the
 *   total padding `max((out - 1) * stride + (k - 1) * dilation + 1 - in, 0)` is split with
 *   the extra pixel at the end (upper) or the start (lower). Depends on the input size,
 *   so the plan computes it per resolution.
 * - `explicit`: `pads` = [top, left, bottom, right], fixed.
 */
export interface Padding {
  mode: 'same_upper' | 'same_lower' | 'explicit';
  /** [top, left, bottom, right]; zeros unless mode is `explicit`. */
  pads: [number, number, number, number];
}

/** A slice of `weights.bin`, in bytes. */
export interface WeightsRef {
  offset: number;
  length: number;
}

export interface Layer {
  /** Name of the ONNX node it came from (the conv, or the pool). */
  name: string;
  kind: LayerKind;
  input: string;
  output: string;
  /** Tensor added to the result before the activation (ResNet shortcuts). */
  residual?: string;
  /** [kh, kw] */
  kernel: [number, number];
  /** [sh, sw] */
  stride: [number, number];
  /** [dh, dw] */
  dilation: [number, number];
  padding: Padding;
  activation: Activation;
  inChannels: number;
  outChannels: number;
  /** Absent for `maxpool`. */
  weights?: WeightsRef;
  bias?: WeightsRef;
  /** int8 weights only: the per-output-channel scales, float32 `[oc4][4]`. */
  scales?: WeightsRef;
}

/** Where one head lies in the output of the fused heads layer. */
export interface HeadRef {
  /** Tensor that holds it (the heads layer's output). */
  tensor: string;
  /** First channel of this head inside that tensor (a multiple of 4). */
  channelOffset: number;
  channels: number;
  /** Name of the head's output in the source ONNX graph. */
  sourceName: string;
}

/**
 * Input normalisation, applied to RGB pixel values in 0..255:
 * `value = (pixel - mean[c]) * scale[c]`.
 * MobileNet: mean 127.5, scale 1/127.5 (`x / 127.5 - 1`); ResNet50: ImageNet means
 * (123.15, 115.90, 103.06), scale 1.
 */
export interface Preprocess {
  kind: 'mobilenet' | 'resnet' | 'custom';
  mean: [number, number, number];
  scale: [number, number, number];
  /** Where it was found: the graph's own nodes, a command-line flag, or ONNX metadata. */
  from: 'graph' | 'flag' | 'metadata' | 'default';
}

export interface Manifest {
  format: typeof MANIFEST_FORMAT;
  version: typeof MANIFEST_VERSION;
  /** Folder name under weights/, e.g. `posenet-mobilenet-v1-075-s16`. */
  name: string;
  architecture: Architecture;
  outputStride: 8 | 16 | 32;
  input: {
    /** Name of the graph input in the source ONNX. */
    sourceName: string;
    /** Layout of the source ONNX input (the manifest's own is always NHWC, C padded to 4). */
    sourceLayout: 'NHWC' | 'NCHW';
    /** Name of the preprocessed-image tensor the first layer reads. */
    tensor: string;
    channels: 3;
  };
  preprocess: Preprocess;
  layers: Layer[];
  heads: Record<HeadName, HeadRef>;
  weights: {
    file: string;
    bytes: number;
    sha256: string;
    /** How weights are stored (weight-format.ts); absent in older manifests, which are f32. */
    format?: WeightFormat;
  };
  source: {
    file: string;
    sha256: string;
    producer?: string;
  };
}
