/**
 * Pipeline cache over the kernel modules (src/kernels). A pipeline is keyed by kernel,
 * variant and override constants, never by a shape, so one pipeline serves every layer
 * of its kind and variant at every resolution: switching resolution compiles nothing.
 * Pipelines come synchronously (`pipeline`, for what a frame needs now) or in the
 * background (`pipelineAsync`, createComputePipelineAsync, for the tuner's candidates);
 * either way each is made once and kept for the device's life.
 *
 * A compile error names the kernel, the variant, the WGSL line and that line's text.
 */
import { KERNEL_MODULES } from '../kernels/index.ts';
import {
  findVariant,
  variantAvailable,
  variantSource,
  type BindingKind,
  type Constants,
  type KernelModule,
  type KernelName,
} from '../kernels/kernel.ts';

export type { Constants, KernelName };

function layoutEntry(binding: number, kind: BindingKind): GPUBindGroupLayoutEntry {
  const visibility = GPUShaderStage.COMPUTE;
  switch (kind) {
    case 'uniform':
      return { binding, visibility, buffer: { type: 'uniform' } };
    case 'read':
    case 'weights':
      return { binding, visibility, buffer: { type: 'read-only-storage' } };
    case 'write':
      return { binding, visibility, buffer: { type: 'storage' } };
    case 'texture':
      return { binding, visibility, texture: { sampleType: 'unfilterable-float', viewDimension: '2d' } };
  }
}

/** A bound resource: a buffer (whole, or a slice such as a pass's uniform) or a texture view. */
export type BoundResource = GPUBuffer | { buffer: GPUBuffer; offset: number; size: number } | GPUTextureView;

/** A message for one WGSL compile error: kernel, variant, line, the line's text. */
export function describeCompileMessage(kernel: KernelName, variant: string, source: string, m: GPUCompilationMessage): string {
  const text = source.split('\n')[m.lineNum - 1]?.trim() ?? '';
  return `kernel ${kernel}, variant ${variant}, WGSL line ${m.lineNum}:${m.linePos} \`${text}\`: ${m.message}`;
}

/**
 * Per-device cache of shader modules, bind group layouts and pipelines. Owned by the
 * PoseNet instance (or a test); pipelines live as long as the device.
 */
export class KernelCache {
  private readonly modules = new Map<string, GPUShaderModule>();
  private readonly layouts = new Map<KernelName, GPUBindGroupLayout>();
  private readonly pipelineLayouts = new Map<KernelName, GPUPipelineLayout>();
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  private readonly pending = new Map<string, Promise<GPUComputePipeline | null>>();
  /** Device features that variants may need (e.g. subgroups). */
  readonly features: ReadonlySet<string>;
  /** Shader compilation errors found so far (see describeCompileMessage). */
  readonly compileErrors: string[] = [];

  constructor(readonly device: GPUDevice) {
    this.features = new Set(device.features as unknown as Iterable<string>);
  }

  /** Whether this device can run a kernel's variant (has the features it needs). */
  available(kernel: KernelName, variant: string): boolean {
    return variantAvailable(findVariant(KERNEL_MODULES[kernel] as KernelModule<unknown>, variant), this.features);
  }

  layout(name: KernelName): GPUBindGroupLayout {
    let layout = this.layouts.get(name);
    if (!layout) {
      layout = this.device.createBindGroupLayout({
        label: `Kernel.${name}.bindGroupLayout`,
        entries: KERNEL_MODULES[name].bindings.map((b, i) => layoutEntry(i, b.kind)),
      });
      this.layouts.set(name, layout);
    }
    return layout;
  }

  /**
   * A bind group for a kernel from its resources by binding name (every binding of the
   * kernel must be given; the uniform usually as a slice of a shared buffer).
   */
  bindGroup(name: KernelName, label: string, resources: Record<string, BoundResource>): GPUBindGroup {
    const bindings = KERNEL_MODULES[name].bindings;
    for (const key of Object.keys(resources)) {
      if (!bindings.some((b) => b.name === key)) throw new Error(`${label}: kernel ${name} has no binding "${key}"`);
    }
    return this.device.createBindGroup({
      label,
      layout: this.layout(name),
      entries: bindings.map((b, binding) => {
        const r = resources[b.name];
        if (!r) throw new Error(`${label}: kernel ${name} needs binding "${b.name}"`);
        return { binding, resource: r instanceof GPUBuffer ? { buffer: r } : r };
      }),
    });
  }

  private module(name: KernelName, variant: string): GPUShaderModule {
    const key = `${name}/${variant}`;
    let module = this.modules.get(key);
    if (!module) {
      const source = variantSource(KERNEL_MODULES[name], variant);
      module = this.device.createShaderModule({ label: `Kernel.${key}`, code: source });
      this.modules.set(key, module);
      void module.getCompilationInfo?.().then((info) => {
        for (const m of info.messages) {
          if (m.type === 'error') this.compileErrors.push(describeCompileMessage(name, variant, source, m));
        }
      });
    }
    return module;
  }

  static key(name: KernelName, variant: string, constants: Constants): string {
    const parts = Object.keys(constants)
      .sort()
      .map((k) => `${k}=${Number(constants[k])}`);
    return `${name}/${variant}(${parts.join(',')})`;
  }

  private descriptor(name: KernelName, variant: string, constants: Constants, key: string): GPUComputePipelineDescriptor {
    if (!this.available(name, variant)) {
      throw new Error(
        `kernel ${name}, variant ${variant}: this device lacks ${findVariant(KERNEL_MODULES[name], variant).features?.join(', ')}`,
      );
    }
    let layout = this.pipelineLayouts.get(name);
    if (!layout) {
      layout = this.device.createPipelineLayout({ label: `Kernel.${name}.pipelineLayout`, bindGroupLayouts: [this.layout(name)] });
      this.pipelineLayouts.set(name, layout);
    }
    const numeric: Record<string, number> = {};
    for (const [k, v] of Object.entries(constants)) numeric[k] = Number(v);
    return {
      label: `Kernel.${key}`,
      layout,
      compute: { module: this.module(name, variant), entryPoint: 'main', constants: numeric },
    };
  }

  /** The pipeline for a kernel's variant with these override constants (created once, now). */
  pipeline(name: KernelName, variant: string, constants: Constants = {}): GPUComputePipeline {
    const key = KernelCache.key(name, variant, constants);
    let pipeline = this.pipelines.get(key);
    if (!pipeline) {
      pipeline = this.device.createComputePipeline(this.descriptor(name, variant, constants, key));
      this.pipelines.set(key, pipeline);
    }
    return pipeline;
  }

  /**
   * The same pipeline compiled in the background (createComputePipelineAsync); resolves
   * to null, with the error recorded in compileErrors, when it cannot be made.
   */
  pipelineAsync(name: KernelName, variant: string, constants: Constants = {}): Promise<GPUComputePipeline | null> {
    const key = KernelCache.key(name, variant, constants);
    const ready = this.pipelines.get(key);
    if (ready) return Promise.resolve(ready);
    let promise = this.pending.get(key);
    if (!promise) {
      promise = this.device.createComputePipelineAsync(this.descriptor(name, variant, constants, key)).then(
        (pipeline) => {
          if (!this.pipelines.has(key)) this.pipelines.set(key, pipeline);
          this.pending.delete(key);
          return this.pipelines.get(key)!;
        },
        (err: unknown) => {
          this.pending.delete(key);
          this.compileErrors.push(`kernel ${name}, variant ${variant}: pipeline ${key} failed: ${(err as Error).message}`);
          return null;
        },
      );
      this.pending.set(key, promise);
    }
    return promise;
  }

  /** The pipeline if it is made already (no compile), else null. */
  ready(name: KernelName, variant: string, constants: Constants = {}): GPUComputePipeline | null {
    return this.pipelines.get(KernelCache.key(name, variant, constants)) ?? null;
  }

  get pipelineCount(): number {
    return this.pipelines.size;
  }
}
