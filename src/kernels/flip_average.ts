/** The flip test's merge kernel (heads averaged with the mirrored run's): its uniform, bindings and one variant. */
import { flipAverageWgsl } from '../../shaders/flip_average.wgsl.ts';
import type { KernelModule } from './kernel.ts';
import { UniformLayout } from './uniforms.ts';

const uniforms = new UniformLayout('Params', [
  ['gridW', 'u32'],
  ['gridH', 'u32'],
  ['headsC4', 'u32'],
] as const);

/** The heads tensor the pass merges. */
export interface FlipAverageContext {
  gridW: number;
  gridH: number;
  headsC4: number;
}

const WORKGROUP_SIZE = 64;

export const flipAverage: KernelModule<FlipAverageContext, (typeof uniforms.fields)[number]['name']> = {
  name: 'flip_average',
  summary: "flip test: heads averaged in place with the mirrored run's (parts swapped, x components negated)",
  bindings: [
    { name: 'params', kind: 'uniform' },
    { name: 'mirrored', kind: 'read' },
    { name: 'table', kind: 'read', type: 'array<vec2u>' },
    { name: 'heads', kind: 'write' },
  ],
  uniforms,
  variants: [
    {
      name: 'default',
      summary: 'one invocation per (cell, vec4 of channels)',
      wgsl: flipAverageWgsl,
      supports: () => true,
      constants: () => ({ WORKGROUP_SIZE }),
      workgroups: (c) => Math.ceil((c.gridW * c.gridH * c.headsC4) / WORKGROUP_SIZE),
    },
  ],
  defaultVariant: () => 'default',
};
