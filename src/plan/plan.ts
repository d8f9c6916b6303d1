/**
 * A Plan runs one model at one input resolution. Built once (activation buffers, one
 * uniform buffer holding every pass's parameters, bind groups, and the list of
 * {kernel, pipeline, bindGroup, dispatch}), then encoded every frame with nothing
 * created: a frame only writes the two per-frame uniforms (source fit, flip) and
 * replays the list.
 *
 * Activations share buffers by liveness: a tensor's buffer returns to the pool after
 * its last reader, so MobileNet runs on two ping-pong buffers. The preprocessed input
 * and the heads keep buffers of their own (both are read back for debugging and the
 * heads by the decoders). With `retainAll` every tensor keeps its own buffer, so any
 * layer's output can be dumped.
 */
import { KERNELS, type Constants, type KernelCache, type KernelName } from '../gpu/kernels.ts';
import type { PassInfo } from '../gpu/profiler.ts';
import { ResourceGroup, type GpuLedger } from '../gpu/resources.ts';
import { c4, type Activation, type Layer, type Manifest } from '../model/manifest.ts';
import type { Model } from '../model/model.ts';
import type { Fit } from '../pose/fit.ts';
import { NUM_KEYPOINTS } from '../pose/keypoints.ts';
import { describeShape, inferShapes, type LayerShape, type PlanShapes, type TensorShape } from './shapes.ts';

export interface PlanOptions {
  /** Run pointwise layers through the simple conv2d kernel (to check the fast one). */
  reference?: boolean;
  /** Give every tensor its own buffer so that any layer's output can be read back. */
  retainAll?: boolean;
  /** Any input size, no heads-grid check: for kernel tests on single layers. */
  unchecked?: boolean;
  /**
   * The preprocess reads the source mirrored left to right (input pixel u from W - 1 - u):
   * the flip test's second run (src/plan/flip-test.ts). Its passes are named `mirrored …`.
   */
  mirrorInput?: boolean;
}

export type PlanPart = 'frame' | 'network' | 'layers' | 'preprocess' | 'decode';

export interface PlanStep extends PassInfo {
  kernel: KernelName;
  /** Manifest layer name, for layers. */
  layer?: string;
  pipeline: GPUComputePipeline;
  bindGroup: GPUBindGroup | null;
  dispatch: [number, number, number];
  uniformOffset: number;
}

const UNIFORM_ALIGN = 256;
/** What a mirrored plan's pass names start with (the flip test's second run). */
export const MIRRORED_PASS_PREFIX = 'mirrored ';
/** Floats the single-pose decoder writes: 17 x (x, y, score) + pose score. */
export const SINGLE_RESULT_FLOATS = NUM_KEYPOINTS * 3 + 1;

const ACTIVATION_CODE: Record<Activation, number> = { none: 0, relu: 1, relu6: 2 };
const WG_MATMUL = 32;
/** Output pixels per pointwise invocation: TILE_PIXELS in shaders/pointwise.wgsl.ts. */
const POINTWISE_TILE_PIXELS = 16;
/** Output pixels per conv2d invocation in its 3x3 stride-2 mode: CONV3X3S2_PIXELS in shaders/conv2d.wgsl.ts. */
const CONV3X3S2_TILE_PIXELS = 16;
const WG_ELEMENTWISE = 64;

class UniformWriter {
  readonly view: DataView;
  constructor(bytes: number) {
    this.view = new DataView(new ArrayBuffer(bytes));
  }
  u32(offset: number, values: number[]): void {
    values.forEach((v, i) => {
      this.view.setUint32(offset + 4 * i, v, true);
    });
  }
  i32(offset: number, values: number[]): void {
    values.forEach((v, i) => {
      this.view.setInt32(offset + 4 * i, v, true);
    });
  }
  f32(offset: number, values: number[]): void {
    values.forEach((v, i) => {
      this.view.setFloat32(offset + 4 * i, v, true);
    });
  }
}

export class Plan {
  readonly width: number;
  readonly height: number;
  readonly shapes: PlanShapes;
  readonly steps: PlanStep[] = [];
  /** Preprocessed input, NHWC with 4 channels. */
  readonly inputBuffer: GPUBuffer;
  /** All four heads, NHWC with each head's channels from its channelOffset. */
  readonly headsBuffer: GPUBuffer;
  readonly headsShape: TensorShape;
  /** Single-pose result: SINGLE_RESULT_FLOATS floats. */
  readonly resultBuffer: GPUBuffer;
  readonly tensorBuffers = new Map<string, GPUBuffer>();

  private readonly resources: ResourceGroup;
  private readonly uniforms: GPUBuffer;
  private readonly uniformData: UniformWriter;
  private readonly preprocessStep: PlanStep;
  private readonly decodeStep: PlanStep;
  private sourceView: GPUTextureView | null = null;

  constructor(
    readonly device: GPUDevice,
    readonly kernels: KernelCache,
    readonly model: Model,
    width: number,
    height: number,
    ledger: GpuLedger,
    readonly options: PlanOptions = {},
  ) {
    const manifest = model.manifest;
    this.width = width;
    this.height = height;
    this.shapes = inferShapes(manifest, width, height, options.unchecked);
    this.resources = new ResourceGroup(device, this.label, ledger);

    const stepCount = manifest.layers.length + 2;
    this.uniforms = this.resources.buffer('uniforms', stepCount * UNIFORM_ALIGN, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
    this.uniformData = new UniformWriter(stepCount * UNIFORM_ALIGN);

    const storage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
    const inputShape = this.shapes.tensors.get(manifest.input.tensor)!;
    this.inputBuffer = this.resources.buffer('input', tensorBytes(inputShape), storage);
    this.tensorBuffers.set(manifest.input.tensor, this.inputBuffer);
    const headsTensor = manifest.heads.heatmap.tensor;
    this.headsShape = this.shapes.tensors.get(headsTensor)!;
    this.headsBuffer = this.resources.buffer('heads', tensorBytes(this.headsShape), storage);
    this.tensorBuffers.set(headsTensor, this.headsBuffer);
    this.resultBuffer = this.resources.buffer('result', SINGLE_RESULT_FLOATS * 4, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC);
    this.allocateActivations(manifest, headsTensor, storage);

    this.preprocessStep = {
      kernel: 'preprocess',
      name: 'preprocess',
      shapes: `source -> ${describeShape(inputShape)}`,
      pipeline: kernels.pipeline('preprocess'),
      bindGroup: null,
      dispatch: [Math.ceil(width / 8), Math.ceil(height / 8), 1],
      uniformOffset: 0,
    };
    this.steps.push(this.preprocessStep);
    this.shapes.layers.forEach((ls, i) => {
      this.steps.push(this.layerStep(ls, (i + 1) * UNIFORM_ALIGN));
    });
    this.decodeStep = this.makeDecodeStep((manifest.layers.length + 1) * UNIFORM_ALIGN);
    this.steps.push(this.decodeStep);
    if (options.mirrorInput) for (const step of this.steps) step.name = `${MIRRORED_PASS_PREFIX}${step.name}`;

    const limit = device.limits.maxComputeWorkgroupsPerDimension;
    for (const step of this.steps) {
      if (step.dispatch.some((d) => d > limit)) {
        throw new Error(
          `${this.label}: pass "${step.name}" needs dispatch ${step.dispatch.join('x')}, over this device's limit of ${limit} workgroups per dimension`,
        );
      }
    }
    device.queue.writeBuffer(this.uniforms, 0, this.uniformData.view.buffer);
  }

  get label(): string {
    return `Plan(${this.model.name} ${this.width}x${this.height}${this.options.mirrorInput ? ' mirrored' : ''})`;
  }

  get grid(): { w: number; h: number } {
    return this.shapes.grid;
  }

  /** Passes as the profiler reports them. */
  get passes(): PassInfo[] {
    return this.steps;
  }

  private allocateActivations(manifest: Manifest, headsTensor: string, usage: GPUBufferUsageFlags): void {
    const layers = manifest.layers;
    const lastUse = new Map<string, number>();
    layers.forEach((l, i) => {
      lastUse.set(l.input, i);
      if (l.residual !== undefined) lastUse.set(l.residual, i);
    });
    const slotBytes: number[] = [];
    const slotOf = new Map<string, number>();
    const free: number[] = [];
    layers.forEach((layer, i) => {
      const out = layer.output;
      if (out !== headsTensor) {
        const bytes = tensorBytes(this.shapes.tensors.get(out)!);
        let slot: number;
        if (this.options.retainAll || free.length === 0) {
          slot = slotBytes.length;
          slotBytes.push(bytes);
        } else {
          // Best fit among free slots: the smallest that holds it, else the largest (grown).
          free.sort((a, b) => slotBytes[a]! - slotBytes[b]!);
          const fit = free.findIndex((s) => slotBytes[s]! >= bytes);
          slot = free.splice(fit >= 0 ? fit : free.length - 1, 1)[0]!;
          slotBytes[slot] = Math.max(slotBytes[slot]!, bytes);
        }
        slotOf.set(out, slot);
      }
      if (this.options.retainAll) return;
      for (const t of new Set([layer.input, layer.residual])) {
        if (t === undefined || lastUse.get(t) !== i) continue;
        const s = slotOf.get(t);
        if (s !== undefined) free.push(s);
      }
    });
    const buffers = slotBytes.map((bytes, s) => this.resources.buffer(`activation${s}`, bytes, usage));
    for (const [tensor, slot] of slotOf) this.tensorBuffers.set(tensor, buffers[slot]!);
  }

  private buffer(tensor: string): GPUBuffer {
    const b = this.tensorBuffers.get(tensor);
    if (!b) throw new Error(`${this.label}: no buffer for tensor "${tensor}"`);
    return b;
  }

  private bindGroup(kernel: KernelName, name: string, uniformOffset: number, buffers: GPUBuffer[]): GPUBindGroup {
    return this.device.createBindGroup({
      label: `${this.label}.${name}.bindGroup`,
      layout: this.kernels.layout(kernel),
      entries: [
        { binding: 0, resource: { buffer: this.uniforms, offset: uniformOffset, size: KERNELS[kernel].uniformBytes } },
        ...buffers.map((buffer, i) => ({ binding: i + 1, resource: { buffer } })),
      ],
    });
  }

  private layerStep(ls: LayerShape, uniformOffset: number): PlanStep {
    const { layer, input, output, pads } = ls;
    const u = this.uniformData;
    const o = uniformOffset;
    const wOffset = (layer.weights?.offset ?? 0) / 16;
    const bOffset = (layer.bias?.offset ?? 0) / 16;
    const activation = ACTIVATION_CODE[layer.activation];
    const residual = layer.residual !== undefined ? this.buffer(layer.residual) : this.model.empty;
    const x = this.buffer(layer.input);
    const y = this.buffer(layer.output);
    const shapes = `${describeShape(input)} -> ${describeShape(output)}`;
    const base = { layer: layer.name, shapes, uniformOffset };
    const kind = layer.kind === 'pointwise' && this.options.reference ? 'conv' : layer.kind;
    switch (kind) {
      case 'pointwise': {
        const pixels = output.w * output.h;
        const oTiles = Math.ceil(output.c4 / 4);
        u.u32(o, [input.w, input.h, output.w, output.h, input.c4, output.c4, layer.stride[1], layer.stride[0]]);
        u.u32(o + 32, [wOffset, bOffset, pixels, oTiles]);
        const constants: Constants = {
          WORKGROUP_SIZE: WG_MATMUL,
          ACTIVATION: activation,
          HAS_RESIDUAL: layer.residual !== undefined,
          STRIDED: layer.stride[0] !== 1 || layer.stride[1] !== 1,
        };
        return {
          ...base,
          kernel: 'pointwise',
          name: `pointwise ${layer.name}`,
          pipeline: this.kernels.pipeline('pointwise', constants),
          bindGroup: this.bindGroup('pointwise', layer.name, o, [x, this.model.weights, y, residual]),
          dispatch: [Math.ceil((Math.ceil(pixels / POINTWISE_TILE_PIXELS) * oTiles) / WG_MATMUL), 1, 1],
        };
      }
      case 'conv': {
        const mode = this.options.reference ? 0 : conv2dMode(layer);
        const oTiles = Math.ceil(output.c4 / 4);
        const xTiles = Math.ceil(output.w / (mode === 1 ? CONV3X3S2_TILE_PIXELS : 4));
        u.u32(o, [input.w, input.h, output.w, output.h, input.c4, output.c4, layer.stride[1], layer.stride[0]]);
        u.u32(o + 32, [layer.dilation[1], layer.dilation[0]]);
        u.i32(o + 40, [pads[1], pads[0]]);
        u.u32(o + 48, [wOffset, bOffset, oTiles, xTiles]);
        const constants: Constants = {
          WORKGROUP_SIZE: WG_MATMUL,
          KERNEL_H: layer.kernel[0],
          KERNEL_W: layer.kernel[1],
          ACTIVATION: activation,
          HAS_RESIDUAL: layer.residual !== undefined,
          MODE: mode,
        };
        return {
          ...base,
          kernel: 'conv2d',
          name: `conv2d ${layer.name}`,
          pipeline: this.kernels.pipeline('conv2d', constants),
          bindGroup: this.bindGroup('conv2d', layer.name, o, [x, this.model.weights, y, residual]),
          dispatch: [Math.ceil((output.h * xTiles * oTiles) / WG_MATMUL), 1, 1],
        };
      }
      case 'depthwise': {
        const mode = this.options.reference ? 0 : depthwiseMode(layer);
        const xTiles = Math.ceil(output.w / (mode === 0 ? 4 : 8));
        u.u32(o, [input.w, input.h, output.w, output.h, output.c4, xTiles, layer.stride[1], layer.stride[0]]);
        u.u32(o + 32, [layer.dilation[1], layer.dilation[0]]);
        u.i32(o + 40, [pads[1], pads[0]]);
        u.u32(o + 48, [wOffset, bOffset, 0, 0]);
        const constants: Constants = {
          WORKGROUP_SIZE: WG_ELEMENTWISE,
          KERNEL_H: layer.kernel[0],
          KERNEL_W: layer.kernel[1],
          MODE: mode,
          ACTIVATION: activation,
        };
        return {
          ...base,
          kernel: 'depthwise',
          name: `depthwise ${layer.name}`,
          pipeline: this.kernels.pipeline('depthwise', constants),
          bindGroup: this.bindGroup('depthwise', layer.name, o, [x, this.model.weights, y]),
          dispatch: [Math.ceil((output.h * xTiles * output.c4) / WG_ELEMENTWISE), 1, 1],
        };
      }
      case 'maxpool': {
        u.u32(o, [input.w, input.h, output.w, output.h, output.c4, layer.stride[1], layer.stride[0], 0]);
        u.i32(o + 32, [pads[1], pads[0]]);
        const constants: Constants = { WORKGROUP_SIZE: WG_ELEMENTWISE, KERNEL_H: layer.kernel[0], KERNEL_W: layer.kernel[1] };
        return {
          ...base,
          kernel: 'maxpool',
          name: `maxpool ${layer.name}`,
          pipeline: this.kernels.pipeline('maxpool', constants),
          bindGroup: this.bindGroup('maxpool', layer.name, o, [x, y]),
          dispatch: [Math.ceil((output.w * output.h * output.c4) / WG_ELEMENTWISE), 1, 1],
        };
      }
    }
  }

  private makeDecodeStep(uniformOffset: number): PlanStep {
    const heads = this.model.manifest.heads;
    const u = this.uniformData;
    const o = uniformOffset;
    u.u32(o, [this.grid.w, this.grid.h, this.headsShape.c4, heads.heatmap.channelOffset, heads.offsets.channelOffset, 0, 0, 0]);
    u.f32(o + 32, [this.model.manifest.outputStride, 1, 0, 0, 1, 1, 0, 0]);
    return {
      kernel: 'decode_single',
      name: 'decode_single',
      shapes: `${describeShape(this.headsShape)} -> ${NUM_KEYPOINTS}x3`,
      pipeline: this.kernels.pipeline('decode_single'),
      bindGroup: this.bindGroup('decode_single', 'decode_single', o, [this.headsBuffer, this.resultBuffer]),
      dispatch: [1, 1, 1],
      uniformOffset: o,
    };
  }

  /** Points the preprocess pass at a source texture (a new bind group only when it changes). */
  setSource(view: GPUTextureView): void {
    if (view === this.sourceView && this.preprocessStep.bindGroup) return;
    this.sourceView = view;
    this.preprocessStep.bindGroup = this.device.createBindGroup({
      label: `${this.label}.preprocess.bindGroup`,
      layout: this.kernels.layout('preprocess'),
      entries: [
        { binding: 0, resource: { buffer: this.uniforms, offset: 0, size: KERNELS.preprocess.uniformBytes } },
        { binding: 1, resource: view },
        { binding: 2, resource: { buffer: this.inputBuffer } },
      ],
    });
  }

  /** Writes the per-frame uniforms: how the source maps to the input, and flipping. */
  writeFrameParams(fit: Fit, srcW: number, srcH: number, flipHorizontal: boolean): void {
    const p = this.model.manifest.preprocess;
    const pre = new DataView(new ArrayBuffer(KERNELS.preprocess.uniformBytes));
    [this.width, this.height, srcW, srcH, fit.regionW, fit.regionH].forEach((v, i) => {
      pre.setUint32(4 * i, v, true);
    });
    pre.setInt32(24, fit.originX, true);
    pre.setInt32(28, fit.originY, true);
    pre.setFloat32(32, fit.scaleX, true);
    pre.setFloat32(36, fit.scaleY, true);
    pre.setUint32(40, this.options.mirrorInput ? 1 : 0, true);
    [...p.mean, 0].forEach((v, i) => {
      pre.setFloat32(48 + 4 * i, v, true);
    });
    [...p.scale, 0].forEach((v, i) => {
      pre.setFloat32(64 + 4 * i, v, true);
    });
    this.device.queue.writeBuffer(this.uniforms, 0, pre.buffer);

    const dec = new DataView(new ArrayBuffer(32));
    dec.setFloat32(0, srcW, true);
    dec.setFloat32(16, fit.scaleX, true);
    dec.setFloat32(20, fit.scaleY, true);
    dec.setFloat32(24, fit.originX, true);
    dec.setFloat32(28, fit.originY, true);
    const o = this.decodeStep.uniformOffset;
    this.device.queue.writeBuffer(this.uniforms, o + 20, new Uint32Array([flipHorizontal ? 1 : 0]));
    this.device.queue.writeBuffer(this.uniforms, o + 36, dec.buffer, 0, 4);
    this.device.queue.writeBuffer(this.uniforms, o + 48, dec.buffer, 16, 16);
  }

  /**
   * Encodes the frame: preprocess, every layer, decode. With timestamp writes (the
   * profiler on) each pass is its own compute pass; otherwise all share one. `part`
   * encodes only some passes (kernel tests and debugging).
   */
  encode(
    encoder: GPUCommandEncoder,
    timestampWrites: ((i: number) => GPUComputePassTimestampWrites) | null = null,
    part: PlanPart = 'frame',
  ): void {
    const steps = this.stepsOf(part);
    if (steps.includes(this.preprocessStep) && !this.preprocessStep.bindGroup) {
      throw new Error(`${this.label}: no source set before encode()`);
    }
    if (timestampWrites) {
      steps.forEach((step, i) => {
        const pass = encoder.beginComputePass({ label: step.name, timestampWrites: timestampWrites(i) });
        this.dispatch(pass, step);
        pass.end();
      });
      return;
    }
    const pass = encoder.beginComputePass({ label: `${this.label}.${part}` });
    for (const step of steps) this.dispatch(pass, step);
    pass.end();
  }

  /** The passes a part encodes (`network`: preprocess and layers, for other decoders). */
  stepsOf(part: PlanPart): PlanStep[] {
    switch (part) {
      case 'frame':
        return this.steps;
      case 'network':
        return this.steps.slice(0, -1);
      case 'layers':
        return this.steps.slice(1, -1);
      case 'preprocess':
        return [this.preprocessStep];
      case 'decode':
        return [this.decodeStep];
    }
  }

  private dispatch(pass: GPUComputePassEncoder, step: PlanStep): void {
    pass.setPipeline(step.pipeline);
    pass.setBindGroup(0, step.bindGroup);
    pass.dispatchWorkgroups(...step.dispatch);
  }

  dispose(): void {
    this.resources.dispose();
    this.sourceView = null;
  }

  get isDisposed(): boolean {
    return this.resources.isDisposed;
  }
}

/** conv2d's MODE: the 8-pixel shared-load path for 3x3 stride 2 without dilation. */
function conv2dMode(layer: Layer): number {
  const k3 = layer.kernel[0] === 3 && layer.kernel[1] === 3;
  const s2 = layer.stride[0] === 2 && layer.stride[1] === 2;
  const d1 = layer.dilation[0] === 1 && layer.dilation[1] === 1;
  return layer.kind === 'conv' && k3 && s2 && d1 ? 1 : 0;
}

/** depthwise's MODE: the shared-load paths for 3x3 stride 1 or 2 without dilation. */
function depthwiseMode(layer: Layer): number {
  const plain3x3 = layer.kernel[0] === 3 && layer.kernel[1] === 3 && layer.dilation[0] === 1 && layer.dilation[1] === 1;
  if (!plain3x3 || layer.stride[0] !== layer.stride[1]) return 0;
  return layer.stride[0] === 1 ? 1 : layer.stride[0] === 2 ? 2 : 0;
}

export function tensorBytes(shape: TensorShape): number {
  return shape.h * shape.w * shape.c4 * 16;
}

export { c4 };
