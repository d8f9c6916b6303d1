/**
 * Validation of a weights manifest (`model.json`) and of its weights.
 *
 * Runs in the browser and in Node (no Node imports). `validateManifest` checks every field
 * the GPU runtime relies on, so that the runtime can trust what it gets: the layer chain is
 * consistent (every input and residual tensor is produced earlier, channel counts and
 * strides match, layer names are unique), every layer's geometry is within
 * `GEOMETRY_LIMITS` and the chain makes the heads grid of the output stride (layout.ts),
 * weight slices have exactly the packed sizes of manifest.ts, lie inside `weights.bin`, are
 * 16-byte aligned and do not overlap, `weights.file` names a file in the manifest's own
 * folder, and the heads lie in the heads tensor. `checkWeightsSize` and `checkWeightsValues`
 * check the weights file itself. Errors name the source, the layer and the field.
 */
import { chainGeometryError, geometryLimitError, packedBiasBytes, packedWeightsBytes, WEIGHTS_ALIGN, type ChainLayer } from './layout.ts';
import {
  HEAD_CHANNELS,
  HEAD_NAMES,
  MANIFEST_FORMAT,
  MANIFEST_VERSION,
  type Layer,
  type LayerKind,
  type Manifest,
  type Padding,
} from './manifest.ts';
import { fromHalfBits, hasScales, WEIGHT_FORMATS, weightFormatOf, type WeightFormat } from './weight-format.ts';

export class ManifestError extends Error {
  override name = 'ManifestError';
}

const LAYER_KINDS: readonly LayerKind[] = ['conv', 'depthwise', 'pointwise', 'maxpool'];
const ACTIVATIONS = ['none', 'relu', 'relu6'] as const;
const PAD_MODES = ['same_upper', 'same_lower', 'explicit'] as const;
const PREPROCESS_KINDS = ['mobilenet', 'resnet', 'custom'] as const;
const PREPROCESS_FROM = ['graph', 'flag', 'metadata', 'default'] as const;
const ARCHITECTURES = ['MobileNetV1', 'ResNet50'] as const;

// ---------------------------------------------------------------------------------------

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * A short, bounded picture of a JSON value for messages: at most 60 characters, two levels
 * deep and a few items a level, so a huge or 100,000-deep value cannot blow the stack (as
 * JSON.stringify would); non-finite numbers show as themselves (JSON would print null).
 */
function show(v: unknown): string {
  const s = preview(v, 0);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

function preview(v: unknown, depth: number): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? `${v.slice(0, 60)}...` : v);
  if (typeof v !== 'object' || v === null) return String(v);
  if (depth >= 2) return Array.isArray(v) ? '[...]' : '{...}';
  const items = Array.isArray(v)
    ? v.slice(0, 8).map((x) => preview(x, depth + 1))
    : Object.keys(v)
        .slice(0, 4)
        .map((k) => `${JSON.stringify(k)}:${preview((v as Json)[k], depth + 1)}`);
  const more = (Array.isArray(v) ? v.length > 8 : Object.keys(v).length > 4) ? ',...' : '';
  return Array.isArray(v) ? `[${items.join(',')}${more}]` : `{${items.join(',')}${more}}`;
}

class Checker {
  constructor(private readonly source: string) {}

  fail(where: string, message: string): never {
    throw new ManifestError(`${this.source}: ${where ? `${where}: ` : ''}${message}`);
  }

  object(v: unknown, where: string, field: string): Json {
    if (!isObject(v)) this.fail(where, `${field} must be an object, got ${show(v)}`);
    return v;
  }

  string(v: unknown, where: string, field: string): string {
    if (typeof v !== 'string' || v.length === 0) this.fail(where, `${field} must be a non-empty string, got ${show(v)}`);
    return v;
  }

  oneOf<T extends string>(v: unknown, allowed: readonly T[], where: string, field: string): T {
    if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
      this.fail(where, `${field} must be one of ${allowed.join(', ')}, got ${show(v)}`);
    }
    return v as T;
  }

  int(v: unknown, where: string, field: string, min: number): number {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
      this.fail(where, `${field} must be an integer >= ${min}, got ${show(v)}`);
    }
    return v;
  }

  finite(v: unknown, where: string, field: string): number {
    if (typeof v !== 'number' || !Number.isFinite(v)) this.fail(where, `${field} must be a finite number, got ${show(v)}`);
    return v;
  }

  intTuple(v: unknown, n: number, where: string, field: string, min: number): number[] {
    if (!Array.isArray(v) || v.length !== n) this.fail(where, `${field} must be an array of ${n} integers, got ${show(v)}`);
    return v.map((x, i) => this.int(x, where, `${field}[${i}]`, min));
  }

  sha256(v: unknown, where: string, field: string): string {
    if (typeof v !== 'string' || !/^[0-9a-f]{64}$/.test(v)) {
      this.fail(where, `${field} must be 64 lowercase hex digits, got ${show(v)}`);
    }
    return v;
  }
}

interface TensorInfo {
  channels: number;
  /** Stride relative to the input image: [sh, sw]. */
  stride: [number, number];
  producer: string;
}

/**
 * Checks `json` against the manifest format and returns it typed. `source` names where it
 * came from (a path or URL) for the error messages. Throws `ManifestError`.
 */
export function validateManifest(json: unknown, source: string): Manifest {
  const ck: Checker = new Checker(source);
  const m = ck.object(json, '', 'the manifest');
  if (m.format !== MANIFEST_FORMAT) ck.fail('', `format must be "${MANIFEST_FORMAT}", got ${show(m.format)}`);
  if (m.version !== MANIFEST_VERSION) ck.fail('', `version must be ${MANIFEST_VERSION}, got ${show(m.version)}`);
  ck.string(m.name, '', 'name');
  ck.oneOf(m.architecture, ARCHITECTURES, '', 'architecture');
  if (m.outputStride !== 8 && m.outputStride !== 16 && m.outputStride !== 32) {
    ck.fail('', `outputStride must be 8, 16 or 32, got ${show(m.outputStride)}`);
  }

  const input = ck.object(m.input, '', 'input');
  ck.string(input.sourceName, '', 'input.sourceName');
  ck.oneOf(input.sourceLayout, ['NHWC', 'NCHW'] as const, '', 'input.sourceLayout');
  const inputTensor = ck.string(input.tensor, '', 'input.tensor');
  if (input.channels !== 3) ck.fail('', `input.channels must be 3, got ${show(input.channels)}`);

  const pre = ck.object(m.preprocess, '', 'preprocess');
  ck.oneOf(pre.kind, PREPROCESS_KINDS, '', 'preprocess.kind');
  ck.oneOf(pre.from, PREPROCESS_FROM, '', 'preprocess.from');
  for (const field of ['mean', 'scale'] as const) {
    const arr = pre[field];
    if (!Array.isArray(arr) || arr.length !== 3) ck.fail('', `preprocess.${field} must be an array of 3 numbers, got ${show(arr)}`);
    arr.forEach((x, i) => {
      ck.finite(x, '', `preprocess.${field}[${i}]`);
    });
    if (field === 'scale' && arr.some((x) => x === 0)) ck.fail('', `preprocess.scale must not contain 0, got ${show(arr)}`);
  }

  const weights = ck.object(m.weights, '', 'weights');
  const weightsFile = ck.string(weights.file, '', 'weights.file');
  // Fetched relative to the manifest: a path could reach any file the server (or disk) holds.
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(weightsFile) || weightsFile.includes('..')) {
    ck.fail('', `weights.file must be a file name in the manifest's own folder (letters, digits, _ . -), got ${show(weightsFile)}`);
  }
  const totalBytes = ck.int(weights.bytes, '', 'weights.bytes', 0);
  if (totalBytes % 16 !== 0) ck.fail('', `weights.bytes ${totalBytes} is not a multiple of 16`);
  ck.sha256(weights.sha256, '', 'weights.sha256');
  const format: WeightFormat = weights.format === undefined ? 'f32' : ck.oneOf(weights.format, WEIGHT_FORMATS, '', 'weights.format');
  const src = ck.object(m.source, '', 'source');
  ck.string(src.file, '', 'source.file');
  ck.sha256(src.sha256, '', 'source.sha256');
  if (src.producer !== undefined && typeof src.producer !== 'string')
    ck.fail('', `source.producer must be a string, got ${show(src.producer)}`);

  if (!Array.isArray(m.layers) || m.layers.length === 0) ck.fail('', `layers must be a non-empty array, got ${show(m.layers)}`);
  const tensors = new Map<string, TensorInfo>();
  tensors.set(inputTensor, { channels: 3, stride: [1, 1], producer: 'the input' });
  const slices: { offset: number; end: number; what: string }[] = [];
  const names = new Set<string>();
  const chain: ChainLayer[] = [];

  m.layers.forEach((raw: unknown, index: number) => {
    const rawObj = ck.object(raw, `layers[${index}]`, 'layer');
    const name = ck.string(rawObj.name, `layers[${index}]`, 'name');
    const kind = ck.oneOf(rawObj.kind, LAYER_KINDS, `layer "${name}"`, 'kind');
    const where = `layer "${name}" (${kind})`;
    if (names.has(name))
      ck.fail(where, `another layer is also named "${name}"; layer names must be unique (they name GPU passes and errors)`);
    names.add(name);
    const l = rawObj as unknown as Layer;
    const inName = ck.string(l.input, where, 'input');
    const outName = ck.string(l.output, where, 'output');
    const [kh, kw] = ck.intTuple(l.kernel, 2, where, 'kernel', 1) as [number, number];
    const stride = ck.intTuple(l.stride, 2, where, 'stride', 1) as [number, number];
    const dilation = ck.intTuple(l.dilation, 2, where, 'dilation', 1) as [number, number];
    const padding = ck.object(l.padding, where, 'padding');
    const mode = ck.oneOf(padding.mode, PAD_MODES, where, 'padding.mode');
    const pads = ck.intTuple(padding.pads, 4, where, 'padding.pads', 0);
    if (mode !== 'explicit' && pads.some((p) => p !== 0)) {
      ck.fail(where, `padding.pads must be zeros when padding.mode is ${mode}, got ${show(pads)}`);
    }
    ck.oneOf(l.activation, ACTIVATIONS, where, 'activation');
    const inC = ck.int(l.inChannels, where, 'inChannels', 1);
    const outC = ck.int(l.outChannels, where, 'outChannels', 1);
    const outOfBounds = geometryLimitError({ kernel: [kh, kw], stride, dilation, pads, inChannels: inC, outChannels: outC });
    if (outOfBounds) ck.fail(where, outOfBounds);

    const producer = tensors.get(inName);
    if (!producer) ck.fail(where, `input tensor "${inName}" is not the input tensor and no earlier layer writes it`);
    if (producer.channels !== inC) {
      ck.fail(where, `inChannels ${inC} does not match ${producer.producer}, which writes "${inName}" with ${producer.channels} channels`);
    }
    if (tensors.has(outName)) ck.fail(where, `output tensor "${outName}" is already written by ${tensors.get(outName)!.producer}`);

    if (kind === 'depthwise' && inC !== outC) ck.fail(where, `inChannels ${inC} and outChannels ${outC} must be equal`);
    if (kind === 'maxpool') {
      if (inC !== outC) ck.fail(where, `inChannels ${inC} and outChannels ${outC} must be equal`);
      if (l.weights !== undefined || l.bias !== undefined) ck.fail(where, 'a maxpool layer has no weights or bias');
      if (l.residual !== undefined) ck.fail(where, 'a maxpool layer has no residual');
      if (l.activation !== 'none') ck.fail(where, `activation must be none, got ${show(l.activation)}`);
      if (dilation[0] !== 1 || dilation[1] !== 1) ck.fail(where, `dilation must be [1, 1], got ${show(l.dilation)}`);
    }
    // The depthwise kernel has no residual input (no PoseNet adds one there).
    if (kind === 'depthwise' && l.residual !== undefined) ck.fail(where, 'a depthwise layer has no residual');
    if (kind === 'pointwise') {
      if (kh !== 1 || kw !== 1) ck.fail(where, `kernel must be [1, 1], got ${show(l.kernel)}`);
      if (dilation[0] !== 1 || dilation[1] !== 1) ck.fail(where, `dilation must be [1, 1], got ${show(l.dilation)}`);
      if (mode !== 'explicit' || pads.some((p) => p !== 0)) {
        ck.fail(where, `padding must be explicit zeros, got ${show(l.padding)}`);
      }
    }
    const outStride: [number, number] = [producer.stride[0] * stride[0], producer.stride[1] * stride[1]];

    if (l.residual !== undefined) {
      const resName = ck.string(l.residual, where, 'residual');
      const res = tensors.get(resName);
      if (!res) ck.fail(where, `residual tensor "${resName}" is not written by an earlier layer`);
      if (res.channels !== outC) {
        ck.fail(where, `residual "${resName}" has ${res.channels} channels (from ${res.producer}), outChannels is ${outC}`);
      }
      if (res.stride[0] !== outStride[0] || res.stride[1] !== outStride[1]) {
        ck.fail(where, `residual "${resName}" has stride ${res.stride.join('×')}, the layer's output has ${outStride.join('×')}`);
      }
    }

    if (kind !== 'maxpool') {
      const checkRef = (v: unknown, field: 'weights' | 'bias' | 'scales', expected: number, shape: string): void => {
        const ref = ck.object(v, where, field);
        const offset = ck.int(ref.offset, where, `${field}.offset`, 0);
        const length = ck.int(ref.length, where, `${field}.length`, 0);
        if (length !== expected) {
          ck.fail(where, `${field}.length ${length} does not match ${shape} packed (${expected} bytes)`);
        }
        if (offset % WEIGHTS_ALIGN !== 0) ck.fail(where, `${field}.offset ${offset} is not a multiple of ${WEIGHTS_ALIGN}`);
        if (offset + length > totalBytes) {
          ck.fail(where, `${field} [${offset}, ${offset + length}) lies outside weights.bin (${totalBytes} bytes)`);
        }
        slices.push({ offset, end: offset + length, what: `layer "${name}" ${field}` });
      };
      const shape =
        kind === 'depthwise' ? `${kh}×${kw} depthwise ${outC}` : kh === 1 && kw === 1 ? `${inC}→${outC}` : `${kh}×${kw} ${inC}→${outC}`;
      checkRef(l.weights, 'weights', packedWeightsBytes(kind, [kh, kw], inC, outC, format), `${shape} ${format}`);
      checkRef(l.bias, 'bias', packedBiasBytes(outC), `bias ${outC}`);
      if (hasScales(format)) checkRef(l.scales, 'scales', packedBiasBytes(outC), `scales ${outC}`);
      else if (l.scales !== undefined) ck.fail(where, `has scales, which only int8 weights have (weights.format is ${format})`);
    } else if (l.scales !== undefined) {
      ck.fail(where, 'a maxpool layer has no scales');
    }
    tensors.set(outName, { channels: outC, stride: outStride, producer: `layer "${name}"` });
    chain.push({
      what: where,
      input: inName,
      output: outName,
      ...(l.residual !== undefined ? { residual: l.residual } : {}),
      name,
      kernel: [kh, kw],
      stride,
      dilation,
      padding: { mode, pads: pads as Padding['pads'] },
    });
  });

  slices.sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < slices.length; i++) {
    const prev = slices[i - 1]!;
    const cur = slices[i]!;
    if (cur.offset < prev.end) ck.fail('', `${cur.what} [${cur.offset}, ${cur.end}) overlaps ${prev.what} [${prev.offset}, ${prev.end})`);
  }

  const heads = ck.object(m.heads, '', 'heads');
  let headsTensor: string | undefined;
  const ranges: { from: number; to: number; head: string }[] = [];
  for (const head of HEAD_NAMES) {
    const where = `heads.${head}`;
    const h = ck.object(heads[head], '', where);
    const tensor = ck.string(h.tensor, where, 'tensor');
    const info = tensors.get(tensor);
    if (!info) ck.fail(where, `tensor "${tensor}" is not written by any layer`);
    if (headsTensor !== undefined && tensor !== headsTensor) {
      ck.fail(where, `tensor "${tensor}" differs from the other heads' tensor "${headsTensor}"`);
    }
    headsTensor = tensor;
    const offset = ck.int(h.channelOffset, where, 'channelOffset', 0);
    if (offset % 4 !== 0) ck.fail(where, `channelOffset ${offset} is not a multiple of 4`);
    const channels = ck.int(h.channels, where, 'channels', 1);
    if (channels !== HEAD_CHANNELS[head]) ck.fail(where, `channels must be ${HEAD_CHANNELS[head]}, got ${channels}`);
    if (offset + channels > info.channels) {
      ck.fail(where, `channels [${offset}, ${offset + channels}) lie outside "${tensor}" (${info.channels} channels)`);
    }
    ck.string(h.sourceName, where, 'sourceName');
    for (const r of ranges) {
      if (offset < r.to && r.from < offset + channels) ck.fail(where, `channels [${offset}, ${offset + channels}) overlap heads.${r.head}`);
    }
    ranges.push({ from: offset, to: offset + channels, head });
    if (info.stride[0] !== info.stride[1] || info.stride[0] !== m.outputStride) {
      ck.fail(where, `tensor "${tensor}" has stride ${info.stride.join('×')}, outputStride is ${show(m.outputStride)}`);
    }
  }
  const geometry = chainGeometryError(chain, inputTensor, headsTensor!, m.outputStride);
  if (geometry) ck.fail('', geometry);
  return m as unknown as Manifest;
}

/** Checks that `weights.bin` has the size the manifest says. Throws `ManifestError`. */
export function checkWeightsSize(manifest: Manifest, byteLength: number, source: string): void {
  if (byteLength !== manifest.weights.bytes) {
    throw new ManifestError(
      `${source}: ${manifest.weights.file} is ${byteLength} bytes, the manifest says weights.bytes = ${manifest.weights.bytes} (${weightFormatOf(manifest)} weights)`,
    );
  }
}

/**
 * Checks that every weight, bias and scale `weights.bin` holds for the layers is finite
 * (float32 or float16 as the format stores it; int8 is finite by construction): a NaN or an
 * infinity there makes every keypoint NaN or puts it anywhere. Scales must also not be
 * negative. Throws `ManifestError` naming the layer, the array and the element.
 */
export function checkWeightsValues(manifest: Manifest, weights: ArrayBuffer, source: string): void {
  const view = new DataView(weights);
  const format = weightFormatOf(manifest);
  for (const layer of manifest.layers) {
    for (const field of ['weights', 'bias', 'scales'] as const) {
      const ref = layer[field];
      if (!ref) continue;
      const half = field === 'weights' && format === 'f16';
      if (field === 'weights' && format === 'int8') continue;
      const size = half ? 2 : 4;
      for (let i = 0; i < ref.length / size; i++) {
        const at = ref.offset + i * size;
        const v = half ? fromHalfBits(view.getUint16(at, true)) : view.getFloat32(at, true);
        // v - v is 0 for finite v, NaN for NaN and ±Infinity: one cheap test in the loop.
        if (v - v !== 0 || (field === 'scales' && v < 0)) {
          throw new ManifestError(
            `${source}: layer "${layer.name}" (${layer.kind}): ${field} element ${i} (byte ${at} of ${manifest.weights.file}) is ${v}; ` +
              (field === 'scales' ? 'scales must be finite and >= 0' : 'weights must be finite'),
          );
        }
      }
    }
  }
}
