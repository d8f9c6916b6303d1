// The maxpool kernel's WGSL. src/kernels/maxpool.ts owns its bindings, uniform struct and
// dispatch, and passes the generated interface (`iface`) in. Plain TypeScript so that Vite,
// Node and bundlers import it with no loader; `npm run shaders -- --dump maxpool default`
// prints the result.
import { workgroupIndexWgsl } from './common.wgsl.ts';

export function maxpoolWgsl(iface: string): string {
  return /* wgsl */ `// maxpool: KxK max pooling with stride and padding (ResNet's 3x3 stride-2 pool after
// the stem). Padded positions are ignored, as in ONNX MaxPool and TensorFlow:
//   y[oy, ox, c] = max_{ky, kx inside the input} x[oy * sY - padTop + ky, ox * sX - padLeft + kx, c]
//
// Layout: activations NHWC, channels padded to vec4: x[(y * W + x) * C4 + c4].
// One invocation per output vec4; invocation i handles channel vec4 (i % C4) of output
// pixel (i / C4).
${iface}

override WORKGROUP_SIZE: u32 = 64;
override KERNEL_H: u32 = 3;
override KERNEL_W: u32 = 3;
${workgroupIndexWgsl}

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let index = workgroupIndex(wid, nwg) * WORKGROUP_SIZE + lid;
  let c = index % params.c4;
  let p = index / params.c4;
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
}
