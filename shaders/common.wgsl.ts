/**
 * WGSL pieces shared by several kernels: the fused activation, the linear index of a
 * folded dispatch, and zero-padded input reads for the convolutions. Each is a function
 * returning WGSL text, placed in a kernel's module by its shader generator.
 */

/** `activate(v)`: the layer's fused activation, chosen by the ACTIVATION override constant. */
export const activationWgsl = /* wgsl */ `
// 0: none, 1: relu, 2: relu6
override ACTIVATION: u32 = 0;

fn activate(v: vec4f) -> vec4f {
  if (ACTIVATION == 1u) { return max(v, vec4f(0.0)); }
  if (ACTIVATION == 2u) { return clamp(v, vec4f(0.0), vec4f(6.0)); }
  return v;
}`;

/**
 * `workgroupIndex(wid, nwg)`: the linear index of this workgroup. A dispatch of more
 * workgroups than a dimension allows is folded into x and y (src/kernels/kernel.ts
 * foldWorkgroups); the workgroups past the real count find no work and store nothing.
 */
export const workgroupIndexWgsl = /* wgsl */ `
fn workgroupIndex(wid: vec3u, nwg: vec3u) -> u32 {
  return wid.y * nwg.x + wid.x;
}`;

/**
 * Zero-padded reads of an NHWC input `x` with `channels` vec4s per pixel:
 * `load(iy, ix, c)` for one tap, and `column(ix)` / `at(rowBase, rowInside, col, c)`
 * for tiles that check a column's bounds once and reuse it for every row and tap.
 */
export function paddedInputWgsl(channels: string): string {
  return /* wgsl */ `
// Input vec4 at (iy, ix, c), or zeros outside the image.
fn load(iy: i32, ix: i32, c: u32) -> vec4f {
  let inside = iy >= 0 && iy < i32(params.inH) && ix >= 0 && ix < i32(params.inW);
  let cy = u32(clamp(iy, 0, i32(params.inH) - 1));
  let cx = u32(clamp(ix, 0, i32(params.inW) - 1));
  return select(vec4f(0.0), x[(cy * params.inW + cx) * ${channels} + c], inside);
}

// Column ix of the input: its clamped index and whether it lies inside.
struct Column { index: u32, inside: bool }

fn column(ix: i32) -> Column {
  return Column(u32(clamp(ix, 0, i32(params.inW) - 1)), ix >= 0 && ix < i32(params.inW));
}

// Input at (row, column) for channel vec4 c, zero outside.
fn at(rowBase: u32, rowInside: bool, col: Column, c: u32) -> vec4f {
  return select(vec4f(0.0), x[(rowBase + col.index) * ${channels} + c], rowInside && col.inside);
}`;
}
