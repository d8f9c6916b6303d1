// The flip_average kernel's WGSL. src/kernels/flip_average.ts owns its bindings, uniform struct and
// dispatch, and passes the generated interface (`iface`) in. Plain TypeScript so that Vite,
// Node and bundlers import it with no loader; `npm run shaders -- --dump flip_average default`
// prints the result.
import { workgroupIndexWgsl } from './common.wgsl.ts';

export function flipAverageWgsl(iface: string): string {
  return /* wgsl */ `// flip_average: the flip test's merge. A frame ran twice, as it is and mirrored left to
// right (the mirrored plan's preprocess reads input pixel u from W - 1 - u); this pass
// averages the two runs' heads into the first run's heads buffer, in place, before the
// usual decoders read it:
//   heads[gy, gx, c] = 0.5 * (heads[gy, gx, c] + sign[c] * mirrored[gy, gridW - 1 - gx, source[c]])
// where the channel table (src/pose/flip.ts flipChannelTable) maps each channel to the
// mirrored run's channel that holds the same quantity (leftEye's heatmap <- rightEye's,
// edge nose->leftEye's displacement <- nose->rightEye's) and sign[c] is -1 for x
// components (offsets and displacements) and 1 otherwise. Heatmaps are averaged as
// logits.
//
// Layout: both heads tensors NHWC with channels padded to vec4s (headsC4 per cell);
// table[c] = (source channel, negate 0/1) for each of headsC4 * 4 channels.
// One invocation per (cell, vec4 of channels); each reads and writes only its own vec4
// of 'heads', so working in place is safe.
${iface}

override WORKGROUP_SIZE: u32 = 64u;

${workgroupIndexWgsl}

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = workgroupIndex(wid, nwg) * WORKGROUP_SIZE + lid;
  if (i >= params.gridW * params.gridH * params.headsC4) { return; }
  let cell = i / params.headsC4;
  let group = i - cell * params.headsC4;
  let gy = cell / params.gridW;
  let gx = cell - gy * params.gridW;
  let mirroredBase = (gy * params.gridW + (params.gridW - 1u - gx)) * params.headsC4;
  var m = vec4f(0.0);
  for (var j = 0u; j < 4u; j++) {
    let t = table[group * 4u + j];
    let v = mirrored[mirroredBase + t.x / 4u][t.x % 4u];
    m[j] = select(v, -v, t.y != 0u);
  }
  heads[i] = 0.5 * (heads[i] + m);
}
`;
}
