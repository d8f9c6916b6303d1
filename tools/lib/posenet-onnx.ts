/**
 * PoseNet architectures as ONNX graphs with seeded pseudo-random weights, for testing the
 * converter and the runtime on every architecture without downloading checkpoints.
 *
 * - MobileNetV1 (TF.js PoseNet's `mobileNet100Architecture`): conv 3×3/2 (32·m channels),
 *   then 13 depthwise-separable blocks (depthwise 3×3 + pointwise 1×1) with strides
 *   [1,2,1,2,1,2,1,1,1,1,1,2,1] and channels 64,128,128,256,256,512×6,1024,1024 times the
 *   multiplier m, each conv followed by BatchNormalization and Clip(0, 6). Once the output
 *   stride is reached, later strides become 1 and the dilation rate grows instead, as in
 *   tfjs-models posenet.
 * - ResNet50: 7×7/2 conv 64 + BN + Relu, 3×3/2 MaxPool, bottleneck stages [3,4,6,3]
 *   (1×1 → 3×3 → 1×1, widths 64,128,256,512, expansion 4) with BN, residual Add then Relu,
 *   strided 1×1 projection shortcuts on each stage's first unit. Stages past the output
 *   stride use stride 1 and dilation 2, 4.
 *
 * Both take an NHWC input `image` [1, height, width, 3] of RGB pixels (0..255), transpose it
 * to NCHW, and end in four 1×1 heads (with bias) transposed back to NHWC and named
 * offset_2, heatmap_2, displacement_fwd_2, displacement_bwd_2 (TF.js PoseNet's order).
 *
 * Weights: He-normal convs; BatchNormalization with non-trivial scale/bias/mean/var, its
 * variance set near the expected variance of the conv's output so that activations stay
 * O(1); heads scaled so that their outputs are O(1).
 */
import {
  attrFloat,
  attrInt,
  attrInts,
  attrString,
  DataType,
  floatTensor,
  makeModel,
  makeNode,
  valueInfo,
  type ModelProto,
  type NodeProto,
  type TensorProto,
} from './onnx.ts';
import { mulberry32 } from './mulberry32.ts';

export type PreprocessPlacement = 'graph' | 'metadata' | 'none';

export interface MobileNetOptions {
  /** Width multiplier (0.5, 0.75, 1.0, ...). */
  multiplier: number;
  outputStride: 8 | 16 | 32;
  seed: number;
  /** Put x / 127.5 - 1 in the graph (default), in metadata, or nowhere. */
  preprocess?: PreprocessPlacement;
}

export interface ResNetOptions {
  outputStride: 8 | 16 | 32;
  seed: number;
  /** Put x - ImageNet mean in the graph (default), in metadata, or nowhere. */
  preprocess?: PreprocessPlacement;
}

/** Small, fast, seeded PRNG (mulberry32) with normal samples. */
export class Rng {
  private readonly source: () => number;
  private spare: number | undefined;
  constructor(seed: number) {
    this.source = mulberry32(seed ^ 0x9e3779b9);
  }
  next(): number {
    return this.source();
  }
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }
  normal(): number {
    if (this.spare !== undefined) {
      const s = this.spare;
      this.spare = undefined;
      return s;
    }
    const u = 1 - this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }
}

/** Builds a graph node by node with seeded weights. */
class Builder {
  readonly nodes: NodeProto[] = [];
  readonly inits: TensorProto[] = [];
  readonly rng: Rng;
  private readonly constants = new Map<string, string>();

  constructor(seed: number) {
    this.rng = new Rng(seed);
  }

  init(name: string, dims: number[], data: Float32Array | number[]): string {
    this.inits.push(floatTensor(name, dims, data));
    return name;
  }

  scalar(value: number): string {
    const key = String(value);
    let name = this.constants.get(key);
    if (!name) {
      name = `const_${this.constants.size}`;
      this.constants.set(key, name);
      this.init(name, [], [value]);
    }
    return name;
  }

  node(op: string, inputs: string[], name: string, attrs: NodeProto['attribute'] = [], output = name): string {
    this.nodes.push(makeNode(op, inputs, [output], name, attrs ?? []));
    return output;
  }

  /**
   * Conv with He-normal weights. `pad`: 'same' (auto_pad SAME_UPPER) or explicit pads.
   * Returns the output tensor.
   */
  conv(
    name: string,
    x: string,
    cin: number,
    cout: number,
    k: number,
    opts: { stride?: number; dilation?: number; depthwise?: boolean; pads?: number[] | 'same'; bias?: boolean; std?: number } = {},
  ): string {
    const stride = opts.stride ?? 1;
    const dilation = opts.dilation ?? 1;
    const group = opts.depthwise ? cin : 1;
    const cg = cin / group;
    const fanIn = cg * k * k;
    const std = opts.std ?? Math.sqrt(2 / fanIn);
    const w = new Float32Array(cout * cg * k * k);
    for (let i = 0; i < w.length; i++) w[i] = this.rng.normal() * std;
    const inputs = [x, this.init(`${name}/weights`, [cout, cg, k, k], w)];
    if (opts.bias) {
      const b = new Float32Array(cout);
      for (let i = 0; i < cout; i++) b[i] = this.rng.uniform(-0.5, 0.5);
      inputs.push(this.init(`${name}/biases`, [cout], b));
    }
    const attrs = [attrInts('kernel_shape', [k, k]), attrInts('strides', [stride, stride]), attrInts('dilations', [dilation, dilation])];
    if (group !== 1) attrs.push(attrInt('group', group));
    const pads = opts.pads ?? 'same';
    if (pads === 'same') attrs.push(attrString('auto_pad', 'SAME_UPPER'));
    else attrs.push(attrInts('pads', pads));
    return this.node('Conv', inputs, name, attrs, `${name}/conv`);
  }

  /**
   * BatchNormalization whose running variance is near `expectedVar` (the variance of
   * what the conv produces) so that its output has a variance around gamma².
   */
  batchNorm(name: string, x: string, c: number, expectedVar: number, gamma: [number, number] = [0.6, 1.4]): string {
    const scale = new Float32Array(c);
    const bias = new Float32Array(c);
    const mean = new Float32Array(c);
    const variance = new Float32Array(c);
    for (let i = 0; i < c; i++) {
      scale[i] = this.rng.uniform(gamma[0], gamma[1]);
      bias[i] = (this.rng.uniform(-0.3, 0.3) * (gamma[0] + gamma[1])) / 2;
      mean[i] = this.rng.normal() * 0.2 * Math.sqrt(expectedVar);
      variance[i] = expectedVar * this.rng.uniform(0.5, 1.5);
    }
    return this.node(
      'BatchNormalization',
      [
        x,
        this.init(`${name}/gamma`, [c], scale),
        this.init(`${name}/beta`, [c], bias),
        this.init(`${name}/moving_mean`, [c], mean),
        this.init(`${name}/moving_variance`, [c], variance),
      ],
      `${name}/BatchNorm`,
      [attrFloat('epsilon', 1e-3)],
      `${name}/BatchNorm/out`,
    );
  }

  relu6(name: string, x: string): string {
    return this.node('Clip', [x, this.scalar(0), this.scalar(6)], `${name}/Relu6`);
  }

  relu(name: string, x: string): string {
    return this.node('Relu', [x], `${name}/Relu`);
  }

  /** The four heads, transposed to NHWC and named as TF.js PoseNet's outputs. */
  heads(feature: string, channels: number, m2: number): string[] {
    const std = 1 / Math.sqrt(channels * m2);
    const make = (head: string, c: number): string => {
      const y = this.conv(`${head}`, feature, channels, c, 1, { bias: true, std, pads: [0, 0, 0, 0] });
      return this.node('Transpose', [y], `${head}/transpose`, [attrInts('perm', [0, 2, 3, 1])], head);
    };
    return [make('offset_2', 34), make('heatmap_2', 17), make('displacement_fwd_2', 32), make('displacement_bwd_2', 32)];
  }

  model(inputName: string, outputs: string[], outputChannels: number[], metadata: Record<string, string>, docString: string): ModelProto {
    const graph = {
      name: 'posenet',
      node: this.nodes,
      initializer: this.inits,
      input: [valueInfo(inputName, DataType.FLOAT, [1, 'height', 'width', 3])],
      output: outputs.map((o, i) => valueInfo(o, DataType.FLOAT, [1, 'out_height', 'out_width', outputChannels[i]!])),
    };
    return makeModel(graph, { producerName: 'posenet-webgpu make-posenet-onnx', docString, metadata });
  }
}

export const MOBILENET_STRIDES = [1, 2, 1, 2, 1, 2, 1, 1, 1, 1, 1, 2, 1] as const;
export const MOBILENET_CHANNELS = [64, 128, 128, 256, 256, 512, 512, 512, 512, 512, 512, 1024, 1024] as const;

/** One conv of MobileNetV1 as the builder lays it out (also what tests expect). */
export interface MobileNetLayerSpec {
  name: string;
  kind: 'conv' | 'depthwise' | 'pointwise';
  stride: number;
  dilation: number;
  inChannels: number;
  outChannels: number;
}

const scaled = (c: number, multiplier: number): number => Math.max(8, Math.round(c * multiplier));

/** The conv layers of PoseNet's MobileNetV1 for a multiplier and output stride. */
export function mobileNetSpec(multiplier: number, outputStride: 8 | 16 | 32): MobileNetLayerSpec[] {
  const specs: MobileNetLayerSpec[] = [];
  let channels = scaled(32, multiplier);
  specs.push({ name: 'Conv2d_0', kind: 'conv', stride: 2, dilation: 1, inChannels: 3, outChannels: channels });
  let currentStride = 2;
  let rate = 1;
  MOBILENET_STRIDES.forEach((stride, i) => {
    let layerStride: number;
    let layerRate: number;
    if (currentStride === outputStride) {
      layerStride = 1;
      layerRate = rate;
      rate *= stride;
    } else {
      layerStride = stride;
      layerRate = 1;
      currentStride *= stride;
    }
    const out = scaled(MOBILENET_CHANNELS[i]!, multiplier);
    specs.push({
      name: `Conv2d_${i + 1}_depthwise`,
      kind: 'depthwise',
      stride: layerStride,
      dilation: layerRate,
      inChannels: channels,
      outChannels: channels,
    });
    specs.push({ name: `Conv2d_${i + 1}_pointwise`, kind: 'pointwise', stride: 1, dilation: 1, inChannels: channels, outChannels: out });
    channels = out;
  });
  return specs;
}

const MOBILENET_PREPROCESS = 'mobilenet';
const RESNET_MEAN = [123.15, 115.9, 103.06];

export function buildMobileNetV1(options: MobileNetOptions): ModelProto {
  const { multiplier, outputStride, seed } = options;
  const placement = options.preprocess ?? 'graph';
  const b = new Builder(seed);
  let x = 'image';
  // Second moment of each conv's input, for the BN statistics: the first conv reads
  // x / 127.5 - 1 (computed here or, without 'graph', by the caller).
  let m2 = 1 / 3;
  if (placement === 'graph') {
    x = b.node('Div', [x, b.scalar(127.5)], 'preprocess/div');
    x = b.node('Sub', [x, b.scalar(1)], 'preprocess/sub');
  }
  x = b.node('Transpose', [x], 'image/nchw', [attrInts('perm', [0, 3, 1, 2])]);
  let channels = 3;
  for (const spec of mobileNetSpec(multiplier, outputStride)) {
    const name = `MobilenetV1/${spec.name}`;
    const k = spec.kind === 'pointwise' ? 1 : 3;
    x = b.conv(name, x, spec.inChannels, spec.outChannels, k, {
      stride: spec.stride,
      dilation: spec.dilation,
      depthwise: spec.kind === 'depthwise',
      // onnxruntime refuses auto_pad SAME with dilation: dilated (stride 1) convs get the
      // explicit pads SAME would give.
      pads:
        spec.kind === 'pointwise'
          ? [0, 0, 0, 0]
          : spec.dilation > 1
            ? [spec.dilation, spec.dilation, spec.dilation, spec.dilation]
            : 'same',
    });
    x = b.batchNorm(name, x, spec.outChannels, 2 * m2);
    x = b.relu6(name, x);
    m2 = 0.6;
    channels = spec.outChannels;
  }
  const outputs = b.heads(x, channels, m2);
  const metadata: Record<string, string> = {
    'posenet.architecture': 'MobileNetV1',
    'posenet.output_stride': String(outputStride),
    'posenet.multiplier': String(multiplier),
  };
  if (placement === 'metadata') metadata['posenet.preprocess'] = MOBILENET_PREPROCESS;
  return b.model(
    'image',
    outputs,
    [34, 17, 32, 32],
    metadata,
    `PoseNet MobileNetV1 ${multiplier} stride ${outputStride}, random weights (seed ${seed})`,
  );
}

export const RESNET_UNITS = [3, 4, 6, 3] as const;
export const RESNET_WIDTHS = [64, 128, 256, 512] as const;

export function buildResNet50(options: ResNetOptions): ModelProto {
  const { outputStride, seed } = options;
  const placement = options.preprocess ?? 'graph';
  const b = new Builder(seed);
  let x = b.node('Transpose', ['image'], 'image/nchw', [attrInts('perm', [0, 3, 1, 2])]);
  if (placement === 'graph') {
    // In NCHW, after the transpose: the mean broadcasts over axis 1.
    x = b.node('Sub', [x, b.init('preprocess/mean', [1, 3, 1, 1], RESNET_MEAN)], 'preprocess/sub');
  }
  const m2In = 74 * 74; // pixels minus the ImageNet mean
  x = b.conv('resnet_v1_50/conv1', x, 3, 64, 7, { stride: 2, pads: [3, 3, 3, 3] });
  x = b.batchNorm('resnet_v1_50/conv1', x, 64, 2 * m2In);
  x = b.relu('resnet_v1_50/conv1', x);
  x = b.node('MaxPool', [x], 'resnet_v1_50/pool1/MaxPool', [
    attrInts('kernel_shape', [3, 3]),
    attrInts('strides', [2, 2]),
    attrString('auto_pad', 'SAME_UPPER'),
  ]);
  // Second moments, for BN statistics near the real ones: m2 of a BN+ReLU output (0.6), and
  // of the residual stream, which starts as a max-pooled ReLU output and grows a little
  // with every identity unit.
  const m2 = 0.6;
  let m2Stream = 2.5;
  let channels = 64;
  let currentStride = 4;
  let rate = 1;
  RESNET_UNITS.forEach((units, s) => {
    const width = RESNET_WIDTHS[s]!;
    const stageStride = s === 0 ? 1 : 2;
    let stride: number;
    let dilation: number;
    if (stageStride === 1) {
      stride = 1;
      dilation = rate;
    } else if (currentStride === outputStride) {
      stride = 1;
      rate *= 2;
      dilation = rate;
    } else {
      stride = 2;
      dilation = rate;
      currentStride *= 2;
    }
    for (let u = 0; u < units; u++) {
      const name = `resnet_v1_50/block${s + 1}/unit_${u + 1}/bottleneck_v1`;
      const unitStride = u === 0 ? stride : 1;
      let shortcut = x;
      if (u === 0) {
        shortcut = b.conv(`${name}/shortcut`, x, channels, 4 * width, 1, { stride: unitStride, pads: [0, 0, 0, 0] });
        shortcut = b.batchNorm(`${name}/shortcut`, shortcut, 4 * width, 2 * m2Stream);
      }
      let y = b.conv(`${name}/conv1`, x, channels, width, 1, { pads: [0, 0, 0, 0] });
      y = b.relu(`${name}/conv1`, b.batchNorm(`${name}/conv1`, y, width, 2 * m2Stream));
      y = b.conv(`${name}/conv2`, y, width, width, 3, { stride: unitStride, dilation, pads: [dilation, dilation, dilation, dilation] });
      y = b.relu(`${name}/conv2`, b.batchNorm(`${name}/conv2`, y, width, 2 * m2));
      y = b.conv(`${name}/conv3`, y, width, 4 * width, 1, { pads: [0, 0, 0, 0] });
      // A small gamma on the last BN keeps the residual sums from growing with depth.
      y = b.batchNorm(`${name}/conv3`, y, 4 * width, 2 * m2, [0.2, 0.5]);
      y = b.node('Add', [y, shortcut], `${name}/add`);
      x = b.relu(name, y);
      m2Stream = u === 0 ? 0.6 : m2Stream + 0.1;
      channels = 4 * width;
    }
  });
  const outputs = b.heads(x, channels, m2Stream);
  const metadata: Record<string, string> = {
    'posenet.architecture': 'ResNet50',
    'posenet.output_stride': String(outputStride),
  };
  if (placement === 'metadata') metadata['posenet.preprocess'] = 'resnet';
  return b.model('image', outputs, [34, 17, 32, 32], metadata, `PoseNet ResNet50 stride ${outputStride}, random weights (seed ${seed})`);
}
