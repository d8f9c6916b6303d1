// The flip_average kernel's WGSL, as a plain module so that Vite, Node (tsx) and bundlers all import it
// with no loader. src/gpu/kernels.ts compiles it; its header says what it computes.
export const flipAverageWgsl = /* wgsl */ `
// flip_average: the flip test's merge. A frame ran twice, as it is and mirrored left to
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

struct Params {
  gridW: u32, gridH: u32, headsC4: u32, pad0: u32,
}

override WORKGROUP_SIZE: u32 = 64u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> mirrored: array<vec4f>;
@group(0) @binding(2) var<storage, read> table: array<vec2u>;
@group(0) @binding(3) var<storage, read_write> heads: array<vec4f>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.x;
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
