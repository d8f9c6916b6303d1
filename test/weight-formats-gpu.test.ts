/**
 * The whole default model on the GPU (Chromium, WebGPU on SwiftShader) with f16 and int8
 * weights against the same model with f32 weights, on a coco-mini photograph at 257 and
 * 513x385: the single-pose keypoints that f32 scores above 0.5 must stay close, in median
 * and at worst, and their scores too. Distances are in source pixels (the photo is 640
 * wide: one input pixel is 2.5 at 257 and 1.25 at 513; a heads cell is 16 input pixels).
 *
 * Tolerances, from the formats' precision, against what was measured (the test prints it):
 * - f16 rounds each weight by at most 2^-11 relative. Measured: median 0.11 / 0.05 px,
 *   worst 0.39 / 0.33 px, scores 0.003 / 0.006 (at 257 / 513x385). Allowed: median 1 px,
 *   worst 2 px (under one input pixel at 257), scores 0.02.
 * - int8 rounds each weight by up to 1/254 of its channel's largest (~8x f16's step for a
 *   typical weight), and MobileNet's depthwise layers amplify it. Measured: median 1.8 /
 *   1.5 px, worst 16 / 30 px (an ankle, a knee), scores 0.073 / 0.085. Allowed: median
 *   5 px, worst 40 px (two heads cells at 513x385: the argmax may move a cell, not
 *   more), scores 0.15.
 * The f32 model is weights/<model>/ and f16 weights/<model>-f16/ (npm run weights);
 * int8 is converted here into test-output/.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WeightFormat } from '../src/model/weight-format.ts';
import { convertOnnxFile } from '../tools/lib/convert.ts';
import type { ModelRun } from './pages/harness.ts';
import { repoRoot } from './support/browser.ts';
import { openHarness, type HarnessPage } from './support/harness-page.ts';

const MODEL = 'posenet-mobilenet-v1-075-s16';
const PHOTO = '000000535506.jpg';
const COCO = path.resolve(repoRoot, '../shared/coco-mini/images');
const RESOLUTIONS = [
  { width: 257, height: 257 },
  { width: 513, height: 385 },
];
const CONFIDENT = 0.5;
const TOLERANCE: Record<Exclude<WeightFormat, 'f32'>, { medianPx: number; px: number; score: number }> = {
  f16: { medianPx: 1, px: 2, score: 0.02 },
  int8: { medianPx: 5, px: 40, score: 0.15 },
};

describe(`${MODEL} with f16 and int8 weights against f32 on ${PHOTO}`, () => {
  let harness: HarnessPage;
  const runs = new Map<WeightFormat, ModelRun[]>();

  beforeAll(async () => {
    if (!fs.existsSync(path.join(COCO, PHOTO)))
      throw new Error(`${path.join(COCO, PHOTO)} is missing (../shared/coco-mini beside the repository)`);
    for (const dir of [MODEL, `${MODEL}-f16`]) {
      if (!fs.existsSync(path.join(repoRoot, 'weights', dir, 'model.json')))
        throw new Error(`weights/${dir} is missing: run \`npm run weights\``);
    }
    const int8Dir = path.join(repoRoot, 'test-output', 'weight-formats', `${MODEL}-int8`);
    await convertOnnxFile(path.join(repoRoot, 'weights', `${MODEL}.onnx`), int8Dir, { weights: 'int8', name: `${MODEL}-int8` });
    harness = await openHarness();
    const urls: Record<WeightFormat, string> = {
      f32: `/weights/${MODEL}`,
      f16: `/weights/${MODEL}-f16`,
      int8: `/test-output/weight-formats/${MODEL}-int8`,
    };
    for (const [format, weightsUrl] of Object.entries(urls) as [WeightFormat, string][]) {
      runs.set(
        format,
        (await harness.call('model', { weightsUrl, imageUrl: `/coco-mini/images/${PHOTO}`, resolutions: RESOLUTIONS })) as ModelRun[],
      );
    }
  });
  afterAll(async () => {
    await harness?.close();
  });

  for (const format of ['f16', 'int8'] as const) {
    for (const [r, res] of RESOLUTIONS.entries()) {
      it(`${format} at ${res.width}x${res.height}: confident keypoints within ${TOLERANCE[format].medianPx} px (median), ${TOLERANCE[format].px} px and ${TOLERANCE[format].score} of f32`, () => {
        const ref = runs.get('f32')![r]!.pose;
        const got = runs.get(format)![r]!.pose;
        const distances: number[] = [];
        let maxPx = 0;
        let maxScore = 0;
        ref.keypoints.forEach((k, i) => {
          if (k.score < CONFIDENT) return;
          const o = got.keypoints[i]!;
          const px = Math.hypot(o.position.x - k.position.x, o.position.y - k.position.y);
          const ds = Math.abs(o.score - k.score);
          distances.push(px);
          maxPx = Math.max(maxPx, px);
          maxScore = Math.max(maxScore, ds);
          expect(
            px,
            `${k.part}: ${format} (${o.position.x}, ${o.position.y}) vs f32 (${k.position.x}, ${k.position.y})`,
          ).toBeLessThanOrEqual(TOLERANCE[format].px);
          expect(ds, `${k.part} score ${o.score} vs ${k.score}`).toBeLessThanOrEqual(TOLERANCE[format].score);
        });
        distances.sort((a, b) => a - b);
        const median = distances[Math.floor((distances.length - 1) / 2)] ?? Number.NaN;
        console.log(
          `${format} at ${res.width}x${res.height}: ${distances.length} confident keypoints, median ${median.toFixed(3)} px, ` +
            `max ${maxPx.toFixed(3)} px, max score diff ${maxScore.toExponential(2)}`,
        );
        expect(distances.length, 'keypoints f32 scores above 0.5').toBeGreaterThanOrEqual(8);
        expect(median, 'median distance').toBeLessThanOrEqual(TOLERANCE[format].medianPx);
      });
    }
  }
});
