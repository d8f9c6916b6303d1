/**
 * The flip test for one plan: a second Plan at the same resolution whose preprocess
 * mirrors the input (PlanOptions.mirrorInput), and the flip_average pass that merges
 * the two runs' heads into the first plan's heads buffer (shaders/flip_average.wgsl.ts).
 * A frame encodes both networks and the merge in its one command encoder; the usual
 * decoders then read the merged heads where they always do.
 *
 * Owns, through one ResourceGroup (`FlipTest(<model> WxH).*`): the mirrored plan, the
 * channel table and the pass's uniform. Built once per plan, never per frame.
 */
import { KERNELS, type KernelCache } from '../gpu/kernels.ts';
import type { PassInfo } from '../gpu/profiler.ts';
import { ResourceGroup, type GpuLedger } from '../gpu/resources.ts';
import { flipChannelTable } from '../pose/flip.ts';
import { Plan } from './plan.ts';
import { describeShape } from './shapes.ts';

const WORKGROUP_SIZE = 64;

export class FlipTest {
  /** The same model and resolution, its input mirrored left to right. */
  readonly mirrored: Plan;
  /** The merge pass, as the profiler reports it. */
  readonly pass: PassInfo;
  private readonly resources: ResourceGroup;
  private readonly bindGroup: GPUBindGroup;
  private readonly pipeline: GPUComputePipeline;
  private readonly dispatch: number;

  constructor(
    readonly device: GPUDevice,
    kernels: KernelCache,
    readonly plan: Plan,
    ledger: GpuLedger,
  ) {
    const label = `FlipTest(${plan.model.name} ${plan.width}x${plan.height})`;
    this.resources = new ResourceGroup(device, label, ledger);
    this.mirrored = new Plan(device, kernels, plan.model, plan.width, plan.height, ledger, { ...plan.options, mirrorInput: true });
    const { w, h } = plan.grid;
    const c4 = plan.headsShape.c4;
    this.dispatch = Math.ceil((w * h * c4) / WORKGROUP_SIZE);
    const limit = device.limits.maxComputeWorkgroupsPerDimension;
    if (this.dispatch > limit) {
      this.dispose();
      throw new Error(`${label}: pass flip_average needs ${this.dispatch} workgroups, over this device's limit of ${limit}`);
    }
    const uniforms = this.resources.buffer('uniforms', KERNELS.flip_average.uniformBytes, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
    device.queue.writeBuffer(uniforms, 0, new Uint32Array([w, h, c4, 0]));
    const table = flipChannelTable(plan.model.manifest.heads, c4);
    const tableBuffer = this.resources.buffer('channelTable', table.byteLength, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST);
    device.queue.writeBuffer(tableBuffer, 0, table);
    this.pipeline = kernels.pipeline('flip_average', { WORKGROUP_SIZE });
    this.bindGroup = device.createBindGroup({
      label: `${label}.flip_average.bindGroup`,
      layout: kernels.layout('flip_average'),
      entries: [
        { binding: 0, resource: { buffer: uniforms } },
        { binding: 1, resource: { buffer: this.mirrored.headsBuffer } },
        { binding: 2, resource: { buffer: tableBuffer } },
        { binding: 3, resource: { buffer: plan.headsBuffer } },
      ],
    });
    this.pass = { name: 'flip_average', shapes: `2 x ${describeShape(plan.headsShape)} -> ${describeShape(plan.headsShape)}` };
  }

  /** Encodes the merge pass (after both plans' networks). */
  encodeAverage(encoder: GPUCommandEncoder, timestampWrites: GPUComputePassTimestampWrites | null): void {
    const pass = encoder.beginComputePass({ label: 'flip_average', ...(timestampWrites ? { timestampWrites } : {}) });
    pass.setPipeline(this.pipeline);
    pass.setBindGroup(0, this.bindGroup);
    pass.dispatchWorkgroups(this.dispatch);
    pass.end();
  }

  dispose(): void {
    this.mirrored.dispose();
    this.resources.dispose();
  }
}
