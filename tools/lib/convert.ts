/**
 * ONNX PoseNet → weights manifest (`model.json`) + packed `weights.bin`.
 *
 * Reads MobileNetV1 (any width multiplier, output stride 8/16/32, dilated convs after the
 * stride is reached) and ResNet50 PoseNets in NCHW or NHWC layout, and turns the graph into
 * the manifest's list of fused layers (src/model/manifest.ts), in four stages:
 *
 * 1. convert/graph.ts reads the graph: one image input, one writer per tensor, no cycles,
 *    the live nodes in topological order, the input's layout.
 * 2. convert/fusion.ts folds nodes into layers: a `Conv` starts one (`depthwise`,
 *    `pointwise` or `conv`); BatchNormalization, per-channel Add/Sub/Mul/Div, a residual
 *    Add and the activation (Relu, Clip(0, 6), Clip(0, inf)) that follow it are fused into
 *    it; `MaxPool` is a `maxpool` layer; Transposes only change the layout a tensor is
 *    viewed in (the input's NHWC→NCHW and the heads' NCHW→NHWC transposes disappear);
 *    per-channel ops on the graph input are the preprocessing (`from: 'graph'`); the four
 *    head convs (17, 34, 32, 32 channels) become one pointwise layer `heads`, each head's
 *    channels starting at a multiple of 4.
 *    convert/heads.ts picks and fuses the heads.
 * 3. convert/shapes.ts infers the output stride and checks the chain's geometry.
 * 4. convert/pack.ts packs the weights (layout in src/model/layout.ts).
 *
 * Layers are listed in the topological order of the node that finishes each of them (the
 * last node fused into it), so each layer's input and residual are written by an earlier
 * layer or are the input tensor; the heads layer is last. Tensor names are the ONNX names
 * of each fused layer's last output. Every error is a `ConvertError` whose one-line message
 * names the file and the node, tensor or value at fault.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import {
  HEAD_CHANNELS,
  HEAD_NAMES,
  MANIFEST_FORMAT,
  MANIFEST_VERSION,
  type Architecture,
  type HeadName,
  type HeadRef,
  type Manifest,
  type Preprocess,
} from '../../src/model/manifest.ts';
import { validateManifest } from '../../src/model/validate.ts';
import { isInside, jsonIsOurs, MiB, OutputFile, readInputFile, removeStaleFolders, ToolError } from './cli.ts';
import {
  ConvertError,
  isImage,
  type ConvertOptions,
  type ConvertResult,
  type Fail,
  type ImageVal,
  type LayerBuild,
  type PreprocessName,
} from './convert/common.ts';
import { fuseGraph } from './convert/fusion.ts';
import { findHeads, fuseHeads } from './convert/heads.ts';
import { OnnxGraph } from './convert/graph.ts';
import { packLayers } from './convert/pack.ts';
import { checkGeometry, inferOutputStride } from './convert/shapes.ts';

export { ConvertError, type ConvertOptions, type ConvertResult, type OutputStride, type PreprocessName } from './convert/common.ts';

/** The largest ONNX file convert reads (a ResNet50 PoseNet is about 95 MB). */
export const MAX_ONNX_BYTES = 1024 * MiB;

/** The preprocessing each architecture was trained with: value = (pixel - mean) * scale. */
export const PREPROCESS_PRESETS: Readonly<Record<PreprocessName, { mean: [number, number, number]; scale: [number, number, number] }>> = {
  mobilenet: { mean: [127.5, 127.5, 127.5], scale: [1 / 127.5, 1 / 127.5, 1 / 127.5] },
  resnet: { mean: [123.15, 115.9, 103.06], scale: [1, 1, 1] },
};

/** Converts ONNX bytes without touching the file system. `sourceFile` names them in messages. */
export function convertOnnxBytes(bytes: Uint8Array, sourceFile: string, options: ConvertOptions = {}): ConvertResult {
  const fail: Fail = (message) => new ConvertError(`${sourceFile}: ${message}`);
  const notes: string[] = [];
  const graph = new OnnxGraph(bytes, fail);
  const fused = fuseGraph(graph, fail);

  const heads = findHeads(fused.outputs, fail);
  const headLayers = new Set(HEAD_NAMES.map((h) => heads[h].layer));
  // Stable sort: the order of the nodes that finish each layer is a valid execution order.
  const body = fused.layers.filter((l) => !headLayers.has(l)).sort((a, b) => a.last - b.last);
  for (const l of body) {
    for (const r of [l.input, l.residual]) {
      if (r && !isImage(r) && headLayers.has(r))
        throw fail(`${l.node} reads the head output "${r.output}"; heads must be the graph's last layers`);
    }
  }
  const image = imageRead(fused.layers, graph.inputName, fail);
  const { layer: headsLayer, offsets } = fuseHeads(heads, fused.end);
  const layers = [...body, headsLayer];
  const imageTensor = ownNames(image, body, notes, sourceFile);

  const architecture = chooseArchitecture(body, graph, options, fail);
  const outputStride = inferOutputStride(layers, headsLayer, fail, {
    metadata: graph.metadata('posenet.output_stride'),
    option: options.outputStride,
  });
  checkGeometry(layers, imageTensor, outputStride, fail);
  const preprocess = choosePreprocess(image, architecture, graph, options, notes, fail, sourceFile);
  const format = options.weights ?? 'f32';
  const { manifestLayers, weights } = packLayers(layers, imageTensor, format, fail);

  const headRefs = {} as Record<HeadName, HeadRef>;
  for (const h of HEAD_NAMES) {
    headRefs[h] = { tensor: 'heads', channelOffset: offsets[h], channels: HEAD_CHANNELS[h], sourceName: heads[h].source };
  }
  const producer = [graph.model.producerName, graph.model.producerVersion].filter((s) => s).join(' ');
  const manifest: Manifest = {
    format: MANIFEST_FORMAT,
    version: MANIFEST_VERSION,
    name: options.name ?? path.basename(sourceFile).replace(/\.onnx$/i, ''),
    architecture,
    outputStride,
    input: { sourceName: graph.inputName, sourceLayout: graph.inputLayout, tensor: imageTensor, channels: 3 },
    preprocess,
    layers: manifestLayers,
    heads: headRefs,
    weights: { file: 'weights.bin', bytes: weights.byteLength, sha256: sha256(weights), format },
    source: { file: path.basename(sourceFile), sha256: sha256(bytes), ...(producer ? { producer } : {}) },
  };
  try {
    validateManifest(JSON.parse(JSON.stringify(manifest)), `${sourceFile} (converted manifest)`);
  } catch (e) {
    // Every property of the input that the manifest checks is checked above, by name.
    throw fail(`the converted manifest is invalid (a converter bug): ${(e as Error).message}`);
  }
  return { manifest, weights, notes };
}

/** The image tensor: every layer that reads the image must read the same stage of it. */
function imageRead(layers: readonly LayerBuild[], inputName: string, fail: Fail): ImageVal {
  const reads = layers.flatMap((l) => (isImage(l.input) ? [{ l, img: l.input }] : []));
  if (reads.length === 0) throw fail(`no Conv reads the input "${inputName}"`);
  const image = reads[0]!.img;
  const other = reads.find((r) => r.img.tensor !== image.tensor);
  if (other) {
    throw fail(
      `${other.l.node} reads "${other.img.tensor}" but ${reads[0]!.l.node} reads "${image.tensor}"; all convs on the input must read the same preprocessed image`,
    );
  }
  return image;
}

/**
 * 'heads' is ours (the fused heads' name and tensor): an ONNX tensor or node of that name
 * is renamed, and layer names made unique (they name GPU passes and errors). Returns the
 * image tensor's name.
 */
function ownNames(image: ImageVal, body: LayerBuild[], notes: string[], sourceFile: string): string {
  const tensors = new Set<string>([image.tensor, ...body.map((l) => l.output)]);
  const unique = (n: string, taken: Set<string>): string => {
    let i = 1;
    while (taken.has(`${n}_${i}`) || `${n}_${i}` === 'heads') i++;
    return `${n}_${i}`;
  };
  const imageTensor = image.tensor === 'heads' ? unique('heads', tensors) : image.tensor;
  for (const l of body) if (l.output === 'heads') l.output = unique('heads', tensors);
  const names = new Set<string>(['heads']);
  for (const l of body) {
    if (names.has(l.name)) {
      const renamed = unique(l.name, names);
      if (l.name !== 'heads')
        notes.push(`${sourceFile}: two layers are named "${l.name}"; ${l.node} is called "${renamed}" in the manifest`);
      l.name = renamed;
    }
    names.add(l.name);
  }
  return imageTensor;
}

function chooseArchitecture(body: readonly LayerBuild[], graph: OnnxGraph, options: ConvertOptions, fail: Fail): Architecture {
  if (options.architecture) return options.architecture;
  const meta = graph.metadata('posenet.architecture');
  if (meta !== undefined) {
    if (/mobilenet/i.test(meta)) return 'MobileNetV1';
    if (/resnet/i.test(meta)) return 'ResNet50';
    throw fail(`metadata posenet.architecture "${meta}" is neither MobileNetV1 nor ResNet50`);
  }
  return body.some((l) => l.residual || l.kind === 'maxpool') ? 'ResNet50' : 'MobileNetV1';
}

function choosePreprocess(
  image: ImageVal,
  architecture: Architecture,
  graph: OnnxGraph,
  options: ConvertOptions,
  notes: string[],
  fail: Fail,
  sourceFile: string,
): Preprocess {
  const flag = options.preprocess;
  if (image.ops > 0) {
    const mean = [0, 1, 2].map((i) => -image.b[i]! / image.a[i]!) as [number, number, number];
    const scale = [...image.a] as [number, number, number];
    const kind = classifyPreprocess(mean, scale);
    if (flag && flag !== kind) {
      throw fail(
        `--preprocess ${flag} contradicts the graph's own preprocessing (${kind}: mean ${mean.map((v) => +v.toFixed(4)).join(', ')}, scale ${scale.map((v) => +v.toPrecision(6)).join(', ')})`,
      );
    }
    const preset = kind === 'custom' ? undefined : PREPROCESS_PRESETS[kind];
    return { kind, mean: preset ? [...preset.mean] : mean, scale: preset ? [...preset.scale] : scale, from: 'graph' };
  }
  let kind: PreprocessName;
  let from: Preprocess['from'];
  const meta = graph.metadata('posenet.preprocess');
  if (flag) {
    kind = flag;
    from = 'flag';
  } else if (meta !== undefined) {
    if (meta !== 'mobilenet' && meta !== 'resnet') throw fail(`metadata posenet.preprocess "${meta}" is neither mobilenet nor resnet`);
    kind = meta;
    from = 'metadata';
  } else {
    kind = architecture === 'ResNet50' ? 'resnet' : 'mobilenet';
    from = 'default';
    notes.push(
      `${sourceFile}: no preprocessing in the graph, no posenet.preprocess metadata and no --preprocess flag: using the ${architecture} default (${kind})`,
    );
  }
  const preset = PREPROCESS_PRESETS[kind];
  return { kind, mean: [...preset.mean], scale: [...preset.scale], from };
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

// ---------------------------------------------------------------------------------------
// Files

/** The files convert writes into its output folder, and nothing else. */
export const OUTPUT_FILES = { manifest: 'model.json', weights: 'weights.bin' } as const;

/** True when `file` is a manifest this project wrote (so a new conversion may replace it). */
const isOurManifest = jsonIsOurs((j) => typeof j === 'object' && j !== null && (j as { format?: unknown }).format === MANIFEST_FORMAT);

/**
 * Converts `onnxPath` into `outDir/model.json` + `outDir/weights.bin`, and touches nothing
 * else in `outDir`. Before the work: the input must be a regular file of at most
 * MAX_ONNX_BYTES, `outDir` a folder (made if missing) that does not hold the input, and
 * an existing model.json / weights.bin there an earlier conversion's (a manifest of ours);
 * both outputs are reserved as temporary siblings. After it, model.json and then
 * weights.bin are renamed into place, so each is whole at any moment (a loader seeing a
 * new model.json with the old weights.bin refuses them by the manifest's sha256). On
 * failure nothing changes in `outDir` (a folder made for it is removed again).
 * `shown` names the paths in messages (as the user typed them); default the paths.
 */
export async function convertOnnxFile(
  onnxPath: string,
  outDir: string,
  options: ConvertOptions = {},
  shown: { input?: string; out?: string } = {},
): Promise<Manifest> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const inputShown = shown.input ?? onnxPath;
  const outShown = shown.out ?? outDir;
  try {
    const bytes = readInputFile(onnxPath, inputShown, MAX_ONNX_BYTES);
    const target = path.resolve(outDir);
    const outputs = reserveOutputs(onnxPath, inputShown, target, outShown);
    try {
      const { manifest, weights, notes } = convertOnnxBytes(bytes, inputShown, { ...options, name: options.name ?? path.basename(target) });
      for (const n of notes) log(n);
      outputs.manifest.write(manifestJson(manifest));
      outputs.weights.write(weights);
      return manifest;
    } finally {
      outputs.weights.discard();
      outputs.manifest.discard();
    }
  } catch (e) {
    if (e instanceof ToolError) throw new ConvertError(e.message);
    throw e;
  }
}

function reserveOutputs(
  onnxPath: string,
  inputShown: string,
  target: string,
  outShown: string,
): { manifest: OutputFile; weights: OutputFile } {
  let stat: fs.Stats | null = null;
  try {
    stat = fs.statSync(target);
  } catch {
    // Missing: it is made by OutputFile.reserve (any other problem is reported there).
  }
  if (stat && !stat.isDirectory()) {
    throw new ConvertError(`--out ${outShown}: is a file, not a folder; convert writes model.json and weights.bin into a folder`);
  }
  if (stat && isInside(onnxPath, target)) {
    throw new ConvertError(
      `--out ${outShown}: holds the input ${inputShown}; give the converted model (model.json + weights.bin) a folder of its own`,
    );
  }
  const manifestFile = path.join(target, OUTPUT_FILES.manifest);
  const ourFolder = fs.existsSync(manifestFile) && isOurManifest(manifestFile);
  removeStaleFolders(
    path.dirname(target),
    path.basename(target),
    (name) => name === OUTPUT_FILES.manifest || name === OUTPUT_FILES.weights,
  );
  const manifest = OutputFile.reserve(manifestFile, path.join(outShown, OUTPUT_FILES.manifest), {
    what: '--out',
    isOurs: isOurManifest,
    notOursReason: 'is not a posenet-webgpu manifest (convert writes model.json and weights.bin into --out)',
  });
  try {
    const weights = OutputFile.reserve(path.join(target, OUTPUT_FILES.weights), path.join(outShown, OUTPUT_FILES.weights), {
      what: '--out',
      isOurs: () => ourFolder,
      notOursReason: 'does not belong to an earlier conversion (there is no posenet-webgpu model.json beside it)',
    });
    return { manifest, weights };
  } catch (e) {
    manifest.discard();
    throw e;
  }
}
