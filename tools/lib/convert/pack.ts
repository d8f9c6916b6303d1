/**
 * Stage 4 of the converter: packing. Lays the layers' folded weights and biases out in
 * weights.bin (layout.ts: each array at a multiple of WEIGHTS_ALIGN, in the shaders'
 * layout) and writes the manifest's layer list. Folding works in float64; a value that
 * overflows float32 here is refused, naming the layer and what was folded into it.
 */
import { alignWeights, packBias, packedBiasBytes, packedWeightsBytes, packLayer } from '../../../src/model/layout.ts';
import type { Layer } from '../../../src/model/manifest.ts';
import { firstNonFinite, isImage, type Fail, type LayerBuild } from './common.ts';

export function packLayers(
  layers: readonly LayerBuild[],
  imageTensor: string,
  fail: Fail,
): { manifestLayers: Layer[]; weights: Uint8Array } {
  let bytes = 0;
  const refs = layers.map((l) => {
    if (l.kind === 'maxpool') return undefined;
    const wOff = alignWeights(bytes);
    const wLen = packedWeightsBytes(l.kind, l.kernel, l.inChannels, l.outChannels);
    const bOff = alignWeights(wOff + wLen);
    const bLen = packedBiasBytes(l.outChannels);
    bytes = bOff + bLen;
    return { weights: { offset: wOff, length: wLen }, bias: { offset: bOff, length: bLen } };
  });
  const out = new Float32Array(alignWeights(bytes) / 4);
  const manifestLayers: Layer[] = layers.map((l, i) => {
    const ref = refs[i];
    const layer: Layer = {
      name: l.name,
      kind: l.kind,
      input: isImage(l.input) ? imageTensor : l.input.output,
      output: l.output,
      ...(l.residual ? { residual: l.residual.output } : {}),
      kernel: [...l.kernel],
      stride: [...l.stride],
      dilation: [...l.dilation],
      padding: { mode: l.padding.mode, pads: [...l.padding.pads] },
      activation: l.activation,
      inChannels: l.inChannels,
      outChannels: l.outChannels,
    };
    if (ref && l.kind !== 'maxpool') {
      const w = packLayer(l.kind, l.weights!, l.inChannels, l.outChannels, l.kernel);
      const b = packBias(l.bias!, l.outChannels);
      for (const [what, values, source] of [
        ['weights', w, l.weights!],
        ['bias', b, l.bias!],
      ] as const) {
        const bad = firstNonFinite(values);
        if (bad >= 0) {
          const big = source.find((v) => Math.abs(v) > 3.4028234663852886e38);
          throw fail(
            `${l.node}: its folded ${what} hold ${big ?? 'a value'} beyond float32's range (infinite once packed)` +
              (l.folded.length ? `, after folding ${l.folded.join(', ')}` : ''),
          );
        }
      }
      out.set(w, ref.weights.offset / 4);
      out.set(b, ref.bias.offset / 4);
      layer.weights = ref.weights;
      layer.bias = ref.bias;
    }
    return layer;
  });
  return { manifestLayers, weights: new Uint8Array(out.buffer) };
}
