/**
 * Stage 3 of the converter: shape inference. The stride of every layer's output relative
 * to the image (a residual must be added at its own stride; the heads' stride is the
 * output stride, 8, 16 or 32), and the geometry of the whole chain at the reference input
 * sizes of layout.ts: a pad, kernel or dilation that changes the heads grid is reported
 * here, naming the ONNX node, instead of at inference time.
 */
import { chainGeometryError, type ChainLayer } from '../../../src/model/layout.ts';
import { isImage, type Fail, type ImageVal, type LayerBuild, type OutputStride } from './common.ts';

/** The output stride: the product of the strides before the heads (checked against metadata and the option). */
export function inferOutputStride(
  layers: readonly LayerBuild[],
  headsLayer: LayerBuild,
  fail: Fail,
  expected: { metadata?: string; option?: OutputStride },
): OutputStride {
  const strides = new Map<LayerBuild, [number, number]>();
  const strideOf = (r: LayerBuild | ImageVal): [number, number] => (isImage(r) ? [1, 1] : strides.get(r)!);
  for (const l of layers) {
    const s = strideOf(l.input);
    const out: [number, number] = [s[0] * l.stride[0], s[1] * l.stride[1]];
    if (l.residual) {
      const r = strides.get(l.residual)!;
      if (r[0] !== out[0] || r[1] !== out[1]) {
        throw fail(`${l.node}: adds "${l.residual.output}" at stride ${r.join('×')} to its output at stride ${out.join('×')}`);
      }
    }
    strides.set(l, out);
  }
  const [sh, sw] = strideOf(headsLayer.input);
  if (sh !== sw || ![8, 16, 32].includes(sh)) {
    throw fail(
      `not a PoseNet: the heads read a feature map at stride ${sh === sw ? sh : `${sh}×${sw}`} (the product of the strides before them); PoseNet's output stride is 8, 16 or 32`,
    );
  }
  if (expected.metadata !== undefined && Number(expected.metadata) !== sh) {
    throw fail(`metadata posenet.output_stride is ${expected.metadata} but the graph's output stride is ${sh}`);
  }
  if (expected.option !== undefined && expected.option !== sh) {
    throw fail(`output stride ${expected.option} was asked for but the graph's is ${sh}`);
  }
  return sh as OutputStride;
}

/**
 * Runs the layers (heads last) at the reference input sizes and checks that they make the
 * heads grid of `outputStride`; the error names the first node whose output size is off.
 */
export function checkGeometry(layers: readonly LayerBuild[], imageTensor: string, outputStride: number, fail: Fail): void {
  const chain: ChainLayer[] = layers.map((l) => ({
    what: l.node,
    name: l.name,
    input: isImage(l.input) ? imageTensor : l.input.output,
    output: l.output,
    ...(l.residual ? { residual: l.residual.output } : {}),
    kernel: l.kernel,
    stride: l.stride,
    dilation: l.dilation,
    padding: l.padding,
  }));
  const error = chainGeometryError(chain, imageTensor, layers[layers.length - 1]!.output, outputStride);
  if (error) throw fail(`${error}; a PoseNet's layers keep every feature map at ceil(input / stride)`);
}
