/** The maxpool kernel (ResNet's pool after the stem): its uniform, bindings and one variant. */
import { maxpoolWgsl } from '../../shaders/maxpool.wgsl.ts';
import type { LayerShape } from '../plan/shapes.ts';
import { ceilDiv, type LayerKernel, gridUniforms } from './layer.ts';
import { UniformLayout } from './uniforms.ts';

const uniforms = new UniformLayout('Params', [
  ['inW', 'u32'],
  ['inH', 'u32'],
  ['outW', 'u32'],
  ['outH', 'u32'],
  ['c4', 'u32'],
  ['strideX', 'u32'],
  ['strideY', 'u32'],
  ['padLeft', 'i32'],
  ['padTop', 'i32'],
] as const);

const WORKGROUP_SIZE = 64;

export const maxpool: LayerKernel<(typeof uniforms.fields)[number]['name']> = {
  name: 'maxpool',
  summary: 'KxK max pooling with stride and padding (padded positions ignored)',
  bindings: [
    { name: 'params', kind: 'uniform' },
    { name: 'x', kind: 'read' },
    { name: 'y', kind: 'write' },
  ],
  uniforms,
  variants: [
    {
      name: 'default',
      summary: 'one output vec4 per invocation',
      wgsl: maxpoolWgsl,
      supports: () => true,
      constants: (ls: LayerShape) => ({ WORKGROUP_SIZE, KERNEL_H: ls.layer.kernel[0], KERNEL_W: ls.layer.kernel[1] }),
      workgroups: (ls: LayerShape) => ceilDiv(ls.output.w * ls.output.h * ls.output.c4, WORKGROUP_SIZE),
    },
  ],
  defaultVariant: () => 'default',
  uniformValues(ls) {
    // No dilation in a max pool: the window's padding only.
    return { ...gridUniforms(ls), c4: ls.output.c4, padLeft: ls.pads[1], padTop: ls.pads[0] };
  },
};
