// The preprocess kernel's WGSL. src/kernels/preprocess.ts owns its bindings, uniform struct and
// dispatch, and passes the generated interface (`iface`) in. Plain TypeScript so that Vite,
// Node and bundlers import it with no loader; `npm run shaders -- --dump preprocess default`
// prints the result.

export function preprocessWgsl(iface: string): string {
  return /* wgsl */ `// preprocess: source image (an rgba8unorm texture) -> the network's input tensor at the
// plan's resolution, resized bilinearly and normalised: value = (pixel - mean) * scale,
// with pixel the 0..255 RGB value.
//
// Resampling follows TensorFlow's resizeBilinear without half-pixel centres (what
// TF.js PoseNet 2.x uses): output pixel (u, v) samples the region at
//   (u * scaleX, v * scaleY) in region coordinates, region pixel (i, j) = source pixel
//   (i + originX, j + originY), black (0) outside the source.
// One mapping serves the three fitting modes: 'pad' (TF.js PoseNet's default: pad the
// source to the input's aspect ratio, so originX = -padLeft), 'stretch' (origin 0,
// region = source) and 'crop' (centre crop: origin = crop corner). Keypoints map back
// exactly with x_source = u * scaleX + originX. With 'mirror' set (the flip test's
// second run) output pixel u holds what pixel W - 1 - u would: the input tensor mirrored
// left to right exactly (mirroring the source instead would not do: this resampling is
// not symmetric about the centre).
//
// Layout: output NHWC with 4 channels (R, G, B, 0): one vec4 per pixel,
// y[v * outW + u]. One invocation per output pixel, 8x8 workgroups.
${iface}

// Region pixel (i, j) as 0..255 RGB; black outside the source image.
fn pixel(i: i32, j: i32) -> vec3f {
  let sx = i + params.originX;
  let sy = j + params.originY;
  if (sx < 0 || sy < 0 || sx >= i32(params.srcW) || sy >= i32(params.srcH)) { return vec3f(0.0); }
  return round(textureLoad(source, vec2i(sx, sy), 0).rgb * 255.0);
}

@compute @workgroup_size(8, 8)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  if (gid.x >= params.outW || gid.y >= params.outH) { return; }
  let u = select(gid.x, params.outW - 1u - gid.x, params.mirror != 0u);
  let inX = f32(u) * params.scaleX;
  let inY = f32(gid.y) * params.scaleY;
  let x0 = i32(floor(inX));
  let y0 = i32(floor(inY));
  let x1 = min(x0 + 1, i32(params.regionW) - 1);
  let y1 = min(y0 + 1, i32(params.regionH) - 1);
  let fx = inX - f32(x0);
  let fy = inY - f32(y0);
  let top = mix(pixel(x0, y0), pixel(x1, y0), fx);
  let bottom = mix(pixel(x0, y1), pixel(x1, y1), fx);
  let rgb = mix(top, bottom, fy);
  let v = (vec4f(rgb, 0.0) - params.mean) * params.scale;
  y[gid.y * params.outW + gid.x] = vec4f(v.xyz, 0.0);
}
`;
}
