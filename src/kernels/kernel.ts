/**
 * What a kernel module is. Each kernel kind (src/kernels/<kind>.ts) owns, as data:
 * - its bindings (names, kinds and WGSL types), from which come both the bind group
 *   layout and the WGSL binding declarations;
 * - its uniform struct (src/kernels/uniforms.ts), from which come both the WGSL struct
 *   and the TypeScript writer;
 * - its variants: each a WGSL body (shaders/<kind>.wgsl.ts) with the override constants
 *   and the workgroup count it needs for a given layer, and whether it can run it.
 * Every variant of a kind shares the kind's bindings and uniform struct, so a layer's
 * bind group and uniform serve all of them: switching a layer's variant (the tuner does)
 * swaps a pipeline and a dispatch size, nothing more.
 *
 * The WGSL of a variant is the generated interface (enable directives, uniform struct,
 * bindings, the weight accessor) followed by its body. Every weight read of every kernel
 * goes through the one accessor `weight4(i)` generated here, so a packed weight format
 * (f16, int8 with scales) is a change to `weightAccessorWgsl` and the `weights` binding
 * alone.
 */
import type { UniformLayout } from './uniforms.ts';

export type KernelName =
  | 'preprocess'
  | 'conv2d'
  | 'depthwise'
  | 'pointwise'
  | 'maxpool'
  | 'decode_single'
  | 'decode_candidates'
  | 'flip_average';

export type Constants = Record<string, number | boolean>;

/**
 * `uniform`: the kernel's uniform struct; `read` / `write`: storage buffers (WGSL type
 * `array<vec4f>` unless given); `weights`: the model's weights buffer, read only through
 * `weight4`; `texture`: a 2D float texture.
 */
export type BindingKind = 'uniform' | 'read' | 'write' | 'weights' | 'texture';

export interface BindingSpec {
  name: string;
  kind: BindingKind;
  /** WGSL type for `read` / `write` bindings (default `array<vec4f>`). */
  type?: string;
}

export interface VariantSpec<Ctx> {
  name: string;
  /** One line: the tile and who it is for (shown by `npm run shaders -- --list`). */
  summary: string;
  /**
   * Optional device features the WGSL needs (e.g. 'subgroups'); the variant exists only
   * where the device has them all. Strings, not GPUFeatureName: TF.js pulls in an older
   * @webgpu/types whose GPUFeatureName lacks the newer features.
   */
  features?: readonly string[];
  /** The variant's WGSL given the generated interface text (which it places after its header comment). */
  wgsl(iface: string): string;
  /** Whether this variant can run this layer (kernel size, stride, dilation, ...). */
  supports(ctx: Ctx): boolean;
  /** Override constants for this layer. Never a shape: shapes travel in the uniform. */
  constants(ctx: Ctx): Constants;
  /** Workgroups for this layer: a count (folded into x and y by foldWorkgroups) or an explicit size. */
  workgroups(ctx: Ctx): number | [number, number, number];
}

export interface KernelModule<Ctx = unknown, F extends string = string> {
  name: KernelName;
  /** One line on what the kernel computes. */
  summary: string;
  bindings: readonly BindingSpec[];
  uniforms: UniformLayout<F>;
  variants: readonly VariantSpec<Ctx>[];
  /** The variant used before any tuning (the fixed choice of earlier versions). */
  defaultVariant(ctx: Ctx): string;
}

/** The accessor through which every weight and bias is read (see the file header). */
export function weightAccessorWgsl(binding: number, name: string): string {
  return [
    `@group(0) @binding(${binding}) var<storage, read> ${name}: array<vec4f>;`,
    '// Every weight and bias read goes through weight4: the one place that knows how weights are stored.',
    `fn weight4(i: u32) -> vec4f { return ${name}[i]; }`,
  ].join('\n');
}

function bindingWgsl(binding: number, spec: BindingSpec, structName: string): string {
  const at = `@group(0) @binding(${binding})`;
  switch (spec.kind) {
    case 'uniform':
      return `${at} var<uniform> ${spec.name}: ${structName};`;
    case 'read':
      return `${at} var<storage, read> ${spec.name}: ${spec.type ?? 'array<vec4f>'};`;
    case 'write':
      return `${at} var<storage, read_write> ${spec.name}: ${spec.type ?? 'array<vec4f>'};`;
    case 'weights':
      return weightAccessorWgsl(binding, spec.name);
    case 'texture':
      return `${at} var ${spec.name}: texture_2d<f32>;`;
  }
}

/** The generated interface of a kernel: enable directives, uniform struct, bindings. */
export function interfaceWgsl(kernel: KernelModule<never>, features: readonly string[] = []): string {
  const enables = features.map((f) => `enable ${f};`);
  return [
    `// ---- interface, generated from src/kernels/${kernel.name}.ts ----`,
    ...enables,
    kernel.uniforms.wgsl(),
    ...kernel.bindings.map((b, i) => bindingWgsl(i, b, kernel.uniforms.structName)),
    '// ---- end of the generated interface ----',
  ].join('\n');
}

const sources = new Map<string, string>();

/** The full WGSL of one variant (generated once, then cached). */
export function variantSource(kernel: KernelModule<never>, variant: string): string {
  const key = `${kernel.name}/${variant}`;
  let text = sources.get(key);
  if (text === undefined) {
    const v = findVariant(kernel, variant);
    text = v.wgsl(interfaceWgsl(kernel, v.features));
    sources.set(key, text);
  }
  return text;
}

export function findVariant<Ctx>(kernel: KernelModule<Ctx>, variant: string): VariantSpec<Ctx> {
  const v = kernel.variants.find((x) => x.name === variant);
  if (!v) throw new Error(`kernel ${kernel.name} has no variant "${variant}" (it has ${kernel.variants.map((x) => x.name).join(', ')})`);
  return v;
}

/**
 * A workgroup count as a dispatch size: [n, 1, 1] when it fits the per-dimension limit,
 * else folded into x and y (x * y >= n; kernels compute their linear workgroup index
 * with workgroupIndex() and leave the extra workgroups idle).
 */
export function foldWorkgroups(n: number, limit: number): [number, number, number] {
  const count = Math.max(1, n);
  if (count <= limit) return [count, 1, 1];
  const y = Math.ceil(count / limit);
  return [Math.ceil(count / y), y, 1];
}

/** A variant's dispatch size for a layer. */
export function dispatchSize<Ctx>(variant: VariantSpec<Ctx>, ctx: Ctx, limit: number): [number, number, number] {
  const w = variant.workgroups(ctx);
  return typeof w === 'number' ? foldWorkgroups(w, limit) : w;
}

/** Whether a device has every feature a variant needs. */
export function variantAvailable(variant: VariantSpec<never>, features: ReadonlySet<string>): boolean {
  return (variant.features ?? []).every((f) => features.has(f));
}
