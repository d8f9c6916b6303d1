/**
 * ResNet50 (output stride 16 and 32) and MobileNetV1 1.0 / 0.5 at output stride 8 (dilated
 * convolutions) on the GPU: the heads equal onnxruntime-node's on the same preprocessed
 * input at 257x257 and 513x385, within 1e-3 of each head's range (max |value|), or 1e-3
 * relative. No such checkpoints can be downloaded here, so the models carry seeded random
 * weights (tools/lib/synthetic-models.ts) with BatchNorm, written as ONNX and converted
 * like any user model. Random weights keep activations O(1) but sum over up to 2048
 * channels, so float32 summation order moves the heads by ~1e-5 of their range; a wrong
 * stride, dilation, padding or residual moves them by O(range).
 */
import fs from 'node:fs';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { SYNTHETIC_MODELS, ensureSyntheticModel } from '../tools/lib/synthetic-models.ts';
import type { ModelRun } from './pages/harness.ts';
import { b64ToF32 } from './support/b64.ts';
import { repoRoot } from './support/browser.ts';
import { compare, describeMismatches } from './support/cpu-ref.ts';
import { openHarness, type HarnessPage } from './support/harness-page.ts';
import { releaseSessions, runOnnxHeads } from './support/ort.ts';

const DIR = path.join(repoRoot, 'test-output', 'models');
const PHOTO = path.resolve(repoRoot, '../shared/coco-mini/images/000000488571.jpg');
const RESOLUTIONS = [
  { width: 257, height: 257 },
  { width: 513, height: 385 },
];
const RANGE_TOL = 1e-3;
const RTOL = 1e-3;

describe('ResNet50 and stride-8 MobileNets on the GPU against onnxruntime', () => {
  let harness: HarnessPage;
  const imageUrl = fs.existsSync(PHOTO) ? '/coco-mini/images/000000488571.jpg' : 'synthetic:640x474';

  beforeAll(async () => {
    if (!fs.existsSync(PHOTO)) console.warn(`architectures: ${PHOTO} is absent: using a generated picture`);
    for (const m of SYNTHETIC_MODELS) await ensureSyntheticModel(m, DIR, (l) => console.log(l));
    harness = await openHarness();
  });
  afterAll(async () => {
    await harness?.close();
    await releaseSessions();
  });

  for (const model of SYNTHETIC_MODELS) {
    it(`${model.name}: heads equal onnxruntime's at 257x257 and 513x385`, async () => {
      const runs = (await harness.call('model', {
        weightsUrl: `/test-output/models/${model.name}`,
        imageUrl,
        resolutions: RESOLUTIONS,
      })) as ModelRun[];
      const onnx = path.join(DIR, `${model.name}.onnx`);
      for (const run of runs) {
        const input = b64ToF32(run.input);
        const ort = await runOnnxHeads(onnx, input, [run.height, run.width]);
        for (const [name, head] of Object.entries(run.heads)) {
          const ref = ort[name as keyof typeof ort];
          expect(head.shape, `${name} shape`).toEqual(ref.dims);
          expect(ref.dims.slice(0, 2)).toEqual([(run.height - 1) / model.outputStride + 1, (run.width - 1) / model.outputStride + 1]);
          const range = ref.data.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
          const cmp = compare(b64ToF32(head.data), ref.data, RANGE_TOL * range, RTOL);
          console.log(
            `${model.name} ${run.width}x${run.height} ${name}: max |gpu - ort| ${cmp.maxAbs.toExponential(2)}, range ${range.toFixed(2)}`,
          );
          expect(cmp.count, `${name}: ${describeMismatches(cmp, ref.dims)}`).toBe(0);
        }
      }
      await releaseSessions();
    });
  }
});
