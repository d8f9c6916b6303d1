// The conv2d kernel's WGSL, as a plain module so that Vite, Node (tsx) and bundlers all import it
// with no loader. src/gpu/kernels.ts compiles it; its header says what it computes.
export const conv2dWgsl = /* wgsl */ `
// conv2d: general KxK convolution (groups = 1) with stride, dilation and zero padding,
// bias, optional residual add and activation fused:
//   y[oy, ox, oc] = act(b[oc] + sum_{ky, kx, ic} x[iy, ix, ic] * W[ky, kx, ic, oc] (+ r))
//   iy = oy * strideY - padTop + ky * dilationY, ix likewise; outside the input reads 0.
// Used for the first layer (3x3 stride 2 on the 3-channel image, padded to 4), the ResNet
// stem (7x7 stride 2) and ResNet's 3x3 convs; also the simple reference for pointwise
// layers (with K = 1) when the runtime's 'reference' flag is set.
//
// Layout: activations NHWC, channels padded to vec4: x[(y * W + x) * C4 + c4].
// Weights (manifest.ts): [kh][kw][icp][oc4] vec4 from params.wOffset (in vec4s); four
// consecutive input channels of one tap form the columns of a mat4x4 mapping an input
// vec4 to an output vec4. Bias: oc4 vec4s at params.bOffset.
//
// Tiling: each invocation computes TILE_W horizontally adjacent output pixels x 4 output
// vec4s (named accumulators; see pointwise.wgsl on why not an array). Invocation i
// handles output vec4 tile (i % oTiles) of pixel tile (i / oTiles); pixel tiles run
// row-major, ceil(outW / TILE_W) per row. MODE (an override constant) picks the loop:
//   0: any kernel, stride and dilation; TILE_W = 4, one bounds-checked load per tap
//      and pixel. Kernel size is an override constant so the tap loops have constant
//      bounds.
//   1: 3x3, stride 2, dilation 1 (MobileNet's first layer); TILE_W = 16: each input row
//      is loaded once as 33 vec4s shared by the 16 outputs and 3 taps, and each weight
//      matrix serves 16 pixels (the taps are written out, so every index is constant).

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
override MODE: u32 = 0;
// Output pixels per invocation in MODE 1 (the plan's dispatch must match).
const CONV3X3S2_PIXELS: u32 = 16u;

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

// Column ix of the input: its clamped index and whether it lies inside.
struct Column { index: u32, inside: bool }

fn column(ix: i32) -> Column {
  return Column(u32(clamp(ix, 0, i32(params.inW) - 1)), ix >= 0 && ix < i32(params.inW));
}

fn at(rowBase: u32, rowInside: bool, col: Column, i4: u32) -> vec4f {
  return select(vec4f(0.0), x[(rowBase + col.index) * params.ic4 + i4], rowInside && col.inside);
}

fn store(oy: u32, ox: u32, o: u32, acc: vec4f) {
  if (ox >= params.outW || o >= params.oc4) { return; }
  var v = acc + w[params.bOffset + o];
  let i = (oy * params.outW + ox) * params.oc4 + o;
  if (HAS_RESIDUAL) { v += residual[i]; }
  y[i] = activate(v);
}


// MODE 1: 3x3, stride 2, dilation 1, CONV3X3S2_PIXELS output pixels x 4 output vec4s.
fn conv3x3s2(index: u32) {
  let ot = index % params.oTiles;
  let pt = index / params.oTiles;
  let oy = pt / params.xTiles;
  if (oy >= params.outH) { return; }
  let ox0 = (pt - oy * params.xTiles) * CONV3X3S2_PIXELS;
  let o0 = ot * 4u;
  let oc4 = params.oc4;
  let lastO = oc4 - 1u;
  let c0 = min(o0, lastO);
  let c1 = min(o0 + 1u, lastO);
  let c2 = min(o0 + 2u, lastO);
  let c3 = min(o0 + 3u, lastO);
  let iy0 = i32(oy * 2u) - params.padTop;
  let ix0 = i32(ox0 * 2u) - params.padLeft;
  let q0 = column(ix0); let q1 = column(ix0 + 1); let q2 = column(ix0 + 2); let q3 = column(ix0 + 3);
  let q4 = column(ix0 + 4); let q5 = column(ix0 + 5); let q6 = column(ix0 + 6); let q7 = column(ix0 + 7);
  let q8 = column(ix0 + 8); let q9 = column(ix0 + 9); let q10 = column(ix0 + 10); let q11 = column(ix0 + 11);
  let q12 = column(ix0 + 12); let q13 = column(ix0 + 13); let q14 = column(ix0 + 14); let q15 = column(ix0 + 15);
  let q16 = column(ix0 + 16); let q17 = column(ix0 + 17); let q18 = column(ix0 + 18); let q19 = column(ix0 + 19);
  let q20 = column(ix0 + 20); let q21 = column(ix0 + 21); let q22 = column(ix0 + 22); let q23 = column(ix0 + 23);
  let q24 = column(ix0 + 24); let q25 = column(ix0 + 25); let q26 = column(ix0 + 26); let q27 = column(ix0 + 27);
  let q28 = column(ix0 + 28); let q29 = column(ix0 + 29); let q30 = column(ix0 + 30); let q31 = column(ix0 + 31);
  let q32 = column(ix0 + 32);

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

  for (var ky = 0u; ky < 3u; ky++) {
    let iy = iy0 + i32(ky);
    let rowInside = iy >= 0 && iy < i32(params.inH);
    let rowBase = u32(clamp(iy, 0, i32(params.inH) - 1)) * params.inW;
    for (var i = 0u; i < params.ic4; i++) {
      let v0 = at(rowBase, rowInside, q0, i); let v1 = at(rowBase, rowInside, q1, i); let v2 = at(rowBase, rowInside, q2, i);
      let v3 = at(rowBase, rowInside, q3, i); let v4 = at(rowBase, rowInside, q4, i); let v5 = at(rowBase, rowInside, q5, i);
      let v6 = at(rowBase, rowInside, q6, i); let v7 = at(rowBase, rowInside, q7, i); let v8 = at(rowBase, rowInside, q8, i);
      let v9 = at(rowBase, rowInside, q9, i); let v10 = at(rowBase, rowInside, q10, i); let v11 = at(rowBase, rowInside, q11, i);
      let v12 = at(rowBase, rowInside, q12, i); let v13 = at(rowBase, rowInside, q13, i); let v14 = at(rowBase, rowInside, q14, i);
      let v15 = at(rowBase, rowInside, q15, i); let v16 = at(rowBase, rowInside, q16, i); let v17 = at(rowBase, rowInside, q17, i);
      let v18 = at(rowBase, rowInside, q18, i); let v19 = at(rowBase, rowInside, q19, i); let v20 = at(rowBase, rowInside, q20, i);
      let v21 = at(rowBase, rowInside, q21, i); let v22 = at(rowBase, rowInside, q22, i); let v23 = at(rowBase, rowInside, q23, i);
      let v24 = at(rowBase, rowInside, q24, i); let v25 = at(rowBase, rowInside, q25, i); let v26 = at(rowBase, rowInside, q26, i);
      let v27 = at(rowBase, rowInside, q27, i); let v28 = at(rowBase, rowInside, q28, i); let v29 = at(rowBase, rowInside, q29, i);
      let v30 = at(rowBase, rowInside, q30, i); let v31 = at(rowBase, rowInside, q31, i); let v32 = at(rowBase, rowInside, q32, i);
      {
        let r0 = params.wOffset + ((ky * 3u) * params.ic4 + i) * 4u * oc4;
        let r1 = r0 + oc4;
        let r2 = r1 + oc4;
        let r3 = r2 + oc4;
        let m0 = mat4x4f(w[r0 + c0], w[r1 + c0], w[r2 + c0], w[r3 + c0]);
        let m1 = mat4x4f(w[r0 + c1], w[r1 + c1], w[r2 + c1], w[r3 + c1]);
        let m2 = mat4x4f(w[r0 + c2], w[r1 + c2], w[r2 + c2], w[r3 + c2]);
        let m3 = mat4x4f(w[r0 + c3], w[r1 + c3], w[r2 + c3], w[r3 + c3]);
        a00 += m0 * v0; a01 += m1 * v0; a02 += m2 * v0; a03 += m3 * v0;
        a10 += m0 * v2; a11 += m1 * v2; a12 += m2 * v2; a13 += m3 * v2;
        a20 += m0 * v4; a21 += m1 * v4; a22 += m2 * v4; a23 += m3 * v4;
        a30 += m0 * v6; a31 += m1 * v6; a32 += m2 * v6; a33 += m3 * v6;
        a40 += m0 * v8; a41 += m1 * v8; a42 += m2 * v8; a43 += m3 * v8;
        a50 += m0 * v10; a51 += m1 * v10; a52 += m2 * v10; a53 += m3 * v10;
        a60 += m0 * v12; a61 += m1 * v12; a62 += m2 * v12; a63 += m3 * v12;
        a70 += m0 * v14; a71 += m1 * v14; a72 += m2 * v14; a73 += m3 * v14;
        a80 += m0 * v16; a81 += m1 * v16; a82 += m2 * v16; a83 += m3 * v16;
        a90 += m0 * v18; a91 += m1 * v18; a92 += m2 * v18; a93 += m3 * v18;
        aa0 += m0 * v20; aa1 += m1 * v20; aa2 += m2 * v20; aa3 += m3 * v20;
        ab0 += m0 * v22; ab1 += m1 * v22; ab2 += m2 * v22; ab3 += m3 * v22;
        ac0 += m0 * v24; ac1 += m1 * v24; ac2 += m2 * v24; ac3 += m3 * v24;
        ad0 += m0 * v26; ad1 += m1 * v26; ad2 += m2 * v26; ad3 += m3 * v26;
        ae0 += m0 * v28; ae1 += m1 * v28; ae2 += m2 * v28; ae3 += m3 * v28;
        af0 += m0 * v30; af1 += m1 * v30; af2 += m2 * v30; af3 += m3 * v30;
      }
      {
        let r0 = params.wOffset + ((ky * 3u + 1u) * params.ic4 + i) * 4u * oc4;
        let r1 = r0 + oc4;
        let r2 = r1 + oc4;
        let r3 = r2 + oc4;
        let m0 = mat4x4f(w[r0 + c0], w[r1 + c0], w[r2 + c0], w[r3 + c0]);
        let m1 = mat4x4f(w[r0 + c1], w[r1 + c1], w[r2 + c1], w[r3 + c1]);
        let m2 = mat4x4f(w[r0 + c2], w[r1 + c2], w[r2 + c2], w[r3 + c2]);
        let m3 = mat4x4f(w[r0 + c3], w[r1 + c3], w[r2 + c3], w[r3 + c3]);
        a00 += m0 * v1; a01 += m1 * v1; a02 += m2 * v1; a03 += m3 * v1;
        a10 += m0 * v3; a11 += m1 * v3; a12 += m2 * v3; a13 += m3 * v3;
        a20 += m0 * v5; a21 += m1 * v5; a22 += m2 * v5; a23 += m3 * v5;
        a30 += m0 * v7; a31 += m1 * v7; a32 += m2 * v7; a33 += m3 * v7;
        a40 += m0 * v9; a41 += m1 * v9; a42 += m2 * v9; a43 += m3 * v9;
        a50 += m0 * v11; a51 += m1 * v11; a52 += m2 * v11; a53 += m3 * v11;
        a60 += m0 * v13; a61 += m1 * v13; a62 += m2 * v13; a63 += m3 * v13;
        a70 += m0 * v15; a71 += m1 * v15; a72 += m2 * v15; a73 += m3 * v15;
        a80 += m0 * v17; a81 += m1 * v17; a82 += m2 * v17; a83 += m3 * v17;
        a90 += m0 * v19; a91 += m1 * v19; a92 += m2 * v19; a93 += m3 * v19;
        aa0 += m0 * v21; aa1 += m1 * v21; aa2 += m2 * v21; aa3 += m3 * v21;
        ab0 += m0 * v23; ab1 += m1 * v23; ab2 += m2 * v23; ab3 += m3 * v23;
        ac0 += m0 * v25; ac1 += m1 * v25; ac2 += m2 * v25; ac3 += m3 * v25;
        ad0 += m0 * v27; ad1 += m1 * v27; ad2 += m2 * v27; ad3 += m3 * v27;
        ae0 += m0 * v29; ae1 += m1 * v29; ae2 += m2 * v29; ae3 += m3 * v29;
        af0 += m0 * v31; af1 += m1 * v31; af2 += m2 * v31; af3 += m3 * v31;
      }
      {
        let r0 = params.wOffset + ((ky * 3u + 2u) * params.ic4 + i) * 4u * oc4;
        let r1 = r0 + oc4;
        let r2 = r1 + oc4;
        let r3 = r2 + oc4;
        let m0 = mat4x4f(w[r0 + c0], w[r1 + c0], w[r2 + c0], w[r3 + c0]);
        let m1 = mat4x4f(w[r0 + c1], w[r1 + c1], w[r2 + c1], w[r3 + c1]);
        let m2 = mat4x4f(w[r0 + c2], w[r1 + c2], w[r2 + c2], w[r3 + c2]);
        let m3 = mat4x4f(w[r0 + c3], w[r1 + c3], w[r2 + c3], w[r3 + c3]);
        a00 += m0 * v2; a01 += m1 * v2; a02 += m2 * v2; a03 += m3 * v2;
        a10 += m0 * v4; a11 += m1 * v4; a12 += m2 * v4; a13 += m3 * v4;
        a20 += m0 * v6; a21 += m1 * v6; a22 += m2 * v6; a23 += m3 * v6;
        a30 += m0 * v8; a31 += m1 * v8; a32 += m2 * v8; a33 += m3 * v8;
        a40 += m0 * v10; a41 += m1 * v10; a42 += m2 * v10; a43 += m3 * v10;
        a50 += m0 * v12; a51 += m1 * v12; a52 += m2 * v12; a53 += m3 * v12;
        a60 += m0 * v14; a61 += m1 * v14; a62 += m2 * v14; a63 += m3 * v14;
        a70 += m0 * v16; a71 += m1 * v16; a72 += m2 * v16; a73 += m3 * v16;
        a80 += m0 * v18; a81 += m1 * v18; a82 += m2 * v18; a83 += m3 * v18;
        a90 += m0 * v20; a91 += m1 * v20; a92 += m2 * v20; a93 += m3 * v20;
        aa0 += m0 * v22; aa1 += m1 * v22; aa2 += m2 * v22; aa3 += m3 * v22;
        ab0 += m0 * v24; ab1 += m1 * v24; ab2 += m2 * v24; ab3 += m3 * v24;
        ac0 += m0 * v26; ac1 += m1 * v26; ac2 += m2 * v26; ac3 += m3 * v26;
        ad0 += m0 * v28; ad1 += m1 * v28; ad2 += m2 * v28; ad3 += m3 * v28;
        ae0 += m0 * v30; ae1 += m1 * v30; ae2 += m2 * v30; ae3 += m3 * v30;
        af0 += m0 * v32; af1 += m1 * v32; af2 += m2 * v32; af3 += m3 * v32;
      }
    }
  }

  store(oy, ox0, o0, a00); store(oy, ox0, o0 + 1u, a01); store(oy, ox0, o0 + 2u, a02); store(oy, ox0, o0 + 3u, a03);
  store(oy, ox0 + 1u, o0, a10); store(oy, ox0 + 1u, o0 + 1u, a11); store(oy, ox0 + 1u, o0 + 2u, a12); store(oy, ox0 + 1u, o0 + 3u, a13);
  store(oy, ox0 + 2u, o0, a20); store(oy, ox0 + 2u, o0 + 1u, a21); store(oy, ox0 + 2u, o0 + 2u, a22); store(oy, ox0 + 2u, o0 + 3u, a23);
  store(oy, ox0 + 3u, o0, a30); store(oy, ox0 + 3u, o0 + 1u, a31); store(oy, ox0 + 3u, o0 + 2u, a32); store(oy, ox0 + 3u, o0 + 3u, a33);
  store(oy, ox0 + 4u, o0, a40); store(oy, ox0 + 4u, o0 + 1u, a41); store(oy, ox0 + 4u, o0 + 2u, a42); store(oy, ox0 + 4u, o0 + 3u, a43);
  store(oy, ox0 + 5u, o0, a50); store(oy, ox0 + 5u, o0 + 1u, a51); store(oy, ox0 + 5u, o0 + 2u, a52); store(oy, ox0 + 5u, o0 + 3u, a53);
  store(oy, ox0 + 6u, o0, a60); store(oy, ox0 + 6u, o0 + 1u, a61); store(oy, ox0 + 6u, o0 + 2u, a62); store(oy, ox0 + 6u, o0 + 3u, a63);
  store(oy, ox0 + 7u, o0, a70); store(oy, ox0 + 7u, o0 + 1u, a71); store(oy, ox0 + 7u, o0 + 2u, a72); store(oy, ox0 + 7u, o0 + 3u, a73);
  store(oy, ox0 + 8u, o0, a80); store(oy, ox0 + 8u, o0 + 1u, a81); store(oy, ox0 + 8u, o0 + 2u, a82); store(oy, ox0 + 8u, o0 + 3u, a83);
  store(oy, ox0 + 9u, o0, a90); store(oy, ox0 + 9u, o0 + 1u, a91); store(oy, ox0 + 9u, o0 + 2u, a92); store(oy, ox0 + 9u, o0 + 3u, a93);
  store(oy, ox0 + 10u, o0, aa0); store(oy, ox0 + 10u, o0 + 1u, aa1); store(oy, ox0 + 10u, o0 + 2u, aa2); store(oy, ox0 + 10u, o0 + 3u, aa3);
  store(oy, ox0 + 11u, o0, ab0); store(oy, ox0 + 11u, o0 + 1u, ab1); store(oy, ox0 + 11u, o0 + 2u, ab2); store(oy, ox0 + 11u, o0 + 3u, ab3);
  store(oy, ox0 + 12u, o0, ac0); store(oy, ox0 + 12u, o0 + 1u, ac1); store(oy, ox0 + 12u, o0 + 2u, ac2); store(oy, ox0 + 12u, o0 + 3u, ac3);
  store(oy, ox0 + 13u, o0, ad0); store(oy, ox0 + 13u, o0 + 1u, ad1); store(oy, ox0 + 13u, o0 + 2u, ad2); store(oy, ox0 + 13u, o0 + 3u, ad3);
  store(oy, ox0 + 14u, o0, ae0); store(oy, ox0 + 14u, o0 + 1u, ae1); store(oy, ox0 + 14u, o0 + 2u, ae2); store(oy, ox0 + 14u, o0 + 3u, ae3);
  store(oy, ox0 + 15u, o0, af0); store(oy, ox0 + 15u, o0 + 1u, af1); store(oy, ox0 + 15u, o0 + 2u, af2); store(oy, ox0 + 15u, o0 + 3u, af3);
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  if (MODE == 1u) {
    conv3x3s2(gid.x);
    return;
  }
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
`;
