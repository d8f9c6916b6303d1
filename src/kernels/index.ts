/**
 * Every kernel module, by name, and the layer kernel of each manifest layer kind. The
 * Plan and the tools reach kernels only through here.
 */
import type { LayerKind } from '../model/manifest.ts';
import { conv2d } from './conv2d.ts';
import { decodeCandidates } from './decode_candidates.ts';
import { decodeSingle } from './decode_single.ts';
import { depthwise } from './depthwise.ts';
import { flipAverage } from './flip_average.ts';
import type { KernelModule, KernelName } from './kernel.ts';
import type { LayerKernel } from './layer.ts';
import { maxpool } from './maxpool.ts';
import { pointwise } from './pointwise.ts';
import { preprocess } from './preprocess.ts';

export const KERNEL_MODULES: Readonly<Record<KernelName, KernelModule<never>>> = {
  preprocess,
  conv2d,
  depthwise,
  pointwise,
  maxpool,
  decode_single: decodeSingle,
  decode_candidates: decodeCandidates,
  flip_average: flipAverage,
};

export const KERNEL_NAMES = Object.keys(KERNEL_MODULES) as KernelName[];

const LAYER_KERNELS: Readonly<Record<LayerKind, LayerKernel>> = { conv: conv2d, depthwise, pointwise, maxpool };

/** The kernel that runs a layer kind. */
export function layerKernel(kind: LayerKind): LayerKernel {
  return LAYER_KERNELS[kind];
}

/**
 * The simple reference path for a layer kind (the `reference` debug flag): pointwise
 * layers through conv2d's general loop, convolutions and depthwise layers through their
 * general 4-pixel variant, maxpool as it is.
 */
export function referenceKernel(kind: LayerKind): { kernel: LayerKernel; variant: string } {
  switch (kind) {
    case 'pointwise':
    case 'conv':
      return { kernel: conv2d, variant: 'generic4' };
    case 'depthwise':
      return { kernel: depthwise, variant: 'generic4' };
    case 'maxpool':
      return { kernel: maxpool, variant: 'default' };
  }
}

export { conv2d, decodeCandidates, decodeSingle, depthwise, flipAverage, maxpool, pointwise, preprocess };
export type { KernelModule, KernelName, LayerKernel };
