/**
 * The one-archive GPU benchmark (`npm run bundle:gpu`), tested as a new user on a bare
 * machine would use it: the archive is built, unpacked with `tar -xf` into an empty folder
 * outside the repository (no node_modules above it), and `./run.sh` runs with an empty
 * environment (`env -i`): a PATH holding nothing (no node, no npm), HOME in that folder,
 * SwiftShader's Vulkan driver by VK_ICD_FILENAMES, and the archive's own Vulkan loader
 * (POSENET_VULKAN_LOADER=bundled, as on a machine without libvulkan1).
 *
 * Checked: the archive is at most 60 MiB and holds what the README says; run.sh prints the
 * bench table with `ours` and `tfjs-webgpu` rows and a header naming the adapter and its
 * driver, and writes its JSON; without a Vulkan driver it fails saying what it looked for.
 * One resolution (161) and one timed frame keep it short on SwiftShader.
 */
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { SWIFTSHADER_ICD } from '../src/node/vulkan.ts';
import { repoRoot } from './support/browser.ts';

const MAX_BYTES = 60 * 1024 * 1024;
const BUILD_TIMEOUT_MS = 40 * 60 * 1000;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Seconds from the start to the first timed row on stderr (`bench: <model> ours 161x161: ...`), or null. */
  firstRowS: number | null;
  seconds: number;
}

/** Runs ./run.sh in `dir` with exactly `env` (nothing inherited). */
function runSh(dir: string, args: string[], env: Record<string, string>): Promise<Run> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    let firstRowS: number | null = null;
    let stderr = '';
    const child = execFile('./run.sh', args, { cwd: dir, env, maxBuffer: 16 * 1024 * 1024 }, (err, stdout) => {
      resolve({
        code: err ? ((err as { code?: number }).code ?? 1) : 0,
        stdout,
        stderr,
        firstRowS,
        seconds: (performance.now() - t0) / 1000,
      });
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (firstRowS === null && /bench: \S+ ours \d+x\d+: [\d.]+ ms/.test(stderr)) firstRowS = (performance.now() - t0) / 1000;
    });
  });
}

describe('npm run bundle:gpu: the archive on a bare machine', () => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'gpu-bundle-test-'));
  const archive = path.join(work, 'posenet-gpu-bench.tar.xz');
  const unpacked = path.join(work, 'unpacked');
  const emptyPath = path.join(work, 'empty-path');
  let bundleSeconds = 0;
  let env: Record<string, string>;

  beforeAll(() => {
    const t0 = performance.now();
    execFileSync(path.join(repoRoot, 'node_modules/.bin/tsx'), ['tools/bundle-gpu.ts', '--out', archive], {
      cwd: repoRoot,
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    bundleSeconds = (performance.now() - t0) / 1000;
    fs.mkdirSync(unpacked);
    fs.mkdirSync(emptyPath);
    execFileSync('tar', ['-xf', archive], { cwd: unpacked });
    env = { PATH: emptyPath, HOME: unpacked, VK_ICD_FILENAMES: SWIFTSHADER_ICD, POSENET_VULKAN_LOADER: 'bundled' };
    console.log(`gpu-bundle: built in ${bundleSeconds.toFixed(0)} s, ${(fs.statSync(archive).size / 2 ** 20).toFixed(1)} MiB`);
    // xz -9 over 174 MiB takes a minute or two on two idle cores, far longer on a loaded machine.
  }, BUILD_TIMEOUT_MS);
  afterAll(() => {
    fs.rmSync(work, { recursive: true, force: true });
  });

  it('is at most 60 MiB and holds Node, Dawn, the bench, the weights, the loader and run.sh', () => {
    expect(fs.statSync(archive).size).toBeLessThanOrEqual(MAX_BYTES);
    for (const f of [
      'run.sh',
      'README.txt',
      'bench.mjs',
      'node/bin/node',
      'node_modules/webgpu/dist/linux-x64/dawn.node',
      'node_modules/sharp/package.json',
      'weights/posenet-mobilenet-v1-075-s16/model.json',
      'weights/posenet-mobilenet-v1-075-s16/weights.bin',
      'weights/tfjs/posenet-mobilenet-v1-075-s16/model.json',
      'images/bench.jpg',
      'lib/vulkan/libvulkan.so.1',
      'licenses/node.txt',
    ]) {
      expect(fs.existsSync(path.join(unpacked, f)), f).toBe(true);
    }
    expect(fs.statSync(path.join(unpacked, 'run.sh')).mode & 0o111).not.toBe(0);
    // Nothing of this repository is reachable from there: no node_modules above the folder, no node on PATH.
    for (let d = path.dirname(unpacked); d !== path.dirname(d); d = path.dirname(d)) {
      expect(fs.existsSync(path.join(d, 'node_modules')), `${d}/node_modules`).toBe(false);
    }
    expect(fs.readdirSync(emptyPath)).toEqual([]);
  });

  it('prints the bench table (ours, ours-untuned, tfjs-webgpu) under a header naming the adapter and driver, and writes its JSON', async () => {
    const r = await runSh(
      unpacked,
      [
        '--resolutions',
        '161',
        '--frames',
        '1',
        '--warmup',
        '1',
        '--profile-resolution',
        '161',
        '--profile-frames',
        '1',
        '--json',
        'out.json',
      ],
      env,
    );
    console.log(
      `gpu-bundle: run.sh took ${r.seconds.toFixed(0)} s; first row after ${r.firstRowS?.toFixed(1) ?? '-'} s\n${r.stdout.split('\n').slice(0, 8).join('\n')}`,
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('using the bundled Vulkan loader');
    expect(r.stdout).toMatch(/adapter: SwiftShader Device \(Subzero\) \(vulkan; google swiftshader; driver: SwiftShader driver [\d.]+\)/);
    // ours (tuned), ours-untuned (the kernels' defaults, frames alternated with ours) and the peer.
    expect(r.stdout).toMatch(/resolution\s+ours ms\s+ours-untuned ms \(ours\/untuned\)\s+tfjs-webgpu ms \(ours\/peer\)/);
    expect(r.stdout).toMatch(/161x161\s+[\d.]+\s+[\d.]+ \([\d.]+ paired\)\s+[\d.]+ \([\d.]+\)/);
    expect(r.stdout).toContain('GPU time per pass');
    const json = JSON.parse(fs.readFileSync(path.join(unpacked, 'out.json'), 'utf8')) as {
      rows: { impl: string; msPerFrame: number; poseScore: number }[];
      environment: { runtime: string };
    };
    expect(json.environment.runtime).toBe('node');
    expect(json.rows.map((row) => row.impl).sort()).toEqual(['ours', 'ours-untuned', 'tfjs-webgpu']);
    for (const row of json.rows) expect(row.msPerFrame).toBeGreaterThan(0);
    // Same photograph, same model: all three agree on the pose.
    for (const row of json.rows) expect(Math.abs(row.poseScore - json.rows[0]!.poseScore)).toBeLessThan(0.02);
  });

  it('says what it looked for when there is no Vulkan driver', async () => {
    const r = await runSh(unpacked, ['--resolutions', '161'], { ...env, VK_ICD_FILENAMES: path.join(work, 'no-such-icd.json') });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('found no WebGPU adapter');
    expect(r.stderr).toContain(`Vulkan loader: ${path.join(unpacked, 'lib/vulkan/libvulkan.so.1')}`);
    expect(r.stderr).toContain(`no ICD manifest (*.json) in VK_ICD_FILENAMES: ${path.join(work, 'no-such-icd.json')}`);
  });
});
