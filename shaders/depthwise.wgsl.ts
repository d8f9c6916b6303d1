// The depthwise kernel's WGSL, as a plain module so that Vite, Node (tsx) and bundlers all import it
// with no loader. src/gpu/kernels.ts compiles it; its header says what it computes.
export const depthwiseWgsl = /* wgsl */ `
// depthwise: KxK depthwise convolution (one filter per channel, multiplier 1) with
// stride, dilation and zero padding, bias and activation fused:
//   y[oy, ox, c] = act(b[c] + sum_{ky, kx} x[iy, ix, c] * W[ky, kx, c])
//   iy = oy * strideY - padTop + ky * dilationY, ix likewise; outside the input reads 0.
//
// Layout: activations NHWC, channels padded to vec4: x[(y * W + x) * C4 + c4]; each
// vec4 lane is one channel, so the whole kernel works on vec4 lanes.
// Weights (manifest.ts): [kh][kw][C4] vec4 from params.wOffset (in vec4s).
// Bias: C4 vec4s at params.bOffset.
//
// Tiling: each invocation computes a row of horizontally adjacent output pixels (4 in
// MODE 0, 8 otherwise) of one vec4 of channels. Invocation i handles channel vec4
// (i % C4) of pixel tile (i / C4), so neighbouring invocations read neighbouring memory.
// MODE selects the loop (an override constant, so each pipeline keeps one):
//   0: any kernel size, stride and dilation (KERNEL_H x KERNEL_W taps, one load per tap
//      and output: the simple reference path);
//   1: 3x3, stride 1, dilation 1: each input row is loaded once as 10 vec4s shared by
//      the 8 outputs and 3 taps (10 loads a row instead of 24);
//   2: 3x3, stride 2, dilation 1: 17 loads a row instead of 24.
// The column bounds checks are computed once per invocation, not per tap.

struct Params {
  inW: u32, inH: u32, outW: u32, outH: u32,
  c4: u32, xTiles: u32, strideX: u32, strideY: u32,
  dilationX: u32, dilationY: u32, padLeft: i32, padTop: i32,
  wOffset: u32, bOffset: u32, pad0: u32, pad1: u32,
}

override WORKGROUP_SIZE: u32 = 64;
override KERNEL_H: u32 = 3;
override KERNEL_W: u32 = 3;
override MODE: u32 = 0;
// 0: none, 1: relu, 2: relu6
override ACTIVATION: u32 = 0;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4f>;
@group(0) @binding(2) var<storage, read> w: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> y: array<vec4f>;

fn activate(v: vec4f) -> vec4f {
  if (ACTIVATION == 1u) { return max(v, vec4f(0.0)); }
  if (ACTIVATION == 2u) { return clamp(v, vec4f(0.0), vec4f(6.0)); }
  return v;
}

fn load(iy: i32, ix: i32, c: u32) -> vec4f {
  let inside = iy >= 0 && iy < i32(params.inH) && ix >= 0 && ix < i32(params.inW);
  let cy = u32(clamp(iy, 0, i32(params.inH) - 1));
  let cx = u32(clamp(ix, 0, i32(params.inW) - 1));
  return select(vec4f(0.0), x[(cy * params.inW + cx) * params.c4 + c], inside);
}

// Column ix of the input: its clamped index and whether it lies inside.
struct Column { index: u32, inside: bool }

fn column(ix: i32) -> Column {
  return Column(u32(clamp(ix, 0, i32(params.inW) - 1)), ix >= 0 && ix < i32(params.inW));
}

// Input at (row, column) for channel vec4 c, zero outside.
fn at(rowBase: u32, rowInside: bool, col: Column, c: u32) -> vec4f {
  return select(vec4f(0.0), x[(rowBase + col.index) * params.c4 + c], rowInside && col.inside);
}

fn store(oy: u32, ox: u32, c: u32, acc: vec4f) {
  if (ox >= params.outW) { return; }
  y[(oy * params.outW + ox) * params.c4 + c] = activate(acc + w[params.bOffset + c]);
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let c = gid.x % params.c4;
  let pt = gid.x / params.c4;
  let oy = pt / params.xTiles;
  if (oy >= params.outH) { return; }
  let ox0 = (pt - oy * params.xTiles) * select(4u, 8u, MODE != 0u);
  let iy0 = i32(oy * params.strideY) - params.padTop;
  let ix0 = i32(ox0 * params.strideX) - params.padLeft;
  let wBase = params.wOffset + c;
  let c4 = params.c4;

  var a0 = vec4f(0.0); var a1 = vec4f(0.0); var a2 = vec4f(0.0); var a3 = vec4f(0.0);
  var a4 = vec4f(0.0); var a5 = vec4f(0.0); var a6 = vec4f(0.0); var a7 = vec4f(0.0);

  if (MODE == 1u) {
    let q0 = column(ix0); let q1 = column(ix0 + 1); let q2 = column(ix0 + 2); let q3 = column(ix0 + 3);
    let q4 = column(ix0 + 4); let q5 = column(ix0 + 5); let q6 = column(ix0 + 6); let q7 = column(ix0 + 7);
    let q8 = column(ix0 + 8); let q9 = column(ix0 + 9);
    for (var ky = 0u; ky < 3u; ky++) {
      let iy = iy0 + i32(ky);
      let rowInside = iy >= 0 && iy < i32(params.inH);
      let rowBase = u32(clamp(iy, 0, i32(params.inH) - 1)) * params.inW;
      let v0 = at(rowBase, rowInside, q0, c); let v1 = at(rowBase, rowInside, q1, c); let v2 = at(rowBase, rowInside, q2, c);
      let v3 = at(rowBase, rowInside, q3, c); let v4 = at(rowBase, rowInside, q4, c); let v5 = at(rowBase, rowInside, q5, c);
      let v6 = at(rowBase, rowInside, q6, c); let v7 = at(rowBase, rowInside, q7, c); let v8 = at(rowBase, rowInside, q8, c);
      let v9 = at(rowBase, rowInside, q9, c);
      let k0 = w[wBase + (ky * 3u) * c4];
      let k1 = w[wBase + (ky * 3u + 1u) * c4];
      let k2 = w[wBase + (ky * 3u + 2u) * c4];
      a0 += k0 * v0 + k1 * v1 + k2 * v2;
      a1 += k0 * v1 + k1 * v2 + k2 * v3;
      a2 += k0 * v2 + k1 * v3 + k2 * v4;
      a3 += k0 * v3 + k1 * v4 + k2 * v5;
      a4 += k0 * v4 + k1 * v5 + k2 * v6;
      a5 += k0 * v5 + k1 * v6 + k2 * v7;
      a6 += k0 * v6 + k1 * v7 + k2 * v8;
      a7 += k0 * v7 + k1 * v8 + k2 * v9;
    }
  } else if (MODE == 2u) {
    let q0 = column(ix0); let q1 = column(ix0 + 1); let q2 = column(ix0 + 2); let q3 = column(ix0 + 3);
    let q4 = column(ix0 + 4); let q5 = column(ix0 + 5); let q6 = column(ix0 + 6); let q7 = column(ix0 + 7);
    let q8 = column(ix0 + 8); let q9 = column(ix0 + 9); let q10 = column(ix0 + 10); let q11 = column(ix0 + 11);
    let q12 = column(ix0 + 12); let q13 = column(ix0 + 13); let q14 = column(ix0 + 14); let q15 = column(ix0 + 15);
    let q16 = column(ix0 + 16);
    for (var ky = 0u; ky < 3u; ky++) {
      let iy = iy0 + i32(ky);
      let rowInside = iy >= 0 && iy < i32(params.inH);
      let rowBase = u32(clamp(iy, 0, i32(params.inH) - 1)) * params.inW;
      let v0 = at(rowBase, rowInside, q0, c); let v1 = at(rowBase, rowInside, q1, c); let v2 = at(rowBase, rowInside, q2, c);
      let v3 = at(rowBase, rowInside, q3, c); let v4 = at(rowBase, rowInside, q4, c); let v5 = at(rowBase, rowInside, q5, c);
      let v6 = at(rowBase, rowInside, q6, c); let v7 = at(rowBase, rowInside, q7, c); let v8 = at(rowBase, rowInside, q8, c);
      let v9 = at(rowBase, rowInside, q9, c); let v10 = at(rowBase, rowInside, q10, c); let v11 = at(rowBase, rowInside, q11, c);
      let v12 = at(rowBase, rowInside, q12, c); let v13 = at(rowBase, rowInside, q13, c); let v14 = at(rowBase, rowInside, q14, c);
      let v15 = at(rowBase, rowInside, q15, c); let v16 = at(rowBase, rowInside, q16, c);
      let k0 = w[wBase + (ky * 3u) * c4];
      let k1 = w[wBase + (ky * 3u + 1u) * c4];
      let k2 = w[wBase + (ky * 3u + 2u) * c4];
      a0 += k0 * v0 + k1 * v1 + k2 * v2;
      a1 += k0 * v2 + k1 * v3 + k2 * v4;
      a2 += k0 * v4 + k1 * v5 + k2 * v6;
      a3 += k0 * v6 + k1 * v7 + k2 * v8;
      a4 += k0 * v8 + k1 * v9 + k2 * v10;
      a5 += k0 * v10 + k1 * v11 + k2 * v12;
      a6 += k0 * v12 + k1 * v13 + k2 * v14;
      a7 += k0 * v14 + k1 * v15 + k2 * v16;
    }
  } else {
    let sx = i32(params.strideX);
    for (var ky = 0u; ky < KERNEL_H; ky++) {
      let iy = iy0 + i32(ky * params.dilationY);
      for (var kx = 0u; kx < KERNEL_W; kx++) {
        let ix = ix0 + i32(kx * params.dilationX);
        let k = w[wBase + (ky * KERNEL_W + kx) * c4];
        a0 += k * load(iy, ix, c);
        a1 += k * load(iy, ix + sx, c);
        a2 += k * load(iy, ix + 2 * sx, c);
        a3 += k * load(iy, ix + 3 * sx, c);
      }
    }
  }
  store(oy, ox0, c, a0); store(oy, ox0 + 1u, c, a1); store(oy, ox0 + 2u, c, a2); store(oy, ox0 + 3u, c, a3);
  if (MODE != 0u) {
    store(oy, ox0 + 4u, c, a4); store(oy, ox0 + 5u, c, a5); store(oy, ox0 + 6u, c, a6); store(oy, ox0 + 7u, c, a7);
  }
}
`;
