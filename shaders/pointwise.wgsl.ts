// The pointwise kernel's WGSL, as a plain module so that Vite, Node (tsx) and bundlers all import it
// with no loader. src/gpu/kernels.ts compiles it; its header says what it computes.
export const pointwiseWgsl = /* wgsl */ `
// pointwise: 1x1 convolution as a tiled matrix product, with bias, optional residual
// add and activation fused:
//   y[p, oc] = act(sum_ic x[p', ic] * W[ic, oc] + b[oc] (+ r[p, oc]))
// where p' is output pixel p's input pixel (ox * strideX, oy * strideY); stride 2 is the
// ResNet projection shortcut. Also serves the four PoseNet heads, fused into one layer.
//
// Layout: activations NHWC with channels padded to vec4: x[(y * W + x) * C4 + c4].
// Weights (manifest.ts): [icp][oc4] vec4 starting at params.wOffset (in vec4s): the vec4
// at (ic, o4) holds input channel ic's weights for output channels 4*o4 .. 4*o4+3, so four
// of them (ic = 4*i4 .. 4*i4+3) are the columns of a mat4x4 that maps an input vec4 to an
// output vec4. Bias: oc4 vec4s at params.bOffset.
//
// Tiling: each invocation computes 16 output pixels (consecutive in row-major order) x
// 4 output vec4s (16 channels): per input vec4 step it loads 16 input vec4s and 16 weight
// vec4s and does 64 mat4x4 * vec4 products. Invocation i handles output vec4 tile
// (i % oTiles) of pixel tile (i / oTiles): neighbouring invocations share input pixels.
// Out-of-range pixels and output vec4s are clamped on load and skipped on store.
//
// Why so large a tile, written out by hand: on SwiftShader (the CPU WebGPU used in CI)
// every load is a gather across the SIMD lanes, so the more products per loaded vec4 the
// better; measured on the 17x17x384 -> 384 layer, 8x4 tiles ran at 6.6 GFLOP/s and 16x4
// at 8 (24x4 no better). Accumulators are named variables, not an array: SwiftShader
// keeps arrays in memory and then runs 4x slower.

struct Params {
  inW: u32, inH: u32, outW: u32, outH: u32,
  ic4: u32, oc4: u32, strideX: u32, strideY: u32,
  wOffset: u32, bOffset: u32, pixels: u32, oTiles: u32,
}

// Output pixels per invocation (the plan's dispatch must match).
const TILE_PIXELS: u32 = 16u;

override WORKGROUP_SIZE: u32 = 32;
// 0: none, 1: relu, 2: relu6
override ACTIVATION: u32 = 0;
override HAS_RESIDUAL: bool = false;
// Stride other than 1 (ResNet projection shortcuts): input pixels need the 2D mapping.
override STRIDED: bool = false;

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

fn inputBase(p: u32) -> u32 {
  let q = min(p, params.pixels - 1u);
  if (!STRIDED) { return q * params.ic4; }
  let oy = q / params.outW;
  let ox = q - oy * params.outW;
  return ((oy * params.strideY) * params.inW + ox * params.strideX) * params.ic4;
}

// acc + bias (+ residual), activated, stored; 'bias' is the tile's bias for column o.
fn store(p: u32, o: u32, acc: vec4f, bias: vec4f) {
  if (p >= params.pixels || o >= params.oc4) { return; }
  var v = acc + bias;
  let i = p * params.oc4 + o;
  if (HAS_RESIDUAL) { v += residual[i]; }
  y[i] = activate(v);
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let ot = gid.x % params.oTiles;
  let p0 = (gid.x / params.oTiles) * TILE_PIXELS;
  if (p0 >= params.pixels) { return; }
  let o0 = ot * 4u;
  let lastO = params.oc4 - 1u;
  let oc4 = params.oc4;
  // Output vec4 columns of this tile, clamped so loads stay in range.
  let c0 = min(o0, lastO);
  let c1 = min(o0 + 1u, lastO);
  let c2 = min(o0 + 2u, lastO);
  let c3 = min(o0 + 3u, lastO);

  let x0 = inputBase(p0 + 0u);
  let x1 = inputBase(p0 + 1u);
  let x2 = inputBase(p0 + 2u);
  let x3 = inputBase(p0 + 3u);
  let x4 = inputBase(p0 + 4u);
  let x5 = inputBase(p0 + 5u);
  let x6 = inputBase(p0 + 6u);
  let x7 = inputBase(p0 + 7u);
  let x8 = inputBase(p0 + 8u);
  let x9 = inputBase(p0 + 9u);
  let x10 = inputBase(p0 + 10u);
  let x11 = inputBase(p0 + 11u);
  let x12 = inputBase(p0 + 12u);
  let x13 = inputBase(p0 + 13u);
  let x14 = inputBase(p0 + 14u);
  let x15 = inputBase(p0 + 15u);

  var a00 = vec4f(0.0); var a01 = vec4f(0.0); var a02 = vec4f(0.0); var a03 = vec4f(0.0);
  var a10 = vec4f(0.0); var a11 = vec4f(0.0); var a12 = vec4f(0.0); var a13 = vec4f(0.0);
  var a20 = vec4f(0.0); var a21 = vec4f(0.0); var a22 = vec4f(0.0); var a23 = vec4f(0.0);
  var a30 = vec4f(0.0); var a31 = vec4f(0.0); var a32 = vec4f(0.0); var a33 = vec4f(0.0);
  var a40 = vec4f(0.0); var a41 = vec4f(0.0); var a42 = vec4f(0.0); var a43 = vec4f(0.0);
  var a50 = vec4f(0.0); var a51 = vec4f(0.0); var a52 = vec4f(0.0); var a53 = vec4f(0.0);
  var a60 = vec4f(0.0); var a61 = vec4f(0.0); var a62 = vec4f(0.0); var a63 = vec4f(0.0);
  var a70 = vec4f(0.0); var a71 = vec4f(0.0); var a72 = vec4f(0.0); var a73 = vec4f(0.0);
  var a80 = vec4f(0.0); var a81 = vec4f(0.0); var a82 = vec4f(0.0); var a83 = vec4f(0.0);
  var a90 = vec4f(0.0); var a91 = vec4f(0.0); var a92 = vec4f(0.0); var a93 = vec4f(0.0);
  var aa0 = vec4f(0.0); var aa1 = vec4f(0.0); var aa2 = vec4f(0.0); var aa3 = vec4f(0.0);
  var ab0 = vec4f(0.0); var ab1 = vec4f(0.0); var ab2 = vec4f(0.0); var ab3 = vec4f(0.0);
  var ac0 = vec4f(0.0); var ac1 = vec4f(0.0); var ac2 = vec4f(0.0); var ac3 = vec4f(0.0);
  var ad0 = vec4f(0.0); var ad1 = vec4f(0.0); var ad2 = vec4f(0.0); var ad3 = vec4f(0.0);
  var ae0 = vec4f(0.0); var ae1 = vec4f(0.0); var ae2 = vec4f(0.0); var ae3 = vec4f(0.0);
  var af0 = vec4f(0.0); var af1 = vec4f(0.0); var af2 = vec4f(0.0); var af3 = vec4f(0.0);

  for (var i = 0u; i < params.ic4; i++) {
    let r0 = params.wOffset + i * 4u * oc4;
    let r1 = r0 + oc4;
    let r2 = r1 + oc4;
    let r3 = r2 + oc4;
    let m0 = mat4x4f(w[r0 + c0], w[r1 + c0], w[r2 + c0], w[r3 + c0]);
    let m1 = mat4x4f(w[r0 + c1], w[r1 + c1], w[r2 + c1], w[r3 + c1]);
    let m2 = mat4x4f(w[r0 + c2], w[r1 + c2], w[r2 + c2], w[r3 + c2]);
    let m3 = mat4x4f(w[r0 + c3], w[r1 + c3], w[r2 + c3], w[r3 + c3]);
    let v0 = x[x0 + i]; a00 += m0 * v0; a01 += m1 * v0; a02 += m2 * v0; a03 += m3 * v0;
    let v1 = x[x1 + i]; a10 += m0 * v1; a11 += m1 * v1; a12 += m2 * v1; a13 += m3 * v1;
    let v2 = x[x2 + i]; a20 += m0 * v2; a21 += m1 * v2; a22 += m2 * v2; a23 += m3 * v2;
    let v3 = x[x3 + i]; a30 += m0 * v3; a31 += m1 * v3; a32 += m2 * v3; a33 += m3 * v3;
    let v4 = x[x4 + i]; a40 += m0 * v4; a41 += m1 * v4; a42 += m2 * v4; a43 += m3 * v4;
    let v5 = x[x5 + i]; a50 += m0 * v5; a51 += m1 * v5; a52 += m2 * v5; a53 += m3 * v5;
    let v6 = x[x6 + i]; a60 += m0 * v6; a61 += m1 * v6; a62 += m2 * v6; a63 += m3 * v6;
    let v7 = x[x7 + i]; a70 += m0 * v7; a71 += m1 * v7; a72 += m2 * v7; a73 += m3 * v7;
    let v8 = x[x8 + i]; a80 += m0 * v8; a81 += m1 * v8; a82 += m2 * v8; a83 += m3 * v8;
    let v9 = x[x9 + i]; a90 += m0 * v9; a91 += m1 * v9; a92 += m2 * v9; a93 += m3 * v9;
    let va = x[x10 + i]; aa0 += m0 * va; aa1 += m1 * va; aa2 += m2 * va; aa3 += m3 * va;
    let vb = x[x11 + i]; ab0 += m0 * vb; ab1 += m1 * vb; ab2 += m2 * vb; ab3 += m3 * vb;
    let vc = x[x12 + i]; ac0 += m0 * vc; ac1 += m1 * vc; ac2 += m2 * vc; ac3 += m3 * vc;
    let vd = x[x13 + i]; ad0 += m0 * vd; ad1 += m1 * vd; ad2 += m2 * vd; ad3 += m3 * vd;
    let ve = x[x14 + i]; ae0 += m0 * ve; ae1 += m1 * ve; ae2 += m2 * ve; ae3 += m3 * ve;
    let vf = x[x15 + i]; af0 += m0 * vf; af1 += m1 * vf; af2 += m2 * vf; af3 += m3 * vf;
  }

  let b0 = w[params.bOffset + c0];
  let b1 = w[params.bOffset + c1];
  let b2 = w[params.bOffset + c2];
  let b3 = w[params.bOffset + c3];
  store(p0, o0, a00, b0); store(p0, o0 + 1u, a01, b1); store(p0, o0 + 2u, a02, b2); store(p0, o0 + 3u, a03, b3);
  store(p0 + 1u, o0, a10, b0); store(p0 + 1u, o0 + 1u, a11, b1); store(p0 + 1u, o0 + 2u, a12, b2); store(p0 + 1u, o0 + 3u, a13, b3);
  store(p0 + 2u, o0, a20, b0); store(p0 + 2u, o0 + 1u, a21, b1); store(p0 + 2u, o0 + 2u, a22, b2); store(p0 + 2u, o0 + 3u, a23, b3);
  store(p0 + 3u, o0, a30, b0); store(p0 + 3u, o0 + 1u, a31, b1); store(p0 + 3u, o0 + 2u, a32, b2); store(p0 + 3u, o0 + 3u, a33, b3);
  store(p0 + 4u, o0, a40, b0); store(p0 + 4u, o0 + 1u, a41, b1); store(p0 + 4u, o0 + 2u, a42, b2); store(p0 + 4u, o0 + 3u, a43, b3);
  store(p0 + 5u, o0, a50, b0); store(p0 + 5u, o0 + 1u, a51, b1); store(p0 + 5u, o0 + 2u, a52, b2); store(p0 + 5u, o0 + 3u, a53, b3);
  store(p0 + 6u, o0, a60, b0); store(p0 + 6u, o0 + 1u, a61, b1); store(p0 + 6u, o0 + 2u, a62, b2); store(p0 + 6u, o0 + 3u, a63, b3);
  store(p0 + 7u, o0, a70, b0); store(p0 + 7u, o0 + 1u, a71, b1); store(p0 + 7u, o0 + 2u, a72, b2); store(p0 + 7u, o0 + 3u, a73, b3);
  store(p0 + 8u, o0, a80, b0); store(p0 + 8u, o0 + 1u, a81, b1); store(p0 + 8u, o0 + 2u, a82, b2); store(p0 + 8u, o0 + 3u, a83, b3);
  store(p0 + 9u, o0, a90, b0); store(p0 + 9u, o0 + 1u, a91, b1); store(p0 + 9u, o0 + 2u, a92, b2); store(p0 + 9u, o0 + 3u, a93, b3);
  store(p0 + 10u, o0, aa0, b0); store(p0 + 10u, o0 + 1u, aa1, b1); store(p0 + 10u, o0 + 2u, aa2, b2); store(p0 + 10u, o0 + 3u, aa3, b3);
  store(p0 + 11u, o0, ab0, b0); store(p0 + 11u, o0 + 1u, ab1, b1); store(p0 + 11u, o0 + 2u, ab2, b2); store(p0 + 11u, o0 + 3u, ab3, b3);
  store(p0 + 12u, o0, ac0, b0); store(p0 + 12u, o0 + 1u, ac1, b1); store(p0 + 12u, o0 + 2u, ac2, b2); store(p0 + 12u, o0 + 3u, ac3, b3);
  store(p0 + 13u, o0, ad0, b0); store(p0 + 13u, o0 + 1u, ad1, b1); store(p0 + 13u, o0 + 2u, ad2, b2); store(p0 + 13u, o0 + 3u, ad3, b3);
  store(p0 + 14u, o0, ae0, b0); store(p0 + 14u, o0 + 1u, ae1, b1); store(p0 + 14u, o0 + 2u, ae2, b2); store(p0 + 14u, o0 + 3u, ae3, b3);
  store(p0 + 15u, o0, af0, b0); store(p0 + 15u, o0 + 1u, af1, b1); store(p0 + 15u, o0 + 2u, af2, b2); store(p0 + 15u, o0 + 3u, af3, b3);
}
`;
