/**
 * The flip test for one plan: a second Plan at the same resolution whose preprocess
 * mirrors the input (PlanOptions.mirrorInput), and the flip_average pass that merges
 * the two runs' heads into the first plan's heads buffer (src/kernels/flip_average.ts).
 * A frame encodes both networks and the merge in its one command encoder; the usual
 * decoders then read the merged heads where they always do.
 *
 * The mirrored plan has the same layer shapes as its plan, so it starts from the same
 * tuned choices (the chooser) and takes later ones from the tuner (Tuner.sync); the
 * tuner never tunes it itself.
 *
 * Owns, through one ResourceGroup (`FlipTest(<model> WxH).*`): the mirrored plan, the
 * channel table and the pass's uniform. Built once per plan, never per frame.
 */
import type { KernelCache } from '../gpu/kernels.ts';
import type { PassInfo } from '../gpu/profiler.ts';
import { ResourceGroup, type GpuLedger } from '../gpu/resources.ts';
import { flipAverage } from '../kernels/flip_average.ts';
import { dispatchSize } from '../kernels/kernel.ts';
import { flipChannelTable } from '../pose/flip.ts';
import { Plan, type VariantChooser } from './plan.ts';
import { describeShape } from './shapes.ts';

export class FlipTest {
  /** The same model and resolution, its input mirrored left to right. */
  readonly mirrored: Plan;
  /** The merge pass, as the profiler reports it. */
  readonly pass: PassInfo;
  private readonly resources: ResourceGroup;
  private readonly bindGroup: GPUBindGroup;
  private readonly pipeline: GPUComputePipeline;
  private readonly dispatch: [number, number, number];

  constructor(
    readonly device: GPUDevice,
    kernels: KernelCache,
    readonly plan: Plan,
    ledger: GpuLedger,
    chooser: VariantChooser | null = null,
  ) {
    const label = `FlipTest(${plan.model.name} ${plan.width}x${plan.height})`;
    this.resources = new ResourceGroup(device, label, ledger);
    this.mirrored = new Plan(device, kernels, plan.model, plan.width, plan.height, ledger, { ...plan.options, mirrorInput: true }, chooser);
    const { w, h } = plan.grid;
    const ctx = { gridW: w, gridH: h, headsC4: plan.headsShape.c4 };
    const variant = flipAverage.variants[0]!;
    const limit = device.limits.maxComputeWorkgroupsPerDimension;
    this.dispatch = dispatchSize(variant, ctx, limit);
    if (this.dispatch.some((d) => d > limit)) {
      this.dispose();
      throw new Error(`${label}: pass flip_average needs dispatch ${this.dispatch.join('x')}, over this device's limit of ${limit}`);
    }
    const layout = flipAverage.uniforms;
    const uniforms = this.resources.buffer('uniforms', layout.bytes, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
    const uniformData = new DataView(new ArrayBuffer(layout.bytes));
    layout.write(uniformData, 0, ctx);
    device.queue.writeBuffer(uniforms, 0, uniformData.buffer);
    const table = flipChannelTable(plan.model.manifest.heads, ctx.headsC4);
    const tableBuffer = this.resources.buffer('channelTable', table.byteLength, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST);
    device.queue.writeBuffer(tableBuffer, 0, table);
    this.pipeline = kernels.pipeline('flip_average', variant.name, variant.constants(ctx));
    this.bindGroup = kernels.bindGroup('flip_average', `${label}.flip_average.bindGroup`, {
      params: uniforms,
      mirrored: this.mirrored.headsBuffer,
      table: tableBuffer,
      heads: plan.headsBuffer,
    });
    this.pass = { name: 'flip_average', shapes: `2 x ${describeShape(plan.headsShape)} -> ${describeShape(plan.headsShape)}` };
  }

  /** Encodes the merge pass (after both plans' networks). */
  encodeAverage(encoder: GPUCommandEncoder, timestampWrites: GPUComputePassTimestampWrites | null): void {
    const pass = encoder.beginComputePass({ label: 'flip_average', ...(timestampWrites ? { timestampWrites } : {}) });
    pass.setPipeline(this.pipeline);
    pass.setBindGroup(0, this.bindGroup);
    pass.dispatchWorkgroups(...this.dispatch);
    pass.end();
  }

  dispose(): void {
    this.mirrored.dispose();
    this.resources.dispose();
  }
}
