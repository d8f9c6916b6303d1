/**
 * Stage 4 of the converter: packing. Lays the layers' folded weights and biases (and, for
 * int8, scales) out in weights.bin (layout.ts: each array at a multiple of WEIGHTS_ALIGN,
 * in the shaders' layout; weights encoded in the chosen format, weight-format.ts) and
 * writes the manifest's layer list. Folding works in float64; a value that overflows
 * float32 (or float16, for f16 weights) here is refused, naming the layer and what was
 * folded into it.
 */
import { alignWeights, c4, packBias, packedBiasBytes, packedWeightsBytes, packLayer } from '../../../src/model/layout.ts';
import type { Layer } from '../../../src/model/manifest.ts';
import { encodeWeights, hasScales, type WeightFormat } from '../../../src/model/weight-format.ts';
import { firstNonFinite, isImage, type Fail, type LayerBuild } from './common.ts';

export function packLayers(
  layers: readonly LayerBuild[],
  imageTensor: string,
  format: WeightFormat,
  fail: Fail,
): { manifestLayers: Layer[]; weights: Uint8Array } {
  let bytes = 0;
  const refs = layers.map((l) => {
    if (l.kind === 'maxpool') return undefined;
    const wOff = alignWeights(bytes);
    const wLen = packedWeightsBytes(l.kind, l.kernel, l.inChannels, l.outChannels, format);
    const bOff = alignWeights(wOff + wLen);
    const bLen = packedBiasBytes(l.outChannels);
    bytes = bOff + bLen;
    const scales = hasScales(format) ? { offset: bytes, length: bLen } : undefined;
    if (scales) bytes += bLen;
    return { weights: { offset: wOff, length: wLen }, bias: { offset: bOff, length: bLen }, ...(scales ? { scales } : {}) };
  });
  const out = new Uint8Array(alignWeights(bytes));
  const floats = new Float32Array(out.buffer);
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
      let encoded;
      try {
        encoded = encodeWeights(format, w, c4(l.outChannels));
      } catch (e) {
        throw fail(
          `${l.node}: ${format} weights: ${(e as Error).message}` + (l.folded.length ? ` (after folding ${l.folded.join(', ')})` : ''),
        );
      }
      out.set(encoded.bytes, ref.weights.offset);
      floats.set(b, ref.bias.offset / 4);
      layer.weights = ref.weights;
      layer.bias = ref.bias;
      if (ref.scales && encoded.scales) {
        floats.set(encoded.scales, ref.scales.offset / 4);
        layer.scales = ref.scales;
      }
    }
    return layer;
  });
  return { manifestLayers, weights: out };
}
