/**
 * ONNX Runtime Web as a benchmark peer (`ort-webgpu`, `ort-wasm` in tools/pages/bench.ts):
 * ORT runs our ONNX file (the one the weights were converted from) with its WebGPU or
 * wasm execution provider, between OUR preprocessing and OUR decoding, so that only the
 * network differs from `ours`. A frame:
 *
 *   our PoseNet: upload the source, `preprocess` part -> plan.inputBuffer (NHWC, channels padded to 4)
 *   repack -> the ONNX input (its layout, 3 channels)        [webgpu: a GPU pass; wasm: read back, on the CPU]
 *   ORT: session.run                                         [webgpu: GPU buffers in and out, on our device]
 *   repack each output -> plan.headsBuffer at its head's channel offset
 *   our PoseNet: `decode` part -> 17 keypoints read back
 *
 * The repacks are the cost of the layout difference (a few hundred KB moved on the GPU for
 * webgpu; for wasm the input comes down and the heads go up, as any CPU network with GPU
 * pre- and post-processing must). Which ONNX output is which head comes from the manifest
 * (`heads[name].sourceName`); NHWC and NCHW models both work.
 */
import type * as OrtNs from 'onnxruntime-web';

import type { HeadName } from '../../src/model/manifest.ts';
import { HEAD_NAMES } from '../../src/model/manifest.ts';
import { toPose, type PoseNet } from '../../src/posenet.ts';
import type { Plan } from '../../src/plan/plan.ts';
import { SINGLE_RESULT_FLOATS } from '../../src/plan/plan.ts';
import type { Pose } from '../../src/pose/types.ts';
import type { PageImage } from './platform.ts';
import { platform } from './platform.ts';

export type OrtProvider = 'webgpu' | 'wasm';

/** Where the Vite server serves ORT's wasm binaries and their loaders. */
const ORT_WASM_PATH = '/node_modules/onnxruntime-web/dist/';

/**
 * dst[p * dstPixel + c * dstChannel + dstOffset] = src[p * srcPixel + c * srcChannel + srcOffset]
 * for p < pixels, c < channels: every layout change a peer needs, as strides.
 */
const REPACK_WGSL = /* wgsl */ `
struct Params {
  pixels: u32, channels: u32, srcPixel: u32, srcChannel: u32,
  srcOffset: u32, dstPixel: u32, dstChannel: u32, dstOffset: u32,
}
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.x + gid.y * 65535u * 64u;
  if (i >= params.pixels * params.channels) { return; }
  let p = i / params.channels;
  let c = i - p * params.channels;
  dst[p * params.dstPixel + c * params.dstChannel + params.dstOffset] =
    src[p * params.srcPixel + c * params.srcChannel + params.srcOffset];
}
`;

interface Strides {
  pixel: number;
  channel: number;
  offset: number;
}

/** A tensor's strides for (pixel, channel) given its layout: NHWC [1, h, w, c] or NCHW [1, c, h, w]. */
function stridesOf(layout: 'NHWC' | 'NCHW', pixels: number, channels: number): Strides {
  return layout === 'NHWC' ? { pixel: channels, channel: 1, offset: 0 } : { pixel: 1, channel: pixels, offset: 0 };
}

function layoutOfOutput(dims: readonly number[], channels: number, name: string): 'NHWC' | 'NCHW' {
  if (dims.length === 4 && dims[3] === channels) return 'NHWC';
  if (dims.length === 4 && dims[1] === channels) return 'NCHW';
  throw new Error(`ORT output ${name} has dims [${dims.join(', ')}], not [1, h, w, ${channels}] nor [1, ${channels}, h, w]`);
}

class Repacker {
  private readonly pipeline: GPUComputePipeline;
  private readonly uniforms: GPUBuffer[] = [];

  constructor(private readonly device: GPUDevice) {
    const module = device.createShaderModule({ label: 'OrtPeer.repack', code: REPACK_WGSL });
    this.pipeline = device.createComputePipeline({ label: 'OrtPeer.repack', layout: 'auto', compute: { module, entryPoint: 'main' } });
  }

  /** Encodes one repack; its uniform buffer lives until dispose (a handful per resolution). */
  encode(encoder: GPUCommandEncoder, src: GPUBuffer, s: Strides, dst: GPUBuffer, d: Strides, pixels: number, channels: number): void {
    const uniform = this.device.createBuffer({
      label: 'OrtPeer.repack.params',
      size: 32,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    });
    this.uniforms.push(uniform);
    this.device.queue.writeBuffer(
      uniform,
      0,
      new Uint32Array([pixels, channels, s.pixel, s.channel, s.offset, d.pixel, d.channel, d.offset]),
    );
    const bindGroup = this.device.createBindGroup({
      layout: this.pipeline.getBindGroupLayout(0),
      entries: [
        { binding: 0, resource: { buffer: uniform } },
        { binding: 1, resource: { buffer: src } },
        { binding: 2, resource: { buffer: dst } },
      ],
    });
    const groups = Math.ceil((pixels * channels) / 64);
    const pass = encoder.beginComputePass({ label: 'OrtPeer.repack' });
    pass.setPipeline(this.pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(Math.min(groups, 65535), Math.ceil(groups / 65535));
    pass.end();
  }

  /** Frees the uniforms of past frames (called between frames). */
  releaseUniforms(): void {
    for (const u of this.uniforms.splice(0)) u.destroy();
  }
}

/** CPU version of the repack, for the wasm provider. */
function repackCpu(src: Float32Array, s: Strides, dst: Float32Array, d: Strides, pixels: number, channels: number): void {
  for (let p = 0; p < pixels; p++) {
    for (let c = 0; c < channels; c++) dst[p * d.pixel + c * d.channel + d.offset] = src[p * s.pixel + c * s.channel + s.offset]!;
  }
}

export interface OrtPeer {
  /** ORT's provider and version, for the bench's report. */
  backend: string;
  estimate(source: PageImage['source']): Promise<Pose>;
  dispose(): Promise<void>;
}

/** Loads ONNX Runtime Web and a session on `onnxUrl` for our net's model; the net is ours (preprocessing, decoding) on its device. */
export async function openOrtPeer(provider: OrtProvider, onnxUrl: string, net: PoseNet): Promise<OrtPeer> {
  const ort: typeof OrtNs = await import('onnxruntime-web/webgpu');
  ort.env.wasm.wasmPaths = ORT_WASM_PATH;
  ort.env.logLevel = 'error';
  const device = net.device;
  const model = await platform().readBytes(onnxUrl);
  let session: OrtNs.InferenceSession;
  try {
    session = await ort.InferenceSession.create(model, {
      // ORT's WebGPU provider runs on our device, so that buffers pass between us without copies.
      executionProviders: [provider === 'webgpu' ? { name: 'webgpu', device } : 'wasm'],
      graphOptimizationLevel: 'all',
      ...(provider === 'webgpu' ? { preferredOutputLocation: 'gpu-buffer' as const } : {}),
    });
  } catch (err) {
    throw new Error(`ort-${provider}: no session on ${onnxUrl}: ${(err as Error).message ?? String(err)}`);
  }
  const manifest = net.manifest;
  const inputLayout = manifest.input.sourceLayout === 'NCHW' ? 'NCHW' : 'NHWC';
  const inputName = manifest.input.sourceName;
  if (!session.inputNames.includes(inputName))
    throw new Error(`ort-${provider}: the ONNX file has no input "${inputName}" (it has ${session.inputNames.join(', ')})`);
  const headsByOutput = new Map<string, HeadName>();
  for (const head of HEAD_NAMES) {
    const out = manifest.heads[head].sourceName;
    if (!out || !session.outputNames.includes(out))
      throw new Error(`ort-${provider}: the ONNX file has no output "${out}" for head ${head}`);
    headsByOutput.set(out, head);
  }
  const repacker = new Repacker(device);
  const staging = device.createBuffer({
    label: 'OrtPeer.result',
    size: SINGLE_RESULT_FLOATS * 4,
    usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
  });
  // Buffers that depend on the resolution, remade when it changes.
  let sized: { plan: Plan; ortInput: GPUBuffer | null; readback: GPUBuffer | null } | null = null;
  const releaseSized = () => {
    sized?.ortInput?.destroy();
    sized?.readback?.destroy();
    sized = null;
  };

  const inputPixels = (plan: Plan) => plan.width * plan.height;
  const inputDims = (plan: Plan) => (inputLayout === 'NHWC' ? [1, plan.height, plan.width, 3] : [1, 3, plan.height, plan.width]);
  // Our input tensor: pixels of c4 vec4s (channels padded to 4).
  const ourInput = (plan: Plan): Strides => ({ pixel: plan.shapes.tensors.get(manifest.input.tensor)!.c4 * 4, channel: 1, offset: 0 });

  function buffersFor(plan: Plan) {
    if (sized?.plan === plan) return sized;
    releaseSized();
    const bytes = inputPixels(plan) * 3 * 4;
    sized = {
      plan,
      ortInput:
        provider === 'webgpu'
          ? device.createBuffer({
              label: 'OrtPeer.input',
              size: bytes,
              usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
            })
          : null,
      readback:
        provider === 'wasm'
          ? device.createBuffer({
              label: 'OrtPeer.inputReadback',
              size: plan.inputBuffer.size,
              usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
            })
          : null,
    };
    return sized;
  }

  async function readResult(encoder: GPUCommandEncoder, plan: Plan): Promise<Pose> {
    plan.encode(encoder, undefined, 'decode');
    encoder.copyBufferToBuffer(plan.resultBuffer, 0, staging, 0, SINGLE_RESULT_FLOATS * 4);
    device.queue.submit([encoder.finish()]);
    await staging.mapAsync(GPUMapMode.READ);
    const result = new Float32Array(staging.getMappedRange().slice(0));
    staging.unmap();
    repacker.releaseUniforms();
    return toPose(result);
  }

  async function estimateWebGpu(plan: Plan): Promise<Pose> {
    const { ortInput } = buffersFor(plan);
    const pixels = inputPixels(plan);
    const before = device.createCommandEncoder({ label: 'OrtPeer.preprocess' });
    plan.encode(before, undefined, 'preprocess');
    repacker.encode(before, plan.inputBuffer, ourInput(plan), ortInput!, stridesOf(inputLayout, pixels, 3), pixels, 3);
    device.queue.submit([before.finish()]);
    const feed = ort.Tensor.fromGpuBuffer(ortInput!, { dataType: 'float32', dims: inputDims(plan) });
    const outputs = await session.run({ [inputName]: feed });
    try {
      const after = device.createCommandEncoder({ label: 'OrtPeer.decode' });
      const { w, h, c4 } = plan.headsShape;
      for (const [name, tensor] of Object.entries(outputs)) {
        const head = headsByOutput.get(name);
        if (!head) continue;
        const ref = manifest.heads[head];
        const layout = layoutOfOutput(tensor.dims, ref.channels, name);
        const src = stridesOf(layout, w * h, ref.channels);
        const dst = { pixel: c4 * 4, channel: 1, offset: ref.channelOffset };
        repacker.encode(after, tensor.gpuBuffer as GPUBuffer, src, plan.headsBuffer, dst, w * h, ref.channels);
      }
      return await readResult(after, plan);
    } finally {
      for (const t of Object.values(outputs)) t.dispose();
    }
  }

  async function estimateWasm(plan: Plan): Promise<Pose> {
    const { readback } = buffersFor(plan);
    const pixels = inputPixels(plan);
    const before = device.createCommandEncoder({ label: 'OrtPeer.preprocess' });
    plan.encode(before, undefined, 'preprocess');
    before.copyBufferToBuffer(plan.inputBuffer, 0, readback!, 0, plan.inputBuffer.size);
    device.queue.submit([before.finish()]);
    await readback!.mapAsync(GPUMapMode.READ);
    const ours = new Float32Array(readback!.getMappedRange());
    const input = new Float32Array(pixels * 3);
    repackCpu(ours, ourInput(plan), input, stridesOf(inputLayout, pixels, 3), pixels, 3);
    readback!.unmap();
    const outputs = await session.run({ [inputName]: new ort.Tensor('float32', input, inputDims(plan)) });
    const { w, h, c4 } = plan.headsShape;
    const heads = new Float32Array(w * h * c4 * 4);
    for (const [name, tensor] of Object.entries(outputs)) {
      const head = headsByOutput.get(name);
      if (!head) continue;
      const ref = manifest.heads[head];
      const layout = layoutOfOutput(tensor.dims, ref.channels, name);
      repackCpu(
        tensor.data as Float32Array,
        stridesOf(layout, w * h, ref.channels),
        heads,
        { pixel: c4 * 4, channel: 1, offset: ref.channelOffset },
        w * h,
        ref.channels,
      );
      tensor.dispose();
    }
    device.queue.writeBuffer(plan.headsBuffer, 0, heads);
    return readResult(device.createCommandEncoder({ label: 'OrtPeer.decode' }), plan);
  }

  return {
    backend: `onnxruntime-web ${ort.env.versions.web ?? ''} ${provider} execution provider${provider === 'wasm' ? ` (${ort.env.wasm.numThreads ?? 1} thread(s), SIMD)` : ''}`,
    async estimate(source) {
      const { plan } = await net.prepareFrame(source, {});
      return provider === 'webgpu' ? estimateWebGpu(plan) : estimateWasm(plan);
    },
    async dispose() {
      releaseSized();
      repacker.releaseUniforms();
      staging.destroy();
      await session.release();
    },
  };
}
