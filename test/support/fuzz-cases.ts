/**
 * Seeded mutations for the fuzz test (test/fuzz.test.ts): of an ONNX model's bytes and of
 * its graph, and of a manifest (model.json) and its weights.bin. Case i of seed s is always
 * the same mutation, so a failing case can be replayed alone (FUZZ_ONLY=i).
 */
import { createHash } from 'node:crypto';
import {
  attrInt,
  attrInts,
  attrString,
  decodeModel,
  encodeModel,
  makeNode,
  onnx,
  type GraphProto,
  type NodeProto,
  type TensorProto,
} from '../../tools/lib/onnx.ts';
import { mulberry32 } from '../../tools/lib/mulberry32.ts';

/** mulberry32: small, fast, and the same sequence everywhere for one seed. */
export class FuzzRng {
  private readonly source: () => number;
  constructor(seed: number) {
    this.source = mulberry32(seed);
  }
  next(): number {
    return this.source();
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
}

export const caseRng = (seed: number, index: number): FuzzRng => new FuzzRng(Math.imul(seed, 1000003) + index * 7919 + 1);

/** Values that break things: NaN, infinities, float32 overflow, huge, negative, zero. */
const BAD_FLOATS = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 3.4e38, -3.4e38, 1e30, 0];
const BAD_INTS = [0, -1, 1, 2, 3, 7, 64, 65, 1000, 1e9, -1e9, 2 ** 31];

// ---------------------------------------------------------------------------------------
// ONNX

export interface OnnxCase {
  mutation: string;
  bytes: Uint8Array;
}

type GraphMutation = (g: GraphProto, rng: FuzzRng) => string;

function floatInitializers(g: GraphProto): TensorProto[] {
  return (g.initializer ?? []).filter((t) => t.dataType === onnx.TensorProto.DataType.FLOAT && (t.rawData?.length ?? 0) >= 4);
}

function setFloat(t: TensorProto, index: number, value: number): void {
  const raw = t.rawData!;
  new DataView(raw.buffer, raw.byteOffset, raw.byteLength).setFloat32(index * 4, value, true);
}

const convs = (g: GraphProto): NodeProto[] => (g.node ?? []).filter((n) => n.opType === 'Conv');

const GRAPH_MUTATIONS: Record<string, GraphMutation> = {
  'bad value in a weight': (g, rng) => {
    const t = rng.pick(floatInitializers(g));
    const v = rng.pick(BAD_FLOATS);
    const i = rng.int(t.rawData!.length / 4);
    setFloat(t, i, v);
    return `${t.name}[${i}] = ${v}`;
  },
  'conv attribute changed': (g, rng) => {
    const n = rng.pick(convs(g));
    const attr = rng.pick(['kernel_shape', 'strides', 'pads', 'dilations', 'group']);
    const v = rng.pick(BAD_INTS);
    n.attribute = (n.attribute ?? []).filter((a) => a.name !== attr);
    if (attr === 'group') n.attribute.push(attrInt(attr, v));
    else n.attribute.push(attrInts(attr, attr === 'pads' ? [v, v, rng.pick([0, 1, v]), v] : [v, rng.pick([v, 1])]));
    return `${n.name}.${attr} = ${v}`;
  },
  'auto_pad changed': (g, rng) => {
    const n = rng.pick(convs(g));
    const v = rng.pick(['SAME_UPPER', 'SAME_LOWER', 'VALID', 'NOTSET', 'SAME', '']);
    n.attribute = [...(n.attribute ?? []).filter((a) => a.name !== 'auto_pad' && a.name !== 'pads'), attrString('auto_pad', v)];
    return `${n.name}.auto_pad = "${v}"`;
  },
  'node duplicated': (g, rng) => {
    const nodes = g.node ?? [];
    const i = rng.int(nodes.length);
    nodes.splice(rng.int(nodes.length), 0, { ...nodes[i]!, name: `${nodes[i]!.name}_copy` });
    return `copy of ${nodes[i]!.name}`;
  },
  'node removed': (g, rng) => {
    const nodes = g.node ?? [];
    const [n] = nodes.splice(rng.int(nodes.length), 1);
    return `without ${n!.name}`;
  },
  'input rewired (cycles, missing tensors)': (g, rng) => {
    const nodes = g.node ?? [];
    const n = rng.pick(nodes);
    const source = rng.pick(nodes).output?.[0] ?? 'nowhere';
    const target = rng.next() < 0.2 ? 'no-such-tensor' : source;
    n.input = [target, ...(n.input ?? []).slice(1)];
    return `${n.name} reads ${target}`;
  },
  'op type changed': (g, rng) => {
    const n = rng.pick(g.node ?? []);
    const op = rng.pick(['Relu', 'Conv', 'Add', 'Mul', 'MaxPool', 'Softmax', 'Identity', 'Transpose', 'Clip', 'Sigmoid']);
    const was = n.opType;
    n.opType = op;
    return `${n.name}: ${was} → ${op}`;
  },
  'initializer dims changed': (g, rng) => {
    const t = rng.pick(floatInitializers(g));
    const dims = (t.dims ?? []).map((d) => Number(d));
    const i = rng.int(Math.max(1, dims.length));
    dims[i] = rng.pick([0, 1, 3, 1e9, -1]);
    t.dims = dims;
    return `${t.name}.dims = [${dims.join(', ')}]`;
  },
  'Div by zero after a conv': (g, rng) => {
    const nodes = g.node ?? [];
    const conv = rng.pick(convs(g));
    const out = conv.output![0]!;
    const channels = Number((g.initializer ?? []).find((t) => t.name === conv.input![1])?.dims?.[0] ?? 1);
    const zero = new Float32Array(channels).fill(1);
    zero[rng.int(channels)] = 0;
    g.initializer!.push({
      name: 'fuzz_zero',
      dims: [1, channels, 1, 1],
      dataType: onnx.TensorProto.DataType.FLOAT,
      rawData: new Uint8Array(zero.buffer),
    });
    for (const n of nodes) n.input = (n.input ?? []).map((x) => (x === out ? 'fuzz_divided' : x));
    for (const o of g.output ?? []) if (o.name === out) o.name = 'fuzz_divided';
    nodes.splice(nodes.indexOf(conv) + 1, 0, makeNode('Div', [out, 'fuzz_zero'], ['fuzz_divided'], 'fuzz_div'));
    return `Div by zero after ${conv.name}`;
  },
  'graph output renamed': (g, rng) => {
    const o = rng.pick(g.output ?? []);
    const was = o.name;
    o.name = `${was}_gone`;
    return `output ${was} → ${o.name}`;
  },
};

const BYTE_MUTATIONS: Record<string, (bytes: Uint8Array, rng: FuzzRng) => { bytes: Uint8Array; what: string }> = {
  cut: (bytes, rng) => {
    const at = rng.int(bytes.length);
    return { bytes: bytes.slice(0, at), what: `first ${at} bytes` };
  },
  'bytes flipped': (bytes, rng) => {
    const out = bytes.slice();
    const n = 1 + rng.int(16);
    // Half the time in the first 64 KiB: the graph structure, not the weights.
    const span = rng.next() < 0.5 ? Math.min(65536, out.length) : out.length;
    for (let k = 0; k < n; k++) {
      const at = rng.int(span);
      out[at] = out[at]! ^ (1 << rng.int(8));
    }
    return { bytes: out, what: `${n} bits flipped in the first ${span} bytes` };
  },
  'span zeroed': (bytes, rng) => {
    const out = bytes.slice();
    const at = rng.int(out.length);
    const len = 1 + rng.int(4096);
    out.fill(0, at, at + len);
    return { bytes: out, what: `${len} bytes zeroed at ${at}` };
  },
};

export function onnxCase(original: Uint8Array, seed: number, index: number): OnnxCase {
  // A copy: a Node Buffer's slice() is a view, and a mutation must not leak into later cases.
  const source = new Uint8Array(original);
  const rng = caseRng(seed, index);
  if (rng.next() < 0.3) {
    const name = rng.pick(Object.keys(BYTE_MUTATIONS));
    const r = BYTE_MUTATIONS[name]!(source, rng);
    return { mutation: `bytes: ${name} (${r.what})`, bytes: r.bytes };
  }
  const model = decodeModel(source);
  const name = rng.pick(Object.keys(GRAPH_MUTATIONS));
  const what = GRAPH_MUTATIONS[name]!(model.graph!, rng);
  return { mutation: `graph: ${name} (${what})`, bytes: encodeModel(model) };
}

// ---------------------------------------------------------------------------------------
// Manifest

export interface ManifestCase {
  mutation: string;
  /** model.json's text. */
  text: string;
  weights: Uint8Array;
}

type Json = Record<string, unknown>;

/** Every path to a value in `json` (objects and arrays), for picking what to change. */
function paths(json: unknown, at: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  out.push(at);
  if (Array.isArray(json)) {
    for (const [i, v] of json.entries()) paths(v, [...at, i], out);
  } else if (typeof json === 'object' && json !== null) {
    for (const [k, v] of Object.entries(json)) paths(v, [...at, k], out);
  }
  return out;
}

function setAt(json: unknown, at: (string | number)[], value: unknown): void {
  let o = json as Json;
  for (const k of at.slice(0, -1)) o = o[k as string] as Json;
  const last = at[at.length - 1]!;
  if (value === undefined && !Array.isArray(o)) delete o[last as string];
  else (o as Json)[last as string] = value;
}

const deepArray = (depth: number): string => `${'['.repeat(depth)}${']'.repeat(depth)}`;

const MANIFEST_MUTATIONS: Record<string, (m: Json, w: Uint8Array, rng: FuzzRng) => { text?: string; weights?: Uint8Array; what: string }> =
  {
    'value replaced': (m, _w, rng) => {
      const at = rng.pick(paths(m).filter((p) => p.length > 0));
      const v = rng.pick<unknown>([null, 'x', '', -1, 0, 1.5, 1e9, 1e300, true, [], {}, [1, 2], 'weights.bin', undefined]);
      setAt(m, at, v);
      return { what: `${at.join('.')} = ${JSON.stringify(v) ?? 'deleted'}` };
    },
    'huge geometry': (m, _w, rng) => {
      const layers = m.layers as Json[];
      const l = rng.pick(layers);
      const field = rng.pick(['kernel', 'stride', 'dilation', 'pads']);
      const v = rng.pick([1e9, 65, 100, 2 ** 31]);
      if (field === 'pads') (l.padding as Json).pads = [v, v, v, v];
      else l[field] = [v, v];
      if (field === 'pads') (l.padding as Json).mode = 'explicit';
      return { what: `${l.name}.${field} = ${v}` };
    },
    'non-finite number': (m, _w, rng) => {
      const at = rng.pick(paths(m).filter((p) => p.length > 0 && typeof p[p.length - 1] === 'number'));
      setAt(m, at, '__INF__');
      return { text: JSON.stringify(m).replace('"__INF__"', rng.pick(['1e999', '-1e999'])), what: `${at.join('.')} = 1e999` };
    },
    'deep nesting': (m, _w, rng) => {
      const at = rng.pick(paths(m).filter((p) => p.length > 0));
      setAt(m, at, '__DEEP__');
      return { text: JSON.stringify(m).replace('"__DEEP__"', deepArray(100_000)), what: `${at.join('.')} nested 100000 deep` };
    },
    'weights file outside the folder': (m, _w, rng) => {
      const file = rng.pick([
        '../../../../etc/passwd',
        '/etc/passwd',
        '../weights.bin',
        'sub/weights.bin',
        'https://example.com/w.bin',
        '..',
      ]);
      (m.weights as Json).file = file;
      return { what: `weights.file = ${file}` };
    },
    'duplicate layer name': (m, _w, rng) => {
      const layers = m.layers as Json[];
      const a = rng.int(layers.length);
      const b = rng.int(layers.length);
      layers[b]!.name = layers[a]!.name;
      return { what: `layers[${b}].name = layers[${a}].name` };
    },
    'layers reordered': (m, _w, rng) => {
      const layers = m.layers as Json[];
      const a = rng.int(layers.length);
      const b = rng.int(layers.length);
      [layers[a], layers[b]] = [layers[b]!, layers[a]!];
      return { what: `layers ${a} and ${b} swapped` };
    },
    'text cut or flipped': (m, _w, rng) => {
      const text = JSON.stringify(m, null, 1);
      if (rng.next() < 0.5) {
        const at = rng.int(text.length);
        return { text: text.slice(0, at), what: `first ${at} characters` };
      }
      const chars = [...text];
      const i = rng.int(chars.length);
      chars[i] = rng.pick(['{', '"', '9', '-', ',', ']', 'e']);
      return { text: chars.join(''), what: `character ${i} changed` };
    },
    'bad value in weights.bin': (m, w, rng) => {
      const out = w.slice();
      const i = rng.int(out.length / 4);
      const v = rng.pick([Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]);
      new DataView(out.buffer).setFloat32(i * 4, v, true);
      // With a matching sha256 half the time, so that the value check itself is reached.
      const rehash = rng.next() < 0.5;
      if (rehash) (m.weights as Json).sha256 = createHash('sha256').update(out).digest('hex');
      return { weights: out, what: `float ${i} = ${v}${rehash ? ', sha256 updated' : ''}` };
    },
    'weights.bin cut': (_m, w, rng) => {
      const at = rng.int(w.length);
      return { weights: w.slice(0, at), what: `first ${at} bytes` };
    },
  };

export function manifestCase(manifestText: string, original: Uint8Array, seed: number, index: number): ManifestCase {
  const weights = new Uint8Array(original); // a copy (see onnxCase)
  const rng = caseRng(seed ^ 0x5bd1e995, index);
  const m = JSON.parse(manifestText) as Json;
  const name = rng.pick(Object.keys(MANIFEST_MUTATIONS));
  const r = MANIFEST_MUTATIONS[name]!(m, weights, rng);
  return { mutation: `manifest: ${name} (${r.what})`, text: r.text ?? JSON.stringify(m), weights: r.weights ?? weights };
}
