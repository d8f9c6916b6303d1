/**
 * Kernel registry and pipeline cache.
 *
 * A kernel is one WGSL module in shaders/ (a TypeScript module exporting the WGSL text, so
 * that Vite, Node and bundlers import it with no loader) with one entry point `main`,
 * described here as data: its bind group layout and its uniform size. Shapes reach a
 * kernel through its uniform; choices (activation, kernel size, residual, workgroup size)
 * are `override` constants. The cache key is the kernel name plus its constants, never a
 * shape, so one pipeline serves every layer of its kind at every resolution: switching
 * resolution compiles nothing.
 */
import { conv2dWgsl } from '../../shaders/conv2d.wgsl.ts';
import { decodeCandidatesWgsl } from '../../shaders/decode_candidates.wgsl.ts';
import { decodeSingleWgsl } from '../../shaders/decode_single.wgsl.ts';
import { depthwiseWgsl } from '../../shaders/depthwise.wgsl.ts';
import { flipAverageWgsl } from '../../shaders/flip_average.wgsl.ts';
import { maxpoolWgsl } from '../../shaders/maxpool.wgsl.ts';
import { pointwiseWgsl } from '../../shaders/pointwise.wgsl.ts';
import { preprocessWgsl } from '../../shaders/preprocess.wgsl.ts';

export type KernelName =
  | 'preprocess'
  | 'conv2d'
  | 'depthwise'
  | 'pointwise'
  | 'maxpool'
  | 'decode_single'
  | 'decode_candidates'
  | 'flip_average';

type Binding = 'uniform' | 'read' | 'write' | 'texture';

interface KernelSpec {
  bindings: Binding[];
  /** Bytes of the kernel's uniform struct (a multiple of 16). */
  uniformBytes: number;
}

export const KERNELS: Record<KernelName, KernelSpec> = {
  preprocess: { bindings: ['uniform', 'texture', 'write'], uniformBytes: 80 },
  conv2d: { bindings: ['uniform', 'read', 'read', 'write', 'read'], uniformBytes: 64 },
  depthwise: { bindings: ['uniform', 'read', 'read', 'write'], uniformBytes: 64 },
  pointwise: { bindings: ['uniform', 'read', 'read', 'write', 'read'], uniformBytes: 48 },
  maxpool: { bindings: ['uniform', 'read', 'write'], uniformBytes: 48 },
  decode_single: { bindings: ['uniform', 'read', 'write'], uniformBytes: 64 },
  decode_candidates: { bindings: ['uniform', 'read', 'write'], uniformBytes: 32 },
  flip_average: { bindings: ['uniform', 'read', 'read', 'write'], uniformBytes: 16 },
};

const SOURCES: Record<KernelName, string> = {
  preprocess: preprocessWgsl,
  conv2d: conv2dWgsl,
  depthwise: depthwiseWgsl,
  pointwise: pointwiseWgsl,
  maxpool: maxpoolWgsl,
  decode_single: decodeSingleWgsl,
  decode_candidates: decodeCandidatesWgsl,
  flip_average: flipAverageWgsl,
};

export function kernelSource(name: KernelName): string {
  return SOURCES[name];
}

export type Constants = Record<string, number | boolean>;

function layoutEntry(binding: number, kind: Binding): GPUBindGroupLayoutEntry {
  const visibility = GPUShaderStage.COMPUTE;
  switch (kind) {
    case 'uniform':
      return { binding, visibility, buffer: { type: 'uniform' } };
    case 'read':
      return { binding, visibility, buffer: { type: 'read-only-storage' } };
    case 'write':
      return { binding, visibility, buffer: { type: 'storage' } };
    case 'texture':
      return { binding, visibility, texture: { sampleType: 'unfilterable-float', viewDimension: '2d' } };
  }
}

/**
 * Per-device cache of shader modules, bind group layouts and pipelines. Owned by the
 * PoseNet instance (or a test); pipelines live as long as the device.
 */
export class KernelCache {
  private readonly modules = new Map<KernelName, GPUShaderModule>();
  private readonly layouts = new Map<KernelName, GPUBindGroupLayout>();
  private readonly pipelineLayouts = new Map<KernelName, GPUPipelineLayout>();
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  /** Shader compilation errors found so far, by kernel. */
  readonly compileErrors: string[] = [];

  constructor(readonly device: GPUDevice) {}

  layout(name: KernelName): GPUBindGroupLayout {
    let layout = this.layouts.get(name);
    if (!layout) {
      layout = this.device.createBindGroupLayout({
        label: `Kernel.${name}.bindGroupLayout`,
        entries: KERNELS[name].bindings.map((kind, i) => layoutEntry(i, kind)),
      });
      this.layouts.set(name, layout);
    }
    return layout;
  }

  private module(name: KernelName): GPUShaderModule {
    let module = this.modules.get(name);
    if (!module) {
      module = this.device.createShaderModule({ label: `Kernel.${name}`, code: kernelSource(name) });
      this.modules.set(name, module);
      void module.getCompilationInfo?.().then((info) => {
        for (const m of info.messages) {
          if (m.type === 'error')
            this.compileErrors.push(`shaders/${name}.wgsl.ts (WGSL line ${m.lineNum}, column ${m.linePos}): ${m.message}`);
        }
      });
    }
    return module;
  }

  static key(name: KernelName, constants: Constants): string {
    const parts = Object.keys(constants)
      .sort()
      .map((k) => `${k}=${Number(constants[k])}`);
    return `${name}(${parts.join(',')})`;
  }

  /** The pipeline for a kernel with these override constants (created once). */
  pipeline(name: KernelName, constants: Constants = {}): GPUComputePipeline {
    const key = KernelCache.key(name, constants);
    let pipeline = this.pipelines.get(key);
    if (!pipeline) {
      let layout = this.pipelineLayouts.get(name);
      if (!layout) {
        layout = this.device.createPipelineLayout({ label: `Kernel.${name}.pipelineLayout`, bindGroupLayouts: [this.layout(name)] });
        this.pipelineLayouts.set(name, layout);
      }
      const numeric: Record<string, number> = {};
      for (const [k, v] of Object.entries(constants)) numeric[k] = Number(v);
      pipeline = this.device.createComputePipeline({
        label: `Kernel.${key}`,
        layout,
        compute: { module: this.module(name), entryPoint: 'main', constants: numeric },
      });
      this.pipelines.set(key, pipeline);
    }
    return pipeline;
  }

  get pipelineCount(): number {
    return this.pipelines.size;
  }
}
