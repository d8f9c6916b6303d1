/**
 * `npm run eval` with modes and scenarios as a user runs it (a child process through tsx):
 * its usage errors for the new flags (no browser started), and a one-image smoke run whose
 * files and summary are checked for their layout (not their figures): each mode's
 * results, the scenario's, `summary.json` rows `{ mode, resolution, AP, msPerFrame }`, the
 * Pareto chart and the report. Runs on coco-mini's first photograph, or on a generated
 * picture with a made-up annotation where ../shared/coco-mini is absent.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { png } from './support/png.ts';

const repoRoot = path.resolve(import.meta.dirname, '..');
const tsx = path.join(repoRoot, 'node_modules/.bin/tsx');
const cocoDir = path.resolve(repoRoot, '../shared/coco-mini');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function evalTool(args: string[], timeoutMs = 300_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(tsx, [path.join(repoRoot, 'tools', 'eval.ts'), ...args], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGTERM');
      reject(new Error(`eval ${args.join(' ')} did not finish in ${timeoutMs} ms\nstdout:\n${stdout}\nstderr:\n${stderr}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const show = (r: Run): string => `exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;

let tmp: string;
let data: string;

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'eval-cli-'));
  if (fs.existsSync(path.join(cocoDir, 'person_keypoints.json'))) {
    data = cocoDir;
    return;
  }
  console.log('eval-cli: ../shared/coco-mini is absent: a generated 320x240 picture with one made-up person');
  data = path.join(tmp, 'data');
  fs.mkdirSync(path.join(data, 'images'), { recursive: true });
  fs.writeFileSync(
    path.join(data, 'images', 'generated.png'),
    png(320, 240, (x, y) => (Math.abs(x - 160) < 20 && y > 40 && y < 200 ? [40, 50, 90] : [x % 256, y % 256, 160])),
  );
  const keypoints = Array.from({ length: 17 }, (_, k) => [150 + (k % 2) * 20, 50 + k * 9, 2]).flat();
  fs.writeFileSync(
    path.join(data, 'person_keypoints.json'),
    JSON.stringify({
      images: [{ id: 1, file_name: 'generated.png', width: 320, height: 240 }],
      annotations: [{ id: 1, image_id: 1, category_id: 1, keypoints, num_keypoints: 17, area: 6000, bbox: [140, 40, 40, 160], iscrowd: 0 }],
    }),
  );
});

afterAll(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe('npm run eval --modes / --scenarios', () => {
  it('names a bad mode, a WxH resolution in an aspect mode and an unknown scenario, before starting a browser', async () => {
    const cases: [string[], RegExp][] = [
      [['--modes', 'square,wide'], /^eval: unknown mode "wide" in --modes \(expected square, aspect, flip, aspect\+flip\)$/m],
      [
        ['--modes', 'aspect', '--resolutions', '513x385'],
        /^eval: mode aspect takes one number per resolution \(the long side\), not 513x385$/m,
      ],
      [['--scenarios', 'blur,fog'], /^eval: unknown scenario "fog" \(expected blur, lowlight, jpeg, rot90, rot180, small, all or none\)$/m],
      [['--repeat', '0'], /^eval: invalid --repeat "0": an integer >= 1$/m],
    ];
    for (const [args, message] of cases) {
      const r = await evalTool(['--data', data, '--out', path.join(tmp, 'never'), ...args], 60_000);
      expect(r.code, show(r)).toBe(1);
      expect(r.stderr).toMatch(message);
    }
    expect(fs.existsSync(path.join(tmp, 'never'))).toBe(false);
  });

  it('smoke run: one image at 161 in square and flip, a scenario; files, summary rows, Pareto chart, report', async () => {
    const out = path.join(tmp, 'out');
    const r = await evalTool([
      '--data',
      data,
      '--limit',
      '1',
      '--resolutions',
      '161',
      '--modes',
      'square,flip',
      '--scenarios',
      'rot90',
      '--scenario-mode',
      'aspect',
      '--tfjs-backend',
      'none',
      '--out',
      out,
    ]);
    expect(r.code, show(r)).toBe(0);
    for (const f of ['square/results-161.json', 'flip/results-161.json', 'aspect/results-161.json', 'scenarios/rot90/results-161.json']) {
      const results = JSON.parse(fs.readFileSync(path.join(out, f), 'utf8')) as { keypoints: number[] }[];
      expect(Array.isArray(results), f).toBe(true);
      for (const det of results) expect(det.keypoints).toHaveLength(51);
    }
    const summary = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8')) as {
      rows: { mode: string; resolution: string; AP: number; msPerFrame: number; inputSizes: Record<string, number> }[];
      frontier: { flip: { base: string; resolution: string }[]; pareto: unknown[] };
      degradations: { mode: string; rows: { scenario: string; resolution: string; AP: number; cleanAP: number }[] };
    };
    expect(summary.rows.map((x) => [x.mode, x.resolution])).toEqual([
      ['square', '161'],
      ['flip', '161'],
    ]);
    for (const row of summary.rows) {
      expect(row.AP).toBeGreaterThanOrEqual(0);
      expect(row.AP).toBeLessThanOrEqual(1);
      expect(row.msPerFrame).toBeGreaterThan(0);
      expect(row.inputSizes).toEqual({ '161x161': 1 });
    }
    expect(summary.frontier.flip.map((g) => [g.base, g.resolution])).toEqual([['square', '161']]);
    expect(summary.frontier.pareto.length).toBeGreaterThan(0);
    expect(summary.degradations.mode).toBe('aspect');
    expect(summary.degradations.rows.map((x) => [x.scenario, x.resolution])).toEqual([['rot90', '161']]);
    const report = fs.readFileSync(path.join(out, 'report.md'), 'utf8');
    for (const heading of ['## The speed–accuracy frontier', '### The flip test', '## Degraded photographs'])
      expect(report).toContain(heading);
    expect(fs.readFileSync(path.join(out, 'pareto.svg'), 'utf8')).toMatch(/^<svg /);
    expect(fs.readFileSync(path.join(out, 'report.html'), 'utf8')).toContain('<table>');
  });
});
