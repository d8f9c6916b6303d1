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
import type { Constants, KernelCache, KernelName } from '../gpu/kernels.ts';
import type { PassInfo } from '../gpu/profiler.ts';
import { ResourceGroup, type GpuLedger } from '../gpu/resources.ts';
import { tensorBytes } from '../model/layout.ts';
import type { Manifest } from '../model/manifest.ts';
import { decodeSingle, layerKernel, preprocess, referenceKernel, type LayerKernel } from '../kernels/index.ts';
import { dispatchSize, findVariant, variantAvailable, weightFormatConstants } from '../kernels/kernel.ts';
import type { Model } from '../model/model.ts';
import type { Fit } from '../pose/fit.ts';
import { NUM_KEYPOINTS } from '../pose/keypoints.ts';
import { describeShape, inferShapes, type LayerShape, type PlanShapes, type TensorShape } from './shapes.ts';

export interface PlanOptions {
  /** Run every layer on its kernel's simple reference variant (to check the fast ones). */
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

/** Picks a layer's starting variant (the tuner's cached choice); undefined: the kernel's default. */
export type VariantChooser = (kernel: KernelName, ls: LayerShape, candidates: readonly string[]) => string | undefined;

export type PlanPart = 'frame' | 'network' | 'layers' | 'preprocess' | 'decode';

/** One variant a step can run, with what it needs for this layer. */
export interface StepOption {
  variant: string;
  constants: Constants;
  dispatch: [number, number, number];
}

export interface PlanStep extends PassInfo {
  kernel: KernelName;
  /** The variant the step runs now. */
  variant: string;
  /** Manifest layer name, for layers. */
  layer?: string;
  /** The layer at this resolution (null for preprocess and decode). */
  shape: LayerShape | null;
  pipeline: GPUComputePipeline;
  bindGroup: GPUBindGroup | null;
  dispatch: [number, number, number];
  uniformOffset: number;
  /** The variants this step may run on this device, its kernel's default first. */
  options: StepOption[];
}

const UNIFORM_ALIGN = 256;
/** What a mirrored plan's pass names start with (the flip test's second run). */
export const MIRRORED_PASS_PREFIX = 'mirrored ';
/** Floats the single-pose decoder writes: 17 x (x, y, score) + pose score. */
export const SINGLE_RESULT_FLOATS = NUM_KEYPOINTS * 3 + 1;

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
  private readonly uniformData: DataView;
  /** Scratch copies of the per-frame uniforms (written whole each frame, no allocation). */
  private readonly preprocessUniform = new DataView(new ArrayBuffer(preprocess.uniforms.bytes));
  private readonly decodeUniform = new DataView(new ArrayBuffer(decodeSingle.uniforms.bytes));
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
    chooser: VariantChooser | null = null,
  ) {
    const manifest = model.manifest;
    this.width = width;
    this.height = height;
    this.shapes = inferShapes(manifest, width, height, options.unchecked);
    this.resources = new ResourceGroup(device, this.label, ledger);

    const stepCount = manifest.layers.length + 2;
    this.uniforms = this.resources.buffer('uniforms', stepCount * UNIFORM_ALIGN, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
    this.uniformData = new DataView(new ArrayBuffer(stepCount * UNIFORM_ALIGN));

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

    const limit = device.limits.maxComputeWorkgroupsPerDimension;
    const pre = preprocess.variants[0]!;
    this.preprocessStep = {
      kernel: 'preprocess',
      variant: pre.name,
      name: 'preprocess',
      shapes: `source -> ${describeShape(inputShape)}`,
      shape: null,
      pipeline: kernels.pipeline('preprocess', pre.name),
      bindGroup: null,
      dispatch: dispatchSize(pre, { width, height }, limit),
      uniformOffset: 0,
      options: [],
    };
    this.steps.push(this.preprocessStep);
    this.shapes.layers.forEach((ls, i) => {
      this.steps.push(this.layerStep(ls, (i + 1) * UNIFORM_ALIGN, chooser, limit));
    });
    this.decodeStep = this.makeDecodeStep((manifest.layers.length + 1) * UNIFORM_ALIGN);
    this.steps.push(this.decodeStep);
    if (options.mirrorInput) for (const step of this.steps) step.name = `${MIRRORED_PASS_PREFIX}${step.name}`;

    for (const step of this.steps) {
      if (step.dispatch.some((d) => d > limit)) {
        throw new Error(
          `${this.label}: pass "${step.name}" needs dispatch ${step.dispatch.join('x')}, over this device's limit of ${limit} workgroups per dimension`,
        );
      }
    }
    device.queue.writeBuffer(this.uniforms, 0, this.uniformData.buffer);
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

  private layerStep(ls: LayerShape, uniformOffset: number, chooser: VariantChooser | null, limit: number): PlanStep {
    const { layer, input, output } = ls;
    let kernel: LayerKernel;
    let variants: string[];
    if (this.options.reference) {
      const ref = referenceKernel(layer.kind);
      kernel = ref.kernel;
      variants = [ref.variant];
    } else {
      kernel = layerKernel(layer.kind);
      const first = kernel.defaultVariant(ls);
      variants = kernel.variants
        .filter((v) => variantAvailable(v, this.kernels.features) && v.supports(ls))
        .map((v) => v.name)
        .sort((a, b) => Number(b === first) - Number(a === first));
    }
    const options: StepOption[] = variants.map((name) => {
      const v = findVariant(kernel, name);
      return {
        variant: name,
        constants: { ...v.constants(ls), ...weightFormatConstants(kernel, ls.weightFormat) },
        dispatch: dispatchSize(v, ls, limit),
      };
    });
    kernel.uniforms.write(this.uniformData, uniformOffset, kernel.uniformValues(ls));
    const residual = layer.residual !== undefined ? this.buffer(layer.residual) : this.model.empty;
    const buffers = { x: this.buffer(layer.input), w: this.model.weights, y: this.buffer(layer.output), residual };
    const resources: Record<string, GPUBuffer | { buffer: GPUBuffer; offset: number; size: number }> = {
      params: { buffer: this.uniforms, offset: uniformOffset, size: kernel.uniforms.bytes },
    };
    for (const b of kernel.bindings) if (b.name !== 'params') resources[b.name] = buffers[b.name as keyof typeof buffers];
    const chosen = chooser?.(kernel.name, ls, variants);
    const option = options.find((o) => o.variant === chosen) ?? options[0]!;
    return {
      kernel: kernel.name,
      variant: option.variant,
      layer: layer.name,
      name: `${kernel.name} ${layer.name}`,
      shapes: `${describeShape(input)} -> ${describeShape(output)}`,
      shape: ls,
      pipeline: this.kernels.pipeline(kernel.name, option.variant, option.constants),
      bindGroup: this.kernels.bindGroup(kernel.name, `${this.label}.${layer.name}.bindGroup`, resources),
      dispatch: option.dispatch,
      uniformOffset,
      options,
    };
  }

  private makeDecodeStep(uniformOffset: number): PlanStep {
    const heads = this.model.manifest.heads;
    const u = decodeSingle.uniforms;
    u.write(this.decodeUniform, 0, {
      gridW: this.grid.w,
      gridH: this.grid.h,
      headsC4: this.headsShape.c4,
      heatmapChannel: heads.heatmap.channelOffset,
      offsetsChannel: heads.offsets.channelOffset,
      flip: 0,
      outputStride: this.model.manifest.outputStride,
      srcW: 1,
      scale: [1, 1],
      origin: [0, 0],
    });
    new Uint8Array(this.uniformData.buffer, uniformOffset, u.bytes).set(new Uint8Array(this.decodeUniform.buffer));
    const v = decodeSingle.variants[0]!;
    return {
      kernel: 'decode_single',
      variant: v.name,
      name: 'decode_single',
      shapes: `${describeShape(this.headsShape)} -> ${NUM_KEYPOINTS}x3`,
      shape: null,
      pipeline: this.kernels.pipeline('decode_single', v.name),
      bindGroup: this.kernels.bindGroup('decode_single', `${this.label}.decode_single.bindGroup`, {
        params: { buffer: this.uniforms, offset: uniformOffset, size: u.bytes },
        heads: this.headsBuffer,
        result: this.resultBuffer,
      }),
      dispatch: dispatchSize(v, null, this.device.limits.maxComputeWorkgroupsPerDimension),
      uniformOffset,
      options: [],
    };
  }

  /**
   * Switches a layer step to another of its variants, if that variant's pipeline is
   * compiled (returns false otherwise, and changes nothing). Allocates nothing.
   */
  useVariant(step: PlanStep, variant: string): boolean {
    if (step.variant === variant) return true;
    const option = step.options.find((o) => o.variant === variant);
    if (!option) throw new Error(`${this.label}: pass "${step.name}" has no variant "${variant}"`);
    const pipeline = this.kernels.ready(step.kernel, variant, option.constants);
    if (!pipeline) return false;
    step.variant = variant;
    step.pipeline = pipeline;
    step.dispatch = option.dispatch;
    return true;
  }

  /** Switches a layer step to a variant, compiling its pipeline now if it is not yet (tests and tools). */
  setVariant(step: PlanStep, variant: string): void {
    const option = step.options.find((o) => o.variant === variant);
    if (!option) throw new Error(`${this.label}: pass "${step.name}" has no variant "${variant}"`);
    this.kernels.pipeline(step.kernel, variant, option.constants);
    this.useVariant(step, variant);
  }

  /** Points the preprocess pass at a source texture (a new bind group only when it changes). */
  setSource(view: GPUTextureView): void {
    if (view === this.sourceView && this.preprocessStep.bindGroup) return;
    this.sourceView = view;
    this.preprocessStep.bindGroup = this.kernels.bindGroup('preprocess', `${this.label}.preprocess.bindGroup`, {
      params: { buffer: this.uniforms, offset: 0, size: preprocess.uniforms.bytes },
      source: view,
      y: this.inputBuffer,
    });
  }

  /** Writes the per-frame uniforms: how the source maps to the input, and flipping. */
  writeFrameParams(fit: Fit, srcW: number, srcH: number, flipHorizontal: boolean): void {
    const p = this.model.manifest.preprocess;
    const pre = preprocess.uniforms;
    const pv = this.preprocessUniform;
    pre.set(pv, 0, 'outW', this.width);
    pre.set(pv, 0, 'outH', this.height);
    pre.set(pv, 0, 'srcW', srcW);
    pre.set(pv, 0, 'srcH', srcH);
    pre.set(pv, 0, 'regionW', fit.regionW);
    pre.set(pv, 0, 'regionH', fit.regionH);
    pre.set(pv, 0, 'originX', fit.originX);
    pre.set(pv, 0, 'originY', fit.originY);
    pre.set(pv, 0, 'scaleX', fit.scaleX);
    pre.set(pv, 0, 'scaleY', fit.scaleY);
    pre.set(pv, 0, 'mirror', this.options.mirrorInput ? 1 : 0);
    pre.set(pv, 0, 'mean', [p.mean[0], p.mean[1], p.mean[2], 0]);
    pre.set(pv, 0, 'scale', [p.scale[0], p.scale[1], p.scale[2], 0]);
    this.device.queue.writeBuffer(this.uniforms, 0, pv.buffer);

    const dec = decodeSingle.uniforms;
    const dv = this.decodeUniform;
    dec.set(dv, 0, 'flip', flipHorizontal ? 1 : 0);
    dec.set(dv, 0, 'srcW', srcW);
    dec.set(dv, 0, 'scale', [fit.scaleX, fit.scaleY]);
    dec.set(dv, 0, 'origin', [fit.originX, fit.originY]);
    this.device.queue.writeBuffer(this.uniforms, this.decodeStep.uniformOffset, dv.buffer);
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
