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
import { KERNELS } from '../gpu/kernels.ts';
import type { PassInfo } from '../gpu/profiler.ts';
import { ResourceGroup, type GpuLedger } from '../gpu/resources.ts';
import type { Plan } from '../plan/plan.ts';
import { PLAN_CACHE_CAPACITY } from '../plan/plan-cache.ts';
import { NUM_KEYPOINTS } from './keypoints.ts';
import type { HeadsTensor, PartCandidate } from './multi.ts';

/** Bytes of the candidate buffer's header {count, capacity, 0, 0}, and of one candidate. */
const HEADER_BYTES = 16;
const CANDIDATE_BYTES = 16;
/** Most candidates read back per frame; past it the CPU scans the heads itself. */
export const DEFAULT_CANDIDATE_CAPACITY = 4096;
/**
 * How far the GPU's sigmoid may differ from the CPU's: both candidate tests are widened
 * by this much so the GPU's list is a superset of the exact one (multi.ts confirms).
 */
export const CANDIDATE_SLACK = 1e-5;
const WORKGROUP_SIZE = 64;

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
  dispatch: number;
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
    const uniforms = r.buffer(`uniforms${at}`, KERNELS.decode_candidates.uniformBytes, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
    const candidates = r.buffer(
      `candidates${at}`,
      candidateBytes,
      GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
    );
    const stagingHeads = r.buffer(`stagingHeads${at}`, headsBytes, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);
    const stagingCandidates = r.buffer(`stagingCandidates${at}`, candidateBytes, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);
    const u = new DataView(new ArrayBuffer(KERNELS.decode_candidates.uniformBytes));
    [w, h, shape.c4, manifest.heads.heatmap.channelOffset, capacity, 0].forEach((v, i) => {
      u.setUint32(4 * i, v, true);
    });
    this.device.queue.writeBuffer(uniforms, 0, u.buffer);
    const bindGroup = this.device.createBindGroup({
      label: `MultiPose.decode_candidates.bindGroup(${plan.label})`,
      layout: this.kernels.layout('decode_candidates'),
      entries: [
        { binding: 0, resource: { buffer: uniforms } },
        { binding: 1, resource: { buffer: plan.headsBuffer } },
        { binding: 2, resource: { buffer: candidates } },
      ],
    });
    const pass: PassInfo = { name: 'decode_candidates', shapes: `${w}x${h}x${NUM_KEYPOINTS} -> <=${capacity} candidates` };
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
    const dispatch = Math.ceil((w * h * NUM_KEYPOINTS) / WORKGROUP_SIZE);
    const limit = this.device.limits.maxComputeWorkgroupsPerDimension;
    if (dispatch > limit)
      throw new Error(`MultiPose: pass decode_candidates needs ${dispatch} workgroups, over this device's limit of ${limit}`);
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
      dispatch,
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
    this.device.queue.writeBuffer(b.uniforms, 24, new Float32Array([scoreThreshold, CANDIDATE_SLACK]));
    encoder.clearBuffer(b.candidates, 0, HEADER_BYTES);
    const pass = encoder.beginComputePass({
      label: 'decode_candidates',
      ...(timestampWrites ? { timestampWrites: timestampWrites(passIndex ?? b.passes.length - 1) } : {}),
    });
    pass.setPipeline(this.kernels.pipeline('decode_candidates', { WORKGROUP_SIZE }));
    pass.setBindGroup(0, b.bindGroup);
    pass.dispatchWorkgroups(b.dispatch);
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
    for (const buffer of [b.uniforms, b.candidates, b.stagingHeads, b.stagingCandidates]) this.resources.release(buffer);
    this.builds.delete(b.plan);
  }

  dispose(): void {
    this.builds.clear();
    this.resources.dispose();
  }
}
