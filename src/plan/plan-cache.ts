/**
 * The plans a PoseNet keeps, one per input size it runs at. A fixed resolution needs one;
 * a `{ longSide }` resolution gives each source aspect ratio its own size (640x480 and
 * 480x640 at long side 513 run at 513x385 and 385x513), and `targetFps` moves between a
 * few sizes. Plans are built the first time a size is used and kept, least recently used
 * first out past `capacity`: a video (one aspect) builds once and then nothing per frame;
 * a stream of photographs of a few aspects reuses a few plans.
 *
 * Each entry is a FramePlan: the plan and, once a frame asks for the flip test, its
 * FlipTest (the mirrored twin and the merge pass). The cache never disposes anything by
 * itself: what it lets go it hands back, and the PoseNet disposes it once the frames in
 * flight are done.
 */
import type { PassInfo } from '../gpu/profiler.ts';
import type { Fit } from '../pose/fit.ts';
import type { FlipTest } from './flip-test.ts';
import type { Plan } from './plan.ts';

/** Plans kept at once (a few aspects, or a few targetFps sizes). */
export const PLAN_CACHE_CAPACITY = 4;

type TimestampWrites = ((i: number) => GPUComputePassTimestampWrites) | null;

/** What one frame runs at one input size: the plan, and its flip test once asked for. */
export class FramePlan {
  flip: FlipTest | null = null;
  private readonly passLists = new Map<string, PassInfo[]>();

  constructor(readonly plan: Plan) {}

  get width(): number {
    return this.plan.width;
  }

  get height(): number {
    return this.plan.height;
  }

  /**
   * The passes a frame encodes before its decoder, in order: the network, or with the
   * flip test the network, the mirrored network and the merge. The same array each call
   * (the profiler keeps its statistics while the list stays the same).
   */
  networkPasses(flipTest: boolean): PassInfo[] {
    return this.passList(`network:${flipTest}`, () => {
      const network = this.plan.stepsOf('network');
      const flip = flipTest ? this.requireFlip() : null;
      return flip ? [...network, ...flip.mirrored.stepsOf('network'), flip.pass] : [...network];
    });
  }

  /** The network passes followed by `tail` (a decoder's passes), as one stable list. */
  framePasses(flipTest: boolean, tailKey: string, tail: () => PassInfo[]): PassInfo[] {
    return this.passList(`frame:${flipTest}:${tailKey}`, () => [...this.networkPasses(flipTest), ...tail()]);
  }

  /** Points the plans at the frame's source texture and writes their per-frame uniforms. */
  prepare(view: GPUTextureView, fit: Fit, srcW: number, srcH: number, flipHorizontal: boolean, flipTest: boolean): void {
    this.plan.setSource(view);
    this.plan.writeFrameParams(fit, srcW, srcH, flipHorizontal);
    if (flipTest) {
      const mirrored = this.requireFlip().mirrored;
      mirrored.setSource(view);
      mirrored.writeFrameParams(fit, srcW, srcH, false);
    }
  }

  /**
   * Encodes everything before the decoder (see networkPasses); with timestamp writes,
   * pass i of that list writes timestampWrites(i). Returns the number of passes encoded.
   */
  encodeNetwork(encoder: GPUCommandEncoder, timestampWrites: TimestampWrites, flipTest: boolean): number {
    this.plan.encode(encoder, timestampWrites, 'network');
    const n = this.plan.stepsOf('network').length;
    if (!flipTest) return n;
    const flip = this.requireFlip();
    const shifted = (offset: number): TimestampWrites => (timestampWrites ? (i) => timestampWrites(i + offset) : null);
    flip.mirrored.encode(encoder, shifted(n), 'network');
    const m = flip.mirrored.stepsOf('network').length;
    flip.encodeAverage(encoder, timestampWrites ? timestampWrites(n + m) : null);
    return n + m + 1;
  }

  /** Encodes the plan's single-pose decoder as pass `index` of the frame. */
  encodeDecode(encoder: GPUCommandEncoder, timestampWrites: TimestampWrites, index: number): void {
    this.plan.encode(encoder, timestampWrites ? (i) => timestampWrites(i + index) : null, 'decode');
  }

  private requireFlip(): FlipTest {
    if (!this.flip) throw new Error(`${this.plan.label}: the flip test was not built (PlanCache.get with flipTest)`);
    return this.flip;
  }

  private passList(key: string, make: () => PassInfo[]): PassInfo[] {
    let list = this.passLists.get(key);
    if (!list) {
      list = make();
      this.passLists.set(key, list);
    }
    return list;
  }

  /** Lets the flip test go (returned for disposal); the pass lists that used it are forgotten. */
  takeFlip(): FlipTest | null {
    const flip = this.flip;
    this.flip = null;
    for (const key of [...this.passLists.keys()]) if (key.includes(':true')) this.passLists.delete(key);
    return flip;
  }

  dispose(): void {
    this.takeFlip()?.dispose();
    this.plan.dispose();
  }
}

export class PlanCache {
  /** In use order: the least recently used first. */
  private readonly entries = new Map<string, FramePlan>();

  constructor(
    private readonly buildPlan: (width: number, height: number) => Plan,
    private readonly buildFlip: (plan: Plan) => FlipTest,
    readonly capacity = PLAN_CACHE_CAPACITY,
  ) {
    if (!(Number.isInteger(capacity) && capacity >= 1)) throw new RangeError(`plan cache capacity ${capacity}: must be an integer >= 1`);
  }

  /**
   * The FramePlan for a size (built on first use, with its flip test when `flipTest`),
   * now the most recently used; `evicted` holds what fell out past the capacity, for the
   * caller to dispose once no frame uses it.
   */
  get(width: number, height: number, flipTest: boolean): { frame: FramePlan; evicted: FramePlan[] } {
    const key = `${width}x${height}`;
    let frame = this.entries.get(key);
    if (frame) {
      this.entries.delete(key);
    } else {
      frame = new FramePlan(this.buildPlan(width, height));
    }
    this.entries.set(key, frame);
    if (flipTest && !frame.flip) {
      try {
        frame.flip = this.buildFlip(frame.plan);
      } catch (err) {
        this.entries.delete(key);
        frame.dispose();
        throw err;
      }
    }
    const evicted: FramePlan[] = [];
    for (const [k, old] of this.entries) {
      if (this.entries.size <= this.capacity) break;
      this.entries.delete(k);
      evicted.push(old);
    }
    return { frame, evicted };
  }

  /** Lets every entry go but `keep`; returns them for disposal. */
  takeAllExcept(keep: FramePlan | null = null): FramePlan[] {
    const out: FramePlan[] = [];
    for (const [k, frame] of this.entries) {
      if (frame === keep) continue;
      this.entries.delete(k);
      out.push(frame);
    }
    return out;
  }

  /** Lets every flip test go (the flip test was turned off); returns them for disposal. */
  takeFlips(): FlipTest[] {
    const out: FlipTest[] = [];
    for (const frame of this.entries.values()) {
      const flip = frame.takeFlip();
      if (flip) out.push(flip);
    }
    return out;
  }

  /** Sizes held, least recently used first ("513x385"). */
  sizes(): string[] {
    return [...this.entries.keys()];
  }

  dispose(): void {
    for (const frame of this.entries.values()) frame.dispose();
    this.entries.clear();
  }
}
