/**
 * ONNX PoseNet → weights manifest (`model.json`) + packed `weights.bin`.
 *
 * Reads MobileNetV1 (any width multiplier, output stride 8/16/32, dilated convs after the
 * stride is reached) and ResNet50 PoseNets in NCHW or NHWC layout, and turns the graph into
 * the manifest's list of fused layers (src/model/manifest.ts):
 *
 * - `Conv` starts a layer: `depthwise` when group == in == out channels, `pointwise` when
 *   1×1 without padding (stride allowed), `conv` otherwise. Grouped convs are refused.
 * - What follows a conv and is its only consumer is folded into it, in this order:
 *   per-channel affine ops (`BatchNormalization`, `Add`/`Sub`/`Mul`/`Div` by a constant:
 *   folded into weights and bias), a residual `Add` of another layer's output (the
 *   later-created conv takes the add; the other operand becomes `residual`), then the
 *   activation (`Relu`, `Clip(0, 6)`, `Clip(0, inf)`).
 * - `MaxPool` is a `maxpool` layer (padding acts as -infinity, as in ONNX).
 * - `Transpose`s only change the layout a tensor is viewed in: the input's NHWC→NCHW and
 *   the heads' NCHW→NHWC transposes disappear; `Identity`/`Dropout` are aliases.
 * - `Add`/`Sub`/`Mul`/`Div` by per-channel constants on the graph input are the
 *   preprocessing (manifest `preprocess`, `from: 'graph'`).
 * - The four head convs (17, 34, 32, 32 channels, 1×1, reading the same tensor) become
 *   one `pointwise` layer `heads` writing the tensor `heads`, each head's channels starting
 *   at a multiple of 4.
 *
 * Layers are listed in the topological order of the node that finishes each of them (the
 * last node fused into it), so each layer's input and residual are written by an earlier
 * layer or are the input tensor; the heads layer is last. Tensor names are the ONNX names
 * of each fused layer's last output.
 */
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import {
  attrFloatValue,
  attrIntsValue,
  attrIntValue,
  attrStringValue,
  DataType,
  decodeModel,
  getAttr,
  onnx,
  toNumber,
  type GraphProto,
  type ModelProto,
  type NodeProto,
  type TensorProto,
  type ValueInfoProto,
} from './onnx.ts';
import {
  c4,
  HEAD_CHANNELS,
  HEAD_NAMES,
  MANIFEST_FORMAT,
  MANIFEST_VERSION,
  type Activation,
  type Architecture,
  type HeadName,
  type HeadRef,
  type Layer,
  type LayerKind,
  type Manifest,
  type Padding,
  type Preprocess,
} from '../../src/model/manifest.ts';
import { packedBiasBytes, packedWeightsBytes, validateManifest } from '../../src/model/validate.ts';

export type PreprocessName = 'mobilenet' | 'resnet';
export type OutputStride = 8 | 16 | 32;

export interface ConvertOptions {
  /** Preprocessing when the graph has none of its own (wins over ONNX metadata). */
  preprocess?: PreprocessName;
  /** Manifest name; default: the output folder's basename (file) or the ONNX file's (bytes). */
  name?: string;
  /** Architecture label; default: ONNX metadata `posenet.architecture`, else from the graph. */
  architecture?: Architecture;
  /** Expected output stride: the conversion fails when the graph's differs. */
  outputStride?: OutputStride;
  /** Where notes go (e.g. "no preprocessing found, using the default"); default stderr. */
  log?: (line: string) => void;
}

export interface ConvertResult {
  manifest: Manifest;
  weights: Uint8Array;
  /** Things worth telling the user (also sent to `options.log` by convertOnnxFile). */
  notes: string[];
}

/** A conversion failure; the message is one line naming the file and what is at fault. */
export class ConvertError extends Error {
  override name = 'ConvertError';
}

/** The preprocessing each architecture was trained with: value = (pixel - mean) * scale. */
export const PREPROCESS_PRESETS: Readonly<Record<PreprocessName, { mean: [number, number, number]; scale: [number, number, number] }>> = {
  mobilenet: { mean: [127.5, 127.5, 127.5], scale: [1 / 127.5, 1 / 127.5, 1 / 127.5] },
  resnet: { mean: [123.15, 115.9, 103.06], scale: [1, 1, 1] },
};

const SUPPORTED_OPS = [
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

// ---------------------------------------------------------------------------------------
// Values flowing through the graph

interface ConstVal {
  kind: 'const';
  name: string;
  dims: number[];
  data: Float32Array;
}

/** The graph input after zero or more per-channel affine ops: value = a * pixel + b. */
interface ImageVal {
  kind: 'image';
  tensor: string;
  /** perm[i] = canonical NCHW axis held by this tensor's axis i. */
  perm: number[];
  a: [number, number, number];
  b: [number, number, number];
  ops: number;
}

interface ActVal {
  kind: 'act';
  layer: LayerBuild;
  perm: number[];
  /** True when this value is the layer's current output and its only reader is one node. */
  fusable: boolean;
}

type Value = ConstVal | ImageVal | ActVal;

type Stage = 'conv' | 'residual' | 'activated' | 'final';

interface LayerBuild {
  index: number;
  /**
   * Topological position of the last node fused into it (where its final output is made).
   * Layers are listed in this order, so a layer always comes after the layers it reads.
   */
  last: number;
  name: string;
  /** `node "name" (Op)` of the node that made it, for messages. */
  node: string;
  kind: LayerKind;
  input: LayerBuild | ImageVal;
  residual?: LayerBuild;
  kernel: [number, number];
  stride: [number, number];
  dilation: [number, number];
  padding: Padding;
  activation: Activation;
  inChannels: number;
  outChannels: number;
  /** ONNX layout: [out][in / group][kh][kw], float64 while folding. */
  weights?: Float64Array;
  bias?: Float64Array;
  /** ONNX name of the layer's current (finally: last fused) output. */
  output: string;
  stage: Stage;
}

const isImage = (r: LayerBuild | ImageVal): r is ImageVal => r.kind === 'image';

const IDENTITY_PERM = [0, 1, 2, 3];
const samePerm = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((v, i) => v === b[i]);
const layoutName = (perm: readonly number[]): string =>
  samePerm(perm, IDENTITY_PERM) ? 'NCHW' : samePerm(perm, [0, 2, 3, 1]) ? 'NHWC' : `perm [${perm.join(',')}] of NCHW`;

// ---------------------------------------------------------------------------------------

class Converter {
  private readonly file: string;
  private readonly model: ModelProto;
  private readonly graph: GraphProto;
  private readonly values = new Map<string, Value>();
  private readonly initializers = new Map<string, TensorProto>();
  private readonly consumers = new Map<string, number>();
  private readonly layers: LayerBuild[] = [];
  private readonly notes: string[] = [];
  private readonly graphOutputs: string[];

  constructor(
    private readonly bytes: Uint8Array,
    sourceFile: string,
    private readonly options: ConvertOptions,
  ) {
    this.file = sourceFile;
    let model: ModelProto;
    try {
      model = decodeModel(bytes);
    } catch (e) {
      throw this.error(`not an ONNX model, or a truncated one (protobuf decoding failed: ${(e as Error).message})`);
    }
    if (!model.graph || !(model.graph.node ?? []).length) {
      throw this.error('not an ONNX model (no graph with nodes in it)');
    }
    this.model = model;
    this.graph = model.graph;
    this.graphOutputs = (this.graph.output ?? []).map((o) => o.name ?? '');
    if (this.graphOutputs.length === 0) throw this.error('the graph has no outputs');
  }

  error(message: string): ConvertError {
    return new ConvertError(`${this.file}: ${message}`);
  }

  private describe(node: NodeProto, index: number): string {
    return `node "${node.name || `#${index}`}" (${node.opType})`;
  }

  // -- tensors --------------------------------------------------------------------------

  private tensorToConst(t: TensorProto, what: string): ConstVal {
    const name = t.name ?? '';
    if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL || (t.externalData ?? []).length > 0) {
      throw this.error(
        `${what} "${name}" keeps its data in an external file; external data is not supported (save the model with its weights inside the .onnx)`,
      );
    }
    const dims = (t.dims ?? []).map((d) => toNumber(d));
    if (t.dataType !== DataType.FLOAT) {
      const typeName = (DataType as unknown as Record<number, string>)[t.dataType ?? 0] ?? String(t.dataType);
      throw this.error(`${what} "${name}" has data type ${typeName}; only FLOAT (float32) weights are supported`);
    }
    const count = dims.reduce((a, b) => a * b, 1);
    let data: Float32Array;
    if (t.rawData && t.rawData.length > 0) {
      if (t.rawData.length !== count * 4) {
        throw this.error(
          `${what} "${name}" has ${t.rawData.length} bytes of raw data for dims [${dims.join(', ')}] (${count * 4} expected)`,
        );
      }
      const view = new DataView(t.rawData.buffer, t.rawData.byteOffset, t.rawData.byteLength);
      data = new Float32Array(count);
      for (let i = 0; i < count; i++) data[i] = view.getFloat32(i * 4, true);
    } else {
      const fd = t.floatData ?? [];
      if (fd.length !== count) {
        throw this.error(`${what} "${name}" has ${fd.length} float_data values for dims [${dims.join(', ')}] (${count} expected)`);
      }
      data = Float32Array.from(fd);
    }
    return { kind: 'const', name, dims, data };
  }

  private value(name: string, node: string): Value {
    const v = this.values.get(name);
    if (v) return v;
    const init = this.initializers.get(name);
    if (init) {
      const c = this.tensorToConst(init, 'initializer');
      this.values.set(name, c);
      return c;
    }
    throw this.error(`${node} reads tensor "${name}", which nothing computes`);
  }

  private constant(name: string, node: string, role: string): ConstVal {
    const v = this.value(name, node);
    if (v.kind !== 'const') throw this.error(`${node}: ${role} "${name}" must be a constant (an initializer or Constant node)`);
    return v;
  }

  private consumerCount(name: string): number {
    return this.consumers.get(name) ?? 0;
  }

  // -- graph set-up ---------------------------------------------------------------------

  run(): ConvertResult {
    for (const t of this.graph.initializer ?? []) {
      if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL || (t.externalData ?? []).length > 0) {
        throw this.error(
          `initializer "${t.name}" keeps its data in an external file; external data is not supported (save the model with its weights inside the .onnx)`,
        );
      }
      this.initializers.set(t.name ?? '', t);
    }
    if ((this.graph.sparseInitializer ?? []).length > 0) {
      throw this.error(`the graph has sparse initializers (${this.graph.sparseInitializer!.length}); they are not supported`);
    }
    const input = this.findInput();
    const nodes = this.liveNodes(input.name ?? '');
    for (const { node } of nodes) {
      for (const i of node.input ?? []) if (i) this.consumers.set(i, this.consumerCount(i) + 1);
    }
    for (const o of this.graphOutputs) this.consumers.set(o, this.consumerCount(o) + 1);

    this.setUpInput(
      input,
      nodes.map((n) => n.node),
    );
    nodes.forEach(({ node, index }, position) => {
      this.position = position;
      this.visit(node, index);
    });
    return this.finish(input);
  }

  private findInput(): ValueInfoProto {
    const inputs = (this.graph.input ?? []).filter((i) => !this.initializers.has(i.name ?? ''));
    if (inputs.length !== 1) {
      throw this.error(
        `the graph has ${inputs.length} inputs (${inputs.map((i) => `"${i.name}"`).join(', ')}); a PoseNet has one image input`,
      );
    }
    return inputs[0]!;
  }

  /** Nodes that some graph output depends on, in a topological order (stable). */
  private liveNodes(inputName: string): { node: NodeProto; index: number }[] {
    const all = (this.graph.node ?? []).map((node, index) => ({ node, index }));
    const available = new Set<string>(['', inputName, ...this.initializers.keys()]);
    const order: { node: NodeProto; index: number }[] = [];
    let pending = all;
    for (;;) {
      const next: typeof pending = [];
      for (const n of pending) {
        if ((n.node.input ?? []).every((i) => available.has(i))) {
          order.push(n);
          for (const o of n.node.output ?? []) available.add(o);
        } else {
          next.push(n);
        }
      }
      if (next.length === pending.length) break;
      pending = next;
    }
    const needed = new Set(this.graphOutputs);
    for (const o of this.graphOutputs) {
      if (!available.has(o)) {
        const producer = all.find((n) => (n.node.output ?? []).includes(o));
        const missing = producer ? (producer.node.input ?? []).find((i) => !available.has(i)) : undefined;
        throw this.error(
          producer
            ? `graph output "${o}" cannot be computed: ${this.describe(producer.node, producer.index)} depends on tensor "${missing}", which nothing computes (or the graph has a cycle)`
            : `graph output "${o}" is not computed by any node`,
        );
      }
    }
    const live: typeof order = [];
    for (let i = order.length - 1; i >= 0; i--) {
      const n = order[i]!;
      if ((n.node.output ?? []).some((o) => needed.has(o))) {
        live.push(n);
        for (const inp of n.node.input ?? []) needed.add(inp);
      }
    }
    if (!needed.has(inputName)) throw this.error(`the graph outputs do not depend on the input "${inputName}"`);
    return live.reverse();
  }

  private setUpInput(input: ValueInfoProto, nodes: NodeProto[]): void {
    const name = input.name ?? '';
    const tt = input.type?.tensorType;
    if (!tt) throw this.error(`input "${name}" is not a tensor`);
    if (tt.elemType !== DataType.FLOAT) {
      const typeName = (DataType as unknown as Record<number, string>)[tt.elemType ?? 0] ?? String(tt.elemType);
      throw this.error(`input "${name}" has element type ${typeName}; a float32 image input is expected`);
    }
    let dims: (number | string | undefined)[] | undefined;
    if (tt.shape) {
      dims = (tt.shape.dim ?? []).map((d) => (d.dimParam ? d.dimParam : toNumber(d.dimValue) > 0 ? toNumber(d.dimValue) : undefined));
      const shown = `[${dims.map((d) => d ?? '?').join(', ')}]`;
      if (dims.length !== 4) throw this.error(`input "${name}" has shape ${shown}; a 4-D image (NHWC or NCHW) is expected`);
      if (typeof dims[0] === 'number' && dims[0] !== 1) {
        throw this.error(`input "${name}" has batch size ${dims[0]} (shape ${shown}); only batch size 1 is supported`);
      }
    }
    let layout: 'NHWC' | 'NCHW';
    if (dims && dims[3] === 3 && dims[1] !== 3) layout = 'NHWC';
    else if (dims && dims[1] === 3 && dims[3] !== 3) layout = 'NCHW';
    else layout = this.layoutFromUse(name, nodes);
    const channelDim = layout === 'NHWC' ? dims?.[3] : dims?.[1];
    if (typeof channelDim === 'number' && channelDim !== 3) {
      throw this.error(
        `input "${name}" has ${channelDim} channels (shape [${dims!.map((d) => d ?? '?').join(', ')}]); PoseNet takes RGB (3)`,
      );
    }
    this.inputLayout = layout;
    this.values.set(name, {
      kind: 'image',
      tensor: name,
      perm: layout === 'NHWC' ? [0, 2, 3, 1] : [...IDENTITY_PERM],
      a: [1, 1, 1],
      b: [0, 0, 0],
      ops: 0,
    });
  }

  private inputLayout: 'NHWC' | 'NCHW' = 'NCHW';
  /** Topological position of the node being visited. */
  private position = 0;

  /** Layout of an input whose shape does not tell: NHWC when a Transpose [0,3,1,2] follows. */
  private layoutFromUse(name: string, nodes: NodeProto[]): 'NHWC' | 'NCHW' {
    let current = name;
    for (;;) {
      const users = nodes.filter((n) => (n.input ?? []).includes(current));
      if (users.length !== 1) return 'NCHW';
      const user = users[0]!;
      if (user.opType === 'Transpose') return samePerm(attrIntsValue(user, 'perm', []), [0, 3, 1, 2]) ? 'NHWC' : 'NCHW';
      if (!['Add', 'Sub', 'Mul', 'Div', 'Identity'].includes(user.opType ?? '')) return 'NCHW';
      current = user.output?.[0] ?? '';
    }
  }

  // -- nodes ----------------------------------------------------------------------------

  private visit(node: NodeProto, index: number): void {
    const desc = this.describe(node, index);
    const op = node.opType ?? '';
    if (node.domain && node.domain !== 'ai.onnx') {
      throw this.error(
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
        throw this.error(`${desc}: unsupported op ${op}; the converter handles ${SUPPORTED_OPS.join(', ')}`);
    }
  }

  private requireUnused(node: NodeProto, from: number, desc: string, what: string): void {
    const extra = (node.output ?? []).slice(from).filter((o) => o && this.consumerCount(o) > 0);
    if (extra.length) throw this.error(`${desc}: its ${what} output "${extra[0]}" is used; only inference graphs are supported`);
  }

  private constantNode(node: NodeProto, desc: string): ConstVal {
    const out = node.output?.[0] ?? '';
    const t = getAttr(node, 'value');
    if (t?.t) return { ...this.tensorToConst({ ...t.t, name: t.t.name || out }, `${desc} tensor`), name: out };
    const f = getAttr(node, 'value_float');
    if (f) return { kind: 'const', name: out, dims: [], data: Float32Array.of(f.f ?? 0) };
    const fs_ = getAttr(node, 'value_floats');
    if (fs_) return { kind: 'const', name: out, dims: [(fs_.floats ?? []).length], data: Float32Array.from(fs_.floats ?? []) };
    const kind = (node.attribute ?? [])[0]?.name ?? 'nothing';
    throw this.error(`${desc}: Constant with ${kind} is not supported; only float32 constants are`);
  }

  private transpose(node: NodeProto, desc: string): Value {
    const v = this.value(node.input?.[0] ?? '', desc);
    const perm = attrIntsValue(node, 'perm', [3, 2, 1, 0]);
    if (v.kind === 'const') throw this.error(`${desc}: transposing the constant "${v.name}" is not supported`);
    if (perm.length !== 4 || !samePerm([...perm].sort(), IDENTITY_PERM)) {
      throw this.error(`${desc}: perm [${perm.join(',')}] is not a permutation of 4 axes`);
    }
    const composed = perm.map((p) => v.perm[p]!);
    const out = node.output?.[0] ?? '';
    if (v.kind === 'image') return { ...v, perm: composed, tensor: out };
    return { ...v, perm: composed, fusable: v.fusable && this.consumerCount(out) === 1 };
  }

  /** The tensor a layer reads: an activation or the (preprocessed) image, in NCHW. */
  private layerInput(name: string, desc: string): { ref: LayerBuild | ImageVal; channels: number } {
    const v = this.value(name, desc);
    if (v.kind === 'const') throw this.error(`${desc}: its input "${name}" is a constant`);
    if (!samePerm(v.perm, IDENTITY_PERM)) {
      throw this.error(
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
          throw this.error(`${desc}: pads [${pads.join(',')}] are not 4 non-negative values (2-D, [top, left, bottom, right])`);
        }
        // ONNX orders pads [x1_begin, x2_begin, x1_end, x2_end] = [top, left, bottom, right].
        return { mode: 'explicit', pads: pads as [number, number, number, number] };
      }
      default:
        throw this.error(`${desc}: unknown auto_pad "${autoPad}"`);
    }
  }

  private pair(node: NodeProto, name: string, desc: string): [number, number] {
    const v = attrIntsValue(node, name, [1, 1]);
    if (v.length !== 2 || v.some((x) => !(x >= 1))) throw this.error(`${desc}: ${name} [${v.join(',')}] must be 2 values >= 1`);
    return v as [number, number];
  }

  private conv(node: NodeProto, desc: string): ActVal {
    const [xName = '', wName = '', bName = ''] = node.input ?? [];
    const { ref, channels } = this.layerInput(xName, desc);
    const w = this.constant(wName, desc, 'weight');
    if (w.dims.length !== 4)
      throw this.error(`${desc}: weight "${wName}" has shape [${w.dims.join(', ')}]; only 2-D convolutions (4-D weights) are supported`);
    const [m, cg, kh, kw] = w.dims as [number, number, number, number];
    const group = attrIntValue(node, 'group', 1);
    if (cg * group !== channels) {
      throw this.error(
        `${desc}: weight "${wName}" [${w.dims.join(', ')}] with group ${group} expects ${cg * group} input channels, its input has ${channels}`,
      );
    }
    const ks = attrIntsValue(node, 'kernel_shape', [kh, kw]);
    if (ks[0] !== kh || ks[1] !== kw)
      throw this.error(`${desc}: kernel_shape [${ks.join(',')}] does not match weight "${wName}" [${w.dims.join(', ')}]`);
    const kernel: [number, number] = [kh, kw];
    const stride = this.pair(node, 'strides', desc);
    let dilation = this.pair(node, 'dilations', desc);
    let padding = this.padding(node, desc);
    let kind: LayerKind;
    if (group === 1) {
      const zeroPad = padding.mode !== 'explicit' || padding.pads.every((p) => p === 0);
      kind = kh === 1 && kw === 1 && zeroPad ? 'pointwise' : 'conv';
    } else if (group === channels && m === channels && cg === 1) {
      kind = 'depthwise';
    } else {
      throw this.error(
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
      const b = this.constant(bName, desc, 'bias');
      if (b.data.length !== m) throw this.error(`${desc}: bias "${bName}" has ${b.data.length} values for ${m} output channels`);
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
      output: node.output?.[0] ?? '',
      stage: 'conv',
    };
    this.layers.push(layer);
    return { kind: 'act', layer, perm: [...IDENTITY_PERM], fusable: this.consumerCount(layer.output) === 1 };
  }

  private maxPool(node: NodeProto, desc: string): ActVal {
    this.requireUnused(node, 1, desc, 'indices');
    const { ref, channels } = this.layerInput(node.input?.[0] ?? '', desc);
    if (isImage(ref)) throw this.error(`${desc}: max-pooling the input image is not supported`);
    const ks = attrIntsValue(node, 'kernel_shape', []);
    if (ks.length !== 2) throw this.error(`${desc}: kernel_shape [${ks.join(',')}] must have 2 values`);
    if (attrIntValue(node, 'ceil_mode', 0) !== 0) throw this.error(`${desc}: ceil_mode 1 is not supported`);
    const dilations = attrIntsValue(node, 'dilations', [1, 1]);
    if (dilations.some((d) => d !== 1)) throw this.error(`${desc}: dilations [${dilations.join(',')}] are not supported for MaxPool`);
    const kernel = ks as [number, number];
    const layer: LayerBuild = {
      index: this.layers.length,
      last: this.position,
      name: node.name || node.output?.[0] || `MaxPool_${this.layers.length}`,
      node: desc,
      kind: 'maxpool',
      input: ref,
      kernel,
      stride: this.pair(node, 'strides', desc),
      dilation: [1, 1],
      padding: this.padding(node, desc),
      activation: 'none',
      inChannels: channels,
      outChannels: channels,
      output: node.output?.[0] ?? '',
      stage: 'final',
    };
    this.layers.push(layer);
    return { kind: 'act', layer, perm: [...IDENTITY_PERM], fusable: false };
  }

  /** The layer a fusing node folds into, or an error saying why it cannot. */
  private fusionTarget(v: Value, name: string, desc: string, what: string): ActVal {
    if (v.kind === 'image') throw this.error(`${desc}: ${what} on the input image is not supported`);
    if (v.kind === 'const') throw this.error(`${desc}: ${what} on the constant "${name}" is not supported`);
    if (!v.fusable || v.layer.stage === 'final') {
      const why = v.layer.stage === 'final' ? `${v.layer.node} is a pooling layer` : `"${name}" has other readers`;
      throw this.error(
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
    if (attrIntValue(node, 'training_mode', 0) !== 0) throw this.error(`${desc}: training_mode 1 is not supported`);
    if (!samePerm(v.perm, IDENTITY_PERM))
      throw this.error(`${desc}: its input "${xName}" is in layout ${layoutName(v.perm)}, BatchNormalization normalises axis 1 of NCHW`);
    const layer = v.layer;
    if (layer.stage !== 'conv')
      throw this.error(`${desc}: cannot fold BatchNormalization into ${layer.node} after its residual add or activation`);
    const c = layer.outChannels;
    const get = (n: string, role: string): Float32Array => {
      const t = this.constant(n, desc, role);
      if (t.data.length !== c) throw this.error(`${desc}: ${role} "${n}" has ${t.data.length} values for ${c} channels`);
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
      mul[i] = scale[i]! / Math.sqrt(variance[i]! + eps);
      add[i] = beta[i]! - mean[i]! * mul[i]!;
    }
    this.applyAffine(layer, mul, add);
    return this.fused(layer, node, v.perm);
  }

  /** y = mul * conv(x) + add, per output channel, folded into weights and bias. */
  private applyAffine(layer: LayerBuild, mul: Float64Array | null, add: Float64Array | null): void {
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
  }

  private clipActivation(node: NodeProto, desc: string): Activation {
    let lo = -Infinity;
    let hi = Infinity;
    if (getAttr(node, 'min')) lo = attrFloatValue(node, 'min', lo);
    if (getAttr(node, 'max')) hi = attrFloatValue(node, 'max', hi);
    const scalar = (name: string | undefined, role: string): number | undefined => {
      if (!name) return undefined;
      const c = this.constant(name, desc, role);
      if (c.data.length !== 1) throw this.error(`${desc}: ${role} "${name}" has ${c.data.length} values; a scalar is expected`);
      return c.data[0]!;
    };
    lo = scalar(node.input?.[1], 'min') ?? lo;
    hi = scalar(node.input?.[2], 'max') ?? hi;
    // Clip-6..10 keep min/max as attributes, Clip-11+ as inputs: accept either.
    if (lo === 0 && hi === 6) return 'relu6';
    if (lo === 0 && (hi === Infinity || hi >= 3.4e38)) return 'relu';
    throw this.error(`${desc}: Clip(min ${lo}, max ${hi}) is not supported; only Clip(0, 6) (relu6) and Clip(0, inf) (relu)`);
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
      throw this.error(
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
    if (a.kind === 'const' && b.kind === 'const') {
      throw this.error(`${desc}: ${op} of two constants is not supported (fold constants before converting)`);
    }
    if (a.kind !== 'const' && b.kind !== 'const') {
      if (op === 'Add' && a.kind === 'act' && b.kind === 'act') return this.residualAdd(node, desc, a, aName, b, bName);
      throw this.error(
        `${desc}: ${op} of "${aName}" and "${bName}" is not supported; only a residual Add of two conv outputs, or an op with a constant`,
      );
    }
    const constFirst = a.kind === 'const';
    const c = (constFirst ? a : b) as ConstVal;
    const x = (constFirst ? b : a) as ImageVal | ActVal;
    const xName = constFirst ? bName : aName;
    if (op === 'Div' && constFirst) throw this.error(`${desc}: dividing a constant by "${xName}" is not supported`);
    const channels = x.kind === 'image' ? 3 : x.layer.outChannels;
    const k = this.perChannel(c, x.perm, channels, desc);
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
      return { ...x, a: na, b: nb, ops: x.ops + 1, tensor: out };
    }
    const v = this.fusionTarget(x, xName, desc, `${op} by a constant`);
    const layer = v.layer;
    if (layer.stage === 'activated') throw this.error(`${desc}: cannot fold ${op} into ${layer.node} after its activation`);
    if (layer.stage === 'residual' && mul) throw this.error(`${desc}: cannot fold ${op} into ${layer.node} after its residual add`);
    this.applyAffine(layer, mul, add);
    return this.fused(layer, node, v.perm);
  }

  private residualAdd(node: NodeProto, desc: string, a: ActVal, aName: string, b: ActVal, bName: string): ActVal {
    if (!samePerm(a.perm, IDENTITY_PERM) || !samePerm(b.perm, IDENTITY_PERM)) {
      throw this.error(`${desc}: residual Add of tensors in layout ${layoutName(a.perm)} and ${layoutName(b.perm)}; NCHW expected`);
    }
    // Depthwise layers take no residual (the runtime's depthwise kernel has none).
    const ok = (v: ActVal): boolean => v.fusable && v.layer.stage === 'conv' && v.layer.kind !== 'maxpool' && v.layer.kind !== 'depthwise';
    const candidates = [a, b].filter(ok).sort((x, y) => y.layer.index - x.layer.index);
    const target = candidates[0];
    if (!target || a.layer === b.layer) {
      throw this.error(
        `${desc}: cannot fuse the Add of "${aName}" and "${bName}" into a conv: neither is a (non-depthwise) conv output, before its activation, that only this Add reads`,
      );
    }
    const other = target === a ? b : a;
    if (other.layer.outChannels !== target.layer.outChannels) {
      throw this.error(`${desc}: adds "${aName}" (${a.layer.outChannels} channels) and "${bName}" (${b.layer.outChannels} channels)`);
    }
    target.layer.residual = other.layer;
    target.layer.stage = 'residual';
    return this.fused(target.layer, node, target.perm);
  }

  // -- the end: heads, preprocessing, packing ---------------------------------------------

  private finish(input: ValueInfoProto): ConvertResult {
    const inputName = input.name ?? '';
    const heads = this.findHeads();
    const headLayers = new Set(HEAD_NAMES.map((h) => heads[h].layer));
    // Stable sort: the order of the nodes that finish each layer is a valid execution order.
    const body = this.layers.filter((l) => !headLayers.has(l)).sort((a, b) => a.last - b.last);
    for (const l of body) {
      for (const r of [l.input, l.residual]) {
        if (r && !isImage(r) && headLayers.has(r)) {
          throw this.error(`${l.node} reads the head output "${r.output}"; heads must be the graph's last layers`);
        }
      }
    }
    const feature = heads.heatmap.layer.input;

    // The image tensor: every layer that reads the image must read the same stage of it.
    const imageReads = this.layers.flatMap((l) => (isImage(l.input) ? [{ l, img: l.input }] : []));
    if (imageReads.length === 0) throw this.error(`no Conv reads the input "${inputName}"`);
    const image = imageReads[0]!.img;
    const other = imageReads.find((r) => r.img.tensor !== image.tensor);
    if (other) {
      throw this.error(
        `${other.l.node} reads "${other.img.tensor}" but ${imageReads[0]!.l.node} reads "${image.tensor}"; all convs on the input must read the same preprocessed image`,
      );
    }

    // Fuse the four heads into one pointwise layer.
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
    const headsLayer: LayerBuild = {
      index: this.layers.length,
      last: this.position + 1,
      name: 'heads',
      node: 'the fused heads',
      kind: 'pointwise',
      input: feature,
      kernel: [1, 1],
      stride: [1, 1],
      dilation: [1, 1],
      padding: { mode: 'explicit', pads: [0, 0, 0, 0] },
      activation: 'none',
      inChannels: featureChannels,
      outChannels: total,
      weights: hw,
      bias: hb,
      output: 'heads',
      stage: 'final',
    };
    const layers = [...body, headsLayer];

    // 'heads' is ours: rename an ONNX tensor that happens to have that name.
    let imageTensor = image.tensor;
    const taken = new Set<string>([imageTensor, ...body.map((l) => l.output)]);
    const unique = (n: string): string => {
      let i = 1;
      while (taken.has(`${n}_${i}`) || `${n}_${i}` === 'heads') i++;
      return `${n}_${i}`;
    };
    if (imageTensor === 'heads') imageTensor = unique('heads');
    for (const l of body) if (l.output === 'heads') l.output = unique('heads');

    const architecture = this.architecture(body);
    const outputStride = this.outputStride(layers, headsLayer);
    const preprocess = this.preprocess(image, architecture);
    const { manifestLayers, weights } = this.pack(layers, imageTensor);

    const name = this.options.name ?? path.basename(this.file).replace(/\.onnx$/i, '');
    const headRefs = {} as Record<HeadName, HeadRef>;
    for (const h of HEAD_NAMES) {
      headRefs[h] = { tensor: 'heads', channelOffset: offsets[h], channels: HEAD_CHANNELS[h], sourceName: heads[h].source };
    }
    const producer = [this.model.producerName, this.model.producerVersion].filter((s) => s).join(' ');
    const manifest: Manifest = {
      format: MANIFEST_FORMAT,
      version: MANIFEST_VERSION,
      name,
      architecture,
      outputStride,
      input: { sourceName: inputName, sourceLayout: this.inputLayout, tensor: imageTensor, channels: 3 },
      preprocess,
      layers: manifestLayers,
      heads: headRefs,
      weights: { file: 'weights.bin', bytes: weights.byteLength, sha256: sha256(weights) },
      source: { file: path.basename(this.file), sha256: sha256(this.bytes), ...(producer ? { producer } : {}) },
    };
    try {
      validateManifest(JSON.parse(JSON.stringify(manifest)), `${this.file} (converted manifest)`);
    } catch (e) {
      throw this.error(`the converted manifest is invalid (a converter bug): ${(e as Error).message}`);
    }
    return { manifest, weights, notes: this.notes };
  }

  private findHeads(): Record<HeadName, { layer: LayerBuild; source: string }> {
    const outs = this.graphOutputs.map((name) => {
      const v = this.values.get(name);
      if (v?.kind !== 'act') throw this.error(`graph output "${name}" is not computed by a Conv; a PoseNet's outputs are its four heads`);
      return { name, layer: v.layer, perm: v.perm };
    });
    const list = (): string => outs.map((o) => `"${o.name}" (${o.layer.outChannels})`).join(', ');
    const wanted = 'heatmap (17 channels), offsets (34), displacement fwd (32) and bwd (32)';
    for (const o of outs) {
      if (![17, 34, 32].includes(o.layer.outChannels)) {
        throw this.error(
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
      throw this.error(`not a PoseNet: ${missing}; the outputs must be ${wanted}; found ${list()}`);
    }
    let [fwd, bwd] = disp as [(typeof outs)[0], (typeof outs)[0]];
    const tag = (o: (typeof outs)[0], re: RegExp): boolean => re.test(o.name) || re.test(o.layer.name);
    if (tag(bwd, /fwd/i) && tag(fwd, /bwd/i) && !tag(fwd, /fwd/i) && !tag(bwd, /bwd/i)) [fwd, bwd] = [bwd, fwd];
    const picked = { heatmap: hm[0]!, offsets: off[0]!, displacementFwd: fwd, displacementBwd: bwd };
    const result = {} as Record<HeadName, { layer: LayerBuild; source: string }>;
    const seen = new Set<LayerBuild>();
    for (const h of HEAD_NAMES) {
      const o = picked[h];
      const l = o.layer;
      const what = `head "${o.name}" (${h}, from ${l.node})`;
      if (seen.has(l)) throw this.error(`not a PoseNet: ${what} is the same tensor as another head`);
      seen.add(l);
      if (l.kind !== 'pointwise' || l.stride[0] !== 1 || l.stride[1] !== 1) {
        throw this.error(
          `not a PoseNet: ${what} is a ${l.kernel.join('×')} ${l.kind} with stride ${l.stride.join('×')}; heads must be 1×1 convs with stride 1`,
        );
      }
      if (l.activation !== 'none' || l.residual) throw this.error(`not a PoseNet: ${what} has an activation or residual; heads are linear`);
      if (!samePerm(o.perm, IDENTITY_PERM) && !samePerm(o.perm, [0, 2, 3, 1])) {
        throw this.error(`graph output "${o.name}" is in layout ${layoutName(o.perm)}; NCHW or NHWC expected`);
      }
      if (l.input !== picked.heatmap.layer.input) {
        throw this.error(
          `not a PoseNet: ${what} reads a different tensor than the heatmap head; all four heads must read the same feature map`,
        );
      }
      result[h] = { layer: l, source: o.name };
    }
    return result;
  }

  private architecture(body: LayerBuild[]): Architecture {
    if (this.options.architecture) return this.options.architecture;
    const meta = this.metadata('posenet.architecture');
    if (meta !== undefined) {
      if (/mobilenet/i.test(meta)) return 'MobileNetV1';
      if (/resnet/i.test(meta)) return 'ResNet50';
      throw this.error(`metadata posenet.architecture "${meta}" is neither MobileNetV1 nor ResNet50`);
    }
    return body.some((l) => l.residual || l.kind === 'maxpool') ? 'ResNet50' : 'MobileNetV1';
  }

  private metadata(key: string): string | undefined {
    return (this.model.metadataProps ?? []).find((p) => p.key === key)?.value ?? undefined;
  }

  private outputStride(layers: LayerBuild[], headsLayer: LayerBuild): OutputStride {
    const strides = new Map<LayerBuild, [number, number]>();
    const strideOf = (r: LayerBuild | ImageVal): [number, number] => (isImage(r) ? [1, 1] : strides.get(r)!);
    for (const l of layers) {
      const s = strideOf(l.input);
      const out: [number, number] = [s[0] * l.stride[0], s[1] * l.stride[1]];
      if (l.residual) {
        const r = strides.get(l.residual)!;
        if (r[0] !== out[0] || r[1] !== out[1]) {
          throw this.error(`${l.node}: adds "${l.residual.output}" at stride ${r.join('×')} to its output at stride ${out.join('×')}`);
        }
      }
      strides.set(l, out);
    }
    const [sh, sw] = strideOf(headsLayer.input);
    if (sh !== sw || ![8, 16, 32].includes(sh)) {
      throw this.error(
        `not a PoseNet: the heads read a feature map at stride ${sh === sw ? sh : `${sh}×${sw}`} (the product of the strides before them); PoseNet's output stride is 8, 16 or 32`,
      );
    }
    const meta = this.metadata('posenet.output_stride');
    if (meta !== undefined && Number(meta) !== sh) {
      throw this.error(`metadata posenet.output_stride is ${meta} but the graph's output stride is ${sh}`);
    }
    if (this.options.outputStride !== undefined && this.options.outputStride !== sh) {
      throw this.error(`output stride ${this.options.outputStride} was asked for but the graph's is ${sh}`);
    }
    return sh as OutputStride;
  }

  private preprocess(image: ImageVal, architecture: Architecture): Preprocess {
    const flag = this.options.preprocess;
    if (image.ops > 0) {
      const mean = [0, 1, 2].map((i) => -image.b[i]! / image.a[i]!) as [number, number, number];
      const scale = [...image.a] as [number, number, number];
      if (scale.some((s) => s === 0 || !Number.isFinite(s))) throw this.error(`the input preprocessing multiplies by ${scale.join(', ')}`);
      const kind = classifyPreprocess(mean, scale);
      if (flag && flag !== kind) {
        throw this.error(
          `--preprocess ${flag} contradicts the graph's own preprocessing (${kind}: mean ${mean.map((v) => +v.toFixed(4)).join(', ')}, scale ${scale.map((v) => +v.toPrecision(6)).join(', ')})`,
        );
      }
      const preset = kind === 'custom' ? undefined : PREPROCESS_PRESETS[kind];
      return { kind, mean: preset ? [...preset.mean] : mean, scale: preset ? [...preset.scale] : scale, from: 'graph' };
    }
    let kind: PreprocessName;
    let from: Preprocess['from'];
    const meta = this.metadata('posenet.preprocess');
    if (flag) {
      kind = flag;
      from = 'flag';
    } else if (meta !== undefined) {
      if (meta !== 'mobilenet' && meta !== 'resnet')
        throw this.error(`metadata posenet.preprocess "${meta}" is neither mobilenet nor resnet`);
      kind = meta;
      from = 'metadata';
    } else {
      kind = architecture === 'ResNet50' ? 'resnet' : 'mobilenet';
      from = 'default';
      this.notes.push(
        `${this.file}: no preprocessing in the graph, no posenet.preprocess metadata and no --preprocess flag: using the ${architecture} default (${kind})`,
      );
    }
    const preset = PREPROCESS_PRESETS[kind];
    return { kind, mean: [...preset.mean], scale: [...preset.scale], from };
  }

  private pack(layers: LayerBuild[], imageTensor: string): { manifestLayers: Layer[]; weights: Uint8Array } {
    let bytes = 0;
    const align = (n: number): number => Math.ceil(n / 16) * 16;
    const refs = layers.map((l) => {
      if (l.kind === 'maxpool') return undefined;
      const wOff = align(bytes);
      const wLen = packedWeightsBytes(l.kind, l.kernel, l.inChannels, l.outChannels);
      const bOff = align(wOff + wLen);
      const bLen = packedBiasBytes(l.outChannels);
      bytes = bOff + bLen;
      return { weights: { offset: wOff, length: wLen }, bias: { offset: bOff, length: bLen } };
    });
    const total = align(bytes);
    const out = new Float32Array(total / 4);
    const manifestLayers: Layer[] = layers.map((l, i) => {
      const ref = refs[i];
      const input = isImage(l.input) ? imageTensor : l.input.output;
      const layer: Layer = {
        name: l.name,
        kind: l.kind,
        input,
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
        out.set(packLayer(l.kind, l.weights!, l.inChannels, l.outChannels, l.kernel), ref.weights.offset / 4);
        out.set(packBias(l.bias!, l.outChannels), ref.bias.offset / 4);
        layer.weights = ref.weights;
        layer.bias = ref.bias;
      }
      return layer;
    });
    return { manifestLayers, weights: new Uint8Array(out.buffer) };
  }
}

/**
 * Packs one layer's ONNX weights (`W[out][in / group][kh][kw]`) into the layout of
 * manifest.ts: `conv`/`pointwise` as `[kh][kw][icp][oc4][4]`, `depthwise` as
 * `[kh][kw][C4][4]`, zero-padded. The shaders read exactly this.
 */
export function packLayer(
  kind: 'conv' | 'pointwise' | 'depthwise',
  w: ArrayLike<number>,
  inChannels: number,
  outChannels: number,
  kernel: readonly [number, number],
): Float32Array {
  const [kh, kw] = kernel;
  const out = new Float32Array(packedWeightsBytes(kind, kernel, inChannels, outChannels) / 4);
  if (kind === 'depthwise') {
    const C4 = c4(outChannels);
    for (let c = 0; c < outChannels; c++) {
      for (let ky = 0; ky < kh; ky++) {
        for (let kx = 0; kx < kw; kx++) out[(ky * kw + kx) * 4 * C4 + c] = w[(c * kh + ky) * kw + kx]!;
      }
    }
    return out;
  }
  const icp = 4 * c4(inChannels);
  const ocp = 4 * c4(outChannels);
  for (let oc = 0; oc < outChannels; oc++) {
    for (let i = 0; i < inChannels; i++) {
      for (let ky = 0; ky < kh; ky++) {
        for (let kx = 0; kx < kw; kx++) out[((ky * kw + kx) * icp + i) * ocp + oc] = w[((oc * inChannels + i) * kh + ky) * kw + kx]!;
      }
    }
  }
  return out;
}

/** Packs a bias as `[oc4][4]`, zero-padded. */
export function packBias(bias: ArrayLike<number>, outChannels: number): Float32Array {
  const out = new Float32Array(4 * c4(outChannels));
  for (let c = 0; c < outChannels; c++) out[c] = bias[c]!;
  return out;
}

const near = (a: number, b: number): boolean => Math.abs(a - b) <= 1e-4 * Math.max(Math.abs(a), Math.abs(b), 1e-3);

/** mobilenet / resnet when mean and scale match that preset (relative 1e-4), else custom. */
export function classifyPreprocess(mean: readonly number[], scale: readonly number[]): Preprocess['kind'] {
  for (const kind of ['mobilenet', 'resnet'] as const) {
    const p = PREPROCESS_PRESETS[kind];
    if (p.mean.every((m, i) => near(m, mean[i]!)) && p.scale.every((s, i) => near(s, scale[i]!))) return kind;
  }
  return 'custom';
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Pretty JSON with short number arrays (kernel, stride, pads, mean) kept on one line. */
export function manifestJson(manifest: Manifest): string {
  return `${JSON.stringify(manifest, null, 2).replace(/\[\s*(-?[\d.e+-]+(?:,\s*-?[\d.e+-]+)*)\s*\]/g, (_, inner: string) => `[${inner.split(/,\s*/).join(', ')}]`)}\n`;
}

/** Converts ONNX bytes without touching the file system. `sourceFile` names them in messages. */
export function convertOnnxBytes(bytes: Uint8Array, sourceFile: string, options: ConvertOptions = {}): ConvertResult {
  return new Converter(bytes, sourceFile, options).run();
}

/**
 * Converts `onnxPath` into `outDir/model.json` + `outDir/weights.bin`. Writes into a
 * temporary sibling folder and renames it into place at the end, so that on failure
 * nothing is left at `outDir` (and an existing `outDir` is replaced only on success).
 */
export async function convertOnnxFile(onnxPath: string, outDir: string, options: ConvertOptions = {}): Promise<Manifest> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  let bytes: Uint8Array;
  try {
    bytes = await fs.promises.readFile(onnxPath);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ConvertError(code === 'ENOENT' ? `${onnxPath}: no such file` : `${onnxPath}: cannot read (${(e as Error).message})`);
  }
  const target = path.resolve(outDir);
  const { manifest, weights, notes } = convertOnnxBytes(bytes, onnxPath, {
    ...options,
    name: options.name ?? path.basename(target),
  });
  for (const n of notes) log(n);

  const parent = path.dirname(target);
  await fs.promises.mkdir(parent, { recursive: true });
  const suffix = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const tmp = path.join(parent, `.${path.basename(target)}.tmp-${suffix}`);
  const old = path.join(parent, `.${path.basename(target)}.old-${suffix}`);
  try {
    await fs.promises.mkdir(tmp);
    await fs.promises.writeFile(path.join(tmp, manifest.weights.file), weights);
    await fs.promises.writeFile(path.join(tmp, 'model.json'), manifestJson(manifest));
    let moved = false;
    if (fs.existsSync(target)) {
      await fs.promises.rename(target, old);
      moved = true;
    }
    try {
      await fs.promises.rename(tmp, target);
    } catch (e) {
      if (moved) await fs.promises.rename(old, target);
      throw e;
    }
    if (moved) await fs.promises.rm(old, { recursive: true, force: true });
  } catch (e) {
    await fs.promises.rm(tmp, { recursive: true, force: true });
    if (e instanceof ConvertError) throw e;
    throw new ConvertError(`${outDir}: cannot write the output (${(e as Error).message})`);
  }
  return manifest;
}
