/** The preprocess kernel (source texture -> input tensor): its uniform, bindings and one variant. */
import { preprocessWgsl } from '../../shaders/preprocess.wgsl.ts';
import type { KernelModule } from './kernel.ts';
import { UniformLayout } from './uniforms.ts';

const uniforms = new UniformLayout('Params', [
  ['outW', 'u32'],
  ['outH', 'u32'],
  ['srcW', 'u32'],
  ['srcH', 'u32'],
  ['regionW', 'u32'],
  ['regionH', 'u32'],
  ['originX', 'i32'],
  ['originY', 'i32'],
  ['scaleX', 'f32'],
  ['scaleY', 'f32'],
  // 1: output pixel u holds what pixel W - 1 - u would (the flip test's mirrored run).
  ['mirror', 'u32'],
  ['mean', 'vec4f'],
  ['scale', 'vec4f'],
] as const);

/** The input resolution. */
export interface PreprocessContext {
  width: number;
  height: number;
}

/** Invocations per workgroup side (the WGSL's @workgroup_size(8, 8)). */
const SIDE = 8;

export const preprocess: KernelModule<PreprocessContext, (typeof uniforms.fields)[number]['name']> = {
  name: 'preprocess',
  summary: 'source texture -> input tensor: fit, bilinear resize, normalisation',
  bindings: [
    { name: 'params', kind: 'uniform' },
    { name: 'source', kind: 'texture' },
    { name: 'y', kind: 'write' },
  ],
  uniforms,
  variants: [
    {
      name: 'default',
      summary: 'one output pixel per invocation, 8x8 workgroups',
      wgsl: preprocessWgsl,
      supports: () => true,
      constants: () => ({}),
      workgroups: (c) => [Math.ceil(c.width / SIDE), Math.ceil(c.height / SIDE), 1],
    },
  ],
  defaultVariant: () => 'default',
};
