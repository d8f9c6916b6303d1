/** The multi-pose candidate kernel (local heatmap maxima): its uniform, bindings and one variant. */
import { decodeCandidatesWgsl } from '../../shaders/decode_candidates.wgsl.ts';
import { NUM_KEYPOINTS } from '../pose/keypoints.ts';
import type { KernelModule } from './kernel.ts';
import { UniformLayout } from './uniforms.ts';

const uniforms = new UniformLayout('Params', [
  ['gridW', 'u32'],
  ['gridH', 'u32'],
  ['headsC4', 'u32'],
  ['heatmapChannel', 'u32'],
  ['capacity', 'u32'],
  ['scoreThreshold', 'f32'],
  ['slack', 'f32'],
] as const);

/** The heads grid the pass scans. */
export interface CandidatesContext {
  gridW: number;
  gridH: number;
}

const WORKGROUP_SIZE = 64;

/** Bytes of the candidate buffer's header {count, capacity, 0, 0}, and of one candidate (the WGSL's Candidates). */
export const CANDIDATES_HEADER_BYTES = 16;
export const CANDIDATE_BYTES = 16;

export const decodeCandidates: KernelModule<CandidatesContext, (typeof uniforms.fields)[number]['name']> = {
  name: 'decode_candidates',
  summary: 'multi-pose root candidates: heatmap local maxima above a threshold',
  bindings: [
    { name: 'params', kind: 'uniform' },
    { name: 'heads', kind: 'read' },
    { name: 'candidates', kind: 'write', type: 'Candidates' },
  ],
  uniforms,
  variants: [
    {
      name: 'default',
      summary: 'one invocation per (cell, keypoint)',
      wgsl: decodeCandidatesWgsl,
      supports: () => true,
      constants: () => ({ WORKGROUP_SIZE }),
      workgroups: (c) => Math.ceil((c.gridW * c.gridH * NUM_KEYPOINTS) / WORKGROUP_SIZE),
    },
  ],
  defaultVariant: () => 'default',
};
