// The maxpool kernel's WGSL, as a plain module so that Vite, Node (tsx) and bundlers all import it
// with no loader. src/gpu/kernels.ts compiles it; its header says what it computes.
export const maxpoolWgsl = /* wgsl */ `
// maxpool: KxK max pooling with stride and padding (ResNet's 3x3 stride-2 pool after
// the stem). Padded positions are ignored, as in ONNX MaxPool and TensorFlow:
//   y[oy, ox, c] = max_{ky, kx inside the input} x[oy * sY - padTop + ky, ox * sX - padLeft + kx, c]
//
// Layout: activations NHWC, channels padded to vec4: x[(y * W + x) * C4 + c4].
// One invocation per output vec4; invocation i handles channel vec4 (i % C4) of output
// pixel (i / C4).

struct Params {
  inW: u32, inH: u32, outW: u32, outH: u32,
  c4: u32, strideX: u32, strideY: u32, pad0: u32,
  padLeft: i32, padTop: i32, pad1: u32, pad2: u32,
}

override WORKGROUP_SIZE: u32 = 64;
override KERNEL_H: u32 = 3;
override KERNEL_W: u32 = 3;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> y: array<vec4f>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let c = gid.x % params.c4;
  let p = gid.x / params.c4;
  if (p >= params.outW * params.outH) { return; }
  let oy = p / params.outW;
  let ox = p - oy * params.outW;
  let iy0 = i32(oy * params.strideY) - params.padTop;
  let ix0 = i32(ox * params.strideX) - params.padLeft;
  var m = vec4f(-3.4028234663852886e38);
  for (var ky = 0u; ky < KERNEL_H; ky++) {
    let iy = iy0 + i32(ky);
    if (iy < 0 || iy >= i32(params.inH)) { continue; }
    for (var kx = 0u; kx < KERNEL_W; kx++) {
      let ix = ix0 + i32(kx);
      if (ix < 0 || ix >= i32(params.inW)) { continue; }
      m = max(m, x[(u32(iy) * params.inW + u32(ix)) * params.c4 + c]);
    }
  }
  y[p * params.c4 + c] = m;
}
`;
