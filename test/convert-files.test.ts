/**
 * `npm run convert` and the user's files (issue 8), run as the user runs it: it writes
 * model.json and weights.bin into --out and nothing else, never removes or replaces a
 * file it did not write, refuses an --out that is a file or holds the input, fails fast
 * on paths it cannot use (a /proc path, /dev/zero), cleans up after a run killed with
 * SIGKILL, and resolves paths against the folder the command was typed in (INIT_CWD).
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { validateManifest } from '../src/model/validate.ts';
import { tinyPoseNet } from './support/onnx-graphs.ts';

const root = path.resolve(import.meta.dirname, '..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'convert-files-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const REAL_ONNX = path.join(root, 'weights', 'posenet-mobilenet-v1-075-s16.onnx');

function convert(args: string[], cwd = root): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(path.join(root, 'node_modules/.bin/tsx'), [path.join(root, 'tools/convert.ts'), ...args], {
    cwd,
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Every file under `dir` with its sha256 (folders as "name/"). */
function tree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string, rel: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        out[`${r}/`] = '';
        walk(path.join(d, e.name), r);
      } else
        out[r] = createHash('sha256')
          .update(fs.readFileSync(path.join(d, e.name)))
          .digest('hex');
    }
  };
  walk(dir, '');
  return out;
}

/** A folder with a small valid PoseNet in it; returns the ONNX path. */
function modelIn(dir: string, name = 'my.onnx'): string {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, name);
  fs.writeFileSync(file, tinyPoseNet().g.bytes());
  return file;
}

function expectOneLineFailure(r: { status: number | null; stderr: string }, message: string | RegExp): void {
  expect(r.status, r.stderr).toBe(1);
  const lines = r.stderr.trim().split('\n');
  expect(lines, r.stderr).toHaveLength(1);
  if (typeof message === 'string') expect(lines[0]).toBe(message);
  else expect(lines[0]).toMatch(message);
}

describe('convert never loses a file', () => {
  test('--out DIR keeps everything else in DIR (notes.txt, sub/x.txt) and adds model.json + weights.bin', () => {
    const dir = path.join(tmp, 'keep');
    const input = modelIn(path.join(tmp, 'keep-src'));
    fs.mkdirSync(path.join(dir, 'sub'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'my notes');
    fs.writeFileSync(path.join(dir, 'sub', 'x.txt'), 'x');
    const before = tree(dir);
    const r = convert([input, '--out', dir, '--preprocess', 'mobilenet']);
    expect(r.status, r.stderr).toBe(0);
    const after = tree(dir);
    expect(Object.keys(after).sort()).toEqual(['model.json', 'notes.txt', 'sub/', 'sub/x.txt', 'weights.bin']);
    for (const [k, v] of Object.entries(before)) expect(after[k], k).toBe(v);
    // A second conversion replaces its own two files and still nothing else.
    const again = convert([input, '--out', dir, '--preprocess', 'resnet']);
    expect(again.status, again.stderr).toBe(0);
    expect(Object.keys(tree(dir)).sort()).toEqual(['model.json', 'notes.txt', 'sub/', 'sub/x.txt', 'weights.bin']);
    expect(validateManifest(JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8')), 'model.json').preprocess.kind).toBe(
      'resnet',
    );
  });

  test('convert victim/my.onnx --out victim is refused and the ONNX stays', () => {
    const victim = path.join(tmp, 'victim');
    const input = modelIn(victim);
    fs.writeFileSync(path.join(victim, 'notes.txt'), 'mine');
    const before = tree(victim);
    const r = convert([input, '--out', victim]);
    expectOneLineFailure(
      r,
      `convert: --out ${victim}: holds the input ${input}; give the converted model (model.json + weights.bin) a folder of its own`,
    );
    expect(tree(victim)).toEqual(before);
  });

  test('--out . from a folder that holds the input (as from the repository root) is refused', () => {
    const repo = path.join(tmp, 'repo');
    modelIn(path.join(repo, 'models'), 'x.onnx');
    fs.writeFileSync(path.join(repo, 'package.json'), '{}');
    const before = tree(repo);
    const r = convert(['models/x.onnx', '--out', '.'], repo);
    expectOneLineFailure(
      r,
      'convert: --out .: holds the input models/x.onnx; give the converted model (model.json + weights.bin) a folder of its own',
    );
    expect(tree(repo)).toEqual(before);
  });

  test('--out naming an existing file is refused and the file is unchanged', () => {
    const input = modelIn(path.join(tmp, 'file-src'));
    const file = path.join(tmp, 'results.txt');
    fs.writeFileSync(file, 'precious');
    const r = convert([input, '--out', file]);
    expectOneLineFailure(r, `convert: --out ${file}: is a file, not a folder; convert writes model.json and weights.bin into a folder`);
    expect(fs.readFileSync(file, 'utf8')).toBe('precious');
  });

  test('a model.json that is not ours (a TF.js model) is not replaced; nor a weights.bin without our model.json', () => {
    const input = modelIn(path.join(tmp, 'tfjs-src'));
    const tfjs = path.join(tmp, 'tfjs-model');
    fs.mkdirSync(tfjs);
    fs.writeFileSync(path.join(tfjs, 'model.json'), '{"format":"graph-model","modelTopology":{}}');
    fs.writeFileSync(path.join(tfjs, 'weights.bin'), 'shard');
    const before = tree(tfjs);
    expectOneLineFailure(
      convert([input, '--out', tfjs]),
      `convert: --out ${tfjs}/model.json: exists and is not a posenet-webgpu manifest (convert writes model.json and weights.bin into --out); it is left alone (remove it yourself or choose another name)`,
    );
    expect(tree(tfjs)).toEqual(before);
    fs.rmSync(path.join(tfjs, 'model.json'));
    expectOneLineFailure(
      convert([input, '--out', tfjs]),
      /^convert: --out .*\/weights\.bin: exists and does not belong to an earlier conversion/,
    );
    expect(fs.readFileSync(path.join(tfjs, 'weights.bin'), 'utf8')).toBe('shard');
  });
});

describe('convert fails fast on paths it cannot use', () => {
  test('--out /proc/self/x/y: one line, no endless mkdir', () => {
    const input = modelIn(path.join(tmp, 'proc-src'));
    const r = convert([input, '--out', '/proc/self/x/y']);
    expectOneLineFailure(r, /^convert: --out \/proc\/self\/x\/y\/model\.json: cannot create the folder \/proc\/self\/x \(/);
  });

  test('an input that is a device, a folder or missing is refused by name before reading', () => {
    const out = path.join(tmp, 'dev-out');
    expectOneLineFailure(convert(['/dev/zero', '--out', out]), 'convert: /dev/zero: is a device, not a file');
    expectOneLineFailure(convert([tmp, '--out', out]), `convert: ${tmp}: is a folder, not a file`);
    expect(fs.existsSync(out)).toBe(false);
  });
});

describe('convert after a run killed with SIGKILL', () => {
  test('a conversion killed mid-run leaves temporaries that the next run removes', async () => {
    const out = path.join(tmp, 'killed');
    // The real 5 MB model: the temporaries exist from the output check until the renames.
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'tools/convert.ts'), REAL_ONNX, '--out', out], {
      cwd: root,
      stdio: 'ignore',
    });
    const temporaries = (): string[] => (fs.existsSync(out) ? fs.readdirSync(out).filter((f) => f.includes('.tmp-')) : []);
    const exited = new Promise((resolve) => child.on('close', resolve));
    let seen: string[] = [];
    for (let i = 0; i < 30_000 && !seen.length && child.exitCode === null; i++) {
      seen = temporaries();
      if (!seen.length) await new Promise((resolve) => setTimeout(resolve, 2));
    }
    child.kill('SIGKILL');
    await exited;
    expect(seen.length, 'the run was killed while its temporaries existed').toBeGreaterThan(0);
    const left = temporaries();
    expect(left.length, 'SIGKILL leaves the temporaries behind').toBeGreaterThan(0);
    for (const f of left) expect(f).toMatch(new RegExp(`^\\.(model\\.json|weights\\.bin)\\.tmp-${child.pid}-[0-9a-f]{8}$`));
    // A temporary of a live process (this one) is not touched.
    const live = `.model.json.tmp-${process.pid}-0badc0de`;
    fs.writeFileSync(path.join(out, live), '');
    const r = convert([REAL_ONNX, '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    expect(fs.readdirSync(out).sort()).toEqual([live, 'model.json', 'weights.bin'].sort());
  });

  test('hidden .NAME.tmp-* / .NAME.old-* folders an earlier convert left are removed, and only those', () => {
    const parent = path.join(tmp, 'leftovers');
    fs.mkdirSync(parent);
    const input = modelIn(path.join(tmp, 'leftover-src'));
    // A process id that is surely gone: a child that has exited.
    const dead = spawnSync(process.execPath, ['-e', '0']).pid;
    const ours = [`.m.tmp-${dead}-1a2b3c4d`, `.m.old-${dead}-99aa00ff`];
    for (const d of ours) {
      fs.mkdirSync(path.join(parent, d));
      fs.writeFileSync(path.join(parent, d, 'model.json'), '{}');
      fs.writeFileSync(path.join(parent, d, 'weights.bin'), 'w');
    }
    const kept = [`.m.tmp-${dead}-feedf00d`, `.m.old-${process.pid}-12345678`, '.m.tmp-notes'];
    fs.mkdirSync(path.join(parent, kept[0]!));
    fs.writeFileSync(path.join(parent, kept[0]!, 'thesis.tex'), 'not ours');
    fs.mkdirSync(path.join(parent, kept[1]!));
    fs.writeFileSync(path.join(parent, kept[1]!, 'model.json'), '{}');
    fs.mkdirSync(path.join(parent, kept[2]!));
    const r = convert([input, '--out', path.join(parent, 'm'), '--preprocess', 'mobilenet']);
    expect(r.status, r.stderr).toBe(0);
    expect(fs.readdirSync(parent).sort()).toEqual([...kept, 'm'].sort());
    expect(fs.readFileSync(path.join(parent, kept[0]!, 'thesis.tex'), 'utf8')).toBe('not ours');
  });
});

describe('paths are relative to the folder the command was typed in', () => {
  test('npm run convert -- in/x.onnx --out out, from another folder (npm sets INIT_CWD)', () => {
    const here = path.join(tmp, 'elsewhere');
    modelIn(path.join(here, 'in'), 'x.onnx');
    const started = Date.now();
    const npm = spawnSync('npm', ['--prefix', root, 'run', 'convert', '--', 'in/x.onnx', '--out', 'out', '--preprocess', 'mobilenet'], {
      cwd: here,
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(npm.status, npm.stderr).toBe(0);
    expect(fs.readdirSync(path.join(here, 'out')).sort()).toEqual(['model.json', 'weights.bin']);
    // Nothing was written relative to the repository (where npm runs the script).
    const inRepo = path.join(root, 'out', 'model.json');
    expect(fs.existsSync(inRepo) && fs.statSync(inRepo).mtimeMs >= started).toBe(false);
    expect(npm.stdout).toContain('convert: in/x.onnx → out/model.json + weights.bin');
  });
});
