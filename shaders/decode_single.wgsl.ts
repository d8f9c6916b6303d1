// The decode_single kernel's WGSL, as a plain module so that Vite, Node (tsx) and bundlers all import it
// with no loader. src/gpu/kernels.ts compiles it; its header says what it computes.
export const decodeSingleWgsl = /* wgsl */ `
// decode_single: single-pose decoding on the GPU, one invocation per keypoint (17).
// Keypoint k's position is the argmax over the grid of its heatmap score
// sigmoid(heatmap[gy, gx, k]) (the first maximum in row-major order, as TF.js PoseNet's
// argmax2d), refined by its offset vector:
//   y = gy * outputStride + offsets[gy, gx, k], x = gx * outputStride + offsets[gy, gx, k + 17]
// then mapped from input-resolution pixels to source pixels: x_src = x * scaleX + originX
// (and likewise y), mirrored as x_src = srcW - 1 - x_src when flipping, as in TF.js
// PoseNet's scaleAndFlipPoses.
//
// Layout: heads tensor NHWC with channels padded to vec4 (all four heads in one tensor,
// each starting at a multiple of 4): heads[(gy * gridW + gx) * headsC4 + c / 4][c % 4].
// Output: 17 x (x, y, score) then the pose score (mean keypoint score): 52 floats,
// the frame's only readback.

struct Params {
  gridW: u32, gridH: u32, headsC4: u32, heatmapChannel: u32,
  offsetsChannel: u32, flip: u32, pad0: u32, pad1: u32,
  outputStride: f32, srcW: f32, pad2: f32, pad3: f32,
  scale: vec2f, origin: vec2f,
}

const NUM_KEYPOINTS: u32 = 17u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> heads: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> result: array<f32>;

var<workgroup> scores: array<f32, 32>;

fn channel(cell: u32, c: u32) -> f32 {
  return heads[cell * params.headsC4 + c / 4u][c % 4u];
}

fn sigmoid(v: f32) -> f32 {
  return 1.0 / (1.0 + exp(-v));
}

@compute @workgroup_size(32)
fn main(@builtin(local_invocation_index) k: u32) {
  scores[k] = 0.0;
  if (k < NUM_KEYPOINTS) {
    let hc = params.heatmapChannel + k;
    var best = -1.0;
    var bestCell = 0u;
    let cells = params.gridW * params.gridH;
    for (var cell = 0u; cell < cells; cell++) {
      let s = sigmoid(channel(cell, hc));
      if (s > best) {
        best = s;
        bestCell = cell;
      }
    }
    let gy = bestCell / params.gridW;
    let gx = bestCell - gy * params.gridW;
    let dy = channel(bestCell, params.offsetsChannel + k);
    let dx = channel(bestCell, params.offsetsChannel + k + NUM_KEYPOINTS);
    let inputPos = vec2f(f32(gx), f32(gy)) * params.outputStride + vec2f(dx, dy);
    var pos = inputPos * params.scale + params.origin;
    if (params.flip != 0u) {
      pos.x = params.srcW - 1.0 - pos.x;
    }
    result[k * 3u] = pos.x;
    result[k * 3u + 1u] = pos.y;
    result[k * 3u + 2u] = best;
    scores[k] = best;
  }
  workgroupBarrier();
  if (k == 0u) {
    var total = 0.0;
    for (var i = 0u; i < NUM_KEYPOINTS; i++) {
      total += scores[i];
    }
    result[NUM_KEYPOINTS * 3u] = total / f32(NUM_KEYPOINTS);
  }
}
`;
