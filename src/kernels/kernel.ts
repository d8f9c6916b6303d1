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
 * bindings, the weight accessors) followed by its body. Every weight read of every kernel
 * goes through the accessors generated here (`weight4`, `bias4`, `scaled4`), which decode
 * the model's weight format (src/model/weight-format.ts) as the WEIGHT_FORMAT override
 * constant says: one shader per variant serves f32, f16 and int8 weights.
 */
import { WEIGHT_FORMAT_CODE, WEIGHT_FORMATS, type WeightFormat } from '../model/weight-format.ts';
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
 * the accessors of `weightAccessorWgsl` (the kernel's uniform must have the u32 fields
 * `bOffset` and `sOffset` they read); `texture`: a 2D float texture.
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

/**
 * The accessors through which every weight, bias and scale is read (see the file header).
 * Indices: `weight4(i)` takes the index of a vec4 of weights (a layer's `wOffset` is its
 * byte offset over `weightVec4Bytes(format)`, layout.ts); `bias4(o)` and `scaled4(acc, o)`
 * take the output vec4 `o` and read the layer's float32 bias and int8 scales at
 * `params.bOffset` / `params.sOffset` (in 16-byte vec4s). The buffer is bound as
 * `array<vec4u>` whatever the format, so an f32 vec4 is one 16-byte load as before.
 */
export function weightAccessorWgsl(binding: number, name: string): string {
  const codes = WEIGHT_FORMATS.map((f) => `${WEIGHT_FORMAT_CODE[f]} ${f}`).join(', ');
  return `@group(0) @binding(${binding}) var<storage, read> ${name}: array<vec4u>;
// How the weights are stored (src/model/weight-format.ts): ${codes}.
override WEIGHT_FORMAT: u32 = 0;

// Weight vec4 i: f32 as is; f16 two halves per u32 (no shader-f16 needed); int8 q / 127
// (each output channel's scale is applied once to its sum, by scaled4).
fn weight4(i: u32) -> vec4f {
  if (WEIGHT_FORMAT == ${WEIGHT_FORMAT_CODE.f16}u) {
    let v = ${name}[i >> 1u];
    let h = select(v.xy, v.zw, (i & 1u) != 0u);
    return vec4f(unpack2x16float(h.x), unpack2x16float(h.y));
  }
  if (WEIGHT_FORMAT == ${WEIGHT_FORMAT_CODE.int8}u) { return unpack4x8snorm(${name}[i >> 2u][i & 3u]); }
  return bitcast<vec4f>(${name}[i]);
}

// The bias of output vec4 o (float32 in every format).
fn bias4(o: u32) -> vec4f { return bitcast<vec4f>(${name}[params.bOffset + o]); }

// The weighted sum of output vec4 o in real units: times the channels' scales for int8.
fn scaled4(acc: vec4f, o: u32) -> vec4f {
  if (WEIGHT_FORMAT == ${WEIGHT_FORMAT_CODE.int8}u) { return acc * bitcast<vec4f>(${name}[params.sOffset + o]); }
  return acc;
}`;
}

/** The override constant that tells a weight-reading kernel its model's weight format. */
export function weightFormatConstants(kernel: KernelModule<never>, format: WeightFormat): Constants {
  return kernel.bindings.some((b) => b.kind === 'weights') ? { WEIGHT_FORMAT: WEIGHT_FORMAT_CODE[format] } : {};
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
