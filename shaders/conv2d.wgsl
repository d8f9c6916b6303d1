// conv2d: general KxK convolution (groups = 1) with stride, dilation and zero padding,
// bias, optional residual add and activation fused:
//   y[oy, ox, oc] = act(b[oc] + sum_{ky, kx, ic} x[iy, ix, ic] * W[ky, kx, ic, oc] (+ r))
//   iy = oy * strideY - padTop + ky * dilationY, ix likewise; outside the input reads 0.
// Used for the first layer (3x3 stride 2 on the 3-channel image, padded to 4), the ResNet
// stem (7x7 stride 2) and ResNet's 3x3 convs; also the simple reference for pointwise
// layers (with K = 1) when the runtime's `reference` flag is set.
//
// Layout: activations NHWC, channels padded to vec4: x[(y * W + x) * C4 + c4].
// Weights (manifest.ts): [kh][kw][icp][oc4] vec4 from params.wOffset (in vec4s); four
// consecutive input channels of one tap form the columns of a mat4x4 mapping an input
// vec4 to an output vec4. Bias: oc4 vec4s at params.bOffset.
//
// Tiling: each invocation computes 4 horizontally adjacent output pixels x 4 output
// vec4s (16 named accumulators; see pointwise.wgsl on why not an array). Invocation i
// handles output vec4 tile (i % oTiles) of pixel tile (i / oTiles); pixel tiles run
// row-major, ceil(outW / 4) per row. Kernel size is an override constant so the tap
// loops have constant bounds.

struct Params {
  inW: u32, inH: u32, outW: u32, outH: u32,
  ic4: u32, oc4: u32, strideX: u32, strideY: u32,
  dilationX: u32, dilationY: u32, padLeft: i32, padTop: i32,
  wOffset: u32, bOffset: u32, oTiles: u32, xTiles: u32,
}

override WORKGROUP_SIZE: u32 = 32;
override KERNEL_H: u32 = 3;
override KERNEL_W: u32 = 3;
// 0: none, 1: relu, 2: relu6
override ACTIVATION: u32 = 0;
override HAS_RESIDUAL: bool = false;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4f>;
@group(0) @binding(2) var<storage, read> w: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> y: array<vec4f>;
@group(0) @binding(4) var<storage, read> residual: array<vec4f>;

fn activate(v: vec4f) -> vec4f {
  if (ACTIVATION == 1u) { return max(v, vec4f(0.0)); }
  if (ACTIVATION == 2u) { return clamp(v, vec4f(0.0), vec4f(6.0)); }
  return v;
}

// Input vec4 at (iy, ix, i4), or zeros outside the image.
fn load(iy: i32, ix: i32, i4: u32) -> vec4f {
  let inside = iy >= 0 && iy < i32(params.inH) && ix >= 0 && ix < i32(params.inW);
  let cy = u32(clamp(iy, 0, i32(params.inH) - 1));
  let cx = u32(clamp(ix, 0, i32(params.inW) - 1));
  let v = x[(cy * params.inW + cx) * params.ic4 + i4];
  return select(vec4f(0.0), v, inside);
}

fn store(oy: u32, ox: u32, o: u32, acc: vec4f) {
  if (ox >= params.outW || o >= params.oc4) { return; }
  var v = acc + w[params.bOffset + o];
  let i = (oy * params.outW + ox) * params.oc4 + o;
  if (HAS_RESIDUAL) { v += residual[i]; }
  y[i] = activate(v);
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let ot = gid.x % params.oTiles;
  let pt = gid.x / params.oTiles;
  let oy = pt / params.xTiles;
  if (oy >= params.outH) { return; }
  let ox0 = (pt - oy * params.xTiles) * 4u;
  let o0 = ot * 4u;
  let oc4 = params.oc4;
  let lastO = oc4 - 1u;
  let c0 = min(o0, lastO);
  let c1 = min(o0 + 1u, lastO);
  let c2 = min(o0 + 2u, lastO);
  let c3 = min(o0 + 3u, lastO);

  let sx = i32(params.strideX);
  let iy0 = i32(oy * params.strideY) - params.padTop;
  let ix0 = i32(ox0 * params.strideX) - params.padLeft;

  var a00 = vec4f(0.0); var a01 = vec4f(0.0); var a02 = vec4f(0.0); var a03 = vec4f(0.0);
  var a10 = vec4f(0.0); var a11 = vec4f(0.0); var a12 = vec4f(0.0); var a13 = vec4f(0.0);
  var a20 = vec4f(0.0); var a21 = vec4f(0.0); var a22 = vec4f(0.0); var a23 = vec4f(0.0);
  var a30 = vec4f(0.0); var a31 = vec4f(0.0); var a32 = vec4f(0.0); var a33 = vec4f(0.0);

  for (var ky = 0u; ky < KERNEL_H; ky++) {
    let iy = iy0 + i32(ky * params.dilationY);
    for (var kx = 0u; kx < KERNEL_W; kx++) {
      let ix = ix0 + i32(kx * params.dilationX);
      let tap = params.wOffset + (ky * KERNEL_W + kx) * params.ic4 * 4u * oc4;
      for (var i = 0u; i < params.ic4; i++) {
        let v0 = load(iy, ix, i);
        let v1 = load(iy, ix + sx, i);
        let v2 = load(iy, ix + 2 * sx, i);
        let v3 = load(iy, ix + 3 * sx, i);
        let r0 = tap + i * 4u * oc4;
        let r1 = r0 + oc4;
        let r2 = r1 + oc4;
        let r3 = r2 + oc4;
        let m0 = mat4x4f(w[r0 + c0], w[r1 + c0], w[r2 + c0], w[r3 + c0]);
        let m1 = mat4x4f(w[r0 + c1], w[r1 + c1], w[r2 + c1], w[r3 + c1]);
        let m2 = mat4x4f(w[r0 + c2], w[r1 + c2], w[r2 + c2], w[r3 + c2]);
        let m3 = mat4x4f(w[r0 + c3], w[r1 + c3], w[r2 + c3], w[r3 + c3]);
        a00 += m0 * v0; a01 += m1 * v0; a02 += m2 * v0; a03 += m3 * v0;
        a10 += m0 * v1; a11 += m1 * v1; a12 += m2 * v1; a13 += m3 * v1;
        a20 += m0 * v2; a21 += m1 * v2; a22 += m2 * v2; a23 += m3 * v2;
        a30 += m0 * v3; a31 += m1 * v3; a32 += m2 * v3; a33 += m3 * v3;
      }
    }
  }

  store(oy, ox0, o0, a00); store(oy, ox0, o0 + 1u, a01); store(oy, ox0, o0 + 2u, a02); store(oy, ox0, o0 + 3u, a03);
  store(oy, ox0 + 1u, o0, a10); store(oy, ox0 + 1u, o0 + 1u, a11); store(oy, ox0 + 1u, o0 + 2u, a12); store(oy, ox0 + 1u, o0 + 3u, a13);
  store(oy, ox0 + 2u, o0, a20); store(oy, ox0 + 2u, o0 + 1u, a21); store(oy, ox0 + 2u, o0 + 2u, a22); store(oy, ox0 + 2u, o0 + 3u, a23);
  store(oy, ox0 + 3u, o0, a30); store(oy, ox0 + 3u, o0 + 1u, a31); store(oy, ox0 + 3u, o0 + 2u, a32); store(oy, ox0 + 3u, o0 + 3u, a33);
}
