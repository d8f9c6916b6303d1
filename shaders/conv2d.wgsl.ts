// The conv2d kernel's WGSL, one generator per family of variants. src/kernels/conv2d.ts owns
// the bindings, the uniform struct, the dispatch and the list of variants; it passes the
// generated interface (`iface`) in. `npm run shaders -- --dump conv2d <variant>` prints it.
import { activationWgsl, paddedInputWgsl, workgroupIndexWgsl } from './common.wgsl.ts';
import { each, grid, indent, u } from './wgsl-gen.ts';

const CONV2D_HEADER = `// conv2d: general KxK convolution (groups = 1) with stride, dilation and zero padding,
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
// vec4 to an output vec4. Bias: oc4 vec4s at params.bOffset (bias4); int8 scales likewise at
// params.sOffset (scaled4). weight4 decodes the weight format (f32, f16, int8).`;

const CONV2D_COMMON = /* wgsl */ `override WORKGROUP_SIZE: u32 = 32;
override KERNEL_H: u32 = 3;
override KERNEL_W: u32 = 3;
override HAS_RESIDUAL: bool = false;
${activationWgsl}
${workgroupIndexWgsl}
${paddedInputWgsl('params.ic4')}

// acc (scaled, for int8 weights) + bias (+ residual), activated, stored; pixels and vec4s
// out of range are skipped.
fn store(oy: u32, ox: u32, o: u32, acc: vec4f) {
  if (ox >= params.outW || o >= params.oc4) { return; }
  var v = scaled4(acc, o) + bias4(o);
  let i = (oy * params.outW + ox) * params.oc4 + o;
  if (HAS_RESIDUAL) { v += residual[i]; }
  y[i] = activate(v);
}`;

export interface ConvTile {
  /** Horizontally adjacent output pixels per invocation. */
  pixels: number;
  /** Output vec4s per invocation. */
  vec4s: number;
}

/** The opening of main(): which tile of which row this invocation computes. */
function tileOrigin(t: ConvTile): string {
  return `let index = workgroupIndex(wid, nwg) * WORKGROUP_SIZE + lid;
  let oTiles = (params.oc4 + ${u(t.vec4s)} - 1u) / ${u(t.vec4s)};
  let xTiles = (params.outW + ${u(t.pixels)} - 1u) / ${u(t.pixels)};
  let ot = index % oTiles;
  let pt = index / oTiles;
  let oy = pt / xTiles;
  if (oy >= params.outH) { return; }
  let ox0 = (pt - oy * xTiles) * ${u(t.pixels)};
  let o0 = ot * ${u(t.vec4s)};
  let oc4 = params.oc4;
  let lastO = oc4 - 1u;
  ${indent(
    each(t.vec4s, (c) => `let c${c} = min(o0 + ${u(c)}, lastO);`),
    2,
  )}`;
}

/** The weight matrices of one tap and input vec4, from the first of their rows `r0`. */
function weightMatrices(vec4s: number): string {
  return `let r1 = r0 + oc4;
let r2 = r1 + oc4;
let r3 = r2 + oc4;
${each(vec4s, (c) => `let m${c} = mat4x4f(weight4(r0 + c${c}), weight4(r1 + c${c}), weight4(r2 + c${c}), weight4(r3 + c${c}));`)}`;
}

const MAIN_SIGNATURE = `@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32)`;

/**
 * Any kernel size, stride and dilation: a tile of adjacent output pixels x output vec4s,
 * one bounds-checked load per tap and pixel. Kernel size is an override constant so the
 * tap loops have constant bounds.
 */
export function conv2dGenericWgsl(iface: string, t: ConvTile): string {
  const { pixels: P, vec4s: C } = t;
  return /* wgsl */ `${CONV2D_HEADER}
//
// Variant: any kernel, stride and dilation; each invocation computes ${P} horizontally adjacent
// output pixel${P > 1 ? 's' : ''} x ${C} output vec4${C > 1 ? 's' : ''} (${P * C} named accumulators), one bounds-checked load
// per tap and pixel. Invocation i handles output vec4 tile (i % oTiles) of pixel tile
// (i / oTiles); pixel tiles run row-major, ceil(outW / ${P}) per row.
${iface}
${CONV2D_COMMON}

${MAIN_SIGNATURE} {
  ${tileOrigin(t)}
  let sx = i32(params.strideX);
  let iy0 = i32(oy * params.strideY) - params.padTop;
  let ix0 = i32(ox0 * params.strideX) - params.padLeft;
  ${indent(
    grid(P, C, (p, c) => `var a${p}_${c} = vec4f(0.0);`),
    2,
  )}

  for (var ky = 0u; ky < KERNEL_H; ky++) {
    let iy = iy0 + i32(ky * params.dilationY);
    for (var kx = 0u; kx < KERNEL_W; kx++) {
      let ix = ix0 + i32(kx * params.dilationX);
      let tap = params.wOffset + (ky * KERNEL_W + kx) * params.ic4 * 4u * oc4;
      for (var i = 0u; i < params.ic4; i++) {
        ${indent(
          each(P, (p) => `let v${p} = load(iy, ix${p === 0 ? '' : ` + ${p} * sx`}, i);`),
          8,
        )}
        let r0 = tap + i * 4u * oc4;
        ${indent(weightMatrices(C), 8)}
        ${indent(
          grid(P, C, (p, c) => `a${p}_${c} += m${c} * v${p};`),
          8,
        )}
      }
    }
  }

  ${indent(
    grid(P, C, (p, c) => `store(oy, ox0 + ${u(p)}, o0 + ${u(c)}, a${p}_${c});`),
    2,
  )}
}
`;
}

/**
 * 3x3, stride 2, dilation 1 (MobileNet's first layer): each input row is loaded once as
 * 2 * pixels + 1 vec4s shared by the tile's pixels and its three taps, and each weight
 * matrix serves every pixel of the tile (the taps are written out, so every index is
 * constant).
 */
export function conv2dRowWgsl(iface: string, t: ConvTile): string {
  const { pixels: P, vec4s: C } = t;
  const loads = 2 * P + 1;
  const tap = (kx: number) => /* wgsl */ `{
  let r0 = params.wOffset + ((ky * 3u${kx ? ` + ${u(kx)}` : ''}) * params.ic4 + i) * 4u * oc4;
  ${indent(weightMatrices(C), 2)}
  ${indent(
    grid(P, C, (p, c) => `a${p}_${c} += m${c} * v${2 * p + kx};`),
    2,
  )}
}`;
  return /* wgsl */ `${CONV2D_HEADER}
//
// Variant: 3x3, stride 2, dilation 1 only; each invocation computes ${P} horizontally
// adjacent output pixels x ${C} output vec4s (${P * C} named accumulators). Each input row is
// loaded once as ${loads} vec4s shared by the ${P} outputs and the 3 taps (instead of ${3 * P} loads),
// and each weight matrix serves ${P} pixels. Measured on SwiftShader, where loads are
// gathers, 16-pixel rows beat 8; the 4-pixel row keeps a GPU's register budget.
${iface}
${CONV2D_COMMON}

${MAIN_SIGNATURE} {
  ${tileOrigin(t)}
  let iy0 = i32(oy * 2u) - params.padTop;
  let ix0 = i32(ox0 * 2u) - params.padLeft;
  ${indent(
    each(loads, (j) => `let q${j} = column(ix0${j ? ` + ${j}` : ''});`),
    2,
  )}
  ${indent(
    grid(P, C, (p, c) => `var a${p}_${c} = vec4f(0.0);`),
    2,
  )}

  for (var ky = 0u; ky < 3u; ky++) {
    let iy = iy0 + i32(ky);
    let rowInside = iy >= 0 && iy < i32(params.inH);
    let rowBase = u32(clamp(iy, 0, i32(params.inH) - 1)) * params.inW;
    for (var i = 0u; i < params.ic4; i++) {
      ${indent(
        each(loads, (j) => `let v${j} = at(rowBase, rowInside, q${j}, i);`),
        6,
      )}
      ${indent(tap(0), 6)}
      ${indent(tap(1), 6)}
      ${indent(tap(2), 6)}
    }
  }

  ${indent(
    grid(P, C, (p, c) => `store(oy, ox0 + ${u(p)}, o0 + ${u(c)}, a${p}_${c});`),
    2,
  )}
}
`;
}
