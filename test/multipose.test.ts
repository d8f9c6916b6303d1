/**
 * Multi-pose decoding against @tensorflow-models/posenet 2.2.2's decodeMultiplePoses.
 *
 * 1. decode_candidates (GPU kernel) against a CPU scan of the same heads: heatmaps of
 *    quantised logits (so plateaus and equal neighbours are exact ties on both sides) and
 *    logit 0 cells sitting exactly on the 0.5 threshold; with slack 0 the GPU's set must
 *    equal the CPU's exactly, with the production slack it must contain it; an overflow
 *    must report the true count and write only valid candidates.
 * 2. The CPU decoder (src/pose/multi.ts) against TF.js's on synthetic heads with many ties
 *    (quantised scores, so the max-heap's tie order matters): exactly equal poses.
 * 3. The whole net: estimateMultiplePoses on coco-mini photographs with several people,
 *    the heads of the same frame read back and given to TF.js's decodeMultiplePoses
 *    (tfjs cpu backend, heatmap scores = tf.sigmoid of our logits) then TF.js's
 *    scaleAndFlipPoses: same number of poses, same order, keypoints within 0.5 px
 *    (source pixels), scores within 1e-3. Repeating a frame must allocate no GPU buffer
 *    and dispose must release everything (checked in the page).
 */
import fs from 'node:fs';
import path from 'node:path';

import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as posenet from '@tensorflow-models/posenet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  confirmCandidates,
  decodeMultiplePoses,
  findCandidates,
  type HeadsTensor,
  type MultiPoseOptions,
  type PartCandidate,
} from '../src/pose/multi.ts';
import { CANDIDATE_SLACK } from '../src/pose/multi-gpu.ts';
import type { Pose } from '../src/pose/types.ts';
import type { CandidatesCase, MultiPoseCase, MultiPoseHarness, MultiPoseRun } from './pages/multipose.ts';
import { b64ToF32, f32ToB64 } from './support/b64.ts';
import { repoRoot } from './support/browser.ts';
import { random } from './support/cpu-ref.ts';
import { openTestPage } from './support/harness-page.ts';
import { useCpuBackend } from './support/tfjs-reference.ts';

const MODEL = 'posenet-mobilenet-v1-075-s16';
const COCO = path.resolve(repoRoot, '../shared/coco-mini');
/** coco-mini photographs with 7 to 11 annotated people. */
const PHOTOS = ['000000227000.jpg', '000000322517.jpg', '000000370162.jpg'];
const RESOLUTIONS = [
  { width: 257, height: 257 },
  { width: 353, height: 257 },
];
const OPTIONS: MultiPoseOptions = { maxDetections: 20, scoreThreshold: 0.1, nmsRadius: 20 };
const POSITION_TOL_PX = 0.5;
const SCORE_TOL = 1e-3;

/** The multi-pose test page; `call` fails on any GPU error it reports. */
async function openMultiPosePage() {
  const t = await openTestPage<MultiPoseHarness>('/test/pages/multipose.html', 'multiposeHarness');
  return { ...t, call: <T>(fn: keyof MultiPoseHarness & string, arg: CandidatesCase | MultiPoseCase) => t.call(fn, arg) as Promise<T> };
}

const HEADS_C4 = 30;
const CHANNELS = HEADS_C4 * 4;
const LAYOUT = { heatmap: 0, offsets: 20, displacementFwd: 56, displacementBwd: 88 };

/** Synthetic padded heads: heatmap logits from `logit`, other channels from `other`. */
function syntheticHeads(w: number, h: number, logit: () => number, other: () => number): HeadsTensor {
  const data = new Float32Array(w * h * CHANNELS);
  for (let cell = 0; cell < w * h; cell++) {
    for (let c = 0; c < CHANNELS; c++) data[cell * CHANNELS + c] = c < 17 ? logit() : c < 20 ? 0 : other();
  }
  return { data, width: w, height: h, cellStride: CHANNELS, ...LAYOUT };
}

/** One head of a padded tensor as a tfjs TensorBuffer3D, optionally through tf.sigmoid. */
function headBuffer(hd: HeadsTensor, offset: number, channels: number, sigmoid = false): tf.TensorBuffer<tf.Rank.R3> {
  const out = new Float32Array(hd.width * hd.height * channels);
  for (let p = 0; p < hd.width * hd.height; p++)
    for (let c = 0; c < channels; c++) out[p * channels + c] = hd.data[p * hd.cellStride + offset + c]!;
  return tf
    .tidy(() => {
      const t = tf.tensor3d(out, [hd.height, hd.width, channels]);
      return (sigmoid ? tf.sigmoid(t) : t) as tf.Tensor3D;
    })
    .bufferSync() as tf.TensorBuffer<tf.Rank.R3>;
}

/** TF.js PoseNet's decodeMultiplePoses on these heads (input-resolution pixels). */
async function tfjsDecode(hd: HeadsTensor, stride: number, o: MultiPoseOptions): Promise<Pose[]> {
  const poses = await posenet.decodeMultiplePoses(
    headBuffer(hd, hd.heatmap, 17, true),
    headBuffer(hd, hd.offsets, 34),
    headBuffer(hd, hd.displacementFwd, 32),
    headBuffer(hd, hd.displacementBwd, 32),
    stride,
    o.maxDetections!,
    o.scoreThreshold,
    o.nmsRadius,
  );
  return poses as unknown as Pose[];
}

/** Largest keypoint distance and score differences; throws naming the first pose that differs in count. */
function comparePoses(ours: Pose[], ref: Pose[]) {
  let maxPx = 0;
  let maxScore = 0;
  let maxPoseScore = 0;
  const bad: string[] = [];
  ours.forEach((p, i) => {
    const q = ref[i]!;
    maxPoseScore = Math.max(maxPoseScore, Math.abs(p.score - q.score));
    p.keypoints.forEach((k, j) => {
      const r = q.keypoints[j]!;
      const d = Math.hypot(k.position.x - r.position.x, k.position.y - r.position.y);
      const s = Math.abs(k.score - r.score);
      if (!(d <= POSITION_TOL_PX && s <= SCORE_TOL) && bad.length < 5) {
        bad.push(
          `pose ${i} ${k.part}: ours (${k.position.x}, ${k.position.y}) ${k.score}, TF.js (${r.position.x}, ${r.position.y}) ${r.score}`,
        );
      }
      maxPx = Math.max(maxPx, Number.isNaN(d) ? Infinity : d);
      maxScore = Math.max(maxScore, s);
    });
  });
  return { maxPx, maxScore, maxPoseScore, bad };
}

const key = (c: PartCandidate) => `${c.y},${c.x},${c.keypoint}`;

describe('multi-pose decoding on the CPU against TF.js PoseNet', () => {
  beforeAll(async () => {
    await useCpuBackend();
  });

  // Scores quantised to a few values: plateaus, equal neighbours and equal roots everywhere.
  const cases = [
    { w: 9, h: 7, seed: 1, levels: 4, o: { maxDetections: 10, scoreThreshold: 0.5, nmsRadius: 20 } },
    { w: 17, h: 17, seed: 2, levels: 3, o: { maxDetections: 20, scoreThreshold: 0.1, nmsRadius: 20 } },
    { w: 23, h: 13, seed: 3, levels: 6, o: { maxDetections: 30, scoreThreshold: 0.2, nmsRadius: 8 } },
    { w: 33, h: 33, seed: 4, levels: 0, o: { maxDetections: 15, scoreThreshold: 0.3, nmsRadius: 40 } },
  ];
  for (const c of cases) {
    it(`equals decodeMultiplePoses exactly on ${c.w}x${c.h} heads (${c.levels ? `${c.levels} score levels` : 'continuous scores'})`, async () => {
      const r = random(c.seed);
      const logit = () => (c.levels ? Math.floor(r(0, c.levels)) - 1 : r(-6, 4));
      const hd = syntheticHeads(c.w, c.h, logit, () => r(-24, 24));
      const ref = await tfjsDecode(hd, 16, c.o);
      const ours = decodeMultiplePoses(hd, findCandidates(hd, c.o.scoreThreshold), 16, c.o);
      expect(ref.length).toBeGreaterThan(2);
      expect(ours.length).toBe(ref.length);
      // Same arithmetic on the same float32 inputs: bit-identical.
      expect(JSON.parse(JSON.stringify(ours))).toEqual(JSON.parse(JSON.stringify(ref)));
    });
  }

  it('confirmCandidates turns any superset, in any order, into findCandidates', () => {
    const r = random(9);
    const hd = syntheticHeads(
      11,
      9,
      () => Math.floor(r(0, 3)) - 1,
      () => r(-10, 10),
    );
    const exact = findCandidates(hd, 0.5);
    const everything: PartCandidate[] = [];
    for (let y = 0; y < 9; y++) for (let x = 0; x < 11; x++) for (let k = 0; k < 17; k++) everything.push({ score: 0, keypoint: k, y, x });
    everything.reverse();
    expect(confirmCandidates(hd, everything, 0.5)).toEqual(exact);
  });
});

describe('multi-pose on the GPU against TF.js PoseNet', () => {
  let page: Awaited<ReturnType<typeof openMultiPosePage>>;
  beforeAll(async () => {
    await useCpuBackend();
    page = await openMultiPosePage();
  });
  afterAll(async () => {
    await page?.close();
  });

  /** CPU reference of the kernel's test with its own slack, on float32 sigmoid scores. */
  function cpuCandidates(hd: HeadsTensor, threshold: number): Set<string> {
    return new Set(findCandidates(hd, threshold).map(key));
  }

  async function runKernel(hd: HeadsTensor, scoreThreshold: number, slack: number, capacity: number) {
    return page.call<{ count: number; items: PartCandidate[] }>('candidates', {
      heads: f32ToB64(hd.data),
      gridW: hd.width,
      gridH: hd.height,
      headsC4: HEADS_C4,
      heatmapChannel: hd.heatmap,
      scoreThreshold,
      slack,
      capacity,
    });
  }

  const kernelCases = [
    { w: 9, h: 7, levels: 3, threshold: 0.5, seed: 11 },
    { w: 17, h: 17, levels: 2, threshold: 0.5, seed: 12 },
    { w: 13, h: 21, levels: 5, threshold: 0.1, seed: 13 },
    { w: 1, h: 5, levels: 2, threshold: 0.5, seed: 14 },
  ];
  for (const c of kernelCases) {
    it(`decode_candidates ${c.w}x${c.h}, ${c.levels} logit levels, threshold ${c.threshold} (plateaus, ties at the threshold)`, async () => {
      const r = random(c.seed);
      // Logits -1, 0, 1, ...: logit 0 is score 0.5 exactly, on the threshold.
      const hd = syntheticHeads(
        c.w,
        c.h,
        () => Math.floor(r(0, c.levels)) - 1,
        () => r(-50, 50),
      );
      const expected = cpuCandidates(hd, c.threshold);
      const out = await runKernel(hd, c.threshold, 0, c.w * c.h * 17);
      const got = out.items.map(key);
      expect(out.count).toBe(got.length);
      expect(new Set(got).size, 'a candidate appended twice').toBe(got.length);
      expect([...got].sort()).toEqual([...expected].sort());
      for (const it of out.items)
        expect(it.score).toBeCloseTo(1 / (1 + Math.exp(-hd.data[(it.y * c.w + it.x) * CHANNELS + it.keypoint]!)), 6);
      // A plateau at the threshold is there to be found.
      expect(expected.size).toBeGreaterThan(0);
    });
  }

  it('decode_candidates with the production slack returns a superset of the exact candidates', async () => {
    const r = random(21);
    const hd = syntheticHeads(
      25,
      19,
      () => r(-8, 8),
      () => r(-5, 5),
    );
    const expected = cpuCandidates(hd, 0.1);
    const out = await runKernel(hd, 0.1, CANDIDATE_SLACK, 25 * 19 * 17);
    const got = new Set(out.items.map(key));
    for (const e of expected) expect(got.has(e), `exact candidate ${e} missing`).toBe(true);
    expect(confirmCandidates(hd, out.items, 0.1).map(key)).toEqual(findCandidates(hd, 0.1).map(key));
  });

  it('decode_candidates reports overflow: the true count, only valid candidates written', async () => {
    const r = random(31);
    const hd = syntheticHeads(
      15,
      15,
      () => Math.floor(r(0, 2)) - 1,
      () => r(-5, 5),
    );
    const expected = cpuCandidates(hd, 0.1);
    expect(expected.size).toBeGreaterThan(40);
    const out = await runKernel(hd, 0.1, 0, 40);
    expect(out.count).toBe(expected.size);
    expect(out.items.length).toBe(40);
    for (const it of out.items) expect(expected.has(key(it))).toBe(true);
  });

  const haveCoco = fs.existsSync(path.join(COCO, 'images'));
  it(`estimateMultiplePoses equals decodeMultiplePoses on the same heads (${PHOTOS.length} coco-mini photographs, ${RESOLUTIONS.map((r) => `${r.width}x${r.height}`).join(', ')})`, async () => {
    if (!haveCoco) throw new Error(`${COCO} is missing: the multi-pose comparison needs coco-mini photographs with several people`);
    const runs = await page.call<MultiPoseRun[]>('multipose', {
      weightsUrl: `/weights/${MODEL}`,
      imageUrls: PHOTOS.map((p) => `/coco-mini/images/${p}`),
      resolutions: RESOLUTIONS,
      options: OPTIONS,
    });
    expect(runs.length).toBe(PHOTOS.length * RESOLUTIONS.length);
    const lines: string[] = [];
    for (const run of runs) {
      const label = `${path.basename(run.imageUrl)} at ${run.width}x${run.height}`;
      const heatmap = run.heads.heatmap!;
      const [gh, gw] = heatmap.shape as [number, number, number];
      // Repack readHeads() into one tensor laid out as our decoder and TF.js read it.
      const hd: HeadsTensor = { data: new Float32Array(gw * gh * CHANNELS), width: gw, height: gh, cellStride: CHANNELS, ...LAYOUT };
      for (const [name, offset] of Object.entries(LAYOUT)) {
        const head = run.heads[name]!;
        const d = b64ToF32(head.data);
        const ch = head.shape[2]!;
        for (let p = 0; p < gw * gh; p++) for (let c = 0; c < ch; c++) hd.data[p * CHANNELS + offset + c] = d[p * ch + c]!;
      }
      const refInput = await tfjsDecode(hd, 16, OPTIONS);
      const fit = run.fit;
      const padding = {
        top: -fit.originY,
        left: -fit.originX,
        bottom: fit.regionH - run.imageH + fit.originY,
        right: fit.regionW - run.imageW + fit.originX,
      };
      const ref = posenet.scaleAndFlipPoses(
        refInput as never,
        [run.imageH, run.imageW],
        [run.height, run.width],
        padding,
        false,
      ) as unknown as Pose[];
      expect(run.stats.overflowed, `${label}: candidate buffer overflowed`).toBe(false);
      expect(run.poses.length, `${label}: number of poses`).toBe(ref.length);
      expect(ref.length, `${label}: several people`).toBeGreaterThanOrEqual(3);
      const cmp = comparePoses(run.poses, ref);
      expect(cmp.bad, `${label}: keypoints that differ`).toEqual([]);
      expect(cmp.maxPoseScore, `${label}: pose score`).toBeLessThanOrEqual(SCORE_TOL);
      lines.push(
        `${label}: ${run.poses.length} poses (TF.js ${ref.length}), GPU candidates ${run.stats.gpuCandidates} -> ${run.stats.candidates}, ` +
          `max keypoint distance ${cmp.maxPx.toExponential(2)} px, max keypoint score diff ${cmp.maxScore.toExponential(2)}, max pose score diff ${cmp.maxPoseScore.toExponential(2)}`,
      );
    }
    console.log(`multi-pose vs TF.js decodeMultiplePoses:\n${lines.join('\n')}`);
  });
});
