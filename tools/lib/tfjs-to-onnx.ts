/**
 * TF.js graph model → ONNX, the way tf2onnx would export it: an NHWC float input `image`
 * [1, height, width, 3] transposed to NCHW, one ONNX op per TF op (convs with OIHW weights and
 * their bias, Clip(0, 6) for Relu6, ...), and the four PoseNet heads transposed back to NHWC
 * as graph outputs `offset_2`, `heatmap_2`, `displacement_fwd_2`, `displacement_bwd_2`.
 *
 * Only the ops a PoseNet needs are known (SUPPORTED_OPS); any other op, fused op, data format
 * or padding is refused with an error that names the file, the node and what it has.
 *
 * `convertTfjsGraph` works on a parsed model in memory; `tfjsToOnnx` and `exportTfjsToOnnxFile`
 * read the files (model.json + shards) and write the .onnx atomically.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

import type { Architecture, HeadName } from '../../src/model/manifest.ts';
import { HEAD_CHANNELS, HEAD_NAMES } from '../../src/model/manifest.ts';
import { MiB, OutputFile, readInputFile, ToolError } from './cli.ts';
import {
  attrInt,
  attrInts,
  attrString,
  DataType,
  decodeModel,
  encodeModel,
  floatTensor,
  makeModel,
  makeNode,
  valueInfo,
  type ModelProto,
  type NodeProto,
  type TensorProto,
} from './onnx.ts';
import {
  assertGraphModelJson,
  decodeWeights,
  nodeAttrInts,
  nodeAttrString,
  nodeAttrStrings,
  nodeAttrType,
  parseInputRef,
  shapeDims,
  TfjsModelError,
  type TfjsModelJson,
  type TfjsNode,
  type TfjsWeight,
} from './tfjs-model.ts';

export { TfjsModelError } from './tfjs-model.ts';

/** The TF.js ops the exporter knows. */
export const SUPPORTED_OPS = [
  '_FusedConv2D',
  'FusedDepthwiseConv2dNative',
  'Conv2D',
  'DepthwiseConv2dNative',
  'BiasAdd',
  'Relu',
  'Relu6',
  'Add',
  'AddV2',
  'MaxPool',
  'Sigmoid',
  'Const',
  'Placeholder',
  'Identity',
] as const;

/** Names of the ONNX graph outputs, per head (what tf2onnx keeps of the TF names). */
export const ONNX_HEAD_OUTPUTS: Readonly<Record<HeadName, string>> = {
  offsets: 'offset_2',
  heatmap: 'heatmap_2',
  displacementFwd: 'displacement_fwd_2',
  displacementBwd: 'displacement_bwd_2',
};
/** Order of the heads among the ONNX graph outputs (PoseNet MobileNet's own order). */
export const ONNX_HEAD_ORDER: readonly HeadName[] = ['offsets', 'heatmap', 'displacementFwd', 'displacementBwd'];
/** Name of the ONNX graph input (NHWC float32, [1, 'height', 'width', 3]). */
export const ONNX_INPUT_NAME = 'image';

/** Keys of the ONNX `metadata_props` this exporter writes. */
export const METADATA_KEYS = {
  architecture: 'posenet.architecture',
  outputStride: 'posenet.output_stride',
  /** `mobilenet` (x / 127.5 - 1) or `resnet` (x - ImageNet mean); applied outside the graph. */
  preprocess: 'posenet.preprocess',
  /** Comma-separated per-channel mean and scale: value = (pixel - mean) * scale. */
  preprocessMean: 'posenet.preprocess.mean',
  preprocessScale: 'posenet.preprocess.scale',
  inputLayout: 'posenet.input_layout',
  source: 'tfjs.source',
  sourceSha256: 'tfjs.source.sha256',
  generatedBy: 'tfjs.generated_by',
  convertedBy: 'tfjs.converted_by',
} as const;

export type PreprocessKind = 'mobilenet' | 'resnet';
export const PREPROCESS_VALUES: Readonly<Record<PreprocessKind, { mean: number[]; scale: number[] }>> = {
  mobilenet: { mean: [127.5, 127.5, 127.5], scale: [1 / 127.5, 1 / 127.5, 1 / 127.5] },
  resnet: { mean: [123.15, 115.9, 103.06], scale: [1, 1, 1] },
};

export interface ConvertOptions {
  /** Names the model in errors and metadata (e.g. `model.json`). */
  label?: string;
  architecture?: Architecture;
  outputStride?: number;
  preprocess?: PreprocessKind;
  /**
   * `posenet` (default): find the four heads and name them as ONNX_HEAD_OUTPUTS.
   * `all`: every graph output (signature outputs, else nodes nobody reads) becomes an NHWC
   * ONNX output under its TF node name; no PoseNet metadata. For tests and other graphs.
   */
  outputs?: 'posenet' | 'all';
  /** sha256 of the source model.json, recorded in the metadata. */
  sourceSha256?: string;
}

export interface HeadInfo {
  /** TF node the head comes from. */
  tfNode: string;
  /** ONNX graph output. */
  output: string;
  channels: number;
  /** How the head was recognised. */
  matchedBy: 'name' | 'keyword' | 'channels';
}

export interface ConvertResult {
  model: ModelProto;
  /** Set in `posenet` mode. */
  heads?: Record<HeadName, HeadInfo>;
  /** ONNX output name → TF node, in output order. */
  outputs: { name: string; tfNode: string; channels: number }[];
  architecture?: Architecture;
  outputStride?: number;
  preprocess?: PreprocessKind;
  /** Where each of the three came from. */
  inferred: { architecture: boolean; outputStride: boolean; preprocess: boolean };
  /** Things worth telling the user that are not errors. */
  warnings: string[];
  /** Number of ONNX nodes. */
  nodeCount: number;
}

const SUPPORTED = new Set<string>(SUPPORTED_OPS);
const ACTIVATIONS = new Set(['Relu', 'Relu6', 'Sigmoid']);

/** What an ONNX-side value is: a computed NCHW tensor, or a TF Const not yet made an initializer. */
interface Value {
  tf: string;
  /** ONNX tensor name (NCHW), for computed values. */
  onnx: string;
  /** Channels of a computed value (-1 if unknown), [H, W] stride w.r.t. the input. */
  channels: number;
  stride: [number, number];
  /** Set for constants. */
  constant?: TfjsWeight;
  /** ONNX nodes that compute it (after its inputs' nodes). */
  nodes: NodeProto[];
  /** TF nodes whose values it reads (so emission can order them). */
  deps: string[];
  /** For an unfused conv whose bias may still be folded in: its Conv node. */
  convWithoutBias?: NodeProto;
}

function fail(label: string, node: TfjsNode | string, message: string): never {
  const name = typeof node === 'string' ? node : node.name;
  throw new TfjsModelError(`${label}: node "${name}" ${message}`);
}

/** NHWC → NCHW of a rank-4 array. */
function transposeNhwcToNchw(data: Float32Array, shape: number[]): Float32Array {
  const [n, h, w, c] = shape as [number, number, number, number];
  const out = new Float32Array(data.length);
  for (let b = 0; b < n; b++)
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) for (let k = 0; k < c; k++) out[((b * c + k) * h + y) * w + x] = data[((b * h + y) * w + x) * c + k]!;
  return out;
}

/** Conv2D filter HWIO [kh, kw, ci, co] → ONNX OIHW [co, ci, kh, kw]. */
export function hwioToOihw(data: Float32Array, shape: number[]): Float32Array {
  const [kh, kw, ci, co] = shape as [number, number, number, number];
  const out = new Float32Array(data.length);
  for (let y = 0; y < kh; y++)
    for (let x = 0; x < kw; x++)
      for (let i = 0; i < ci; i++)
        for (let o = 0; o < co; o++) out[((o * ci + i) * kh + y) * kw + x] = data[((y * kw + x) * ci + i) * co + o]!;
  return out;
}

/**
 * Depthwise filter [kh, kw, C, mult] → ONNX grouped-conv weights [C * mult, 1, kh, kw]
 * (TF's output channel `c * mult + m` reads input channel `c`, as ONNX group `c` does).
 */
export function depthwiseToOnnx(data: Float32Array, shape: number[]): Float32Array {
  const [kh, kw, c, mult] = shape as [number, number, number, number];
  const out = new Float32Array(data.length);
  for (let y = 0; y < kh; y++)
    for (let x = 0; x < kw; x++)
      for (let ch = 0; ch < c; ch++)
        for (let m = 0; m < mult; m++) out[((ch * mult + m) * kh + y) * kw + x] = data[((y * kw + x) * c + ch) * mult + m]!;
  return out;
}

const HEAD_KEYS: Readonly<Record<HeadName, { exact: string; keyword: string }>> = {
  offsets: { exact: 'offset_2', keyword: 'offset' },
  heatmap: { exact: 'heatmap_2', keyword: 'heatmap' },
  displacementFwd: { exact: 'displacement_fwd_2', keyword: 'fwd' },
  displacementBwd: { exact: 'displacement_bwd_2', keyword: 'bwd' },
};

/**
 * Converts a parsed TF.js graph model with its decoded weights to an ONNX model.
 * Throws TfjsModelError naming the node for anything it does not support.
 */
export function convertTfjsGraph(json: TfjsModelJson, weights: Map<string, TfjsWeight>, options: ConvertOptions = {}): ConvertResult {
  const label = options.label ?? 'model.json';
  const mode = options.outputs ?? 'posenet';
  const warnings: string[] = [];
  const tfNodes = json.modelTopology.node;
  const byName = new Map<string, TfjsNode>();
  for (const n of tfNodes) {
    if (byName.has(n.name)) fail(label, n, 'appears twice in modelTopology.node');
    byName.set(n.name, n);
  }

  // Refuse unknown ops up front, whether or not the heads need them.
  for (const n of tfNodes) {
    if (!SUPPORTED.has(n.op)) {
      throw new TfjsModelError(`${label}: node "${n.name}" has op "${n.op}", which tfjs-to-onnx does not support`);
    }
  }

  const placeholders = tfNodes.filter((n) => n.op === 'Placeholder');
  if (placeholders.length !== 1) {
    throw new TfjsModelError(
      `${label}: expected one Placeholder (the image), found ${placeholders.length}` +
        (placeholders.length ? `: ${placeholders.map((p) => `"${p.name}"`).join(', ')}` : ''),
    );
  }
  const placeholder = placeholders[0]!;

  // Data-input references, checked; consumers counted (for bias folding).
  const dataInputs = (n: TfjsNode): string[] =>
    (n.input ?? [])
      .map(parseInputRef)
      .filter((r) => !r.control)
      .map((r) => {
        if (!byName.has(r.node)) fail(label, n, `reads "${r.node}", which is not a node of the graph`);
        if (r.index !== 0) fail(label, n, `reads output ${r.index} of "${r.node}"; only single-output ops are supported`);
        return r.node;
      });
  const consumers = new Map<string, number>();
  for (const n of tfNodes) for (const i of dataInputs(n)) consumers.set(i, (consumers.get(i) ?? 0) + 1);

  // Candidate graph outputs: the signature's, else every computing node nobody reads.
  const sigOutputs = Object.values(json.signature?.outputs ?? {}).map((e) => parseInputRef(e.name).node);
  let candidates = sigOutputs.filter((n) => byName.has(n));
  if (sigOutputs.length && candidates.length !== sigOutputs.length) {
    warnings.push(`signature outputs not in the graph were ignored: ${sigOutputs.filter((n) => !byName.has(n)).join(', ')}`);
  }
  if (!candidates.length) {
    candidates = tfNodes.filter((n) => n.op !== 'Const' && n.op !== 'Placeholder' && !consumers.has(n.name)).map((n) => n.name);
  }
  if (!candidates.length) throw new TfjsModelError(`${label}: the graph has no outputs`);

  // ONNX tensor names: TF names, except those the exporter reserves.
  const reserved = new Set<string>([ONNX_INPUT_NAME, ...Object.values(ONNX_HEAD_OUTPUTS), ...(mode === 'all' ? candidates : [])]);
  const used = new Set<string>(tfNodes.map((n) => n.name));
  const fresh = (base: string): string => {
    let name = base;
    for (let k = 1; used.has(name) || reserved.has(name); k++) name = `${base}_${k}`;
    used.add(name);
    return name;
  };
  const onnxNameOf = new Map<string, string>();
  for (const n of tfNodes) onnxNameOf.set(n.name, reserved.has(n.name) ? fresh(`${n.name}/nchw`) : n.name);

  const initializers: TensorProto[] = [];
  const initializerByKey = new Map<string, string>();
  /** An initializer made once per (const, layout). */
  const initializer = (key: string, base: string, make: () => { dims: number[]; data: Float32Array }): string => {
    const have = initializerByKey.get(key);
    if (have) return have;
    const name = fresh(base);
    const { dims, data } = make();
    initializers.push(floatTensor(name, dims, data));
    initializerByKey.set(key, name);
    return name;
  };
  let clipBounds: [string, string] | undefined;
  const relu6Bounds = (): [string, string] => {
    if (!clipBounds) {
      const lo = fresh('relu6/min');
      const hi = fresh('relu6/max');
      initializers.push(floatTensor(lo, [], [0]), floatTensor(hi, [], [6]));
      clipBounds = [lo, hi];
    }
    return clipBounds;
  };

  const values = new Map<string, Value>();
  const visiting = new Set<string>();

  const floatConst = (n: TfjsNode, v: Value, role: string): TfjsWeight & { data: Float32Array } => {
    if (!v.constant) fail(label, n, `needs a Const ${role}, but "${v.tf}" is computed`);
    if (v.constant.dtype !== 'float32') fail(label, n, `has a ${v.constant.dtype} ${role} "${v.tf}"; float32 expected`);
    return v.constant as TfjsWeight & { data: Float32Array };
  };
  const tensorInput = (n: TfjsNode, v: Value): Value => {
    if (v.constant) fail(label, n, `reads the Const "${v.tf}" as its data input; constant folding is not supported`);
    return v;
  };
  const checkNhwc = (n: TfjsNode): void => {
    const format = nodeAttrString(n, 'data_format') ?? 'NHWC';
    if (format !== 'NHWC') fail(label, n, `has data_format "${format}"; only NHWC is supported`);
  };
  const checkFloat = (n: TfjsNode): void => {
    const t = nodeAttrType(n, 'T');
    if (t !== undefined && t !== 'DT_FLOAT') fail(label, n, `has type ${t}; only DT_FLOAT is supported`);
  };
  /** [1, h, w, 1] list attribute → [h, w]. */
  const spatial = (n: TfjsNode, attr: string, fallback: number[]): [number, number] => {
    const v = nodeAttrInts(n, attr) ?? fallback;
    if (v.length !== 4 || v[0] !== 1 || v[3] !== 1 || v.some((x) => !Number.isInteger(x) || x < 1)) {
      fail(label, n, `has ${attr} [${v.join(', ')}]; expected [1, h, w, 1]`);
    }
    return [v[1]!, v[2]!];
  };
  /**
   * ONNX padding attributes for TF `padding` (+ explicit_paddings). SAME becomes
   * auto_pad SAME_UPPER, except with dilation, which ONNX Runtime refuses to combine with
   * auto_pad: there (stride 1, as TF requires for dilated convs) the padding does not depend
   * on the input size, (k - 1) * d in total with the odd pixel at the end, and is written out.
   */
  const paddingAttrs = (
    n: TfjsNode,
    allowExplicit: boolean,
    kernel: number[] = [1, 1],
    stride: number[] = [1, 1],
    dilation: number[] = [1, 1],
  ) => {
    const padding = nodeAttrString(n, 'padding');
    if (padding === 'SAME' && dilation.some((d) => d > 1)) {
      if (stride.some((s) => s > 1))
        fail(label, n, `has both dilations [${dilation.join(', ')}] and strides [${stride.join(', ')}]; TF needs one of them to be 1`);
      const total = kernel.map((k, i) => (k - 1) * dilation[i]!);
      const begin = total.map((t) => Math.floor(t / 2));
      return [attrInts('pads', [begin[0]!, begin[1]!, total[0]! - begin[0]!, total[1]! - begin[1]!])];
    }
    if (padding === 'SAME') return [attrString('auto_pad', 'SAME_UPPER')];
    if (padding === 'VALID') return [attrString('auto_pad', 'VALID')];
    if (padding === 'EXPLICIT' && allowExplicit) {
      const p = nodeAttrInts(n, 'explicit_paddings') ?? [];
      if (p.length !== 8 || p[0] || p[1] || p[6] || p[7] || p.some((x) => x < 0)) {
        fail(label, n, `has explicit_paddings [${p.join(', ')}]; expected 8 values padding only H and W`);
      }
      // TF NHWC [[0,0],[top,bottom],[left,right],[0,0]] → ONNX [top, left, bottom, right].
      return [attrInts('pads', [p[2]!, p[4]!, p[3]!, p[5]!])];
    }
    fail(label, n, `has padding "${padding ?? '(none)'}"; only SAME, VALID${allowExplicit ? ' and EXPLICIT' : ''} are supported`);
  };

  const visit = (name: string): Value => {
    const done = values.get(name);
    if (done) return done;
    const n = byName.get(name)!;
    if (visiting.has(name)) fail(label, n, 'is part of a cycle');
    visiting.add(name);
    const inputs = dataInputs(n);
    const ins = inputs.map(visit);
    const out = onnxNameOf.get(name)!;
    let value: Value;
    const expectInputs = (count: number | number[]) => {
      const ok = Array.isArray(count) ? count.includes(ins.length) : ins.length === count;
      if (!ok) fail(label, n, `(${n.op}) has ${ins.length} inputs; expected ${Array.isArray(count) ? count.join(' or ') : count}`);
    };

    switch (n.op) {
      case 'Const': {
        const w = weights.get(name);
        if (!w) fail(label, n, 'is a Const with no entry in weightsManifest');
        value = { tf: name, onnx: out, channels: -1, stride: [1, 1], constant: w, nodes: [], deps: [] };
        break;
      }
      case 'Placeholder': {
        const dtype = nodeAttrType(n, 'dtype');
        if (dtype !== undefined && dtype !== 'DT_FLOAT') fail(label, n, `(the input) has dtype ${dtype}; DT_FLOAT expected`);
        const dims = shapeDims(n.attr?.shape?.shape);
        if (dims && dims.length !== 4) fail(label, n, `(the input) has shape [${dims.join(', ')}]; expected [1, height, width, 3] (NHWC)`);
        if (dims && dims[3] !== 3 && dims[3] !== -1) fail(label, n, `(the input) has ${dims[3]} channels; expected 3 (RGB, NHWC)`);
        value = {
          tf: name,
          onnx: out,
          channels: 3,
          stride: [1, 1],
          nodes: [makeNode('Transpose', [ONNX_INPUT_NAME], [out], `${ONNX_INPUT_NAME}/to_nchw`, [attrInts('perm', [0, 3, 1, 2])])],
          deps: [],
        };
        break;
      }
      case 'Identity': {
        expectInputs(1);
        value = { ...ins[0]!, tf: name, nodes: [], deps: [inputs[0]!], convWithoutBias: undefined };
        break;
      }
      case 'Conv2D':
      case '_FusedConv2D':
      case 'DepthwiseConv2dNative':
      case 'FusedDepthwiseConv2dNative': {
        const fused = n.op.startsWith('_Fused') || n.op.startsWith('Fused');
        const depthwise = n.op.includes('Depthwise');
        checkNhwc(n);
        checkFloat(n);
        let fusedOps: string[] = [];
        if (fused) {
          fusedOps = nodeAttrStrings(n, 'fused_ops') ?? [];
          const [first, second, ...rest] = fusedOps;
          const ok = (first === undefined || first === 'BiasAdd') && (second === undefined || ACTIVATIONS.has(second)) && rest.length === 0;
          if (!ok || (first === undefined && second !== undefined)) {
            fail(
              label,
              n,
              `has fused_ops [${fusedOps.join(', ')}]; only BiasAdd optionally followed by Relu, Relu6 or Sigmoid is supported`,
            );
          }
          expectInputs(first === 'BiasAdd' ? 3 : 2);
        } else {
          expectInputs(2);
        }
        const x = tensorInput(n, ins[0]!);
        const filter = floatConst(n, ins[1]!, 'filter');
        if (filter.shape.length !== 4) fail(label, n, `has a filter of shape [${filter.shape.join(', ')}]; expected 4 dims`);
        const [kh, kw, ci, co] = filter.shape as [number, number, number, number];
        if (x.channels !== -1 && ci !== x.channels) {
          fail(label, n, `has a filter for ${ci} input channels but its input "${x.tf}" has ${x.channels}`);
        }
        const stride = spatial(n, 'strides', [1, 1, 1, 1]);
        const dilation = spatial(n, 'dilations', [1, 1, 1, 1]);
        const outChannels = depthwise ? ci * co : co;
        const w = depthwise
          ? initializer(`dw:${filter.name}`, `${filter.name}/oihw`, () => ({
              dims: [ci * co, 1, kh, kw],
              data: depthwiseToOnnx(filter.data, filter.shape),
            }))
          : initializer(`conv:${filter.name}`, `${filter.name}/oihw`, () => ({
              dims: [co, ci, kh, kw],
              data: hwioToOihw(filter.data, filter.shape),
            }));
        const convInputs = [x.onnx, w];
        if (fusedOps[0] === 'BiasAdd') {
          const bias = floatConst(n, ins[2]!, 'bias');
          if (bias.data.length !== outChannels)
            fail(label, n, `has a bias of ${bias.data.length} values for ${outChannels} output channels`);
          convInputs.push(initializer(`bias:${bias.name}`, bias.name, () => ({ dims: [outChannels], data: bias.data })));
        }
        const activation = fusedOps[1];
        const convOut = activation ? fresh(`${name}/conv`) : out;
        const attrs = [
          attrInts('kernel_shape', [kh, kw]),
          attrInts('strides', stride),
          attrInts('dilations', dilation),
          ...paddingAttrs(n, true, [kh, kw], stride, dilation),
        ];
        if (depthwise) attrs.push(attrInt('group', ci));
        const conv = makeNode('Conv', convInputs, [convOut], name, attrs);
        const nodes = [conv];
        if (activation) nodes.push(activationNode(activation, convOut, out, `${name}/${activation.toLowerCase()}`));
        value = {
          tf: name,
          onnx: out,
          channels: outChannels,
          stride: [x.stride[0] * stride[0], x.stride[1] * stride[1]],
          nodes,
          deps: inputs,
          convWithoutBias: convInputs.length === 2 && !activation ? conv : undefined,
        };
        break;
      }
      case 'BiasAdd': {
        expectInputs(2);
        checkNhwc(n);
        checkFloat(n);
        const x = tensorInput(n, ins[0]!);
        const bias = floatConst(n, ins[1]!, 'bias');
        if (bias.shape.length !== 1) fail(label, n, `has a bias of shape [${bias.shape.join(', ')}]; expected 1 dim`);
        const c = bias.data.length;
        if (x.channels !== -1 && c !== x.channels)
          fail(label, n, `has a bias of ${c} values but its input "${x.tf}" has ${x.channels} channels`);
        // Fold into the conv it follows when nothing else reads the conv's output, as tf2onnx does.
        const conv = x.convWithoutBias;
        if (conv && consumers.get(x.tf) === 1 && !candidates.includes(x.tf)) {
          const b = initializer(`bias:${bias.name}`, bias.name, () => ({ dims: [c], data: bias.data }));
          const folded = makeNode('Conv', [...(conv.input ?? []), b], [out], conv.name ?? name, conv.attribute ?? []);
          value = { tf: name, onnx: out, channels: c, stride: x.stride, nodes: [folded], deps: x.deps };
        } else {
          const b = initializer(`bias4d:${bias.name}`, `${bias.name}/nchw`, () => ({ dims: [1, c, 1, 1], data: bias.data }));
          value = { tf: name, onnx: out, channels: c, stride: x.stride, nodes: [makeNode('Add', [x.onnx, b], [out], name)], deps: inputs };
        }
        break;
      }
      case 'Add':
      case 'AddV2': {
        expectInputs(2);
        checkFloat(n);
        const [a, b] = ins as [Value, Value];
        if (a.constant && b.constant) fail(label, n, `adds two Consts ("${a.tf}", "${b.tf}"); constant folding is not supported`);
        const operand = (v: Value): string => {
          if (!v.constant) return v.onnx;
          const k = floatConst(n, v, 'operand');
          if (k.shape.length > 4) fail(label, n, `adds a Const of shape [${k.shape.join(', ')}]; at most 4 dims are supported`);
          const nhwc = [...Array(4 - k.shape.length).fill(1), ...k.shape] as number[];
          const other = v === a ? b : a;
          if (nhwc[3] !== 1 && other.channels !== -1 && nhwc[3] !== other.channels) {
            fail(label, n, `adds a Const of ${nhwc[3]} channels to "${other.tf}" of ${other.channels}`);
          }
          return initializer(`add:${k.name}`, `${k.name}/nchw`, () => ({
            dims: [nhwc[0]!, nhwc[3]!, nhwc[1]!, nhwc[2]!],
            data: transposeNhwcToNchw(k.data, nhwc),
          }));
        };
        if (!a.constant && !b.constant) {
          if (a.channels !== -1 && b.channels !== -1 && a.channels !== b.channels) {
            fail(label, n, `adds "${a.tf}" (${a.channels} channels) and "${b.tf}" (${b.channels} channels)`);
          }
          if (a.stride[0] !== b.stride[0] || a.stride[1] !== b.stride[1]) {
            fail(
              label,
              n,
              `adds "${a.tf}" (stride ${a.stride.join('x')}) and "${b.tf}" (stride ${b.stride.join('x')}), which differ in size`,
            );
          }
        }
        const t = a.constant ? b : a;
        value = {
          tf: name,
          onnx: out,
          channels: Math.max(a.channels, b.channels),
          stride: t.stride,
          nodes: [makeNode('Add', [operand(a), operand(b)], [out], name)],
          deps: inputs,
        };
        break;
      }
      case 'Relu':
      case 'Relu6':
      case 'Sigmoid': {
        expectInputs(1);
        checkFloat(n);
        const x = tensorInput(n, ins[0]!);
        value = {
          tf: name,
          onnx: out,
          channels: x.channels,
          stride: x.stride,
          nodes: [activationNode(n.op, x.onnx, out, name)],
          deps: inputs,
        };
        break;
      }
      case 'MaxPool': {
        expectInputs(1);
        checkNhwc(n);
        checkFloat(n);
        const x = tensorInput(n, ins[0]!);
        const kernel = spatial(n, 'ksize', []);
        const stride = spatial(n, 'strides', [1, 1, 1, 1]);
        const node = makeNode('MaxPool', [x.onnx], [out], name, [
          attrInts('kernel_shape', kernel),
          attrInts('strides', stride),
          ...paddingAttrs(n, false),
        ]);
        value = {
          tf: name,
          onnx: out,
          channels: x.channels,
          stride: [x.stride[0] * stride[0], x.stride[1] * stride[1]],
          nodes: [node],
          deps: inputs,
        };
        break;
      }
      default:
        throw new TfjsModelError(`${label}: node "${n.name}" has op "${n.op}", which tfjs-to-onnx does not support`);
    }
    visiting.delete(name);
    values.set(name, value);
    return value;
  };

  function activationNode(op: string, input: string, output: string, nodeName: string): NodeProto {
    if (op === 'Relu6') return makeNode('Clip', [input, ...relu6Bounds()], [output], nodeName);
    return makeNode(op, [input], [output], nodeName);
  }

  for (const c of candidates) visit(c);
  for (const c of candidates) {
    const v = values.get(c)!;
    if (v.constant) throw new TfjsModelError(`${label}: graph output "${c}" is a Const; outputs must be computed from the input`);
  }

  // Which TF nodes become which ONNX outputs.
  let outputs: { name: string; tfNode: string; channels: number }[];
  let heads: Record<HeadName, HeadInfo> | undefined;
  if (mode === 'posenet') {
    heads = findHeads(
      candidates.map((c) => values.get(c)!),
      label,
      warnings,
    );
    outputs = ONNX_HEAD_ORDER.map((h) => ({ name: heads![h].output, tfNode: heads![h].tfNode, channels: heads![h].channels }));
  } else {
    outputs = candidates.map((c) => ({ name: c, tfNode: c, channels: values.get(c)!.channels }));
  }

  // Emit: nodes in dependency order, from the outputs back (unused nodes are dropped).
  const nodes: NodeProto[] = [];
  const emitted = new Set<string>();
  const emit = (tf: string): void => {
    if (emitted.has(tf)) return;
    emitted.add(tf);
    const v = values.get(tf)!;
    for (const d of v.deps) emit(d);
    nodes.push(...v.nodes);
  };
  for (const o of outputs) emit(o.tfNode);
  if (!emitted.has(placeholder.name)) {
    throw new TfjsModelError(
      `${label}: the outputs (${outputs.map((o) => o.tfNode).join(', ')}) do not depend on the input "${placeholder.name}"`,
    );
  }
  for (const o of outputs) {
    nodes.push(makeNode('Transpose', [values.get(o.tfNode)!.onnx], [o.name], `${o.name}/to_nhwc`, [attrInts('perm', [0, 2, 3, 1])]));
  }
  const usedInitializers = new Set(nodes.flatMap((n) => n.input ?? []));
  const unusedNodes = tfNodes.filter((n) => n.op !== 'Const' && !emitted.has(n.name)).map((n) => n.name);
  if (unusedNodes.length)
    warnings.push(
      `${unusedNodes.length} node(s) the outputs do not need were dropped: ${unusedNodes.slice(0, 5).join(', ')}${unusedNodes.length > 5 ? ', ...' : ''}`,
    );

  // PoseNet facts: flags win; else inferred from the graph.
  let architecture: Architecture | undefined;
  let outputStride: number | undefined;
  let preprocess: PreprocessKind | undefined;
  const inferred = { architecture: false, outputStride: false, preprocess: false };
  const metadata: Record<string, string> = {};
  if (mode === 'posenet') {
    const names = tfNodes
      .map((n) => n.name)
      .join('\n')
      .toLowerCase();
    const guess: { architecture: Architecture; preprocess: PreprocessKind } | undefined = names.includes('mobilenet')
      ? { architecture: 'MobileNetV1', preprocess: 'mobilenet' }
      : names.includes('resnet')
        ? { architecture: 'ResNet50', preprocess: 'resnet' }
        : undefined;
    if (!guess && (!options.architecture || !options.preprocess)) {
      warnings.push(
        'node names say neither MobileNet nor ResNet; assuming MobileNetV1 with mobilenet preprocessing (use --architecture / --preprocess)',
      );
    }
    architecture = options.architecture ?? guess?.architecture ?? 'MobileNetV1';
    inferred.architecture = !options.architecture;
    preprocess = options.preprocess ?? (options.architecture === 'ResNet50' && !guess ? 'resnet' : (guess?.preprocess ?? 'mobilenet'));
    inferred.preprocess = !options.preprocess;

    const strides = ONNX_HEAD_ORDER.map((h) => values.get(heads![h].tfNode)!.stride);
    const graphStride = strides[0]![0];
    const consistent = strides.every(([sh, sw]) => sh === graphStride && sw === graphStride);
    if (options.outputStride !== undefined) {
      outputStride = options.outputStride;
      // The ONNX would say one stride and compute another: convert refuses such a model.
      if (!consistent || graphStride !== outputStride) {
        throw new TfjsModelError(
          `${label}: --output-stride ${outputStride} contradicts the graph, whose heads are at stride ${consistent ? graphStride : strides.map((s) => s.join('x')).join(', ')} ` +
            '(the product of the strides before them); a graph is exported at the stride it was built for',
        );
      }
    } else {
      if (!consistent) {
        throw new TfjsModelError(
          `${label}: the heads' strides differ (${strides.map((s) => s.join('x')).join(', ')}); give --output-stride`,
        );
      }
      outputStride = graphStride;
      inferred.outputStride = true;
    }
    if (![8, 16, 32].includes(outputStride)) {
      throw new TfjsModelError(`${label}: output stride ${outputStride} is not one of PoseNet's 8, 16, 32`);
    }
    const p = PREPROCESS_VALUES[preprocess];
    metadata[METADATA_KEYS.architecture] = architecture;
    metadata[METADATA_KEYS.outputStride] = String(outputStride);
    metadata[METADATA_KEYS.preprocess] = preprocess;
    metadata[METADATA_KEYS.preprocessMean] = p.mean.join(',');
    metadata[METADATA_KEYS.preprocessScale] = p.scale.join(',');
  }
  metadata[METADATA_KEYS.inputLayout] = 'NHWC';
  metadata[METADATA_KEYS.source] = label;
  if (options.sourceSha256) metadata[METADATA_KEYS.sourceSha256] = options.sourceSha256;
  if (json.generatedBy) metadata[METADATA_KEYS.generatedBy] = String(json.generatedBy);
  if (json.convertedBy) metadata[METADATA_KEYS.convertedBy] = String(json.convertedBy);

  const graph = {
    name: mode === 'posenet' ? `posenet_${(architecture ?? '').toLowerCase()}` : 'tfjs_graph',
    node: nodes,
    initializer: initializers.filter((t) => usedInitializers.has(t.name!)),
    input: [valueInfo(ONNX_INPUT_NAME, DataType.FLOAT, [1, 'height', 'width', 3])],
    output: outputs.map((o) =>
      valueInfo(o.name, DataType.FLOAT, [1, 'out_height', 'out_width', o.channels === -1 ? 'channels' : o.channels]),
    ),
  };
  const model = makeModel(graph, {
    producerName: 'posenet-webgpu tfjs-to-onnx',
    docString:
      `Converted from the TF.js graph model ${label}${json.generatedBy ? ` (generated by ${json.generatedBy})` : ''}. ` +
      'Input: NHWC float32 image, already normalised (see posenet.preprocess). Outputs: NHWC heads.',
    metadata,
  });
  return { model, heads, outputs, architecture, outputStride, preprocess, inferred, warnings, nodeCount: nodes.length };
}

function findHeads(candidates: Value[], label: string, warnings: string[]): Record<HeadName, HeadInfo> {
  const found = new Map<HeadName, HeadInfo>();
  const taken = new Set<string>();
  const take = (head: HeadName, v: Value, matchedBy: HeadInfo['matchedBy']) => {
    found.set(head, { tfNode: v.tf, output: ONNX_HEAD_OUTPUTS[head], channels: v.channels, matchedBy });
    taken.add(v.tf);
  };
  const describe = () => candidates.map((c) => `"${c.tf}" (${c.channels} channels)`).join(', ');
  // 1. The exact PoseNet names (offset_2, ...).
  for (const head of HEAD_NAMES) {
    const hits = candidates.filter((c) => !taken.has(c.tf) && c.tf.includes(HEAD_KEYS[head].exact));
    if (hits.length === 1) {
      const v = hits[0]!;
      if (v.channels !== HEAD_CHANNELS[head]) {
        throw new TfjsModelError(
          `${label}: output "${v.tf}" looks like the ${head} head but has ${v.channels} channels (${HEAD_CHANNELS[head]} expected)`,
        );
      }
      take(head, v, 'name');
    }
  }
  // 2. A keyword (heatmap, offset, fwd, bwd) and the right channel count.
  for (const head of HEAD_NAMES) {
    if (found.has(head)) continue;
    const hits = candidates.filter(
      (c) => !taken.has(c.tf) && c.channels === HEAD_CHANNELS[head] && c.tf.toLowerCase().includes(HEAD_KEYS[head].keyword),
    );
    if (hits.length === 1) take(head, hits[0]!, 'keyword');
  }
  // 3. Channel counts alone; the two 32-channel displacements in output order (fwd, bwd).
  for (const head of HEAD_NAMES) {
    if (found.has(head)) continue;
    const hits = candidates.filter((c) => !taken.has(c.tf) && c.channels === HEAD_CHANNELS[head]);
    const pair = head === 'displacementFwd' && !found.has('displacementBwd') && hits.length === 2;
    if (hits.length === 1 || pair) {
      take(head, hits[0]!, 'channels');
      warnings.push(`the ${head} head was recognised by its channel count only: "${hits[0]!.tf}"`);
    }
  }
  const missing = HEAD_NAMES.filter((h) => !found.has(h));
  if (missing.length) {
    throw new TfjsModelError(
      `${label}: cannot find the ${missing.map((h) => `${h} (${HEAD_CHANNELS[h]} channels)`).join(', ')} head(s) among the graph outputs ${describe()}`,
    );
  }
  return Object.fromEntries(HEAD_NAMES.map((h) => [h, found.get(h)!])) as Record<HeadName, HeadInfo>;
}

// ---- files ----------------------------------------------------------------------------------

export interface LoadedTfjsModel {
  json: TfjsModelJson;
  weights: Map<string, TfjsWeight>;
  /** sha256 of model.json's bytes. */
  sha256: string;
  /** Bytes of every shard, per weightsManifest group. */
  shards: Uint8Array[][];
}

/** The largest model.json and the largest weight shard tfjs-to-onnx reads. */
const MAX_MODEL_JSON_BYTES = 64 * MiB;
const MAX_SHARD_BYTES = 1024 * MiB;

/** `readInputFile` with its ToolError as a TfjsModelError (the error this module's callers expect). */
function readFileChecked(file: string, shown: string, maxBytes: number): Buffer {
  try {
    return readInputFile(file, shown, maxBytes);
  } catch (e) {
    if (e instanceof ToolError) throw new TfjsModelError(e.message);
    throw e;
  }
}

/**
 * Reads model.json and its weight shards, decodes the weights. Shard paths must stay in
 * model.json's folder (a path like ../../x could read any file); each must be a regular
 * file, and together they must hold exactly the bytes the weights need.
 */
export async function readTfjsModel(modelJsonPath: string, shown = modelJsonPath): Promise<LoadedTfjsModel> {
  const text = readFileChecked(modelJsonPath, shown, MAX_MODEL_JSON_BYTES);
  let json: unknown;
  try {
    json = JSON.parse(text.toString('utf8'));
  } catch (e) {
    throw new TfjsModelError(`${shown}: not JSON (${(e as Error).message})`);
  }
  assertGraphModelJson(json, shown);
  const dir = path.dirname(path.resolve(modelJsonPath));
  const shards: Uint8Array[][] = [];
  for (const group of json.weightsManifest) {
    const parts: Uint8Array[] = [];
    for (const p of group.paths) {
      if (typeof p !== 'string' || !p) throw new TfjsModelError(`${shown}: a weight shard path is ${JSON.stringify(p)}, not a file name`);
      const file = path.resolve(dir, p);
      const rel = path.relative(dir, file);
      if (rel.startsWith('..') || path.isAbsolute(rel)) {
        throw new TfjsModelError(`${shown}: weight shard "${p}" lies outside the model's folder; shards must sit beside model.json`);
      }
      if (!fs.existsSync(file)) throw new TfjsModelError(`${shown}: weight shard "${p}" not found (${file})`);
      parts.push(new Uint8Array(readFileChecked(file, path.join(path.dirname(shown), p), MAX_SHARD_BYTES)));
    }
    shards.push(parts);
  }
  const weights = decodeWeights(json, shards, shown);
  return { json, weights, shards, sha256: createHash('sha256').update(text).digest('hex') };
}

/** Converts the TF.js graph model at `modelJsonPath`; returns the result and the ONNX bytes. */
export async function tfjsToOnnxModel(
  modelJsonPath: string,
  options: ConvertOptions = {},
  shown = modelJsonPath,
): Promise<ConvertResult & { bytes: Uint8Array }> {
  const loaded = await readTfjsModel(modelJsonPath, shown);
  const result = convertTfjsGraph(loaded.json, loaded.weights, {
    label: path.basename(modelJsonPath),
    sourceSha256: loaded.sha256,
    ...options,
  });
  return { ...result, bytes: encodeModel(result.model) };
}

/** ONNX bytes of the TF.js graph model at `modelJsonPath`. */
export async function tfjsToOnnx(modelJsonPath: string, options: ConvertOptions = {}): Promise<Uint8Array> {
  return (await tfjsToOnnxModel(modelJsonPath, options)).bytes;
}

/** True when `file` is an ONNX model this project wrote (its producer is posenet-webgpu ...). */
export function isOurOnnx(file: string): boolean {
  if (fs.statSync(file).size > MAX_SHARD_BYTES) return false;
  return (decodeModel(fs.readFileSync(file)).producerName ?? '').startsWith('posenet-webgpu');
}

/**
 * Converts and writes the ONNX: `outPath` is checked and reserved before the work (it must
 * be a file path whose folder can be written, and an existing file there must be an ONNX
 * this project wrote), then written through a temporary sibling and a rename. `shown`
 * names the paths in errors (as the user typed them).
 */
export async function exportTfjsToOnnxFile(
  modelJsonPath: string,
  outPath: string,
  options: ConvertOptions = {},
  shown: { input?: string; out?: string } = {},
): Promise<ConvertResult & { bytes: Uint8Array }> {
  let out: OutputFile;
  try {
    out = OutputFile.reserve(outPath, shown.out ?? outPath, {
      what: '--out',
      isOurs: isOurOnnx,
      notOursReason: 'is not an ONNX written by posenet-webgpu',
    });
  } catch (e) {
    if (e instanceof ToolError) throw new TfjsModelError(e.message);
    throw e;
  }
  try {
    const result = await tfjsToOnnxModel(modelJsonPath, options, shown.input ?? modelJsonPath);
    out.write(result.bytes);
    return result;
  } finally {
    out.discard();
  }
}
