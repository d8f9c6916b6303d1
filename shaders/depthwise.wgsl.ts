// The depthwise kernel's WGSL, one generator per family of variants. src/kernels/depthwise.ts
// owns the bindings, the uniform struct, the dispatch and the list of variants; it passes the
// generated interface (`iface`) in. `npm run shaders -- --dump depthwise <variant>` prints it.
import { activationWgsl, paddedInputWgsl, workgroupIndexWgsl } from './common.wgsl.ts';
import { each, indent, u } from './wgsl-gen.ts';

const DEPTHWISE_HEADER = `// depthwise: KxK depthwise convolution (one filter per channel, multiplier 1) with
// stride, dilation and zero padding, bias and activation fused:
//   y[oy, ox, c] = act(b[c] + sum_{ky, kx} x[iy, ix, c] * W[ky, kx, c])
//   iy = oy * strideY - padTop + ky * dilationY, ix likewise; outside the input reads 0.
//
// Layout: activations NHWC, channels padded to vec4: x[(y * W + x) * C4 + c4]; each
// vec4 lane is one channel, so the whole kernel works on vec4 lanes.
// Weights (manifest.ts): [kh][kw][C4] vec4 from params.wOffset (in vec4s).
// Bias: C4 vec4s at params.bOffset (bias4); int8 scales likewise at params.sOffset
// (scaled4). weight4 decodes the weight format (f32, f16, int8).`;

const DEPTHWISE_COMMON = /* wgsl */ `override WORKGROUP_SIZE: u32 = 64;
override KERNEL_H: u32 = 3;
override KERNEL_W: u32 = 3;
${activationWgsl}
${workgroupIndexWgsl}
${paddedInputWgsl('params.c4')}

fn store(oy: u32, ox: u32, c: u32, acc: vec4f) {
  if (ox >= params.outW) { return; }
  y[(oy * params.outW + ox) * params.c4 + c] = activate(scaled4(acc, c) + bias4(c));
}`;

const MAIN_SIGNATURE = `@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32)`;

/** Invocation i: channel vec4 (i % C4) of pixel tile (i / C4), so neighbours read neighbouring memory. */
function tileOrigin(pixels: number): string {
  return `let index = workgroupIndex(wid, nwg) * WORKGROUP_SIZE + lid;
  let c = index % params.c4;
  let pt = index / params.c4;
  let xTiles = (params.outW + ${u(pixels)} - 1u) / ${u(pixels)};
  let oy = pt / xTiles;
  if (oy >= params.outH) { return; }
  let ox0 = (pt - oy * xTiles) * ${u(pixels)};
  let iy0 = i32(oy * params.strideY) - params.padTop;
  let ix0 = i32(ox0 * params.strideX) - params.padLeft;
  let wBase = params.wOffset + c;
  let c4 = params.c4;`;
}

/**
 * Any kernel size, stride and dilation: `pixels` horizontally adjacent outputs of one
 * channel vec4, one load per tap and output.
 */
export function depthwiseGenericWgsl(iface: string, pixels: number): string {
  const P = pixels;
  return /* wgsl */ `${DEPTHWISE_HEADER}
//
// Variant: any kernel size, stride and dilation; each invocation computes ${P} horizontally
// adjacent output pixel${P > 1 ? 's' : ''} of one channel vec4, one bounds-checked load per tap and output
// (KERNEL_H x KERNEL_W taps, override constants so the loops have constant bounds).
${iface}
${DEPTHWISE_COMMON}

${MAIN_SIGNATURE} {
  ${tileOrigin(P)}
  let sx = i32(params.strideX);
  ${indent(
    each(P, (p) => `var a${p} = vec4f(0.0);`, ' '),
    2,
  )}
  for (var ky = 0u; ky < KERNEL_H; ky++) {
    let iy = iy0 + i32(ky * params.dilationY);
    for (var kx = 0u; kx < KERNEL_W; kx++) {
      let ix = ix0 + i32(kx * params.dilationX);
      let k = weight4(wBase + (ky * KERNEL_W + kx) * c4);
      ${indent(
        each(P, (p) => `a${p} += k * load(iy, ix${p === 0 ? '' : ` + ${p} * sx`}, c);`),
        6,
      )}
    }
  }
  ${indent(
    each(P, (p) => `store(oy, ox0 + ${u(p)}, c, a${p});`, ' '),
    2,
  )}
}
`;
}

/** One stride's loop of the row variant: (pixels - 1) * stride + 3 loads per input row. */
function rowLoop(pixels: number, stride: number): string {
  const loads = (pixels - 1) * stride + 3;
  return `${each(loads, (j) => `let q${j} = column(ix0${j ? ` + ${j}` : ''});`)}
for (var ky = 0u; ky < 3u; ky++) {
  let iy = iy0 + i32(ky);
  let rowInside = iy >= 0 && iy < i32(params.inH);
  let rowBase = u32(clamp(iy, 0, i32(params.inH) - 1)) * params.inW;
  ${indent(
    each(loads, (j) => `let v${j} = at(rowBase, rowInside, q${j}, c);`),
    2,
  )}
  let k0 = weight4(wBase + (ky * 3u) * c4);
  let k1 = weight4(wBase + (ky * 3u + 1u) * c4);
  let k2 = weight4(wBase + (ky * 3u + 2u) * c4);
  ${indent(
    each(pixels, (p) => `a${p} += k0 * v${p * stride} + k1 * v${p * stride + 1} + k2 * v${p * stride + 2};`),
    2,
  )}
}`;
}

/**
 * 3x3, stride 1 or 2 (the ROW_STRIDE override), dilation 1: each input row is loaded once
 * and shared by the tile's outputs and the three taps.
 */
export function depthwiseRowWgsl(iface: string, pixels: number): string {
  const P = pixels;
  return /* wgsl */ `${DEPTHWISE_HEADER}
//
// Variant: 3x3, stride 1 or 2, dilation 1; each invocation computes ${P} horizontally adjacent
// outputs of one channel vec4. Each input row is loaded once and shared by the ${P} outputs
// and the 3 taps: ${(P - 1) * 1 + 3} loads a row instead of ${3 * P} at stride 1, ${(P - 1) * 2 + 3} at stride 2. The
// column bounds checks are computed once per invocation, not per tap. ROW_STRIDE (an
// override constant) picks the stride's loop, so each pipeline keeps one.
${iface}
${DEPTHWISE_COMMON}
override ROW_STRIDE: u32 = 1;

${MAIN_SIGNATURE} {
  ${tileOrigin(P)}
  ${indent(
    each(P, (p) => `var a${p} = vec4f(0.0);`, ' '),
    2,
  )}
  if (ROW_STRIDE == 1u) {
    ${indent(rowLoop(P, 1), 4)}
  } else {
    ${indent(rowLoop(P, 2), 4)}
  }
  ${indent(
    each(P, (p) => `store(oy, ox0 + ${u(p)}, c, a${p});`, ' '),
    2,
  )}
}
`;
}
