/**
 * Browser side of the multi-pose tests (test/multipose.test.ts): the decode_candidates
 * kernel on given heads, and the whole net's estimateMultiplePoses on photographs with
 * the heads read back. As in harness.ts, each entry point gets a fresh device, runs in
 * validation / out-of-memory / internal error scopes and returns every GPU error seen.
 */
import { KernelCache } from '../../src/gpu/kernels.ts';
import { CANDIDATE_BYTES, CANDIDATES_HEADER_BYTES, decodeCandidates } from '../../src/kernels/decode_candidates.ts';
import { dispatchSize } from '../../src/kernels/kernel.ts';
import { computeFit, type Fit } from '../../src/pose/fit.ts';
import type { MultiPoseOptions } from '../../src/pose/multi.ts';
import type { Pose } from '../../src/pose/types.ts';
import { createPoseNet, type MultiPoseStats } from '../../src/posenet.ts';
import { b64ToF32, f32ToB64 } from '../support/b64.ts';
import { loadImage } from './images.ts';
import { withDevice } from './with-device.ts';

export interface CandidatesCase {
  /** Heads tensor, NHWC with headsC4 vec4s per cell, base64 float32. */
  heads: string;
  gridW: number;
  gridH: number;
  headsC4: number;
  heatmapChannel: number;
  scoreThreshold: number;
  slack: number;
  capacity: number;
}

/** Runs decode_candidates once; returns the count it reports and the candidates it wrote. */
async function candidates(c: CandidatesCase) {
  return withDevice(async (device) => {
    const kernels = new KernelCache(device);
    const layout = decodeCandidates.uniforms;
    const uniforms = device.createBuffer({ size: layout.bytes, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    const u = new DataView(new ArrayBuffer(layout.bytes));
    layout.write(u, 0, {
      gridW: c.gridW,
      gridH: c.gridH,
      headsC4: c.headsC4,
      heatmapChannel: c.heatmapChannel,
      capacity: c.capacity,
      scoreThreshold: c.scoreThreshold,
      slack: c.slack,
    });
    device.queue.writeBuffer(uniforms, 0, u.buffer);
    const data = b64ToF32(c.heads);
    const heads = device.createBuffer({ size: data.byteLength, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
    device.queue.writeBuffer(heads, 0, data);
    const bytes = CANDIDATES_HEADER_BYTES + c.capacity * CANDIDATE_BYTES;
    const out = device.createBuffer({ size: bytes, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
    const staging = device.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    const bindGroup = kernels.bindGroup('decode_candidates', 'test.decode_candidates', { params: uniforms, heads, candidates: out });
    const variant = decodeCandidates.variants[0]!;
    const grid = { gridW: c.gridW, gridH: c.gridH };
    const encoder = device.createCommandEncoder();
    // Garbage in the header and items: the pass relies only on the header being cleared.
    device.queue.writeBuffer(out, 0, new Uint32Array(bytes / 4).fill(0xdeadbeef));
    encoder.clearBuffer(out, 0, CANDIDATES_HEADER_BYTES);
    const pass = encoder.beginComputePass();
    pass.setPipeline(kernels.pipeline('decode_candidates', variant.name, variant.constants(grid)));
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(...dispatchSize(variant, grid, device.limits.maxComputeWorkgroupsPerDimension));
    pass.end();
    encoder.copyBufferToBuffer(out, 0, staging, 0, bytes);
    device.queue.submit([encoder.finish()]);
    await staging.mapAsync(GPUMapMode.READ);
    const raw = staging.getMappedRange().slice(0);
    staging.unmap();
    for (const b of [uniforms, heads, out, staging]) b.destroy();
    const ce = kernels.compileErrors;
    if (ce.length) throw new Error(ce.join('\n'));
    const count = new Uint32Array(raw, 0, 1)[0]!;
    const n = Math.min(count, c.capacity);
    const f = new Float32Array(raw, 16, n * 4);
    const w = new Uint32Array(raw, 16, n * 4);
    const items = Array.from({ length: n }, (_, i) => ({ score: f[4 * i]!, keypoint: w[4 * i + 1]!, y: w[4 * i + 2]!, x: w[4 * i + 3]! }));
    return { count, items };
  });
}

export interface MultiPoseCase {
  weightsUrl: string;
  imageUrls: string[];
  resolutions: { width: number; height: number }[];
  options: MultiPoseOptions;
}

export interface MultiPoseRun {
  imageUrl: string;
  width: number;
  height: number;
  imageW: number;
  imageH: number;
  fit: Fit;
  poses: Pose[];
  /** readHeads() after the frame: [h, w, c] float32 base64 per head (heatmap as logits). */
  heads: Record<string, { data: string; shape: number[] }>;
  stats: MultiPoseStats;
  /** GPU buffers and textures live after this frame. */
  ledgerCount: number;
  ledgerBytes: number;
}

/**
 * estimateMultiplePoses on each image at each resolution (each frame run twice: the
 * second must allocate nothing), then dispose: the ledger must be empty.
 */
async function multipose(c: MultiPoseCase) {
  return withDevice(async (device) => {
    const first = c.resolutions[0]!;
    const net = await createPoseNet({ weights: c.weightsUrl, resolution: first, device, tuning: 'off' });
    const runs: MultiPoseRun[] = [];
    for (const r of c.resolutions) {
      net.setResolution(r.width, r.height);
      for (const url of c.imageUrls) {
        const img = await loadImage(url);
        await net.estimateMultiplePoses(img, c.options);
        const before = net.ledger.count;
        const beforeBytes = net.ledger.bytes();
        const poses = await net.estimateMultiplePoses(img, c.options);
        if (net.ledger.count !== before || net.ledger.bytes() !== beforeBytes) {
          throw new Error(`a repeated frame changed the GPU ledger: ${before} -> ${net.ledger.count} resources`);
        }
        const stats = net.lastMultiPoseStats;
        const heads = await net.readHeads();
        runs.push({
          imageUrl: url,
          width: r.width,
          height: r.height,
          imageW: img.naturalWidth,
          imageH: img.naturalHeight,
          fit: computeFit(net.fit, img.naturalWidth, img.naturalHeight, r.width, r.height),
          poses,
          heads: Object.fromEntries(Object.entries(heads).map(([k, v]) => [k, { data: f32ToB64(v.data), shape: v.shape }])),
          stats,
          ledgerCount: net.ledger.count,
          ledgerBytes: net.ledger.bytes(),
        });
      }
    }
    // Let the old plans' deferred disposal run, then release everything.
    await net.readHeads();
    const ce = net.kernels.compileErrors;
    net.dispose();
    if (ce.length) throw new Error(ce.join('\n'));
    if (net.ledger.count !== 0) throw new Error(`leak after dispose: ${JSON.stringify(net.ledger.entries())}`);
    return runs;
  });
}

const multiposeHarness = { candidates, multipose };
(window as unknown as { multiposeHarness: typeof multiposeHarness }).multiposeHarness = multiposeHarness;
export type MultiPoseHarness = typeof multiposeHarness;
