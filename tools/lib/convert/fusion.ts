/**
 * Stage 2 of the converter: fusion. Visits the graph's live nodes in topological order and
 * turns them into layers (see convert.ts for the rules):
 *
 * - `Conv` starts a layer: `depthwise` when group == in == out channels, `pointwise` when
 *   1×1 without padding (stride allowed), `conv` otherwise. Grouped convs are refused.
 * - What follows a conv and is its only consumer is folded into it, in this order:
 *   per-channel affine ops (`BatchNormalization`, `Add`/`Sub`/`Mul`/`Div` by a constant:
 *   folded into weights and bias), a residual `Add` of another layer's output (the
 *   later-created conv takes the add; the other operand becomes `residual`), then the
 *   activation (`Relu`, `Clip(0, 6)`, `Clip(0, inf)`).
 * - `MaxPool` is a `maxpool` layer (padding acts as -infinity, as in ONNX).
 * - `Transpose`s only change the layout a tensor is viewed in; `Identity`/`Dropout` are
 *   aliases; per-channel ops on the graph input are the preprocessing.
 * - The four heads are then picked and fused into one layer (heads.ts).
 *
 * Every kernel, stride, dilation and pad is checked against GEOMETRY_LIMITS as it is read,
 * and every weight and bias is finite when read and after each fold: a NaN, an infinity or
 * a division by zero is reported with the node and the tensor that brought it in.
 */
import { geometryLimitError } from '../../../src/model/layout.ts';
import type { Activation, LayerKind, Padding } from '../../../src/model/manifest.ts';
import { attrFloatValue, attrIntsValue, attrIntValue, attrStringValue, getAttr, type NodeProto } from '../onnx.ts';
import {
  firstNonFinite,
  IDENTITY_PERM,
  isImage,
  layoutName,
  samePerm,
  type ActVal,
  type ConstVal,
  type Fail,
  type ImageVal,
  type LayerBuild,
  type Value,
} from './common.ts';
import { describeNode, type OnnxGraph } from './graph.ts';

export const SUPPORTED_OPS = [
  'Conv',
  'BatchNormalization',
  'Relu',
  'Clip',
  'Add',
  'Sub',
  'Mul',
  'Div',
  'MaxPool',
  'Transpose',
  'Identity',
  'Dropout',
  'Constant',
];

export interface FusedGraph {
  /** Every layer, heads included, in creation order. */
  layers: LayerBuild[];
  /** The graph's outputs as values (the heads are found among them). */
  outputs: { name: string; value: Value | undefined }[];
  /** Topological position after the last node. */
  end: number;
}

/** Folds the graph's live nodes into layers. */
export function fuseGraph(graph: OnnxGraph, fail: Fail): FusedGraph {
  const fuser = new Fuser(graph, fail);
  graph.nodes.forEach((n, position) => {
    fuser.visit(n.node, n.index, position);
  });
  return {
    layers: fuser.layers,
    outputs: graph.graphOutputs.map((name) => ({ name, value: fuser.values.get(name) })),
    end: graph.nodes.length,
  };
}

class Fuser {
  readonly values = new Map<string, Value>();
  readonly layers: LayerBuild[] = [];
  /** Topological position of the node being visited. */
  private position = 0;

  constructor(
    private readonly graph: OnnxGraph,
    private readonly fail: Fail,
  ) {
    this.values.set(graph.inputName, graph.imageValue());
  }

  private consumerCount(name: string): number {
    return this.graph.consumerCount(name);
  }

  private value(name: string, node: string): Value {
    const v = this.values.get(name);
    if (v) return v;
    const init = this.graph.initializers.get(name);
    if (init) {
      const c = this.graph.tensorToConst(init, 'initializer');
      this.values.set(name, c);
      return c;
    }
    throw this.fail(`${node} reads tensor "${name}", which nothing computes`);
  }

  private constant(name: string, node: string, role: string): ConstVal {
    const v = this.value(name, node);
    if (v.kind !== 'const') throw this.fail(`${node}: ${role} "${name}" must be a constant (an initializer or Constant node)`);
    return v;
  }

  /** A constant whose every value must be finite (weights, biases, normalisation parameters). */
  private finiteConstant(name: string, node: string, role: string): ConstVal {
    const c = this.constant(name, node, role);
    const bad = firstNonFinite(c.data);
    if (bad >= 0) {
      throw this.fail(
        `${node}: ${role} "${name}" holds ${c.data[bad]} at element ${bad} of [${c.dims.join(', ')}]; weights must be finite`,
      );
    }
    return c;
  }

  visit(node: NodeProto, index: number, position: number): void {
    this.position = position;
    const desc = describeNode({ node, index });
    const op = node.opType ?? '';
    if (node.domain && node.domain !== 'ai.onnx') {
      throw this.fail(
        `${desc}: unsupported op ${node.domain}.${op}; the converter handles ${SUPPORTED_OPS.join(', ')} from the default ONNX domain`,
      );
    }
    const out = node.output?.[0] ?? '';
    switch (op) {
      case 'Constant':
        this.values.set(out, this.constantNode(node, desc));
        return;
      case 'Identity':
      case 'Dropout': {
        if (op === 'Dropout') this.requireUnused(node, 1, desc, 'mask');
        const v = this.value(node.input?.[0] ?? '', desc);
        this.values.set(out, v.kind === 'act' ? { ...v, fusable: v.fusable && this.consumerCount(out) === 1 } : v);
        return;
      }
      case 'Transpose':
        this.values.set(out, this.transpose(node, desc));
        return;
      case 'Conv':
        this.values.set(out, this.conv(node, desc));
        return;
      case 'MaxPool':
        this.values.set(out, this.maxPool(node, desc));
        return;
      case 'BatchNormalization':
        this.values.set(out, this.batchNorm(node, desc));
        return;
      case 'Relu':
        this.values.set(out, this.activation(node, desc, 'relu'));
        return;
      case 'Clip':
        this.values.set(out, this.activation(node, desc, this.clipActivation(node, desc)));
        return;
      case 'Add':
      case 'Sub':
      case 'Mul':
      case 'Div':
        this.values.set(out, this.elementwise(node, desc, op));
        return;
      default:
        throw this.fail(`${desc}: unsupported op ${op}; the converter handles ${SUPPORTED_OPS.join(', ')}`);
    }
  }

  private requireUnused(node: NodeProto, from: number, desc: string, what: string): void {
    const extra = (node.output ?? []).slice(from).filter((o) => o && this.consumerCount(o) > 0);
    if (extra.length) throw this.fail(`${desc}: its ${what} output "${extra[0]}" is used; only inference graphs are supported`);
  }

  private constantNode(node: NodeProto, desc: string): ConstVal {
    const out = node.output?.[0] ?? '';
    const t = getAttr(node, 'value');
    if (t?.t) return { ...this.graph.tensorToConst({ ...t.t, name: t.t.name || out }, `${desc} tensor`), name: out };
    const f = getAttr(node, 'value_float');
    if (f) return { kind: 'const', name: out, dims: [], data: Float32Array.of(f.f ?? 0) };
    const fs_ = getAttr(node, 'value_floats');
    if (fs_) return { kind: 'const', name: out, dims: [(fs_.floats ?? []).length], data: Float32Array.from(fs_.floats ?? []) };
    const kind = (node.attribute ?? [])[0]?.name ?? 'nothing';
    throw this.fail(`${desc}: Constant with ${kind} is not supported; only float32 constants are`);
  }

  private transpose(node: NodeProto, desc: string): Value {
    const v = this.value(node.input?.[0] ?? '', desc);
    const perm = attrIntsValue(node, 'perm', [3, 2, 1, 0]);
    if (v.kind === 'const') throw this.fail(`${desc}: transposing the constant "${v.name}" is not supported`);
    if (perm.length !== 4 || !samePerm([...perm].sort(), IDENTITY_PERM)) {
      throw this.fail(`${desc}: perm [${perm.join(',')}] is not a permutation of 4 axes`);
    }
    const composed = perm.map((p) => v.perm[p]!);
    const out = node.output?.[0] ?? '';
    if (v.kind === 'image') return { ...v, perm: composed, tensor: out };
    return { ...v, perm: composed, fusable: v.fusable && this.consumerCount(out) === 1 };
  }

  /** The tensor a layer reads: an activation or the (preprocessed) image, in NCHW. */
  private layerInput(name: string, desc: string): { ref: LayerBuild | ImageVal; channels: number } {
    const v = this.value(name, desc);
    if (v.kind === 'const') throw this.fail(`${desc}: its input "${name}" is a constant`);
    if (!samePerm(v.perm, IDENTITY_PERM)) {
      throw this.fail(
        `${desc}: its input "${name}" is in layout ${layoutName(v.perm)}; Conv and MaxPool read NCHW (is a Transpose missing?)`,
      );
    }
    if (v.kind === 'image') return { ref: v, channels: 3 };
    return { ref: v.layer, channels: v.layer.outChannels };
  }

  private padding(node: NodeProto, desc: string): Padding {
    const autoPad = attrStringValue(node, 'auto_pad', 'NOTSET');
    switch (autoPad) {
      case 'SAME_UPPER':
        return { mode: 'same_upper', pads: [0, 0, 0, 0] };
      case 'SAME_LOWER':
        return { mode: 'same_lower', pads: [0, 0, 0, 0] };
      case 'VALID':
        return { mode: 'explicit', pads: [0, 0, 0, 0] };
      case 'NOTSET':
      case '': {
        const pads = attrIntsValue(node, 'pads', [0, 0, 0, 0]);
        if (pads.length !== 4 || pads.some((p) => p < 0)) {
          throw this.fail(`${desc}: pads [${pads.join(',')}] are not 4 non-negative values (2-D, [top, left, bottom, right])`);
        }
        // ONNX orders pads [x1_begin, x2_begin, x1_end, x2_end] = [top, left, bottom, right].
        return { mode: 'explicit', pads: pads as [number, number, number, number] };
      }
      default:
        throw this.fail(`${desc}: unknown auto_pad "${autoPad}"`);
    }
  }

  private pair(node: NodeProto, name: string, desc: string): [number, number] {
    const v = attrIntsValue(node, name, [1, 1]);
    if (v.length !== 2 || v.some((x) => !(x >= 1))) throw this.fail(`${desc}: ${name} [${v.join(',')}] must be 2 values >= 1`);
    return v as [number, number];
  }

  /** Refuses geometry beyond GEOMETRY_LIMITS (layout.ts), naming the node. */
  private checkLimits(
    desc: string,
    l: Pick<LayerBuild, 'kernel' | 'stride' | 'dilation' | 'padding' | 'inChannels' | 'outChannels'>,
  ): void {
    const error = geometryLimitError({ ...l, pads: l.padding.pads });
    if (error) throw this.fail(`${desc}: ${error}`);
  }

  private conv(node: NodeProto, desc: string): ActVal {
    const [xName = '', wName = '', bName = ''] = node.input ?? [];
    const { ref, channels } = this.layerInput(xName, desc);
    const w = this.finiteConstant(wName, desc, 'weight');
    if (w.dims.length !== 4) {
      throw this.fail(`${desc}: weight "${wName}" has shape [${w.dims.join(', ')}]; only 2-D convolutions (4-D weights) are supported`);
    }
    const [m, cg, kh, kw] = w.dims as [number, number, number, number];
    const group = attrIntValue(node, 'group', 1);
    if (cg * group !== channels) {
      throw this.fail(
        `${desc}: weight "${wName}" [${w.dims.join(', ')}] with group ${group} expects ${cg * group} input channels, its input has ${channels}`,
      );
    }
    const ks = attrIntsValue(node, 'kernel_shape', [kh, kw]);
    if (ks[0] !== kh || ks[1] !== kw) {
      throw this.fail(`${desc}: kernel_shape [${ks.join(',')}] does not match weight "${wName}" [${w.dims.join(', ')}]`);
    }
    const kernel: [number, number] = [kh, kw];
    const stride = this.pair(node, 'strides', desc);
    let dilation = this.pair(node, 'dilations', desc);
    let padding = this.padding(node, desc);
    this.checkLimits(desc, { kernel, stride, dilation, padding, inChannels: channels, outChannels: m });
    let kind: LayerKind;
    if (group === 1) {
      const zeroPad = padding.mode !== 'explicit' || padding.pads.every((p) => p === 0);
      kind = kh === 1 && kw === 1 && zeroPad ? 'pointwise' : 'conv';
    } else if (group === channels && m === channels && cg === 1) {
      kind = 'depthwise';
    } else {
      throw this.fail(
        `${desc}: grouped convolution (group ${group}, ${channels}→${m} channels) is not supported; only group 1 and depthwise (group = in = out channels)`,
      );
    }
    if (kind === 'pointwise') {
      // 1×1 with SAME padding pads nothing, and dilation has no effect.
      padding = { mode: 'explicit', pads: [0, 0, 0, 0] };
      dilation = [1, 1];
    }
    let bias = new Float64Array(m);
    if (bName) {
      const b = this.finiteConstant(bName, desc, 'bias');
      if (b.data.length !== m) throw this.fail(`${desc}: bias "${bName}" has ${b.data.length} values for ${m} output channels`);
      bias = Float64Array.from(b.data);
    }
    const layer: LayerBuild = {
      index: this.layers.length,
      last: this.position,
      name: node.name || node.output?.[0] || `Conv_${this.layers.length}`,
      node: desc,
      kind,
      input: ref,
      kernel,
      stride,
      dilation,
      padding,
      activation: 'none',
      inChannels: channels,
      outChannels: m,
      weights: Float64Array.from(w.data),
      bias,
      folded: [],
      output: node.output?.[0] ?? '',
      stage: 'conv',
    };
    this.layers.push(layer);
    return { kind: 'act', layer, perm: [...IDENTITY_PERM], fusable: this.consumerCount(layer.output) === 1 };
  }

  private maxPool(node: NodeProto, desc: string): ActVal {
    this.requireUnused(node, 1, desc, 'indices');
    const { ref, channels } = this.layerInput(node.input?.[0] ?? '', desc);
    if (isImage(ref)) throw this.fail(`${desc}: max-pooling the input image is not supported`);
    const ks = attrIntsValue(node, 'kernel_shape', []);
    if (ks.length !== 2) throw this.fail(`${desc}: kernel_shape [${ks.join(',')}] must have 2 values`);
    if (attrIntValue(node, 'ceil_mode', 0) !== 0) throw this.fail(`${desc}: ceil_mode 1 is not supported`);
    const dilations = attrIntsValue(node, 'dilations', [1, 1]);
    if (dilations.some((d) => d !== 1)) throw this.fail(`${desc}: dilations [${dilations.join(',')}] are not supported for MaxPool`);
    const layer: LayerBuild = {
      index: this.layers.length,
      last: this.position,
      name: node.name || node.output?.[0] || `MaxPool_${this.layers.length}`,
      node: desc,
      kind: 'maxpool',
      input: ref,
      kernel: ks as [number, number],
      stride: this.pair(node, 'strides', desc),
      dilation: [1, 1],
      padding: this.padding(node, desc),
      activation: 'none',
      inChannels: channels,
      outChannels: channels,
      folded: [],
      output: node.output?.[0] ?? '',
      stage: 'final',
    };
    this.checkLimits(desc, layer);
    this.layers.push(layer);
    return { kind: 'act', layer, perm: [...IDENTITY_PERM], fusable: false };
  }

  /** The layer a fusing node folds into, or an error saying why it cannot. */
  private fusionTarget(v: Value, name: string, desc: string, what: string): ActVal {
    if (v.kind === 'image') throw this.fail(`${desc}: ${what} on the input image is not supported`);
    if (v.kind === 'const') throw this.fail(`${desc}: ${what} on the constant "${name}" is not supported`);
    if (!v.fusable || v.layer.stage === 'final') {
      const why = v.layer.stage === 'final' ? `${v.layer.node} is a pooling layer` : `"${name}" has other readers`;
      throw this.fail(
        `${desc}: cannot fold ${what} into ${v.layer.node}: ${why}; only ops right after a Conv that nothing else reads can be fused`,
      );
    }
    return v;
  }

  /** Result value after `node` has been folded into `layer`. */
  private fused(layer: LayerBuild, node: NodeProto, perm: number[]): ActVal {
    const out = node.output?.[0] ?? '';
    layer.output = out;
    layer.last = this.position;
    return { kind: 'act', layer, perm, fusable: this.consumerCount(out) === 1 };
  }

  private batchNorm(node: NodeProto, desc: string): ActVal {
    this.requireUnused(node, 1, desc, 'training');
    const [xName = '', sName = '', bName = '', mName = '', vName = ''] = node.input ?? [];
    const v = this.fusionTarget(this.value(xName, desc), xName, desc, 'BatchNormalization');
    if (attrIntValue(node, 'training_mode', 0) !== 0) throw this.fail(`${desc}: training_mode 1 is not supported`);
    if (!samePerm(v.perm, IDENTITY_PERM)) {
      throw this.fail(`${desc}: its input "${xName}" is in layout ${layoutName(v.perm)}, BatchNormalization normalises axis 1 of NCHW`);
    }
    const layer = v.layer;
    if (layer.stage !== 'conv')
      throw this.fail(`${desc}: cannot fold BatchNormalization into ${layer.node} after its residual add or activation`);
    const c = layer.outChannels;
    const get = (n: string, role: string): Float32Array => {
      const t = this.finiteConstant(n, desc, role);
      if (t.data.length !== c) throw this.fail(`${desc}: ${role} "${n}" has ${t.data.length} values for ${c} channels`);
      return t.data;
    };
    const scale = get(sName, 'scale');
    const beta = get(bName, 'B');
    const mean = get(mName, 'mean');
    const variance = get(vName, 'var');
    const eps = attrFloatValue(node, 'epsilon', 1e-5);
    const mul = new Float64Array(c);
    const add = new Float64Array(c);
    for (let i = 0; i < c; i++) {
      if (!(variance[i]! + eps > 0)) {
        throw this.fail(
          `${desc}: var "${vName}" + epsilon is ${variance[i]! + eps} at channel ${i}; it must be > 0 (it is square-rooted and divided by)`,
        );
      }
      mul[i] = scale[i]! / Math.sqrt(variance[i]! + eps);
      add[i] = beta[i]! - mean[i]! * mul[i]!;
    }
    this.applyAffine(layer, mul, add, desc);
    return this.fused(layer, node, v.perm);
  }

  /** y = mul * conv(x) + add, per output channel, folded into weights and bias; the result must stay finite. */
  private applyAffine(layer: LayerBuild, mul: Float64Array | null, add: Float64Array | null, desc: string): void {
    const w = layer.weights!;
    const b = layer.bias!;
    const per = w.length / layer.outChannels;
    for (let oc = 0; oc < layer.outChannels; oc++) {
      if (mul) {
        const s = mul[oc]!;
        for (let j = oc * per; j < (oc + 1) * per; j++) w[j] = w[j]! * s;
        b[oc] = b[oc]! * s;
      }
      if (add) b[oc] = b[oc]! + add[oc]!;
    }
    layer.folded.push(desc);
    for (const [what, values] of [
      ['weights', w],
      ['bias', b],
    ] as const) {
      const bad = firstNonFinite(values);
      if (bad >= 0) {
        const channel = what === 'bias' ? bad : Math.floor(bad / per);
        throw this.fail(
          `${desc}: folding it into ${layer.node} makes its ${what} ${values[bad]} at output channel ${channel}; weights must be finite`,
        );
      }
    }
  }

  private clipActivation(node: NodeProto, desc: string): Activation {
    let lo = -Infinity;
    let hi = Infinity;
    if (getAttr(node, 'min')) lo = attrFloatValue(node, 'min', lo);
    if (getAttr(node, 'max')) hi = attrFloatValue(node, 'max', hi);
    const scalar = (name: string | undefined, role: string): number | undefined => {
      if (!name) return undefined;
      const c = this.constant(name, desc, role);
      if (c.data.length !== 1) throw this.fail(`${desc}: ${role} "${name}" has ${c.data.length} values; a scalar is expected`);
      return c.data[0]!;
    };
    lo = scalar(node.input?.[1], 'min') ?? lo;
    hi = scalar(node.input?.[2], 'max') ?? hi;
    // Clip-6..10 keep min/max as attributes, Clip-11+ as inputs: accept either.
    if (lo === 0 && hi === 6) return 'relu6';
    if (lo === 0 && (hi === Infinity || hi >= 3.4e38)) return 'relu';
    throw this.fail(`${desc}: Clip(min ${lo}, max ${hi}) is not supported; only Clip(0, 6) (relu6) and Clip(0, inf) (relu)`);
  }

  private activation(node: NodeProto, desc: string, act: Activation): ActVal {
    const xName = node.input?.[0] ?? '';
    const v = this.fusionTarget(this.value(xName, desc), xName, desc, node.opType ?? 'activation');
    const layer = v.layer;
    const prev = layer.activation;
    layer.activation = prev === 'relu6' || act === 'relu6' ? 'relu6' : 'relu';
    layer.stage = 'activated';
    return this.fused(layer, node, v.perm);
  }

  /** Per-channel values of a constant broadcast against a tensor viewed with `perm`. */
  private perChannel(c: ConstVal, perm: number[], channels: number, desc: string): Float64Array {
    const out = new Float64Array(channels);
    if (c.data.length === 1) return out.fill(c.data[0]!);
    const channelAxis = perm.indexOf(1);
    const rank = c.dims.length;
    const ok = rank <= 4 && c.data.length === channels && c.dims.every((d, j) => (4 - rank + j === channelAxis ? d === channels : d === 1));
    if (!ok) {
      throw this.fail(
        `${desc}: constant "${c.name}" [${c.dims.join(', ')}] is not a per-channel value for a ${channels}-channel tensor in layout ${layoutName(perm)}`,
      );
    }
    for (let i = 0; i < channels; i++) out[i] = c.data[i]!;
    return out;
  }

  private elementwise(node: NodeProto, desc: string, op: 'Add' | 'Sub' | 'Mul' | 'Div'): Value {
    const [aName = '', bName = ''] = node.input ?? [];
    const a = this.value(aName, desc);
    const b = this.value(bName, desc);
    const out = node.output?.[0] ?? '';
    if (a.kind === 'const' && b.kind === 'const')
      throw this.fail(`${desc}: ${op} of two constants is not supported (fold constants before converting)`);
    if (a.kind !== 'const' && b.kind !== 'const') {
      if (op === 'Add' && a.kind === 'act' && b.kind === 'act') return this.residualAdd(node, desc, a, aName, b, bName);
      throw this.fail(
        `${desc}: ${op} of "${aName}" and "${bName}" is not supported; only a residual Add of two conv outputs, or an op with a constant`,
      );
    }
    const constFirst = a.kind === 'const';
    const c = (constFirst ? a : b) as ConstVal;
    const x = (constFirst ? b : a) as ImageVal | ActVal;
    const xName = constFirst ? bName : aName;
    if (op === 'Div' && constFirst) throw this.fail(`${desc}: dividing a constant by "${xName}" is not supported`);
    const channels = x.kind === 'image' ? 3 : x.layer.outChannels;
    const k = this.perChannel(c, x.perm, channels, desc);
    const badK = firstNonFinite(k);
    if (badK >= 0) throw this.fail(`${desc}: constant "${c.name}" holds ${k[badK]} at channel ${badK}; it must be finite`);
    if (op === 'Div' && k.includes(0)) throw this.fail(`${desc}: divides by constant "${c.name}", which is 0 at channel ${k.indexOf(0)}`);
    // y = mul * x + add
    let mul: Float64Array | null = null;
    let add: Float64Array | null = null;
    switch (op) {
      case 'Add':
        add = k;
        break;
      case 'Sub':
        if (constFirst) {
          mul = new Float64Array(channels).fill(-1);
          add = k;
        } else {
          add = k.map((v) => -v);
        }
        break;
      case 'Mul':
        mul = k;
        break;
      case 'Div':
        mul = k.map((v) => 1 / v);
        break;
    }
    if (x.kind === 'image') {
      const na = [...x.a] as [number, number, number];
      const nb = [...x.b] as [number, number, number];
      for (let i = 0; i < 3; i++) {
        const m = mul ? mul[i]! : 1;
        na[i] = na[i]! * m;
        nb[i] = nb[i]! * m + (add ? add[i]! : 0);
      }
      if (firstNonFinite([...na, ...nb]) >= 0 || na.includes(0)) {
        throw this.fail(
          `${desc}: the input preprocessing becomes ${na.map((v, i) => `${v}·x + ${nb[i]}`).join(', ')}; it must be finite and not 0·x`,
        );
      }
      return { ...x, a: na, b: nb, ops: x.ops + 1, tensor: out };
    }
    const v = this.fusionTarget(x, xName, desc, `${op} by a constant`);
    const layer = v.layer;
    if (layer.stage === 'activated') throw this.fail(`${desc}: cannot fold ${op} into ${layer.node} after its activation`);
    if (layer.stage === 'residual' && mul) throw this.fail(`${desc}: cannot fold ${op} into ${layer.node} after its residual add`);
    this.applyAffine(layer, mul, add, desc);
    return this.fused(layer, node, v.perm);
  }

  private residualAdd(node: NodeProto, desc: string, a: ActVal, aName: string, b: ActVal, bName: string): ActVal {
    if (!samePerm(a.perm, IDENTITY_PERM) || !samePerm(b.perm, IDENTITY_PERM)) {
      throw this.fail(`${desc}: residual Add of tensors in layout ${layoutName(a.perm)} and ${layoutName(b.perm)}; NCHW expected`);
    }
    // Depthwise layers take no residual (the runtime's depthwise kernel has none).
    const ok = (v: ActVal): boolean => v.fusable && v.layer.stage === 'conv' && v.layer.kind !== 'maxpool' && v.layer.kind !== 'depthwise';
    const candidates = [a, b].filter(ok).sort((x, y) => y.layer.index - x.layer.index);
    const target = candidates[0];
    if (!target || a.layer === b.layer) {
      throw this.fail(
        `${desc}: cannot fuse the Add of "${aName}" and "${bName}" into a conv: neither is a (non-depthwise) conv output, before its activation, that only this Add reads`,
      );
    }
    const other = target === a ? b : a;
    if (other.layer.outChannels !== target.layer.outChannels) {
      throw this.fail(`${desc}: adds "${aName}" (${a.layer.outChannels} channels) and "${bName}" (${b.layer.outChannels} channels)`);
    }
    target.layer.residual = other.layer;
    target.layer.stage = 'residual';
    return this.fused(target.layer, node, target.perm);
  }
}
