/**
 * The GPU half of multi-pose decoding: the decode_candidates pass over a plan's heads
 * and the frame's readback (the candidates and the heads tensor, which the greedy
 * decoder in multi.ts needs at arbitrary cells).
 *
 * Owns, through one ResourceGroup (`MultiPose.*`): per plan, the pass's uniform, the
 * candidate buffer and two staging buffers, sized for that plan. They are built the first
 * time a plan runs multi-pose and kept while the PoseNet keeps the plan (as many as its
 * plan cache holds: a `{ longSide }` net runs sources of a few aspects in turn), never per
 * frame; the CPU-side copy of the heads is reused alike. When the PoseNet lets a plan
 * go it calls releaseDisposed(), which frees that plan's buffers. dispose() releases
 * everything.
 */
import type { KernelCache } from '../gpu/kernels.ts';
import { CANDIDATE_BYTES, CANDIDATES_HEADER_BYTES, decodeCandidates } from '../kernels/decode_candidates.ts';
import { dispatchSize } from '../kernels/kernel.ts';
import type { PassInfo } from '../gpu/profiler.ts';
import { ResourceGroup, type GpuLedger } from '../gpu/resources.ts';
import type { Plan } from '../plan/plan.ts';
import { PLAN_CACHE_CAPACITY } from '../plan/plan-cache.ts';
import { NUM_KEYPOINTS } from './keypoints.ts';
import type { HeadsTensor, PartCandidate } from './multi.ts';

const HEADER_BYTES = CANDIDATES_HEADER_BYTES;
/** Most candidates read back per frame; past it the CPU scans the heads itself. */
export const DEFAULT_CANDIDATE_CAPACITY = 4096;
/**
 * How far the GPU's sigmoid may differ from the CPU's: both candidate tests are widened
 * by this much so the GPU's list is a superset of the exact one (multi.ts confirms).
 */
export const CANDIDATE_SLACK = 1e-5;

export interface CandidateReadback {
  heads: HeadsTensor;
  /** The GPU's candidates (a superset of the exact ones, unordered), or null on overflow. */
  candidates: PartCandidate[] | null;
  /** Candidates the GPU found (may exceed the capacity). */
  found: number;
  capacity: number;
}

interface Built {
  plan: Plan;
  uniforms: GPUBuffer;
  candidates: GPUBuffer;
  stagingHeads: GPUBuffer;
  stagingCandidates: GPUBuffer;
  headsBytes: number;
  candidateBytes: number;
  capacity: number;
  bindGroup: GPUBindGroup;
  pipeline: GPUComputePipeline;
  dispatch: [number, number, number];
  /** The uniform, written whole on each frame (the threshold may change). */
  uniformData: DataView;
  pass: PassInfo;
  passes: PassInfo[];
  heads: HeadsTensor;
}

export class MultiPoseGpu {
  private readonly resources: ResourceGroup;
  /** One build per plan, least recently used first. */
  private readonly builds = new Map<Plan, Built>();

  constructor(
    readonly device: GPUDevice,
    readonly kernels: KernelCache,
    ledger: GpuLedger,
    readonly maxCapacity = DEFAULT_CANDIDATE_CAPACITY,
  ) {
    this.resources = new ResourceGroup(device, 'MultiPose', ledger);
  }

  /** Buffers and bind group for this plan (built on its first multi-pose frame). */
  private build(plan: Plan): Built {
    this.releaseDisposed();
    const kept = this.builds.get(plan);
    if (kept) {
      this.builds.delete(plan);
      this.builds.set(plan, kept);
      return kept;
    }
    const { w, h } = plan.grid;
    const shape = plan.headsShape;
    const manifest = plan.model.manifest;
    const capacity = Math.min(w * h * NUM_KEYPOINTS, this.maxCapacity);
    const headsBytes = shape.h * shape.w * shape.c4 * 16;
    const candidateBytes = HEADER_BYTES + capacity * CANDIDATE_BYTES;
    const r = this.resources;
    // Fields named after the plan's input size: several plans' buffers may be alive.
    const at = `(${plan.width}x${plan.height})`;
    const layout = decodeCandidates.uniforms;
    const uniforms = r.buffer(`uniforms${at}`, layout.bytes, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
    const candidates = r.buffer(
      `candidates${at}`,
      candidateBytes,
      GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
    );
    const stagingHeads = r.buffer(`stagingHeads${at}`, headsBytes, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);
    const stagingCandidates = r.buffer(`stagingCandidates${at}`, candidateBytes, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);
    const uniformData = new DataView(new ArrayBuffer(layout.bytes));
    layout.write(uniformData, 0, {
      gridW: w,
      gridH: h,
      headsC4: shape.c4,
      heatmapChannel: manifest.heads.heatmap.channelOffset,
      capacity,
      scoreThreshold: 0,
      slack: CANDIDATE_SLACK,
    });
    const bindGroup = this.kernels.bindGroup('decode_candidates', `MultiPose.decode_candidates.bindGroup(${plan.label})`, {
      params: uniforms,
      heads: plan.headsBuffer,
      candidates,
    });
    const variant = decodeCandidates.variants[0]!;
    const pipeline = this.kernels.pipeline('decode_candidates', variant.name, variant.constants({ gridW: w, gridH: h }));
    const pass: PassInfo = {
      name: 'decode_candidates',
      shapes: `${w}x${h}x${NUM_KEYPOINTS} -> <=${capacity} candidates`,
      variant: variant.name,
    };
    const cellStride = shape.c4 * 4;
    const heads: HeadsTensor = {
      data: new Float32Array(headsBytes / 4),
      width: w,
      height: h,
      cellStride,
      heatmap: manifest.heads.heatmap.channelOffset,
      offsets: manifest.heads.offsets.channelOffset,
      displacementFwd: manifest.heads.displacementFwd.channelOffset,
      displacementBwd: manifest.heads.displacementBwd.channelOffset,
    };
    const limit = this.device.limits.maxComputeWorkgroupsPerDimension;
    const dispatch = dispatchSize(variant, { gridW: w, gridH: h }, limit);
    if (dispatch.some((d) => d > limit)) {
      this.releaseBuffers([uniforms, candidates, stagingHeads, stagingCandidates]);
      throw new Error(`MultiPose: pass decode_candidates needs dispatch ${dispatch.join('x')}, over this device's limit of ${limit}`);
    }
    const built: Built = {
      plan,
      uniforms,
      candidates,
      stagingHeads,
      stagingCandidates,
      headsBytes,
      candidateBytes,
      capacity,
      bindGroup,
      pipeline,
      dispatch,
      uniformData,
      pass,
      passes: [...plan.stepsOf('network'), pass],
      heads,
    };
    this.builds.set(plan, built);
    for (const b of this.builds.values()) {
      if (this.builds.size <= PLAN_CACHE_CAPACITY) break;
      this.releaseBuild(b);
    }
    return built;
  }

  /** The passes of a multi-pose frame on this plan (network, then decode_candidates), for the profiler. */
  passes(plan: Plan): PassInfo[] {
    return this.build(plan).passes;
  }

  /** The decode_candidates pass alone, for frames that run more than the plan's network first. */
  candidatesPass(plan: Plan): PassInfo {
    return this.build(plan).pass;
  }

  /**
   * Encodes the candidates pass after the plan's network and the copies of candidates
   * and heads to the staging buffers. `timestampWrites` is the profiler's pass-index
   * callback, where the passes before took the first `passIndex` indices (by default the
   * plan's network).
   */
  encode(
    encoder: GPUCommandEncoder,
    plan: Plan,
    scoreThreshold: number,
    timestampWrites: ((i: number) => GPUComputePassTimestampWrites) | null = null,
    passIndex?: number,
  ): void {
    const b = this.build(plan);
    decodeCandidates.uniforms.set(b.uniformData, 0, 'scoreThreshold', scoreThreshold);
    this.device.queue.writeBuffer(b.uniforms, 0, b.uniformData.buffer);
    encoder.clearBuffer(b.candidates, 0, HEADER_BYTES);
    const pass = encoder.beginComputePass({
      label: 'decode_candidates',
      ...(timestampWrites ? { timestampWrites: timestampWrites(passIndex ?? b.passes.length - 1) } : {}),
    });
    pass.setPipeline(b.pipeline);
    pass.setBindGroup(0, b.bindGroup);
    pass.dispatchWorkgroups(...b.dispatch);
    pass.end();
    encoder.copyBufferToBuffer(plan.headsBuffer, 0, b.stagingHeads, 0, b.headsBytes);
    encoder.copyBufferToBuffer(b.candidates, 0, b.stagingCandidates, 0, b.candidateBytes);
  }

  /** After submit: maps the staging buffers and returns heads and candidates. */
  async read(plan: Plan): Promise<CandidateReadback> {
    const b = this.build(plan);
    await Promise.all([b.stagingHeads.mapAsync(GPUMapMode.READ), b.stagingCandidates.mapAsync(GPUMapMode.READ)]);
    try {
      b.heads.data.set(new Float32Array(b.stagingHeads.getMappedRange()));
      const raw = b.stagingCandidates.getMappedRange();
      const found = new Uint32Array(raw, 0, 1)[0]!;
      if (found > b.capacity) return { heads: b.heads, candidates: null, found, capacity: b.capacity };
      const f = new Float32Array(raw, HEADER_BYTES, found * 4);
      const u = new Uint32Array(raw, HEADER_BYTES, found * 4);
      const candidates: PartCandidate[] = new Array(found);
      for (let i = 0; i < found; i++) candidates[i] = { score: f[4 * i]!, keypoint: u[4 * i + 1]!, y: u[4 * i + 2]!, x: u[4 * i + 3]! };
      return { heads: b.heads, candidates, found, capacity: b.capacity };
    } finally {
      b.stagingHeads.unmap();
      b.stagingCandidates.unmap();
    }
  }

  /** Frees the buffers of plans that have been disposed. */
  releaseDisposed(): void {
    for (const [plan, b] of this.builds) if (plan.isDisposed) this.releaseBuild(b);
  }

  private releaseBuild(b: Built): void {
    this.releaseBuffers([b.uniforms, b.candidates, b.stagingHeads, b.stagingCandidates]);
    this.builds.delete(b.plan);
  }

  private releaseBuffers(buffers: GPUBuffer[]): void {
    for (const buffer of buffers) this.resources.release(buffer);
  }

  dispose(): void {
    this.builds.clear();
    this.resources.dispose();
  }
}
