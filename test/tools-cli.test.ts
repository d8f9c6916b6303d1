/**
 * The command-line tools as a user runs them (child processes through tsx): `infer` on
 * photographs (coco-mini, or generated pictures when ../shared/coco-mini is absent), its
 * errors for a missing file, a file that is not an image and a bad resolution, and a
 * `bench` smoke run whose JSON is checked for its schema (not its timings), and the same
 * tools under `--runtime node` (Dawn in the tool's process; needs the Vulkan loader).
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

  it('goes on past bad images: {file, error} in the JSON and on stderr, exit 1; an oversized image is downscaled', async () => {
    const json = path.join(tmp, 'batch.json');
    const missing = path.join(tmp, 'no-such-photo.jpg');
    const notImage = path.join(tmp, 'notes.jpg');
    fs.writeFileSync(notImage, 'these are words, not pixels\n');
    // B: 8192x64, smooth (so that resampling it changes little). A: B with every pixel made
    // 2x2, 16384x128, over the GPU's 8192 texture limit: infer must halve it, which gives B
    // back, and map the keypoints to A's pixels: A's keypoints are then twice B's.
    const smooth = (x: number, y: number): [number, number, number] => {
      const figure = Math.exp(-(((x - 5200) / 300) ** 2) - ((y - 32) / 20) ** 2);
      return [Math.round(40 + 180 * figure), Math.round(90 + 60 * Math.sin(x / 700)), Math.round(160 - 100 * figure + y)];
    };
    const small = path.join(tmp, 'strip-b.png');
    const big = path.join(tmp, 'strip-a.png');
    fs.writeFileSync(small, png(8192, 64, smooth));
    fs.writeFileSync(
      big,
      png(16384, 128, (x, y) => smooth(Math.floor(x / 2), Math.floor(y / 2))),
    );
    const files = [images[0]!.file, missing, notImage, big, small];
    const r = await runTool('infer', [...files, '--json', json]);
    expect(r.code, show(r)).toBe(1);
    const out = JSON.parse(fs.readFileSync(json, 'utf8')) as {
      file: string;
      error?: string;
      keypoints?: [number, number, number][];
      width?: number;
      height?: number;
      downscaledTo?: [number, number];
    }[];
    expect(out.map((e) => e.file)).toEqual(files);
    expect(out[0]!.keypoints).toHaveLength(17);
    expect(out[1]).toEqual({ file: missing, error: 'no such file' });
    expect(out[2]!.error).toMatch(/^cannot decode as an image/);
    expect(r.stderr).toContain(`infer: ${missing}: no such file\n`);
    expect(r.stderr).toContain(`infer: ${notImage}: cannot decode as an image`);
    expect(r.stderr).toContain('infer: 3 of 5 image(s), 2 failed');
    const [a, b] = [out[3]!, out[4]!];
    expect([a.width, a.height, a.downscaledTo]).toEqual([16384, 128, [8192, 64]]);
    expect([b.width, b.height, b.downscaledTo]).toEqual([8192, 64, undefined]);
    // Tolerance: 2 px of A (1 px of B) for resampling; a different heatmap cell would be
    // off by 16 network pixels, over 500 px of A.
    for (let k = 0; k < 17; k++) {
      const [ax, ay, as] = a.keypoints![k]!;
      const [bx, by, bs] = b.keypoints![k]!;
      const where = `keypoint ${k}: A ${[ax, ay, as]}, B ${[bx, by, bs]}`;
      expect(Math.abs(ax - 2 * bx), where).toBeLessThanOrEqual(2);
      expect(Math.abs(ay - 2 * by), where).toBeLessThanOrEqual(2);
      expect(Math.abs(as - bs), where).toBeLessThanOrEqual(0.02);
    }
    expect(r.stdout).toContain(`${big} (16384x128, downscaled to 8192x64 for the GPU)`);
  });

  it('checks --json and --model before any work: one line, nothing started, nothing replaced', async () => {
    const notes = path.join(tmp, 'notes.json');
    fs.writeFileSync(notes, '{"mine": true}\n');
    const badModel = path.join(tmp, 'bad-model');
    fs.mkdirSync(badModel, { recursive: true });
    fs.writeFileSync(path.join(badModel, 'model.json'), '{ not json');
    const cases: [string[], RegExp][] = [
      [['--json', '/proc/self/x/y.json'], /^infer: --json \/proc\/self\/x\/y\.json: cannot create the folder \/proc\/self\/x \(/],
      [['--json', notes], /^infer: --json .*notes\.json: exists and is not an earlier infer output; it is left alone/],
      [['--json', tmp], /^infer: --json .*: is a folder, not a file it can write$/],
      [['--model', badModel], /^infer: .*bad-model\/model\.json: not JSON \(/],
    ];
    for (const [args, message] of cases) {
      const r = await runTool('infer', [images[0]!.file, ...args]);
      expect(r.code, show(r)).toBe(1);
      const lines = r.stderr.trim().split('\n');
      expect(lines, show(r)).toHaveLength(1);
      expect(lines[0]).toMatch(message);
      expect(r.stdout).toBe('');
    }
    expect(fs.readFileSync(notes, 'utf8')).toBe('{"mine": true}\n');
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
  it('smoke run: ours (tuned), ours-untuned and tfjs-wasm at 161: JSON rows, passes with variants, tuning, time to first pose', async () => {
    const json = path.join(tmp, 'bench.json');
    const r = await runTool(
      'bench',
      [
        '--resolutions',
        '161',
        '--impls',
        'ours,ours-untuned,tfjs-wasm',
        '--models',
        MODEL,
        '--frames',
        '2',
        '--warmup',
        '1',
        '--profile-frames',
        '2',
        '--first-pose',
        '1',
        '--json',
        json,
      ],
      900_000,
    );
    expect(r.code, show(r)).toBe(0);
    const out = JSON.parse(fs.readFileSync(json, 'utf8')) as {
      rows: { impl: string; model: string; resolution: string; msPerFrame: number; n: number; tuningMs?: number; pairedRatio?: number }[];
      passes: { impl: string; name: string; variant: string; gpuMs: number }[];
      tuning: {
        runs: {
          resolution: string;
          ms: number;
          frames: number;
          layers: { name: string; kernel: string; candidates: { variant: string; ms: number | null }[]; choice: string }[];
        }[];
      };
      firstPose: { runs: { totalMs: number }[] };
      failures: unknown[];
    };
    expect(out.failures).toEqual([]);
    expect(out.rows.map((row) => row.impl).sort()).toEqual(['ours', 'ours-untuned', 'tfjs-wasm']);
    for (const row of out.rows) {
      expect(row.model).toBe(MODEL);
      expect(row.resolution).toBe('161x161');
      expect(Number.isFinite(row.msPerFrame) && row.msPerFrame > 0, JSON.stringify(row)).toBe(true);
      expect(row.n).toBe(2);
    }
    // Tuning time is reported apart, for ours only; ours and ours-untuned ran paired.
    expect(out.rows.find((x) => x.impl === 'ours')!.tuningMs).toBeGreaterThan(0);
    expect(out.rows.find((x) => x.impl === 'ours')!.pairedRatio).toBeGreaterThan(0);
    expect(out.rows.find((x) => x.impl === 'ours-untuned')!.tuningMs).toBeUndefined();
    for (const impl of ['ours', 'ours-untuned']) {
      const passes = out.passes.filter((p) => p.impl === impl);
      expect(passes.length, impl).toBeGreaterThan(2);
      expect(passes.map((p) => p.name)).toContain('preprocess');
      for (const p of passes) {
        expect(typeof p.variant).toBe('string');
        expect(Number.isFinite(p.gpuMs) && p.gpuMs >= 0, JSON.stringify(p)).toBe(true);
      }
    }
    // Untuned runs the defaults; the tuned passes name their choices.
    expect(
      out.passes.filter((p) => p.impl === 'ours-untuned' && p.name.startsWith('pointwise')).every((p) => p.variant === 'tile16x4'),
    ).toBe(true);
    const t = out.tuning.runs[0]!;
    expect(t.resolution).toBe('161x161');
    expect(t.frames).toBeLessThanOrEqual(20);
    const pointwise = t.layers.filter((l) => l.kernel === 'pointwise');
    expect(pointwise.length).toBeGreaterThan(5);
    for (const l of t.layers) if (l.candidates.length) expect(l.candidates.map((c) => c.variant)).toContain(l.choice);
    expect(out.firstPose.runs).toHaveLength(1);
    // The printed table: a row for 161x161 with all three columns.
    expect(r.stdout).toMatch(/161x161\s+[\d.]+\s+[\d.]+ \([\d.]+ paired\)\s+[\d.]+ \([\d.]+\)/);
    expect(r.stdout).toMatch(/GPU ms per kernel, tuned \/ untuned/);
  });
});

describe('--runtime node (Dawn in the tool process, no browser)', () => {
  it('infer names the adapter and writes the same JSON format', async () => {
    const json = path.join(tmp, 'poses-node.json');
    const r = await runTool('infer', [images[0]!.file, '--runtime', 'node', '--json', json]);
    expect(r.code, show(r)).toBe(0);
    expect(r.stderr).toMatch(/infer: 1 of 1 image\(s\) on .+ \(.*driver: .+\) \(Node v[\d.]+, Dawn \(npm webgpu [\d.]+\)\)/);
    const out = JSON.parse(fs.readFileSync(json, 'utf8')) as { keypoints: number[][]; width: number; height: number }[];
    expect(out).toHaveLength(1);
    expect(out[0]!.keypoints).toHaveLength(17);
    expect([out[0]!.width, out[0]!.height]).toEqual([images[0]!.width, images[0]!.height]);
  });

  it('infer names a file that is not an image (decoded by sharp)', async () => {
    const notImage = path.join(tmp, 'notes-node.jpg');
    fs.writeFileSync(notImage, 'still not pixels\n');
    const r = await runTool('infer', [notImage, '--runtime', 'node']);
    expect(r.code, show(r)).not.toBe(0);
    expect(r.stderr).toContain(`infer: ${notImage}: cannot decode as an image (Input buffer contains unsupported image format)`);
  });

  it('bench leaves out, with the reason, a peer the runtime cannot run', async () => {
    const json = path.join(tmp, 'bench-node.json');
    const r = await runTool(
      'bench',
      [
        '--runtime',
        'node',
        '--models',
        MODEL,
        '--impls',
        'ours,tfjs-wasm',
        '--resolutions',
        '161',
        '--frames',
        '1',
        '--warmup',
        '0',
        '--profile',
        'none',
        '--json',
        json,
      ],
      540_000,
    );
    expect(r.code, show(r)).toBe(0);
    expect(r.stderr).toContain('bench: tfjs-wasm cannot run: not available under --runtime node');
    expect(r.stdout).toMatch(/adapter: .+driver: /);
    const out = JSON.parse(fs.readFileSync(json, 'utf8')) as { rows: { impl: string }[]; unavailable: { impl: string; reason: string }[] };
    expect(out.rows.map((row) => row.impl)).toEqual(['ours']);
    expect(out.unavailable.map((u) => u.impl)).toEqual(['tfjs-wasm']);
  });

  it('rejects an unknown runtime and, in the browser, an adapter name', async () => {
    const r = await runTool('infer', [images[0]!.file, '--runtime', 'deno']);
    expect(r.code, show(r)).not.toBe(0);
    expect(r.stderr).toContain('invalid --runtime "deno": expected browser or node');
    const a = await runTool('infer', [images[0]!.file, '--adapter', 'nvidia']);
    expect(a.code, show(a)).not.toBe(0);
    expect(a.stderr).toContain('--adapter "nvidia": in the browser runtime an adapter is chosen by power preference');
  });
});
