/**
 * What the network's layer kernels (conv2d, depthwise, pointwise, maxpool) share: they
 * run one manifest layer at one resolution (its LayerShape) and bind the same named
 * buffers.
 */
import { weightVec4Bytes } from '../model/layout.ts';
import type { Activation } from '../model/manifest.ts';
import type { LayerShape } from '../plan/shapes.ts';
import type { KernelModule } from './kernel.ts';
import type { UniformValues } from './uniforms.ts';

export interface LayerKernel<F extends string = string> extends KernelModule<LayerShape, F> {
  /** The layer's uniform (shared by every variant). */
  uniformValues(ls: LayerShape): UniformValues<F>;
}

/**
 * Buffers a layer binds, by binding name: `x` input, `w` the model's weights, `y`
 * output, `residual` (the model's empty buffer when the layer has none).
 */
export type LayerBuffers = Record<'x' | 'w' | 'y' | 'residual', GPUBuffer>;

/** ACTIVATION override constant of the kernels (see activationWgsl). */
export const ACTIVATION_CODE: Readonly<Record<Activation, number>> = { none: 0, relu: 1, relu6: 2 };

/**
 * Where a layer's weights, bias and int8 scales lie in the weights buffer, in the units
 * the accessors index (kernel.ts weightAccessorWgsl): weight vec4s of the model's format
 * for the weights, 16-byte vec4s for the bias and scales (0 where the layer has none).
 */
export function weightOffsets(ls: LayerShape): { wOffset: number; bOffset: number; sOffset: number } {
  return {
    wOffset: (ls.layer.weights?.offset ?? 0) / weightVec4Bytes(ls.weightFormat),
    bOffset: (ls.layer.bias?.offset ?? 0) / 16,
    sOffset: (ls.layer.scales?.offset ?? 0) / 16,
  };
}

/** Input and output sizes and the stride, as every spatial kernel's uniform names them. */
export function gridUniforms(ls: LayerShape) {
  const { input, output, layer } = ls;
  return { inW: input.w, inH: input.h, outW: output.w, outH: output.h, strideX: layer.stride[1], strideY: layer.stride[0] };
}

/** A window's padding (top-left) and dilation, as conv2d's and depthwise's uniforms name them. */
export function windowUniforms(ls: LayerShape) {
  const { layer, pads } = ls;
  return { padLeft: pads[1], padTop: pads[0], dilationX: layer.dilation[1], dilationY: layer.dilation[0] };
}

/** 3x3, dilation 1, the same stride both ways: what the shared-row variants handle. */
export function isPlain3x3(ls: LayerShape): boolean {
  const l = ls.layer;
  return l.kernel[0] === 3 && l.kernel[1] === 3 && l.dilation[0] === 1 && l.dilation[1] === 1 && l.stride[0] === l.stride[1];
}

export const ceilDiv = (a: number, b: number): number => Math.ceil(a / b);
