// The decode_candidates kernel's WGSL, as a plain module so that Vite, Node (tsx) and bundlers all import it
// with no loader. src/gpu/kernels.ts compiles it; its header says what it computes.
export const decodeCandidatesWgsl = /* wgsl */ `
// decode_candidates: the multi-pose decoder's root candidates, one invocation per
// (heads cell, keypoint). Cell (gy, gx), keypoint k is a candidate when its heatmap score
//   s = sigmoid(heatmap[gy, gx, k])
// is at least scoreThreshold and no cell of the 3x3 window around it (clipped at the
// grid's border; the cell itself included) has a strictly greater score for the same
// keypoint: TF.js PoseNet's buildPartWithScoreQueue with scoreIsMaximumInLocalWindow
// and kLocalMaximumRadius = 1. Candidates are appended as (score, keypoint, gy, gx) in
// no particular order (an atomic counter hands out slots); the CPU sorts them into
// TF.js's insertion order (row-major y, x, then keypoint) before its max-heap.
//
// 'slack' widens both tests (s >= scoreThreshold - slack, no neighbour > s + slack) so
// that the output is a superset of the exact answer even when this GPU's exp() differs
// from the CPU's by a few ulps; the CPU then confirms each candidate with its own
// sigmoid of the heads it reads back. slack = 0 gives the exact test on this GPU's
// scores (what the kernel test checks).
//
// Layout: heads tensor NHWC with channels padded to vec4 (all four heads in one tensor):
// heads[(gy * gridW + gx) * headsC4 + c / 4][c % 4], the heatmap from channel
// heatmapChannel. Output: a 16-byte header {count, capacity, 0, 0} then up to
// 'capacity' candidates of 16 bytes. 'count' is the number found, which may exceed
// 'capacity' (those past it are dropped: the CPU sees count > capacity and falls back
// to scanning the heads itself). The caller zeroes the header before each dispatch.
//
// Tiling: none; invocation i handles cell i / 17, keypoint i % 17, so a workgroup's
// invocations read neighbouring channels of neighbouring cells. 9 heatmap reads and
// sigmoids per invocation.

struct Params {
  gridW: u32, gridH: u32, headsC4: u32, heatmapChannel: u32,
  capacity: u32, pad0: u32, scoreThreshold: f32, slack: f32,
}

struct Candidate {
  score: f32,
  keypoint: u32,
  y: u32,
  x: u32,
}

struct Candidates {
  count: atomic<u32>,
  capacity: u32,
  pad0: u32,
  pad1: u32,
  items: array<Candidate>,
}

override WORKGROUP_SIZE: u32 = 64;
const NUM_KEYPOINTS: u32 = 17u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> heads: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> candidates: Candidates;

fn score(gy: u32, gx: u32, k: u32) -> f32 {
  let c = params.heatmapChannel + k;
  let logit = heads[(gy * params.gridW + gx) * params.headsC4 + c / 4u][c % 4u];
  return 1.0 / (1.0 + exp(-logit));
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.x;
  let cells = params.gridW * params.gridH;
  if (i >= cells * NUM_KEYPOINTS) { return; }
  let cell = i / NUM_KEYPOINTS;
  let k = i - cell * NUM_KEYPOINTS;
  let gy = cell / params.gridW;
  let gx = cell - gy * params.gridW;
  let s = score(gy, gx, k);
  if (s < params.scoreThreshold - params.slack) { return; }
  // Signed window bounds, clipped to the grid.
  let y0 = u32(max(i32(gy) - 1, 0));
  let y1 = min(gy + 2u, params.gridH);
  let x0 = u32(max(i32(gx) - 1, 0));
  let x1 = min(gx + 2u, params.gridW);
  for (var y = y0; y < y1; y++) {
    for (var x = x0; x < x1; x++) {
      if (score(y, x, k) > s + params.slack) { return; }
    }
  }
  let slot = atomicAdd(&candidates.count, 1u);
  if (slot < params.capacity) {
    candidates.items[slot] = Candidate(s, k, gy, gx);
  }
}
`;
