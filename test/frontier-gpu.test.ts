/**
 * The speed–accuracy frontier on the GPU (headless Chromium, WebGPU on SwiftShader), kept
 * small (129..257 inputs, one photograph):
 * - the flip test's merge kernel against a CPU reference on random heads;
 * - whole flip-test frames: the mirrored run's input is the frame's input mirrored
 *   exactly, the merged heads are the average of the frame's and the mirrored run's
 *   (left/right swapped, x components negated) for every head including the
 *   displacements, and the single-pose decoder reads the merged heads;
 * - `{ longSide }` frames: the input follows the photograph's aspect ratio and the pose
 *   agrees with the square input's;
 * - targetFps at 1 fps (a budget SwiftShader meets) choosing among three sizes.
 * Every entry point runs inside WebGPU error scopes; any GPU error fails the test.
 */
import fs from 'node:fs';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { HeadName, HeadRef } from '../src/model/manifest.ts';
import { MIRRORED_PASS_PREFIX } from '../src/plan/plan.ts';
import { aspectResolution } from '../src/plan/shapes.ts';
import type { TargetFpsChoice } from '../src/plan/target-fps.ts';
import { computeFit } from '../src/pose/fit.ts';
import { flipChannelTable } from '../src/pose/flip.ts';
import type { Pose } from '../src/pose/types.ts';
import { repoRoot } from './support/browser.ts';
import { b64ToF32, f32ToB64 } from './support/b64.ts';
import { compare, describeMismatches, random } from './support/cpu-ref.ts';
import { openTestPage, type TestPage } from './support/harness-page.ts';
import type { Frontier } from './pages/frontier.ts';

const MODEL = 'posenet-mobilenet-v1-075-s16';
const WEIGHTS = `/weights/${MODEL}`;
/** A photograph with one large person, 640x474 (coco-mini); a generated figure where coco-mini is absent. */
const PHOTO = '000000488571.jpg';
const imageUrl = fs.existsSync(path.resolve(repoRoot, '../shared/coco-mini/images', PHOTO))
  ? `/coco-mini/images/${PHOTO}`
  : 'synthetic:640x474';

type HeadB64 = Record<HeadName, { data: string; shape: [number, number, number] }>;

let page: TestPage<Frontier>;

beforeAll(async () => {
  if (!fs.existsSync(path.join(repoRoot, 'weights', MODEL, 'model.json')))
    throw new Error(`weights/${MODEL} is missing: run npm run weights`);
  page = await openTestPage<Frontier>('/test/pages/frontier.html', 'frontier');
  console.log(`frontier tests on ${imageUrl}`);
});

afterAll(async () => {
  await page?.close();
});

/** The flip test's expected merge of unpadded heads: 0.5 * (a + sign * b[mirrored cell][mirrored channel]). */
function mergeReference(a: HeadB64, b: HeadB64, heads: Record<HeadName, HeadRef>): Record<HeadName, Float32Array> {
  // Unpadded heads laid out as one padded tensor, so the channel table applies as on the GPU.
  const [h, w] = a.heatmap.shape;
  const channels = Math.max(...Object.values(heads).map((r) => r.channelOffset + r.channels));
  const c4 = Math.ceil(channels / 4);
  const pack = (x: HeadB64) => {
    const t = new Float64Array(h * w * c4 * 4);
    for (const name of Object.keys(heads) as HeadName[]) {
      const data = b64ToF32(x[name].data);
      const n = heads[name].channels;
      for (let p = 0; p < h * w; p++) for (let c = 0; c < n; c++) t[p * c4 * 4 + heads[name].channelOffset + c] = data[p * n + c]!;
    }
    return t;
  };
  const A = pack(a);
  const B = pack(b);
  const table = flipChannelTable(heads, c4);
  const out = {} as Record<HeadName, Float32Array>;
  for (const name of Object.keys(heads) as HeadName[]) {
    const ref = heads[name];
    const data = new Float32Array(h * w * ref.channels);
    for (let gy = 0; gy < h; gy++) {
      for (let gx = 0; gx < w; gx++) {
        for (let c = 0; c < ref.channels; c++) {
          const ch = ref.channelOffset + c;
          const m = ((gy * w + (w - 1 - gx)) * c4 * 4 + table[2 * ch]!) as number;
          const v = B[m]! * (table[2 * ch + 1] ? -1 : 1);
          data[(gy * w + gx) * ref.channels + c] = 0.5 * (A[(gy * w + gx) * c4 * 4 + ch]! + v);
        }
      }
    }
    out[name] = data;
  }
  return out;
}

/** decode_single on the CPU: per keypoint the first maximum of the heatmap, refined by its offsets, in source pixels. */
function decodeSingle(
  heatmap: Float32Array,
  offsets: Float32Array,
  w: number,
  h: number,
  stride: number,
  fit: ReturnType<typeof computeFit>,
) {
  return Array.from({ length: 17 }, (_, k) => {
    let best = -Infinity;
    let cell = 0;
    for (let i = 0; i < w * h; i++) {
      if (heatmap[i * 17 + k]! > best) {
        best = heatmap[i * 17 + k]!;
        cell = i;
      }
    }
    const gy = Math.floor(cell / w);
    const gx = cell % w;
    const y = gy * stride + offsets[cell * 34 + k]!;
    const x = gx * stride + offsets[cell * 34 + 17 + k]!;
    return { x: x * fit.scaleX + fit.originX, y: y * fit.scaleY + fit.originY, score: 1 / (1 + Math.exp(-best)) };
  });
}

/** Median distance between two poses' keypoints that both score at least minScore. */
function medianDistance(a: Pose, b: Pose, minScore: number): { median: number; n: number } {
  const d = a.keypoints
    .map((k, i) => [k, b.keypoints[i]!] as const)
    .filter(([p, q]) => p.score >= minScore && q.score >= minScore)
    .map(([p, q]) => Math.hypot(p.position.x - q.position.x, p.position.y - q.position.y))
    .sort((x, y) => x - y);
  return { median: d.length ? d[Math.floor(d.length / 2)]! : Number.NaN, n: d.length };
}

describe('flip test', () => {
  it('flip_average merges a frame with its mirrored run (random heads, 11x9 grid) as the CPU does', async () => {
    const [W, H] = [11, 9];
    const width = (W - 1) * 16 + 1;
    const height = (H - 1) * 16 + 1;
    const r = random(1301);
    const size = W * H * 30 * 4;
    const a = Float32Array.from({ length: size }, () => r(-8, 8));
    const b = Float32Array.from({ length: size }, () => r(-8, 8));
    const out = (await page.call('flipAverage', { weightsUrl: WEIGHTS, width, height, a: f32ToB64(a), b: f32ToB64(b) })) as {
      merged: string;
      grid: { w: number; h: number };
      c4: number;
      heads: Record<HeadName, HeadRef>;
    };
    expect(out.grid).toEqual({ w: W, h: H });
    const table = flipChannelTable(out.heads, out.c4);
    const C = out.c4 * 4;
    const expected = new Float32Array(size);
    for (let gy = 0; gy < H; gy++) {
      for (let gx = 0; gx < W; gx++) {
        for (let c = 0; c < C; c++) {
          const v = b[(gy * W + (W - 1 - gx)) * C + table[2 * c]!]!;
          expected[(gy * W + gx) * C + c] = 0.5 * (a[(gy * W + gx) * C + c]! + (table[2 * c + 1] ? -v : v));
        }
      }
    }
    // One f32 addition and a halving: exact up to the last bit of the sum.
    const cmp = compare(b64ToF32(out.merged), expected, 1e-6, 1e-6);
    expect(cmp.count, describeMismatches(cmp, [H, W, C])).toBe(0);
  });

  it('runs the frame mirrored in the same frame and decodes the average of both heads (single and multi-pose)', async () => {
    const resolution = 161;
    const r = (await page.call('flipFrames', { weightsUrl: WEIGHTS, imageUrl, resolution })) as {
      plain: Pose;
      flipped: Pose;
      multi: Pose[];
      raw: HeadB64;
      merged: HeadB64;
      mergedAfterMulti: HeadB64;
      mirrored: HeadB64;
      frameInput: { data: string; shape: [number, number, number] };
      mirroredInput: { data: string; shape: [number, number, number] };
      passes: string[];
      bytes: { off: number; on: number; after: number };
    };
    // The mirrored run's input is the frame's input mirrored left to right, bit for bit.
    const [h, w, c] = r.frameInput.shape;
    const frame = b64ToF32(r.frameInput.data);
    const mirrored = b64ToF32(r.mirroredInput.data);
    const flippedBack = new Float32Array(frame.length);
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) for (let k = 0; k < c; k++) flippedBack[(y * w + x) * c + k] = mirrored[(y * w + (w - 1 - x)) * c + k]!;
    expect(compare(flippedBack, frame, 0, 0).count).toBe(0);

    // Merged heads = the CPU's average of the frame's heads (flip test off, the same input) and the mirrored run's.
    const manifest = JSON.parse(fs.readFileSync(path.join(repoRoot, 'weights', MODEL, 'model.json'), 'utf8')) as {
      heads: Record<HeadName, HeadRef>;
      outputStride: number;
    };
    const expected = mergeReference(r.raw, r.mirrored, manifest.heads);
    for (const name of Object.keys(expected) as HeadName[]) {
      const got = b64ToF32(r.merged[name].data);
      // f32 sum and halving on the GPU against float64 here.
      const cmp = compare(got, expected[name], 1e-5, 1e-5);
      expect(cmp.count, `${name}: ${describeMismatches(cmp, r.merged[name].shape)}`).toBe(0);
      // The multi-pose frame merged the same heads.
      expect(compare(b64ToF32(r.mergedAfterMulti[name].data), got, 1e-6, 1e-6).count, `${name} (multi-pose frame)`).toBe(0);
    }
    // The mirrored run sees a different picture: its heads differ from the frame's.
    expect(compare(b64ToF32(r.mirrored.heatmap.data), b64ToF32(r.raw.heatmap.data), 1e-3, 1e-3).count).toBeGreaterThan(0);

    // The single-pose decoder read the merged heads.
    const [gh, gw] = r.merged.heatmap.shape;
    const fit = computeFit('pad', 640, 474, resolution, resolution);
    const decoded = decodeSingle(b64ToF32(r.merged.heatmap.data), b64ToF32(r.merged.offsets.data), gw, gh, manifest.outputStride, fit);
    if (imageUrl.includes('coco-mini')) {
      r.flipped.keypoints.forEach((k, i) => {
        // Positions: f32 products of numbers up to ~640, so 1e-2 px; scores 1e-5.
        expect(Math.abs(k.position.x - decoded[i]!.x), `keypoint ${i} x`).toBeLessThan(1e-2);
        expect(Math.abs(k.position.y - decoded[i]!.y), `keypoint ${i} y`).toBeLessThan(1e-2);
        expect(Math.abs(k.score - decoded[i]!.score), `keypoint ${i} score`).toBeLessThan(1e-5);
      });
      // The flip test moves the pose a little, not a lot: within a grid cell (16 input px = 40 source px at 161).
      const d = medianDistance(r.plain, r.flipped, 0.3);
      console.log(`flip test at ${resolution}: median keypoint shift ${d.median.toFixed(1)} px over ${d.n} keypoints`);
      expect(d.n).toBeGreaterThan(5);
      expect(d.median).toBeLessThan(40);
    }
    expect(r.multi.length).toBeGreaterThan(0);
    for (const p of r.multi) for (const k of p.keypoints) expect(Number.isFinite(k.position.x + k.position.y + k.score)).toBe(true);

    // The profiler sees both networks, the merge and the decoder in one frame.
    const network = r.passes.filter((p) => !p.startsWith(MIRRORED_PASS_PREFIX) && p !== 'flip_average' && p !== 'decode_single');
    expect(r.passes.filter((p) => p.startsWith(MIRRORED_PASS_PREFIX)).map((p) => p.slice(MIRRORED_PASS_PREFIX.length))).toEqual(network);
    expect(r.passes.slice(-2)).toEqual(['flip_average', 'decode_single']);
    // The flip test's plan costs memory while on and gives it back when turned off.
    console.log(`GPU bytes: ${r.bytes.off} without the flip test, ${r.bytes.on} with it, ${r.bytes.after} after`);
    expect(r.bytes.on).toBeGreaterThan(r.bytes.off);
    expect(r.bytes.after).toBe(r.bytes.off);
  });
});

describe('{ longSide } and targetFps', () => {
  it('sizes the input to the photograph and finds the pose the square input finds', async () => {
    const r = (await page.call('aspectFrames', { weightsUrl: WEIGHTS, imageUrl, longSide: 257 })) as {
      aspect: Pose;
      square: Pose;
      aspectSize: { width: number; height: number };
      squareSize: { width: number; height: number };
      expected: { width: number; height: number };
      image: { width: number; height: number };
    };
    expect(r.aspectSize).toEqual(aspectResolution(257, r.image.width, r.image.height, 16));
    expect(r.aspectSize).toEqual(r.expected);
    expect(r.aspectSize).toEqual({ width: 257, height: 193 });
    expect(r.squareSize).toEqual({ width: 257, height: 257 });
    // Same scale, less padding: the keypoints land where the square input puts them, within a
    // quarter of a grid cell (16 input px = 40 source px) at the median.
    const d = medianDistance(r.aspect, r.square, 0.3);
    console.log(`aspect vs square at 257: median keypoint distance ${d.median.toFixed(1)} px over ${d.n} keypoints`);
    if (imageUrl.includes('coco-mini')) {
      expect(d.n).toBeGreaterThan(5);
      expect(d.median).toBeLessThan(10);
    }
  });

  it('holds 1 fps on SwiftShader: the largest size whose measured frame time fits, and says why', async () => {
    const sizes = [129, 193, 257];
    const r = (await page.call('targetFps', { weightsUrl: WEIGHTS, imageUrl, fps: 1, sizes, frames: 40, window: 2, longSide: 257 })) as {
      choice: TargetFpsChoice & { shape: string };
      frames: { width: number; height: number; latencyMs: number }[];
      planSizes: string[];
      expected: Record<number, { width: number; height: number }>;
      liveAfterDispose: number;
    };
    console.log(
      `targetFps 1: ${r.choice.reason} (${r.choice.switches} switches); frames ${r.frames.map((f) => `${f.width}x${f.height} ${f.latencyMs.toFixed(0)} ms`).join(', ')}`,
    );
    expect(r.choice.shape).toBe('aspect');
    expect(r.choice.budgetMs).toBe(1000);
    // Every frame ran at one of the sizes, following the photograph's aspect; the probe starts at the smallest.
    const allowed = sizes.map((s) => `${r.expected[s]!.width}x${r.expected[s]!.height}`);
    for (const f of r.frames) expect(allowed).toContain(`${f.width}x${f.height}`);
    expect(`${r.frames[0]!.width}x${r.frames[0]!.height}`).toBe(allowed[0]);
    // The last frames ran at the chosen size, which was measured and fits the budget.
    const last = r.frames[r.frames.length - 1]!;
    expect(Math.max(last.width, last.height)).toBe(r.choice.size);
    const here = r.choice.estimates.find((e) => e.size === r.choice.size)!;
    expect(here.predicted).toBe(false);
    expect(here.ms).toBeLessThanOrEqual(1000);
    // Nothing bigger is expected to fit with the controller's margin (measured, or predicted from pixels).
    // (Unless a failed up-step made it wait: a loaded machine's frame times jump.)
    const next = r.choice.estimates.find((e) => e.size > r.choice.size);
    if (next && r.choice.upBlockedFrames === 0) expect(next.ms).toBeGreaterThan(0.95 * 1000);
    expect(r.choice.reason).toMatch(
      new RegExp(
        `^${r.choice.size}: \\d+(\\.\\d)? ms at ${r.choice.size}(, \\d+(\\.\\d)?( predicted)? at \\d+| \\(the largest size\\)); budget 1000$`,
      ),
    );
    expect(r.planSizes.length).toBeLessThanOrEqual(3);
    expect(r.liveAfterDispose).toBe(0);
  });
});
