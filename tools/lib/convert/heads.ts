/**
 * The end of fusion: the four PoseNet heads among the graph outputs (heatmap 17 channels,
 * offsets 34, displacements fwd and bwd 32 each, 1×1 linear convs on one feature map),
 * fused into one pointwise layer `heads` whose output holds each head at a multiple of 4.
 */
import { c4 } from '../../../src/model/layout.ts';
import { HEAD_CHANNELS, HEAD_NAMES, type HeadName } from '../../../src/model/manifest.ts';
import { IDENTITY_PERM, layoutName, NHWC_PERM, samePerm, type Fail, type LayerBuild } from './common.ts';
import type { FusedGraph } from './fusion.ts';

export interface HeadPick {
  layer: LayerBuild;
  /** The head's output name in the ONNX graph. */
  source: string;
}

/** Picks the four heads among the graph outputs (by channel count, then fwd/bwd names). */
export function findHeads(outputs: FusedGraph['outputs'], fail: Fail): Record<HeadName, HeadPick> {
  const outs = outputs.map(({ name, value: v }) => {
    if (v?.kind !== 'act') throw fail(`graph output "${name}" is not computed by a Conv; a PoseNet's outputs are its four heads`);
    return { name, layer: v.layer, perm: v.perm };
  });
  const list = (): string => outs.map((o) => `"${o.name}" (${o.layer.outChannels})`).join(', ');
  const wanted = 'heatmap (17 channels), offsets (34), displacement fwd (32) and bwd (32)';
  for (const o of outs) {
    if (![17, 34, 32].includes(o.layer.outChannels)) {
      throw fail(
        `not a PoseNet: graph output "${o.name}" has ${o.layer.outChannels} channels; the outputs must be ${wanted}; found ${list()}`,
      );
    }
  }
  const by = (c: number) => outs.filter((o) => o.layer.outChannels === c);
  const [hm, off, disp] = [by(17), by(34), by(32)];
  if (hm.length !== 1 || off.length !== 1 || disp.length !== 2) {
    const missing =
      hm.length === 0
        ? 'no heatmap output (17 channels)'
        : off.length === 0
          ? 'no offsets output (34 channels)'
          : disp.length < 2
            ? `${disp.length} displacement outputs (32 channels) instead of 2`
            : 'more than four heads';
    throw fail(`not a PoseNet: ${missing}; the outputs must be ${wanted}; found ${list()}`);
  }
  let [fwd, bwd] = disp as [(typeof outs)[0], (typeof outs)[0]];
  const tag = (o: (typeof outs)[0], re: RegExp): boolean => re.test(o.name) || re.test(o.layer.name);
  if (tag(bwd, /fwd/i) && tag(fwd, /bwd/i) && !tag(fwd, /fwd/i) && !tag(bwd, /bwd/i)) [fwd, bwd] = [bwd, fwd];
  const picked = { heatmap: hm[0]!, offsets: off[0]!, displacementFwd: fwd, displacementBwd: bwd };
  const result = {} as Record<HeadName, HeadPick>;
  const seen = new Set<LayerBuild>();
  for (const h of HEAD_NAMES) {
    const o = picked[h];
    const l = o.layer;
    const what = `head "${o.name}" (${h}, from ${l.node})`;
    if (seen.has(l)) throw fail(`not a PoseNet: ${what} is the same tensor as another head`);
    seen.add(l);
    if (l.kind !== 'pointwise' || l.stride[0] !== 1 || l.stride[1] !== 1) {
      throw fail(
        `not a PoseNet: ${what} is a ${l.kernel.join('×')} ${l.kind} with stride ${l.stride.join('×')}; heads must be 1×1 convs with stride 1`,
      );
    }
    if (l.activation !== 'none' || l.residual) throw fail(`not a PoseNet: ${what} has an activation or residual; heads are linear`);
    if (!samePerm(o.perm, IDENTITY_PERM) && !samePerm(o.perm, NHWC_PERM)) {
      throw fail(`graph output "${o.name}" is in layout ${layoutName(o.perm)}; NCHW or NHWC expected`);
    }
    if (l.input !== picked.heatmap.layer.input) {
      throw fail(`not a PoseNet: ${what} reads a different tensor than the heatmap head; all four heads must read the same feature map`);
    }
    result[h] = { layer: l, source: o.name };
  }
  return result;
}

/**
 * The four head convs as one pointwise layer `heads` writing the tensor `heads`, each
 * head's channels starting at a multiple of 4. Returns the layer and each head's offset.
 */
export function fuseHeads(heads: Record<HeadName, HeadPick>, position: number): { layer: LayerBuild; offsets: Record<HeadName, number> } {
  const offsets = {} as Record<HeadName, number>;
  let total = 0;
  for (const h of HEAD_NAMES) {
    offsets[h] = total;
    total += 4 * c4(HEAD_CHANNELS[h]);
  }
  const featureChannels = heads.heatmap.layer.inChannels;
  const hw = new Float64Array(total * featureChannels);
  const hb = new Float64Array(total);
  for (const h of HEAD_NAMES) {
    const l = heads[h].layer;
    hw.set(l.weights!, offsets[h] * featureChannels);
    hb.set(l.bias!, offsets[h]);
  }
  const layer: LayerBuild = {
    index: -1,
    last: position,
    name: 'heads',
    node: 'the fused heads',
    kind: 'pointwise',
    input: heads.heatmap.layer.input,
    kernel: [1, 1],
    stride: [1, 1],
    dilation: [1, 1],
    padding: { mode: 'explicit', pads: [0, 0, 0, 0] },
    activation: 'none',
    inChannels: featureChannels,
    outChannels: total,
    weights: hw,
    bias: hb,
    folded: HEAD_NAMES.flatMap((h) => heads[h].layer.folded),
    output: 'heads',
    stage: 'final',
  };
  return { layer, offsets };
}
