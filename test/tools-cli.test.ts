/**
 * The command-line tools as a user runs them (child processes through tsx): `infer` on
 * photographs (coco-mini, or generated pictures when ../shared/coco-mini is absent), its
 * errors for a missing file, a file that is not an image and a bad resolution, and a
 * `bench` smoke run whose JSON is checked for its schema (not its timings).
 *
 * Needs the default weights (`npm run weights`) and Chromium with WebGPU (SwiftShader is
 * fine): each tool run starts its own Vite server and browser.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { png } from './support/png.ts';

const repoRoot = path.resolve(import.meta.dirname, '..');
const tsx = path.join(repoRoot, 'node_modules/.bin/tsx');
const MODEL = 'posenet-mobilenet-v1-075-s16';
const cocoDir = path.resolve(repoRoot, '../shared/coco-mini');
const COCO_IMAGES = ['000000488571.jpg', '000000000790.jpg'];

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

function runTool(tool: 'infer' | 'bench', args: string[], timeoutMs = 150_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const child = spawn(tsx, [path.join(repoRoot, 'tools', `${tool}.ts`), ...args], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGTERM');
      reject(new Error(`${tool} ${args.join(' ')} did not finish in ${timeoutMs} ms\nstdout:\n${stdout}\nstderr:\n${stderr}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: Date.now() - t0 });
    });
  });
}

const show = (r: Run): string => `exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;

let tmp: string;
/** The two test images with their sizes, known independently of the tool. */
let images: { file: string; width: number; height: number }[];

beforeAll(() => {
  if (!fs.existsSync(path.join(repoRoot, 'weights', MODEL, 'model.json'))) {
    throw new Error(`weights/${MODEL}/model.json is missing: run \`npm run weights\``);
  }
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tools-cli-'));
  // TOOLS_CLI_GENERATED=1 takes the generated pictures even where coco-mini is present.
  if (!process.env.TOOLS_CLI_GENERATED && COCO_IMAGES.every((f) => fs.existsSync(path.join(cocoDir, 'images', f)))) {
    const coco = JSON.parse(fs.readFileSync(path.join(cocoDir, 'person_keypoints.json'), 'utf8')) as {
      images: { file_name: string; width: number; height: number }[];
    };
    images = COCO_IMAGES.map((f) => {
      const info = coco.images.find((i) => i.file_name === f)!;
      return { file: path.join(cocoDir, 'images', f), width: info.width, height: info.height };
    });
  } else {
    console.log('tools-cli: infer runs on two generated PNG pictures (../shared/coco-mini is absent or TOOLS_CLI_GENERATED is set)');
    // Square: with no person to find, low-score keypoints may land anywhere in the padded
    // square that PoseNet sees (as with TF.js), so a non-square picture's padding would
    // put them outside the image by more than the 10% margin.
    images = [
      { file: path.join(tmp, 'generated-a.png'), width: 320, height: 320 },
      { file: path.join(tmp, 'generated-b.png'), width: 200, height: 200 },
    ];
    for (const im of images) {
      fs.writeFileSync(
        im.file,
        png(im.width, im.height, (x, y) => {
          const inFigure = Math.abs(x - im.width / 2) < im.width / 10 && y > im.height / 5 && y < (im.height * 4) / 5;
          return inFigure ? [40, 50, 90] : [(x * 255) / im.width, (y * 255) / im.height, 160];
        }),
      );
    }
  }
});

afterAll(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe('npm run infer', () => {
  it('writes 17 keypoints per image inside the image, scores in [0, 1]', async () => {
    const json = path.join(tmp, 'poses.json');
    const r = await runTool('infer', [...images.map((i) => i.file), '--resolution', '257', '--json', json]);
    expect(r.code, show(r)).toBe(0);
    expect(fs.existsSync(json), 'JSON written').toBe(true);
    const out = JSON.parse(fs.readFileSync(json, 'utf8')) as { file: string; score: number; keypoints: number[][] }[];
    expect(out.map((e) => e.file)).toEqual(images.map((i) => i.file));
    for (const [n, entry] of out.entries()) {
      const { width, height } = images[n]!;
      expect(entry.score).toBeGreaterThanOrEqual(0);
      expect(entry.score).toBeLessThanOrEqual(1);
      expect(entry.keypoints).toHaveLength(17);
      for (const [k, kp] of entry.keypoints.entries()) {
        const where = `${path.basename(entry.file)} keypoint ${k}: ${JSON.stringify(kp)}`;
        expect(kp, where).toHaveLength(3);
        const [x, y, s] = kp as [number, number, number];
        expect(Number.isFinite(x) && Number.isFinite(y), where).toBe(true);
        expect(x, where).toBeGreaterThanOrEqual(-0.1 * width);
        expect(x, where).toBeLessThanOrEqual(1.1 * width);
        expect(y, where).toBeGreaterThanOrEqual(-0.1 * height);
        expect(y, where).toBeLessThanOrEqual(1.1 * height);
        expect(s, where).toBeGreaterThanOrEqual(0);
        expect(s, where).toBeLessThanOrEqual(1);
      }
      // The mean of the keypoint scores (single-pose score).
      expect(entry.score).toBeCloseTo(entry.keypoints.reduce((a, kp) => a + kp[2]!, 0) / 17, 5);
    }
    // The printed table names every part for every image.
    for (const part of ['nose', 'leftShoulder', 'rightAnkle']) expect(r.stdout.split(part).length - 1).toBe(images.length);
    for (const im of images) expect(r.stdout).toContain(im.file);
  });

  it('names a missing file, exits non-zero and writes no JSON', async () => {
    const json = path.join(tmp, 'missing.json');
    const missing = path.join(tmp, 'no-such-photo.jpg');
    const r = await runTool('infer', [images[0]!.file, missing, '--json', json]);
    expect(r.code, show(r)).not.toBe(0);
    expect(r.stderr).toContain(`infer: cannot read ${missing}: no such file`);
    expect(fs.existsSync(json)).toBe(false);
  });

  it('names a file that is not an image, exits non-zero and writes no JSON', async () => {
    const json = path.join(tmp, 'notimage.json');
    const notImage = path.join(tmp, 'notes.jpg');
    fs.writeFileSync(notImage, 'these are words, not pixels\n');
    const r = await runTool('infer', [images[0]!.file, notImage, '--json', json]);
    expect(r.code, show(r)).not.toBe(0);
    expect(r.stderr).toContain(`infer: cannot decode ${notImage} as an image`);
    expect(fs.existsSync(json)).toBe(false);
  });

  it('rejects a resolution that does not fit the output stride, naming it', async () => {
    const r = await runTool('infer', [images[0]!.file, '--resolution', '300x257']);
    expect(r.code, show(r)).not.toBe(0);
    expect(r.stderr).toContain('300x257');
    expect(r.stderr).toMatch(/k\*16\+1/);
    const bad = await runTool('infer', [images[0]!.file, '--resolution', 'big']);
    expect(bad.code, show(bad)).not.toBe(0);
    expect(bad.stderr).toContain('"big"');
  });
});

describe('npm run bench', () => {
  it('smoke run: ours and tfjs-wasm at 161, JSON rows and passes', async () => {
    const json = path.join(tmp, 'bench.json');
    const r = await runTool('bench', [
      '--resolutions',
      '161',
      '--impls',
      'ours,tfjs-wasm',
      '--models',
      MODEL,
      '--frames',
      '2',
      '--warmup',
      '1',
      '--profile-frames',
      '2',
      '--json',
      json,
    ]);
    expect(r.code, show(r)).toBe(0);
    const out = JSON.parse(fs.readFileSync(json, 'utf8')) as {
      rows: { impl: string; model: string; resolution: string; msPerFrame: number; n: number }[];
      passes: { name: string; gpuMs: number }[];
      failures: unknown[];
    };
    expect(out.failures).toEqual([]);
    expect(out.rows.map((row) => row.impl).sort()).toEqual(['ours', 'tfjs-wasm']);
    for (const row of out.rows) {
      expect(row.model).toBe(MODEL);
      expect(row.resolution).toBe('161x161');
      expect(Number.isFinite(row.msPerFrame) && row.msPerFrame > 0, JSON.stringify(row)).toBe(true);
      expect(row.n).toBe(2);
    }
    expect(out.passes.length).toBeGreaterThan(2);
    for (const p of out.passes) {
      expect(typeof p.name).toBe('string');
      expect(Number.isFinite(p.gpuMs) && p.gpuMs >= 0, JSON.stringify(p)).toBe(true);
    }
    expect(out.passes.map((p) => p.name)).toContain('preprocess');
    // The printed table: a row for 161x161 with both columns.
    expect(r.stdout).toMatch(/161x161\s+[\d.]+\s+[\d.]+ \([\d.]+\)/);
  });
});
