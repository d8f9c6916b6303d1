/**
 * A plain CPU executor of a weights manifest: runs `model.json` + `weights.bin` on an NHWC
 * image, reading the weights in their PACKED layout (manifest.ts), exactly as the shaders
 * do. The converter tests (through test/support/onnx-graphs.ts `compareWithOrt`) run it
 * against ONNX Runtime on the original ONNX, which checks folding and packing together.
 * Simple loops, float32 storage, float64 accumulation; no attempt at speed beyond skipping
 * zero inputs.
 *
 * Tensors are NHWC with channels padded to a multiple of 4 (padded channels are 0), the
 * manifest's activation layout.
 */
import { c4, layerGeometry } from '../../src/model/layout.ts';
import { HEAD_NAMES, type HeadName, type Layer, type Manifest } from '../../src/model/manifest.ts';

export interface CpuTensor {
  height: number;
  width: number;
  /** Real channel count; storage has 4 * ceil(channels / 4) per pixel. */
  channels: number;
  data: Float32Array;
}

export const paddedChannels = (channels: number): number => 4 * c4(channels);

export function makeTensor(height: number, width: number, channels: number): CpuTensor {
  return { height, width, channels, data: new Float32Array(height * width * paddedChannels(channels)) };
}

/** Applies the manifest's preprocessing to RGB pixels (NHWC, 3 values a pixel, 0..255). */
export function preprocessCpu(manifest: Manifest, rgb: Float32Array, height: number, width: number): CpuTensor {
  if (rgb.length !== height * width * 3) throw new Error(`preprocessCpu: ${rgb.length} values for ${height}×${width}×3`);
  const t = makeTensor(height, width, 3);
  const { mean, scale } = manifest.preprocess;
  for (let p = 0; p < height * width; p++) {
    for (let c = 0; c < 3; c++) t.data[p * 4 + c] = (rgb[p * 3 + c]! - mean[c]!) * scale[c]!;
  }
  return t;
}

function activate(v: number, activation: Layer['activation']): number {
  if (activation === 'relu') return Math.max(v, 0);
  if (activation === 'relu6') return v > 0 ? Math.min(v, 6) : 0;
  return v;
}

/**
 * Runs one layer. `weights` is the whole weights.bin as float32s; `residual` must be given
 * when the layer has one.
 */
export function runLayerCpu(layer: Layer, weights: Float32Array, input: CpuTensor, residual?: CpuTensor): CpuTensor {
  if (input.channels !== layer.inChannels) {
    throw new Error(`layer "${layer.name}": input has ${input.channels} channels, inChannels is ${layer.inChannels}`);
  }
  const g = layerGeometry(layer, input.height, input.width);
  const out = makeTensor(g.outHeight, g.outWidth, layer.outChannels);
  if (layer.residual !== undefined) {
    if (!residual || residual.height !== g.outHeight || residual.width !== g.outWidth || residual.channels !== layer.outChannels) {
      throw new Error(`layer "${layer.name}": residual "${layer.residual}" missing or of the wrong shape`);
    }
  }
  const [kh, kw] = layer.kernel;
  const [sh, sw] = layer.stride;
  const [dh, dw] = layer.dilation;
  const icp = paddedChannels(layer.inChannels);
  const ocp = paddedChannels(layer.outChannels);
  const inData = input.data;
  const W = input.width;
  const H = input.height;
  const wBase = layer.weights ? layer.weights.offset / 4 : 0;
  const bBase = layer.bias ? layer.bias.offset / 4 : 0;
  const acc = new Float64Array(ocp);

  for (let oy = 0; oy < g.outHeight; oy++) {
    for (let ox = 0; ox < g.outWidth; ox++) {
      const o = (oy * g.outWidth + ox) * ocp;
      if (layer.kind === 'maxpool') {
        for (let c = 0; c < ocp; c++) acc[c] = -Infinity;
      } else {
        for (let c = 0; c < ocp; c++) acc[c] = weights[bBase + c]!;
      }
      for (let ky = 0; ky < kh; ky++) {
        const iy = oy * sh - g.padTop + ky * dh;
        if (iy < 0 || iy >= H) continue;
        for (let kx = 0; kx < kw; kx++) {
          const ix = ox * sw - g.padLeft + kx * dw;
          if (ix < 0 || ix >= W) continue;
          const i = (iy * W + ix) * icp;
          const tap = ky * kw + kx;
          switch (layer.kind) {
            case 'maxpool':
              for (let c = 0; c < ocp; c++) {
                const v = inData[i + c]!;
                if (v > acc[c]!) acc[c] = v;
              }
              break;
            case 'depthwise': {
              const wb = wBase + tap * ocp;
              for (let c = 0; c < ocp; c++) acc[c] = acc[c]! + inData[i + c]! * weights[wb + c]!;
              break;
            }
            default: {
              const wb = wBase + tap * icp * ocp;
              for (let ic = 0; ic < layer.inChannels; ic++) {
                const v = inData[i + ic]!;
                if (v === 0) continue;
                const row = wb + ic * ocp;
                for (let c = 0; c < ocp; c++) acc[c] = acc[c]! + v * weights[row + c]!;
              }
            }
          }
        }
      }
      for (let c = 0; c < layer.outChannels; c++) {
        let v = acc[c]!;
        if (residual) v += residual.data[o + c]!;
        out.data[o + c] = activate(v, layer.activation);
      }
    }
  }
  return out;
}

export interface HeadOutput {
  height: number;
  width: number;
  channels: number;
  /** NHWC, unpadded: `channels` values a pixel. */
  data: Float32Array;
}

export interface CpuRun {
  tensors: Map<string, CpuTensor>;
  heads: Record<HeadName, HeadOutput>;
}

/** Cuts one head's channels out of the heads tensor, unpadded NHWC. */
export function extractHead(manifest: Manifest, tensors: Map<string, CpuTensor>, head: HeadName): HeadOutput {
  const ref = manifest.heads[head];
  const t = tensors.get(ref.tensor);
  if (!t) throw new Error(`head ${head}: tensor "${ref.tensor}" was not computed`);
  const cp = paddedChannels(t.channels);
  const data = new Float32Array(t.height * t.width * ref.channels);
  for (let p = 0; p < t.height * t.width; p++) {
    for (let c = 0; c < ref.channels; c++) data[p * ref.channels + c] = t.data[p * cp + ref.channelOffset + c]!;
  }
  return { height: t.height, width: t.width, channels: ref.channels, data };
}

/**
 * Runs a whole manifest on RGB pixels (NHWC, 0..255, `height` × `width` × 3). Keeps every
 * tensor (small inputs only) and returns the four heads unpadded.
 */
export function runManifestCpu(manifest: Manifest, weightsBin: Uint8Array, rgb: Float32Array, height: number, width: number): CpuRun {
  const aligned = new Uint8Array(weightsBin.byteLength);
  aligned.set(weightsBin);
  const weights = new Float32Array(aligned.buffer);
  const tensors = new Map<string, CpuTensor>();
  tensors.set(manifest.input.tensor, preprocessCpu(manifest, rgb, height, width));
  for (const layer of manifest.layers) {
    const input = tensors.get(layer.input);
    if (!input) throw new Error(`layer "${layer.name}": input "${layer.input}" was not computed`);
    const residual = layer.residual !== undefined ? tensors.get(layer.residual) : undefined;
    tensors.set(layer.output, runLayerCpu(layer, weights, input, residual));
  }
  const heads = {} as Record<HeadName, HeadOutput>;
  for (const h of HEAD_NAMES) heads[h] = extractHead(manifest, tensors, h);
  return { tensors, heads };
}
