/**
 * The tuner on a real device (SwiftShader in CI), with the tiny model of
 * test/support/tiny-model.ts: online tuning within 20 frames with every tuning frame's
 * pose equal to the untuned net's, with and without timestamp-query; a new resolution
 * starting from the nearest tuned shapes; the browser cache (a second visit starts
 * tuned; an exported table fixes the choices); and the runtime contract through tuning
 * and 1,000 frames with resolution switches (no GPU object created per frame, memory
 * back to the same figure at each resolution, nothing left after dispose).
 *
 * Pose tolerance: 1e-2 px and 1e-4 in score. Every variant computes the same function,
 * summing in another order in float32: heads differ by ~1e-6 relative, positions (up to
 * ~300 px) by ~1e-3 px at most; a different argmax cell would move a keypoint by 16 px.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { bytesToB64 } from './support/b64.ts';
import { openTestPage, type TestPage } from './support/harness-page.ts';
import { tinyPoseNet } from './support/tiny-model.ts';
import type { OnlineRun, TuningHarness } from './pages/tuning.ts';
import { MAX_TUNING_FRAMES, nearestEntry, type TuningTable } from '../src/gpu/tuning.ts';
import { layerKernel } from '../src/kernels/index.ts';
import { inferShapes } from '../src/plan/shapes.ts';

const tiny = tinyPoseNet(7);
const base = { manifest: tiny.manifest, weights: bytesToB64(tiny.weights), imageUrl: 'synthetic:240x320' };

function checkRun(run: OnlineRun, timing: 'pass' | 'frame') {
  const tuningFrames = run.frames.filter((f) => f.state === 'tuning');
  const last = run.frames[run.frames.length - 1]!;
  expect(last.state, `${run.resolution}: tuned in the frames given`).toBe('tuned');
  expect(last.timing).toBe(timing);
  // The frame that finished tuning reports 'tuned' itself.
  expect(tuningFrames.length + 1).toBeLessThanOrEqual(MAX_TUNING_FRAMES);
  expect(last.frames).toBeLessThanOrEqual(MAX_TUNING_FRAMES);
  for (const f of run.frames) {
    expect(f.positionDiff, `${run.resolution} frame ${f.frame} (${f.state}) position`).toBeLessThan(1e-2);
    expect(f.scoreDiff, `${run.resolution} frame ${f.frame} (${f.state}) score`).toBeLessThan(1e-4);
  }
  // Tuning frames really ran other variants.
  const seen = new Set(run.frames.flatMap((f) => f.variants));
  expect(seen.size).toBeGreaterThan(new Set(run.defaults).size);
}

describe('tuner on the GPU', () => {
  let page: TestPage<TuningHarness>;
  beforeAll(async () => {
    page = await openTestPage<TuningHarness>('/test/pages/tuning.html', 'tuningHarness');
  });
  afterAll(async () => {
    await page?.close();
  });

  it('tunes online with timestamps in at most 20 frames, every pose equal to the untuned one; a new resolution starts from the nearest tuned shapes', async () => {
    const r = (await page.call('online', { ...base, resolutions: [129, 193], timestamps: true, maxFrames: 400 })) as {
      runs: OnlineRun[];
      table: TuningTable;
      stats: { name: string; variant?: string }[];
    };
    const [first, second] = r.runs as [OnlineRun, OnlineRun];
    checkRun(first, 'pass');
    checkRun(second, 'pass');
    // 129 started from the defaults; 193 from 129's choices for the nearest tuned shapes.
    expect(first.startVariants).toEqual(first.defaults);
    const expected = inferShapes(tiny.manifest, 193, 193).layers.map((ls) => {
      const kernel = layerKernel(ls.layer.kind).name;
      return nearestEntry(first.table.entries, kernel, ls, () => true)?.entry.choice;
    });
    expect(expected.every((v) => v !== undefined)).toBe(true);
    expect(second.startVariants.slice(1, -1)).toEqual(expected);
    // Every layer of both resolutions has an entry whose choice was measured, with the
    // other candidates measured too (those dropped everywhere as hopeless may lack samples).
    const layers = tiny.manifest.layers.length;
    expect(r.table.entries.reduce((n, e) => n + e.layers.length, 0)).toBe(2 * layers);
    for (const e of r.table.entries) {
      const chosen = e.candidates.find((c) => c.variant === e.choice);
      expect(chosen?.ms ?? null, e.shape).not.toBeNull();
      expect(e.candidates.filter((c) => c.ms !== null).length, e.shape).toBeGreaterThanOrEqual(Math.min(2, e.candidates.length));
    }
    console.log(
      'tuned at 129:',
      r.table.entries
        .filter((e) => e.shape.endsWith('x65') || e.pixels <= 65 * 65)
        .map((e) => `${e.layers.join('+')}: ${e.choice} (${e.candidates.map((c) => `${c.variant} ${c.ms?.toFixed(3)}`).join(', ')})`)
        .join('\n  '),
    );
  });

  it('tunes online without timestamp-query by varying one kernel kind at a time over whole frames', async () => {
    const r = (await page.call('online', { ...base, resolutions: [129], timestamps: false, maxFrames: 400 })) as {
      runs: OnlineRun[];
      table: TuningTable;
    };
    checkRun(r.runs[0]!, 'frame');
    expect(r.table.entries.every((e) => e.timing === 'frame')).toBe(true);
  });

  it('a second visit starts tuned from IndexedDB; an exported table fixes the choices; a bad table is refused', async () => {
    const r = (await page.call('secondVisit', { ...base, resolution: 161 })) as {
      first: { before: string; after: { state: string; frame: number }; table: TuningTable; variants: string[]; tuneMs: number };
      second: { state: string; variants: string[]; afterFrame: string };
      fixed: { state: string; variants: string[]; refused: string };
    };
    console.log(`net.tune() at 161: ${r.first.tuneMs.toFixed(0)} ms, ${r.first.after.frame} frames`);
    expect(r.first.before).toBe('waiting');
    expect(r.first.after.state).toBe('tuned');
    expect(r.first.after.frame).toBeLessThanOrEqual(MAX_TUNING_FRAMES);
    expect(r.second.state).toBe('tuned');
    expect(r.second.variants).toEqual(r.first.variants);
    expect(r.second.afterFrame).toBe('tuned');
    expect(r.fixed.state).toBe('fixed');
    expect(r.fixed.variants).toEqual(r.first.variants);
    expect(r.fixed.refused).toMatch(/tuning is not a tuning table/);
  });

  it('creates no GPU object per frame through tuning and 1,000 frames with resolution switches; memory returns; nothing leaks', async () => {
    const resolutions = [129, 161, 193, 257];
    const r = (await page.call('contract', { ...base, resolutions, frames: 1000, switchEvery: 100 })) as {
      frameCreations: { frame: number; counts: Record<string, number> }[];
      switchCreations: Record<string, number>[];
      bytes: Record<number, number[]>;
      pipelines: number[];
      tunedFrames: number;
      finalState: string;
      tunedShapes: number;
      liveAfterDispose: number;
    };
    console.log(
      `1000 frames: ${r.tunedFrames} tuning frames; creations outside switches: ${JSON.stringify(r.frameCreations)}; pipelines ${r.pipelines.join(',')}; bytes ${JSON.stringify(r.bytes)}`,
    );
    // The net's first frame makes the source texture and its bind group and starts the
    // background compiles; the first frame on a new plan binds the source (one bind
    // group). Nothing else, in any frame, tuning or not.
    for (const { frame, counts } of r.frameCreations) {
      if (frame === 0) {
        const allowed = ['createTexture', 'createBindGroup', 'createComputePipelineAsync', 'createShaderModule', 'createPipelineLayout'];
        expect(
          Object.keys(counts).filter((k) => !allowed.includes(k)),
          JSON.stringify(counts),
        ).toEqual([]);
        continue;
      }
      expect(frame % 100, `frame ${frame} created ${JSON.stringify(counts)}`).toBe(0);
      expect(counts, `frame ${frame}`).toEqual({ createBindGroup: 1 });
    }
    expect(r.finalState).toBe('tuned');
    // Four resolutions, tuned once each (later visits start tuned): at most 4 x 20 tuning frames.
    expect(r.tunedFrames).toBeLessThanOrEqual(resolutions.length * MAX_TUNING_FRAMES);
    expect(r.tunedShapes).toBeGreaterThanOrEqual(resolutions.length * 5);
    for (const [res, list] of Object.entries(r.bytes)) expect(new Set(list).size, `GPU bytes at ${res}: ${list.join(', ')}`).toBe(1);
    // No pipeline is made after the first visit of each resolution.
    expect(new Set(r.pipelines.slice(resolutions.length - 1)).size).toBe(1);
    expect(r.liveAfterDispose).toBe(0);
  });
});
