/** The single-pose decoder kernel: its uniform, bindings and one variant. */
import { decodeSingleWgsl } from '../../shaders/decode_single.wgsl.ts';
import type { KernelModule } from './kernel.ts';
import { UniformLayout } from './uniforms.ts';

const uniforms = new UniformLayout('Params', [
  ['gridW', 'u32'],
  ['gridH', 'u32'],
  ['headsC4', 'u32'],
  ['heatmapChannel', 'u32'],
  ['offsetsChannel', 'u32'],
  ['flip', 'u32'],
  ['outputStride', 'f32'],
  ['srcW', 'f32'],
  ['scale', 'vec2f'],
  ['origin', 'vec2f'],
] as const);

export const decodeSingle: KernelModule<null, (typeof uniforms.fields)[number]['name']> = {
  name: 'decode_single',
  summary: 'single pose: per keypoint heatmap argmax + offset, mapped to source pixels',
  bindings: [
    { name: 'params', kind: 'uniform' },
    { name: 'heads', kind: 'read' },
    { name: 'result', kind: 'write', type: 'array<f32>' },
  ],
  uniforms,
  variants: [
    {
      name: 'default',
      summary: 'one workgroup, one invocation per keypoint',
      wgsl: decodeSingleWgsl,
      supports: () => true,
      constants: () => ({}),
      workgroups: () => [1, 1, 1],
    },
  ],
  defaultVariant: () => 'default',
};
