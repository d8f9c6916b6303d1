/**
 * Browser side of the tuner's GPU tests (test/tuning-gpu.test.ts), on the tiny model of
 * test/support/tiny-model.ts. As in harness.ts, each entry point gets a fresh device, runs
 * in validation / out-of-memory / internal error scopes and returns every GPU error seen.
 */
import type { TuningProgress } from '../../src/gpu/tuner.ts';
import type { TuningTable } from '../../src/gpu/tuning.ts';
import { memoryTuningStore } from '../../src/gpu/tuning-store.ts';
import type { Manifest } from '../../src/model/manifest.ts';
import type { LoadedWeights } from '../../src/model/model.ts';
import type { Pose } from '../../src/pose/types.ts';
import { createPoseNet, type PoseNet } from '../../src/posenet.ts';
import { b64ToBytes } from '../support/b64.ts';
import { loadImage } from './images.ts';
import { countCreations, GPU_CREATIONS } from './count-creations.ts';
import { withDevice } from './with-device.ts';

export interface TinyCase {
  manifest: Manifest;
  /** weights.bin, base64. */
  weights: string;
  imageUrl: string;
}

function loaded(c: TinyCase): LoadedWeights {
  return { manifest: c.manifest, weights: b64ToBytes(c.weights).slice().buffer, source: 'tiny' };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Largest keypoint position and score differences between two poses. */
function poseDiff(a: Pose, b: Pose): { position: number; score: number } {
  let position = 0;
  let score = Math.abs(a.score - b.score);
  a.keypoints.forEach((k, i) => {
    const o = b.keypoints[i]!;
    position = Math.max(position, Math.abs(k.position.x - o.position.x), Math.abs(k.position.y - o.position.y));
    score = Math.max(score, Math.abs(k.score - o.score));
  });
  return { position, score };
}

export interface OnlineFrame {
  state: TuningProgress['state'];
  frame: number;
  frames: number;
  timing: TuningProgress['timing'];
  /** Against the untuned net's pose of the same image at the same resolution. */
  positionDiff: number;
  scoreDiff: number;
  variants: string[];
}

export interface OnlineRun {
  resolution: number;
  /** The plan's variants before its first frame (the starting choices). */
  startVariants: string[];
  defaults: string[];
  frames: OnlineFrame[];
  /** The tuning table after this resolution. */
  table: TuningTable;
}

/**
 * Online tuning at each resolution: frames on one image until the state is `tuned`,
 * each pose compared with an untuned net's (tuning 'off'). While the candidates compile,
 * frames run on the starting variants with a pause between them (on SwiftShader a compile
 * takes seconds and a tiny frame milliseconds).
 */
async function online(c: TinyCase & { resolutions: number[]; timestamps: boolean; maxFrames: number }) {
  return withDevice(
    async (device) => {
      const img = await loadImage(c.imageUrl);
      const first = c.resolutions[0]!;
      const ref = await createPoseNet({ weights: loaded(c), resolution: first, device, tuning: 'off' });
      const net = await createPoseNet({ weights: loaded(c), resolution: first, device, tuning: 'auto', tuningStore: memoryTuningStore() });
      const runs: OnlineRun[] = [];
      for (const r of c.resolutions) {
        ref.setResolution(r);
        net.setResolution(r);
        const expected = await ref.estimateSinglePose(img);
        const run: OnlineRun = {
          resolution: r,
          startVariants: net.plan.steps.map((s) => s.variant),
          defaults: ref.plan.steps.map((s) => s.variant),
          frames: [],
          table: net.tuningTable(),
        };
        for (let f = 0; f < c.maxFrames; f++) {
          const pose = await net.estimateSinglePose(img);
          const p = net.tuning;
          const d = poseDiff(pose, expected);
          run.frames.push({
            state: p.state,
            frame: p.frame,
            frames: p.frames,
            timing: p.timing,
            positionDiff: d.position,
            scoreDiff: d.score,
            variants: net.plan.steps.map((s) => s.variant),
          });
          if (p.state === 'tuned') break;
          if (p.state === 'compiling' || p.state === 'waiting') await sleep(50);
        }
        run.table = net.tuningTable();
        runs.push(run);
      }
      const table = net.tuningTable();
      const stats = net.profiler.stats();
      ref.dispose();
      net.dispose();
      const errors = [...net.kernels.compileErrors, ...ref.kernels.compileErrors];
      if (errors.length) throw new Error(errors.join('\n'));
      return { runs, table, stats };
    },
    { timestamps: c.timestamps },
  );
}

/**
 * The browser cache: a net tunes (net.tune()) and saves to IndexedDB; a second net on a
 * new device, as on a second visit, starts tuned with the same choices; a net given the
 * exported table runs those choices with no tuning.
 */
async function secondVisit(c: TinyCase & { resolution: number }) {
  await new Promise<void>((resolve, reject) => {
    const r = indexedDB.deleteDatabase('posenet-webgpu');
    r.onsuccess = () => resolve();
    r.onerror = () => reject(r.error);
  });
  const first = await withDevice(async (device) => {
    const net = await createPoseNet({ weights: loaded(c), resolution: c.resolution, device });
    const before = net.tuning.state;
    const t0 = performance.now();
    const table = await net.tune();
    const tuneMs = performance.now() - t0;
    const variants = net.plan.steps.map((s) => s.variant);
    const after = net.tuning;
    net.dispose();
    return { before, after, table, variants, tuneMs };
  });
  const second = await withDevice(async (device) => {
    const net = await createPoseNet({ weights: loaded(c), resolution: c.resolution, device });
    const state = net.tuning.state;
    const variants = net.plan.steps.map((s) => s.variant);
    const img = await loadImage(c.imageUrl);
    await net.estimateSinglePose(img);
    const afterFrame = net.tuning.state;
    net.dispose();
    return { state, variants, afterFrame };
  });
  const fixed = await withDevice(async (device) => {
    if (!first.result) return null;
    const net = await createPoseNet({ weights: loaded(c), resolution: c.resolution, device, tuning: first.result.table });
    const state = net.tuning.state;
    const variants = net.plan.steps.map((s) => s.variant);
    net.dispose();
    let refused = '';
    try {
      await createPoseNet({ weights: loaded(c), resolution: c.resolution, device, tuning: { nonsense: true } as unknown as TuningTable });
    } catch (err) {
      refused = (err as Error).message;
    }
    return { state, variants, refused };
  });
  return {
    result: { first: first.result, second: second.result, fixed: fixed.result },
    errors: [...first.errors, ...second.errors, ...fixed.errors],
  };
}

/**
 * The runtime contract through tuning: `frames` frames, switching resolution every
 * `switchEvery` frames through `resolutions` (each tuned online on its first visit).
 * Counts GPU object creations in every frame and in every switch (command encoders
 * apart: a frame makes one), GPU bytes at each visit of each resolution, and what is
 * left after dispose.
 */
async function contract(c: TinyCase & { resolutions: number[]; frames: number; switchEvery: number }) {
  return withDevice(async (device) => {
    // Command encoders too: a frame must make exactly one.
    const { take } = countCreations(device, [...GPU_CREATIONS, 'createCommandEncoder']);
    const img = await loadImage(c.imageUrl);
    const net: PoseNet = await createPoseNet({
      weights: loaded(c),
      resolution: c.resolutions[0]!,
      device,
      tuning: 'auto',
      tuningStore: memoryTuningStore(),
    });
    take();
    const frameCreations: { frame: number; counts: Record<string, number> }[] = [];
    const switchCreations: Record<string, number>[] = [];
    const bytes: Record<number, number[]> = {};
    const pipelines: number[] = [];
    let tunedFrames = 0;
    for (let f = 0; f < c.frames; f++) {
      if (f > 0 && f % c.switchEvery === 0) {
        const r = c.resolutions[(f / c.switchEvery) % c.resolutions.length]!;
        // The resolution just left has finished its visit: its bytes (after its old plan went).
        net.setResolution(r);
        switchCreations.push(take());
      }
      const state = net.tuning.state;
      await net.estimateSinglePose(img);
      if (state === 'tuning') tunedFrames++;
      const made = take();
      const { createCommandEncoder: encoders = 0, ...rest } = made;
      if (encoders !== 1) frameCreations.push({ frame: f, counts: made });
      else if (Object.keys(rest).length) frameCreations.push({ frame: f, counts: rest });
      if ((f + 1) % c.switchEvery === 0) {
        await net.readHeads(); // lets the previous plan's deferred disposal run
        take();
        const r = net.resolution.width;
        bytes[r] = [...(bytes[r] ?? []), net.gpuBytes()];
        pipelines.push(net.kernels.pipelineCount);
      }
      // While candidates compile (seconds on SwiftShader), wait for them: this test is
      // about what frames create, not about how many run meanwhile.
      while (net.tuning.state === 'compiling') await sleep(50);
    }
    const finalState = net.tuning.state;
    const table = net.tuningTable();
    net.dispose();
    return {
      frameCreations,
      switchCreations,
      bytes,
      pipelines,
      tunedFrames,
      finalState,
      tunedShapes: table.entries.length,
      liveAfterDispose: net.ledger.count,
    };
  });
}

const tuningHarness = { online, secondVisit, contract };
(window as unknown as { tuningHarness: typeof tuningHarness }).tuningHarness = tuningHarness;
export type TuningHarness = typeof tuningHarness;
