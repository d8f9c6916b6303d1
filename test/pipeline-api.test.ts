/**
 * The runtime's contract beyond numbers: no GPU object is created per frame after warm-up,
 * GPU memory returns to the same figure at the same resolution, everything is released
 * by dispose(), and bad weights or resolutions are refused with errors that name the
 * problem. Shape rules are checked in Node on the real manifest.
 */
import fs from 'node:fs';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { Manifest } from '../src/model/manifest.ts';
import { checkResolution, inferShapes, snapResolution } from '../src/plan/shapes.ts';
import { repoRoot } from './support/browser.ts';
import { openHarness, type HarnessPage } from './support/harness-page.ts';

const MODEL = 'posenet-mobilenet-v1-075-s16';
const MODEL_DIR = path.join(repoRoot, 'weights', MODEL);
const COCO_IMAGE = path.resolve(repoRoot, '../shared/coco-mini/images/000000535506.jpg');

function readManifest(): Manifest {
  const file = path.join(MODEL_DIR, 'model.json');
  if (!fs.existsSync(file)) throw new Error(`${file} is missing: run \`npm run weights\``);
  return JSON.parse(fs.readFileSync(file, 'utf8')) as Manifest;
}

describe('resolution rules (Node)', () => {
  it('accepts k*stride+1 from 129 to 1025, square or not, and refuses the rest by name', () => {
    for (const [w, h] of [
      [129, 129],
      [257, 257],
      [513, 385],
      [1025, 1025],
      [161, 801],
    ]) {
      expect(() => checkResolution(w!, h!, 16)).not.toThrow();
    }
    expect(() => checkResolution(100, 100, 16)).toThrow(
      /invalid resolution 100x100: width 100 must be an integer k\*16\+1 between 129 and 1025/,
    );
    expect(() => checkResolution(0, 0, 16)).toThrow(/invalid resolution 0x0/);
    expect(() => checkResolution(5000, 5000, 16)).toThrow(/invalid resolution 5000x5000: width 5000/);
    expect(() => checkResolution(257, 260, 16)).toThrow(/height 260/);
    expect(() => checkResolution(257.5, 257, 16)).toThrow(/width 257.5/);
    expect(() => checkResolution(265, 265, 8)).not.toThrow();
    expect(() => checkResolution(257, 257, 32)).not.toThrow();
    expect(() => checkResolution(241, 241, 32)).toThrow(/k\*32\+1/);
    expect(snapResolution(250, 16)).toBe(257);
    expect(snapResolution(90, 16)).toBe(129);
    expect(snapResolution(5000, 16)).toBe(1025);
  });

  it('infers the real model shapes: grid (size - 1) / 16 + 1, 24 to 384 channels, heads of 120', () => {
    const manifest = readManifest();
    for (const [w, h] of [
      [161, 161],
      [257, 257],
      [513, 385],
      [801, 801],
    ] as const) {
      const s = inferShapes(manifest, w, h);
      expect(s.grid).toEqual({ w: (w - 1) / 16 + 1, h: (h - 1) / 16 + 1 });
      const first = s.layers[0]!;
      expect(first.output).toMatchObject({ w: (w - 1) / 2 + 1, h: (h - 1) / 2 + 1, c: 24 });
      expect(first.pads).toEqual([1, 1, 1, 1]);
      expect(s.tensors.get('heads')).toMatchObject({ c: 120, c4: 30 });
    }
  });
});

describe('runtime contract in Chromium (WebGPU)', () => {
  let harness: HarnessPage;
  const badDir = path.join(repoRoot, 'test-output', 'bad-weights');

  beforeAll(async () => {
    readManifest();
    harness = await openHarness();
    // Broken copies of the real weights, served by Vite from the repository root.
    fs.rmSync(badDir, { recursive: true, force: true });
    const manifestText = fs.readFileSync(path.join(MODEL_DIR, 'model.json'), 'utf8');
    const weights = fs.readFileSync(path.join(MODEL_DIR, 'weights.bin'));
    const make = (name: string, files: Record<string, string | Buffer>) => {
      fs.mkdirSync(path.join(badDir, name), { recursive: true });
      for (const [f, content] of Object.entries(files)) fs.writeFileSync(path.join(badDir, name, f), content);
    };
    make('not-json', { 'model.json': manifestText.slice(0, 200), 'weights.bin': weights });
    const m = JSON.parse(manifestText) as Manifest;
    make('bad-layer', {
      'model.json': JSON.stringify({ ...m, layers: m.layers.map((l, i) => (i === 3 ? { ...l, kind: 'softmax' } : l)) }),
      'weights.bin': weights,
    });
    make('bad-channels', {
      'model.json': JSON.stringify({ ...m, layers: m.layers.map((l, i) => (i === 2 ? { ...l, inChannels: 25 } : l)) }),
      'weights.bin': weights,
    });
    make('no-weights', { 'model.json': manifestText });
    make('short-weights', { 'model.json': manifestText, 'weights.bin': weights.subarray(0, weights.length - 64) });
    const flipped = Buffer.from(weights);
    flipped[100] = flipped[100]! ^ 0xff;
    make('corrupt-weights', { 'model.json': manifestText, 'weights.bin': flipped });
  });
  afterAll(async () => {
    await harness?.close();
    fs.rmSync(badDir, { recursive: true, force: true });
  });

  it('creates no buffer, bind group, pipeline or shader module per frame after warm-up; memory returns; nothing leaks', async () => {
    const imageUrl = fs.existsSync(COCO_IMAGE) ? '/coco-mini/images/000000535506.jpg' : 'synthetic:480x640';
    const r = (await harness.call('allocations', { weightsUrl: `/weights/${MODEL}`, imageUrl, resolution: 257, frames: 4 })) as {
      counts: Record<string, Record<string, number>>;
      bytesBefore: number;
      bytesAfter: number;
      liveAfterDispose: number;
    };
    console.log('creations in 4 frames after warm-up:', JSON.stringify(r.counts), 'GPU bytes', r.bytesBefore, '->', r.bytesAfter);
    expect(r.counts.plain).toEqual({});
    expect(r.counts.profiling).toEqual({});
    expect(r.bytesAfter).toBe(r.bytesBefore);
    expect(r.liveAfterDispose).toBe(0);
  });

  it('across input sizes ({ longSide }, flip test): plans cached and bounded, nothing built per frame, memory returns', async () => {
    // Six aspect ratios at long side 257: 257x193, 193x257, 257x145, 257x257, 129x257, 257x129.
    const aspects: [number, number][] = [
      [640, 480],
      [480, 640],
      [640, 360],
      [500, 500],
      [300, 600],
      [1024, 400],
    ];
    const r = (await harness.call('allocationsAcrossSizes', { weightsUrl: `/weights/${MODEL}`, longSide: 257, aspects, frames: 4 })) as {
      video: Record<string, number>;
      videoSize: { width: number; height: number };
      alternating: Record<string, number>;
      multiAlternating: Record<string, number>;
      flipVideo: Record<string, number>;
      sizesSeen: string[];
      heldPerCycle: string[][];
      bytesPerCycle: number[];
      bytes: { fixed: number; beforeFlip: number; withFlip: number; afterFlip: number; fixedAgain: number };
      heldFixed: string[];
      liveAfterDispose: number;
    };
    console.log('across sizes:', JSON.stringify(r));
    expect(r.videoSize).toEqual({ width: 257, height: 193 });
    expect(r.video).toEqual({});
    expect(r.alternating).toEqual({});
    expect(r.multiAlternating).toEqual({});
    expect(r.flipVideo).toEqual({});
    expect(r.sizesSeen.sort()).toEqual(['129x257', '193x257', '257x129', '257x145', '257x193', '257x257']);
    // PLAN_CACHE_CAPACITY (4) plans at most; the second cycle holds the same sizes and bytes as the first.
    for (const held of r.heldPerCycle) expect(held.length).toBe(4);
    expect(r.heldPerCycle[1]).toEqual(r.heldPerCycle[0]);
    expect(r.bytesPerCycle[1]).toBe(r.bytesPerCycle[0]);
    expect(r.bytes.withFlip).toBeGreaterThan(r.bytes.beforeFlip);
    expect(r.bytes.afterFlip).toBe(r.bytes.beforeFlip);
    // Back at the fixed size: its one plan, and the bytes it held before (the source texture grew to the largest source).
    expect(r.heldFixed).toEqual(['257x257']);
    expect(r.bytes.fixedAgain - r.bytes.fixed).toBe(4 * (1024 * 640 - 640 * 480));
    expect(r.liveAfterDispose).toBe(0);
  });

  const cases: [string, RegExp][] = [
    ['not-json', /bad-weights\/not-json\/model\.json: not valid JSON/],
    ['bad-layer', /bad-weights\/bad-layer\/model\.json.*softmax/i],
    ['bad-channels', /bad-weights\/bad-channels\/model\.json.*(channel|25)/i],
    ['no-weights', /bad-weights\/no-weights\/weights\.bin: cannot fetch the weights \(HTTP 404/],
    ['short-weights', /bad-weights\/short-weights\/weights\.bin.*(bytes|size|short)/i],
    ['corrupt-weights', /bad-weights\/corrupt-weights\/weights\.bin: sha256 .* does not match/],
  ];
  for (const [name, pattern] of cases) {
    it(`refuses weights: ${name}`, async () => {
      const message = (await harness.call('loadError', { weightsUrl: `/test-output/bad-weights/${name}`, resolution: 257 })) as
        | string
        | null;
      console.log(`${name}: ${message}`);
      expect(message).toMatch(pattern);
    });
  }

  for (const resolution of [100, 0, 5000]) {
    it(`refuses resolution ${resolution}`, async () => {
      const message = (await harness.call('loadError', { weightsUrl: `/weights/${MODEL}`, resolution })) as string | null;
      expect(message).toMatch(new RegExp(`invalid resolution ${resolution}x${resolution}`));
    });
  }
});
