// TEMPORARY: replaced by the converter's exported packing once it lands.
import { c4 } from '../../src/model/manifest.ts';
export function packLayer(kind: 'conv' | 'pointwise' | 'depthwise', w: Float32Array, inChannels: number, outChannels: number, kernel: [number, number]): Float32Array {
  const [kh, kw] = kernel;
  if (kind === 'depthwise') {
    const C4 = c4(outChannels);
    const out = new Float32Array(kh * kw * C4 * 4);
    for (let c = 0; c < outChannels; c++) for (let ky = 0; ky < kh; ky++) for (let kx = 0; kx < kw; kx++) out[(ky * kw + kx) * 4 * C4 + c] = w[(c * kh + ky) * kw + kx]!;
    return out;
  }
  const icp = 4 * c4(inChannels);
  const ocp = 4 * c4(outChannels);
  const out = new Float32Array(kh * kw * icp * ocp);
  for (let oc = 0; oc < outChannels; oc++) for (let i = 0; i < inChannels; i++) for (let ky = 0; ky < kh; ky++) for (let kx = 0; kx < kw; kx++)
    out[((ky * kw + kx) * icp + i) * ocp + oc] = w[((oc * inChannels + i) * kh + ky) * kw + kx]!;
  return out;
}
