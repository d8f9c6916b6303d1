/**
 * The TF.js graph-model format (`model.json` + binary weight shards), as far as this project
 * reads it: types, attribute readers and weight decoding. No Node imports: the browser's
 * TF.js reference (tools/lib/tfjs-posenet.ts) uses it too.
 *
 * Weights: `weightsManifest` is a list of groups; each group's shard files (`paths`) are
 * concatenated and its `weights` lie one after another in that byte stream, in order.
 * A weight is float32/int32 (4 bytes an element) or bool (1 byte), or quantized: stored as
 * uint8/uint16 with `value = q * scale + min`, or as float16.
 */

/** An attribute of a TF.js graph node (a protobuf AttrValue written as JSON). */
export interface TfjsAttrValue {
  s?: string;
  i?: string | number;
  f?: number;
  b?: boolean;
  type?: string;
  shape?: TfjsTensorShape;
  list?: { s?: string[]; i?: (string | number)[]; f?: number[]; b?: boolean[]; type?: string[]; shape?: TfjsTensorShape[] };
  tensor?: { dtype?: string; tensorShape?: TfjsTensorShape };
}

export interface TfjsTensorShape {
  dim?: { size?: string | number }[];
  unknownRank?: boolean;
}

export interface TfjsNode {
  name: string;
  op: string;
  input?: string[];
  device?: string;
  attr?: Record<string, TfjsAttrValue>;
}

export interface TfjsQuantization {
  dtype: string;
  scale?: number;
  min?: number;
  original_dtype?: string;
}

export interface TfjsWeightEntry {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: TfjsQuantization;
}

export interface TfjsWeightsGroup {
  paths: string[];
  weights: TfjsWeightEntry[];
}

export interface TfjsSignatureEntry {
  name: string;
  dtype?: string;
  tensorShape?: TfjsTensorShape;
}

export interface TfjsSignature {
  inputs?: Record<string, TfjsSignatureEntry>;
  outputs?: Record<string, TfjsSignatureEntry>;
}

export interface TfjsModelJson {
  format?: string;
  generatedBy?: string;
  convertedBy?: string;
  modelTopology: { node: TfjsNode[]; library?: unknown; versions?: unknown };
  weightsManifest: TfjsWeightsGroup[];
  signature?: TfjsSignature;
  userDefinedMetadata?: Record<string, unknown>;
}

/** A decoded weight. Quantized weights come out as float32. */
export interface TfjsWeight {
  name: string;
  shape: number[];
  dtype: 'float32' | 'int32' | 'bool';
  data: Float32Array | Int32Array | Uint8Array;
}

/** Error with a message meant for the user as it is (tools print it without a stack). */
export class TfjsModelError extends Error {
  override name = 'TfjsModelError';
}

/**
 * Checks that parsed JSON looks like a TF.js graph model; `label` (the file name) starts
 * every message.
 */
export function assertGraphModelJson(json: unknown, label: string): asserts json is TfjsModelJson {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new TfjsModelError(`${label}: not a TF.js model (expected a JSON object)`);
  }
  const j = json as Record<string, unknown>;
  const topology = j.modelTopology as Record<string, unknown> | undefined;
  if (j.format === 'layers-model' || (topology && 'class_name' in topology)) {
    throw new TfjsModelError(`${label}: a TF.js layers model; only graph models (format "graph-model") are supported`);
  }
  if (!topology || !Array.isArray(topology.node)) {
    throw new TfjsModelError(`${label}: not a TF.js graph model (no modelTopology.node list)`);
  }
  if (!Array.isArray(j.weightsManifest)) {
    throw new TfjsModelError(`${label}: no weightsManifest list`);
  }
  for (const [gi, group] of (j.weightsManifest as unknown[]).entries()) {
    const g = group as Partial<TfjsWeightsGroup> | null;
    if (!g || !Array.isArray(g.paths) || !Array.isArray(g.weights)) {
      throw new TfjsModelError(`${label}: weightsManifest[${gi}] needs "paths" and "weights" lists`);
    }
  }
  for (const [ni, node] of (topology.node as unknown[]).entries()) {
    const n = node as Partial<TfjsNode> | null;
    if (!n || typeof n.name !== 'string' || typeof n.op !== 'string') {
      throw new TfjsModelError(`${label}: modelTopology.node[${ni}] needs a "name" and an "op"`);
    }
  }
}

/** Bytes one element of a stored weight takes, or throws for a dtype this project can't read. */
function storedElementBytes(w: TfjsWeightEntry, label: string): number {
  if (w.quantization) {
    switch (w.quantization.dtype) {
      case 'uint8':
        return 1;
      case 'uint16':
      case 'float16':
        return 2;
      default:
        throw new TfjsModelError(
          `${label}: weight "${w.name}" is quantized as "${w.quantization.dtype}"; only uint8, uint16 and float16 quantization are supported`,
        );
    }
  }
  switch (w.dtype) {
    case 'float32':
    case 'int32':
      return 4;
    case 'bool':
      return 1;
    default:
      throw new TfjsModelError(`${label}: weight "${w.name}" has dtype "${w.dtype}"; only float32, int32 and bool are supported`);
  }
}

function float16ToFloat32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

const elementCount = (shape: number[]): number => shape.reduce((a, b) => a * b, 1);

/** One weight's values from its stored bytes (`bytes` holds exactly this weight). */
/** Refuses a float weight holding NaN or ±Infinity: it would make every keypoint NaN or anywhere. */
function finite(weight: TfjsWeight & { data: Float32Array }, label: string): TfjsWeight {
  const data = weight.data;
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (v - v !== 0) throw new TfjsModelError(`${label}: weight "${weight.name}" holds ${v} at element ${i}; weights must be finite`);
  }
  return weight;
}

function decodeWeight(w: TfjsWeightEntry, bytes: Uint8Array, label: string): TfjsWeight {
  const n = elementCount(w.shape);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const q = w.quantization;
  if (q) {
    if (w.dtype !== 'float32' && w.dtype !== 'int32') {
      throw new TfjsModelError(`${label}: weight "${w.name}": quantized weights of dtype "${w.dtype}" are not supported`);
    }
    const out = new Float32Array(n);
    if (q.dtype === 'float16') {
      for (let i = 0; i < n; i++) out[i] = float16ToFloat32(view.getUint16(i * 2, true));
    } else {
      if (typeof q.scale !== 'number' || typeof q.min !== 'number') {
        throw new TfjsModelError(`${label}: weight "${w.name}" is quantized as ${q.dtype} but has no numeric scale and min`);
      }
      const { scale, min } = q;
      if (q.dtype === 'uint8') for (let i = 0; i < n; i++) out[i] = bytes[i]! * scale + min;
      else for (let i = 0; i < n; i++) out[i] = view.getUint16(i * 2, true) * scale + min;
    }
    if (w.dtype === 'int32') return { name: w.name, shape: w.shape, dtype: 'int32', data: Int32Array.from(out, Math.round) };
    return finite({ name: w.name, shape: w.shape, dtype: 'float32', data: out }, label);
  }
  if (w.dtype === 'float32') {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = view.getFloat32(i * 4, true);
    return finite({ name: w.name, shape: w.shape, dtype: 'float32', data: out }, label);
  }
  if (w.dtype === 'int32') {
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) out[i] = view.getInt32(i * 4, true);
    return { name: w.name, shape: w.shape, dtype: 'int32', data: out };
  }
  return { name: w.name, shape: w.shape, dtype: 'bool', data: bytes.slice(0, n) };
}

/** Bytes a weights group needs, and where each weight starts. */
export function groupLayout(group: TfjsWeightsGroup, label: string): { offsets: number[]; bytes: number } {
  const offsets: number[] = [];
  let at = 0;
  for (const w of group.weights) {
    if (!Array.isArray(w.shape) || w.shape.some((d) => !Number.isInteger(d) || d < 0)) {
      throw new TfjsModelError(`${label}: weight "${w.name}" has an invalid shape ${JSON.stringify(w.shape)}`);
    }
    offsets.push(at);
    at += elementCount(w.shape) * storedElementBytes(w, label);
  }
  return { offsets, bytes: at };
}

export function concatBytes(parts: Uint8Array[]): Uint8Array {
  const total = parts.reduce((a, p) => a + p.byteLength, 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

/**
 * Decodes every weight of a graph model.
 * @param shards one array per `weightsManifest` group, holding the bytes of its `paths` in order.
 * @param label names the model in errors (e.g. the model.json path).
 */
export function decodeWeights(json: TfjsModelJson, shards: Uint8Array[][], label: string): Map<string, TfjsWeight> {
  const weights = new Map<string, TfjsWeight>();
  json.weightsManifest.forEach((group, gi) => {
    const { offsets, bytes: needed } = groupLayout(group, label);
    const data = concatBytes(shards[gi] ?? []);
    if (data.byteLength < needed) {
      const firstMissing = group.weights.find(
        (w, i) => offsets[i]! + elementCount(w.shape) * storedElementBytes(w, label) > data.byteLength,
      );
      const last = group.paths[group.paths.length - 1] ?? `weightsManifest[${gi}]`;
      throw new TfjsModelError(
        `${label}: weight shard ${group.paths.map((p) => `"${p}"`).join(' + ')} holds ${data.byteLength} bytes but its weights need ${needed}` +
          ` (truncated? "${last}" ends before weight "${firstMissing?.name}")`,
      );
    }
    if (data.byteLength > needed) {
      throw new TfjsModelError(
        `${label}: weight shard ${group.paths.map((p) => `"${p}"`).join(' + ')} holds ${data.byteLength} bytes but its weights need ${needed}` +
          ` (${data.byteLength - needed} bytes too many: a shard of another model, or a model.json that lists too few weights?)`,
      );
    }
    group.weights.forEach((w, i) => {
      const start = offsets[i]!;
      const len = elementCount(w.shape) * storedElementBytes(w, label);
      weights.set(w.name, decodeWeight(w, data.subarray(start, start + len), label));
    });
  });
  return weights;
}

// ---- attribute readers --------------------------------------------------------------------

/** Decodes a base64 string attribute (TF.js writes `s` values base64-encoded). */
export function decodeBase64String(b64: string): string {
  const bin = atob(b64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return new TextDecoder().decode(bytes);
}

export function nodeAttrString(node: TfjsNode, name: string): string | undefined {
  const s = node.attr?.[name]?.s;
  return s === undefined ? undefined : decodeBase64String(s);
}

export function nodeAttrInts(node: TfjsNode, name: string): number[] | undefined {
  const list = node.attr?.[name]?.list;
  if (!list) return undefined;
  return (list.i ?? []).map((v) => Number(v));
}

export function nodeAttrStrings(node: TfjsNode, name: string): string[] | undefined {
  const list = node.attr?.[name]?.list;
  if (!list) return undefined;
  return (list.s ?? []).map(decodeBase64String);
}

export function nodeAttrType(node: TfjsNode, name: string): string | undefined {
  return node.attr?.[name]?.type;
}

/** Dims of a shape attribute (-1 for unknown), or undefined for unknown rank / absent. */
export function shapeDims(shape: TfjsTensorShape | undefined): number[] | undefined {
  if (!shape || shape.unknownRank) return undefined;
  return (shape.dim ?? []).map((d) => (d.size === undefined ? -1 : Number(d.size)));
}

/** Splits a node input reference `name`, `name:1` or `^name` (control input). */
export function parseInputRef(ref: string): { node: string; index: number; control: boolean } {
  if (ref.startsWith('^')) return { node: ref.slice(1), index: 0, control: true };
  const m = /^(.*):(\d+)$/.exec(ref);
  if (m) return { node: m[1]!, index: Number(m[2]), control: false };
  return { node: ref, index: 0, control: false };
}

/** All weight specs in manifest order, as `tf.io.fromMemory` wants them. */
export function weightSpecsOf(json: TfjsModelJson): TfjsWeightEntry[] {
  return json.weightsManifest.flatMap((g) => g.weights);
}
