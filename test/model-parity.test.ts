/**
 * The whole network on the GPU (Chromium, WebGPU on SwiftShader) against the references:
 *
 * 1. Heads: the four heads read back from the GPU equal onnxruntime-node's on the same
 *    preprocessed input (read back from the GPU too), element by element, within 1e-3
 *    absolute or 1e-3 relative, or within 1e-4 of the head's range (max |value|),
 *    whichever is larger (test/support/head-tolerance.ts says why).
 * 2. Keypoints: our GPU decode equals @tensorflow-models/posenet's decodeSinglePose run on
 *    those same heads: positions within 0.5 px (in source pixels), scores within 1e-3.
 * 3. End to end against TF.js PoseNet with its own preprocessing (cpu backend) on the same
 *    photographs at 257 and 513: median keypoint distance <= 2 px over keypoints both
 *    score above 0.5.
 *
 * Photographs come from ../shared/coco-mini; where it is absent the test says so and uses
 * generated pictures instead (it never passes by skipping).
 */
import fs from 'node:fs';
import path from 'node:path';

import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { decodeSinglePose } from '@tensorflow-models/posenet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { ModelRun } from './pages/harness.ts';
import { b64ToBytes, b64ToF32 } from './support/b64.ts';
import { repoRoot } from './support/browser.ts';
import { compareHead } from './support/head-tolerance.ts';
import { openHarness, type HarnessPage } from './support/harness-page.ts';
import { runOnnxHeads } from './support/ort.ts';
import { loadReferencePosenet, useCpuBackend } from './support/tfjs-reference.ts';

const MODEL = 'posenet-mobilenet-v1-075-s16';
const ONNX = path.join(repoRoot, 'weights', `${MODEL}.onnx`);
const COCO = path.resolve(repoRoot, '../shared/coco-mini/images');
const PHOTOS = ['000000535506.jpg', '000000084533.jpg', '000000069468.jpg'];
const RESOLUTIONS = [
  { width: 161, height: 161 },
  { width: 257, height: 257 },
  { width: 513, height: 385 },
  { width: 801, height: 801 },
];

const POSITION_TOL_PX = 0.5;
const SCORE_TOL = 1e-3;
const E2E_MEDIAN_PX = 2;

function imageUrls(): string[] {
  if (fs.existsSync(COCO)) return PHOTOS.map((p) => `/coco-mini/images/${p}`);
  console.warn(`model-parity: ${COCO} is absent: using generated pictures instead of coco-mini photographs`);
  return ['synthetic:480x640', 'synthetic:640x480', 'synthetic:500x500'];
}

describe(`${MODEL} on the GPU against ONNX Runtime and TF.js PoseNet`, () => {
  let harness: HarnessPage;
  const runs = new Map<string, ModelRun[]>();
  const urls = imageUrls();

  beforeAll(async () => {
    if (!fs.existsSync(ONNX)) throw new Error(`${ONNX} is missing: run \`npm run weights\` (it runs as part of npm install)`);
    await useCpuBackend();
    harness = await openHarness();
    for (const url of urls) {
      const out = (await harness.call('model', { weightsUrl: `/weights/${MODEL}`, imageUrl: url, resolutions: RESOLUTIONS })) as ModelRun[];
      runs.set(url, out);
    }
  });
  afterAll(async () => {
    await harness?.close();
  });

  for (const url of urls) {
    for (const r of RESOLUTIONS) {
      const label = `${path.basename(url)} at ${r.width}x${r.height}`;

      it(`heads equal onnxruntime's: ${label}`, async () => {
        const run = runs.get(url)!.find((x) => x.width === r.width && x.height === r.height)!;
        const input = b64ToF32(run.input);
        expect(input.length).toBe(r.width * r.height * 3);
        const ort = await runOnnxHeads(ONNX, input, [r.height, r.width]);
        for (const [name, head] of Object.entries(run.heads)) {
          const ref = ort[name as keyof typeof ort];
          expect(head.shape, `${name} shape`).toEqual(ref.dims);
          const cmp = compareHead(b64ToF32(head.data), ref.data, ref.dims);
          console.log(
            `${label} ${name}: max |gpu - ort| = ${cmp.maxAbs.toExponential(2)} (range ${cmp.range.toFixed(1)}, tolerance ${cmp.atol.toExponential(2)}; ` +
              `${cmp.overFlat} elements over a flat 1e-3)`,
          );
          expect(cmp.count, `${name}: ${cmp.detail}`).toBe(0);
        }
      });

      it(`keypoints equal TF.js decodeSinglePose on the same heads: ${label}`, async () => {
        const run = runs.get(url)!.find((x) => x.width === r.width && x.height === r.height)!;
        const hm = run.heads.heatmap!;
        const off = run.heads.offsets!;
        const scores = tf.sigmoid(tf.tensor3d(b64ToF32(hm.data), hm.shape as [number, number, number])) as tf.Tensor3D;
        const offsets = tf.tensor3d(b64ToF32(off.data), off.shape as [number, number, number]);
        const ref = await decodeSinglePose(scores, offsets, 16);
        tf.dispose([scores, offsets]);
        let maxDist = 0;
        let maxScore = 0;
        ref.keypoints.forEach((kp, k) => {
          const ours = run.pose.keypoints[k]!;
          expect(ours.part).toBe(kp.part);
          // TF.js positions are in input pixels; map them like scaleAndFlipPoses does.
          const x = kp.position.x * run.fit.scaleX + run.fit.originX;
          const y = kp.position.y * run.fit.scaleY + run.fit.originY;
          const d = Math.max(Math.abs(ours.position.x - x), Math.abs(ours.position.y - y));
          maxDist = Math.max(maxDist, d);
          maxScore = Math.max(maxScore, Math.abs(ours.score - kp.score));
          expect(d, `${kp.part}: ours (${ours.position.x}, ${ours.position.y}) vs TF.js (${x}, ${y})`).toBeLessThanOrEqual(POSITION_TOL_PX);
          expect(Math.abs(ours.score - kp.score), `${kp.part} score`).toBeLessThanOrEqual(SCORE_TOL);
        });
        expect(Math.abs(run.pose.score - ref.score)).toBeLessThanOrEqual(SCORE_TOL);
        console.log(`${label}: max keypoint distance ${maxDist.toFixed(4)} px, max score diff ${maxScore.toExponential(2)}`);
      });
    }

    for (const size of [257, 513]) {
      it(`end to end against TF.js PoseNet with its own preprocessing: ${path.basename(url)} at ${size}`, async () => {
        const pixels = (await harness.call('imagePixels', url)) as { width: number; height: number; rgb: string };
        const image = tf.tensor3d(b64ToBytes(pixels.rgb), [pixels.height, pixels.width, 3], 'int32');
        const net = await loadReferencePosenet([size, size]);
        const ref = await net.estimateSinglePose(image, { flipHorizontal: false });
        image.dispose();
        const ours = (await harness.call('model', {
          weightsUrl: `/weights/${MODEL}`,
          imageUrl: url,
          resolutions: [{ width: size, height: size }],
        })) as ModelRun[];
        const pose = ours[0]!.pose;
        const distances: number[] = [];
        ref.keypoints.forEach((kp, k) => {
          const o = pose.keypoints[k]!;
          if (kp.score > 0.5 && o.score > 0.5) distances.push(Math.hypot(o.position.x - kp.position.x, o.position.y - kp.position.y));
        });
        distances.sort((a, b) => a - b);
        const median = distances.length ? distances[Math.floor((distances.length - 1) / 2)]! : NaN;
        console.log(
          `${path.basename(url)} at ${size}: ${distances.length} confident keypoints, median distance ${median.toFixed(3)} px, max ${distances.at(-1)?.toFixed(3)} px`,
        );
        expect(distances.length, 'keypoints that both score above 0.5').toBeGreaterThan(0);
        expect(median).toBeLessThanOrEqual(E2E_MEDIAN_PX);
      });
    }
  }
});
