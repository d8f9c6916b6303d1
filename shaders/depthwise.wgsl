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
// Tiling: each invocation computes 4 horizontally adjacent output pixels of one vec4
// of channels, loading each tap's weight once for the four. Invocation i handles
// channel vec4 (i % C4) of pixel tile (i / C4), so neighbouring invocations read
// neighbouring memory. Kernel size is an override constant (3 for MobileNet).

struct Params {
  inW: u32, inH: u32, outW: u32, outH: u32,
  c4: u32, xTiles: u32, strideX: u32, strideY: u32,
  dilationX: u32, dilationY: u32, padLeft: i32, padTop: i32,
  wOffset: u32, bOffset: u32, pad0: u32, pad1: u32,
}

override WORKGROUP_SIZE: u32 = 64;
override KERNEL_H: u32 = 3;
override KERNEL_W: u32 = 3;
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
  let ox0 = (pt - oy * params.xTiles) * 4u;
  let sx = i32(params.strideX);
  let iy0 = i32(oy * params.strideY) - params.padTop;
  let ix0 = i32(ox0 * params.strideX) - params.padLeft;

  var a0 = vec4f(0.0);
  var a1 = vec4f(0.0);
  var a2 = vec4f(0.0);
  var a3 = vec4f(0.0);
  for (var ky = 0u; ky < KERNEL_H; ky++) {
    let iy = iy0 + i32(ky * params.dilationY);
    for (var kx = 0u; kx < KERNEL_W; kx++) {
      let ix = ix0 + i32(kx * params.dilationX);
      let k = w[params.wOffset + (ky * KERNEL_W + kx) * params.c4 + c];
      a0 += k * load(iy, ix, c);
      a1 += k * load(iy, ix + sx, c);
      a2 += k * load(iy, ix + 2 * sx, c);
      a3 += k * load(iy, ix + 3 * sx, c);
    }
  }
  store(oy, ox0, c, a0);
  store(oy, ox0 + 1u, c, a1);
  store(oy, ox0 + 2u, c, a2);
  store(oy, ox0 + 3u, c, a3);
}
