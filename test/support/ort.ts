/**
 * The ONNX Runtime reference: runs a PoseNet ONNX on the CPU with onnxruntime-node and
 * returns its four heads in NHWC, whatever the model's own layout and output names.
 *
 * Heads are found by name (offset_2, heatmap_2, displacement_fwd_2, displacement_bwd_2, as
 * tools/tfjs-to-onnx writes them, or names containing offset/heatmap/fwd/bwd) or, for foreign
 * models, by channel count (34, 17, 32, 32; the two 32s in output order fwd, bwd).
 * Sessions are cached per model path (or per bytes object).
 */
import * as ort from 'onnxruntime-node';

import { HEAD_CHANNELS, HEAD_NAMES, type HeadName } from '../../src/model/manifest.ts';

export interface OrtTensor {
  data: Float32Array;
  dims: number[];
}
export interface HeadTensor {
  data: Float32Array;
  dims: [number, number, number];
}
export type OrtHeads = Record<HeadName, HeadTensor>;

const byPath = new Map<string, Promise<ort.InferenceSession>>();
const byBytes = new WeakMap<Uint8Array, Promise<ort.InferenceSession>>();

const SESSION_OPTIONS: ort.InferenceSession.SessionOptions = {
  executionProviders: ['cpu'],
  // Keep numerics plain: no fusions that reorder float math beyond what kernels do anyway.
  graphOptimizationLevel: 'basic',
  intraOpNumThreads: 2,
  logSeverityLevel: 3,
};

/** A cached session for a model file path or ONNX bytes. */
export function getSession(model: string | Uint8Array): Promise<ort.InferenceSession> {
  if (typeof model === 'string') {
    let s = byPath.get(model);
    if (!s) {
      s = ort.InferenceSession.create(model, SESSION_OPTIONS);
      byPath.set(model, s);
    }
    return s;
  }
  let s = byBytes.get(model);
  if (!s) {
    s = ort.InferenceSession.create(model, SESSION_OPTIONS);
    byBytes.set(model, s);
  }
  return s;
}

/** Releases every cached session made from a path. */
export async function releaseSessions(): Promise<void> {
  const all = [...byPath.values()];
  byPath.clear();
  for (const s of all) await (await s).release();
}

/** Runs a model on float32 feeds; returns every output. */
export async function runOnnx(model: string | Uint8Array, feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>> {
  const session = await getSession(model);
  const ortFeeds: Record<string, ort.Tensor> = {};
  for (const [name, t] of Object.entries(feeds)) ortFeeds[name] = new ort.Tensor('float32', t.data, t.dims);
  const results = await session.run(ortFeeds);
  const out: Record<string, OrtTensor> = {};
  for (const name of session.outputNames) {
    const t = results[name]!;
    if (t.type !== 'float32') throw new Error(`output ${name} is ${t.type}; float32 expected`);
    out[name] = { data: t.data as Float32Array, dims: [...t.dims] };
  }
  return out;
}

/** NCHW [1, C, H, W] → NHWC. */
function nchwToNhwc(data: Float32Array, c: number, h: number, w: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let k = 0; k < c; k++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) out[(y * w + x) * c + k] = data[(k * h + y) * w + x]!;
  return out;
}
/** NHWC [1, H, W, C] → NCHW. */
function nhwcToNchw(data: Float32Array, h: number, w: number, c: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let k = 0; k < c; k++) out[(k * h + y) * w + x] = data[(y * w + x) * c + k]!;
  return out;
}

const NAME_KEYS: Readonly<Record<HeadName, [string, string]>> = {
  offsets: ['offset_2', 'offset'],
  heatmap: ['heatmap_2', 'heatmap'],
  displacementFwd: ['displacement_fwd_2', 'fwd'],
  displacementBwd: ['displacement_bwd_2', 'bwd'],
};

/** Which output holds which head, given each output's channel count. */
function mapHeads(outputs: { name: string; channels: number }[]): Record<HeadName, string> {
  const map = new Map<HeadName, string>();
  const taken = new Set<string>();
  for (const pass of [0, 1] as const) {
    for (const head of HEAD_NAMES) {
      if (map.has(head)) continue;
      const hits = outputs.filter(
        (o) => !taken.has(o.name) && o.channels === HEAD_CHANNELS[head] && o.name.toLowerCase().includes(NAME_KEYS[head][pass]),
      );
      if (hits.length === 1) {
        map.set(head, hits[0]!.name);
        taken.add(hits[0]!.name);
      }
    }
  }
  for (const head of HEAD_NAMES) {
    if (map.has(head)) continue;
    const hits = outputs.filter((o) => !taken.has(o.name) && o.channels === HEAD_CHANNELS[head]);
    if (hits.length === 1 || (head === 'displacementFwd' && !map.has('displacementBwd') && hits.length === 2)) {
      map.set(head, hits[0]!.name);
      taken.add(hits[0]!.name);
    }
  }
  const missing = HEAD_NAMES.filter((h) => !map.has(h));
  if (missing.length) {
    throw new Error(
      `runOnnxHeads: cannot find head(s) ${missing.join(', ')} among outputs ${outputs.map((o) => `${o.name}[${o.channels}]`).join(', ')}`,
    );
  }
  return Object.fromEntries(map) as Record<HeadName, string>;
}

/**
 * Runs a PoseNet ONNX on an NHWC float input [height, width, 3] (already normalised as the
 * model expects) and returns the four raw heads in NHWC. Accepts NHWC or NCHW models.
 */
export async function runOnnxHeads(model: string | Uint8Array, input: Float32Array, [height, width]: [number, number]): Promise<OrtHeads> {
  if (input.length !== height * width * 3) throw new Error(`runOnnxHeads: input has ${input.length} values, not ${height}x${width}x3`);
  const session = await getSession(model);
  const inputName = session.inputNames[0]!;
  const meta = session.inputMetadata[0];
  const shape = meta?.isTensor ? meta.shape : [];
  const nchw = shape.length === 4 && shape[1] === 3 && shape[3] !== 3;
  const feed = nchw
    ? { data: nhwcToNchw(input, height, width, 3), dims: [1, 3, height, width] }
    : { data: input, dims: [1, height, width, 3] };
  const outs = await runOnnx(model, { [inputName]: feed });
  const channelSet = new Set(Object.values(HEAD_CHANNELS));
  // Per output: NHWC unless only its dim 1 is a head channel count (or the input is NCHW and both are).
  const layout = new Map<string, { nchw: boolean; c: number; h: number; w: number }>();
  for (const [name, t] of Object.entries(outs)) {
    if (t.dims.length !== 4 || t.dims[0] !== 1) continue;
    const [, a, b, c] = t.dims as [number, number, number, number];
    const lastIsC = channelSet.has(c);
    const firstIsC = channelSet.has(a);
    const isNchw = firstIsC && (!lastIsC || nchw);
    layout.set(name, isNchw ? { nchw: true, c: a, h: b, w: c } : { nchw: false, c, h: a, w: b });
  }
  const heads = mapHeads([...layout].map(([name, l]) => ({ name, channels: l.c })));
  const result = {} as OrtHeads;
  for (const head of HEAD_NAMES) {
    const name = heads[head];
    const l = layout.get(name)!;
    const data = outs[name]!.data;
    result[head] = { data: l.nchw ? nchwToNhwc(data, l.c, l.h, l.w) : data, dims: [l.h, l.w, l.c] };
  }
  return result;
}
