/**
 * tools/lib/cli.ts, the file handling every tool shares: user paths (INIT_CWD), checked
 * inputs, reserved outputs written by one rename, clean-up of what a killed run left, and
 * one-line errors.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, test } from 'vitest';
import {
  errorLine,
  fromPage,
  jsonIsOurs,
  OutputFile,
  readInputFile,
  removeStaleFolders,
  removeStaleTemporaries,
  ToolError,
  userCwd,
} from '../tools/lib/cli.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cli-lib-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const deadPid = (): number => spawnSync(process.execPath, ['-e', '0']).pid!;

describe('userCwd', () => {
  const saved = { ...process.env };
  const argv1 = process.argv[1];
  afterEach(() => {
    process.env = { ...saved };
    process.argv[1] = argv1!;
  });

  test('INIT_CWD when npm started this very script, else the process folder', () => {
    process.argv[1] = '/repo/tools/convert.ts';
    process.env.INIT_CWD = '/home/me/models';
    process.env.npm_lifecycle_script = 'tsx tools/convert.ts';
    expect(userCwd()).toBe('/home/me/models');
    // Under `npm test` a test spawning the tool inherits INIT_CWD, but npm ran another script.
    process.env.npm_lifecycle_script = 'biome check . && tsc --noEmit && vitest run';
    expect(userCwd()).toBe(process.cwd());
    delete process.env.npm_lifecycle_script;
    expect(userCwd()).toBe(process.cwd());
  });
});

describe('readInputFile', () => {
  test('refuses a missing file, a folder, a device and a file over the limit, by name', () => {
    const file = path.join(tmp, 'in.bin');
    fs.writeFileSync(file, Buffer.alloc(100, 7));
    expect(readInputFile(file, 'in.bin', 100)).toEqual(Buffer.alloc(100, 7));
    expect(() => readInputFile(file, 'in.bin', 99)).toThrow(
      new ToolError('in.bin: is 100 bytes, over the limit of 99 bytes for this input'),
    );
    expect(() => readInputFile(path.join(tmp, 'nope'), 'nope', 100)).toThrow(new ToolError('nope: no such file'));
    expect(() => readInputFile(tmp, 'tmp', 100)).toThrow(new ToolError('tmp: is a folder, not a file'));
    expect(() => readInputFile('/dev/zero', '/dev/zero', 100)).toThrow(new ToolError('/dev/zero: is a device, not a file'));
  });
});

describe('OutputFile', () => {
  test('reserve makes the folders and a temporary sibling; discard removes both; the target never half-exists', () => {
    const target = path.join(tmp, 'a', 'b', 'out.json');
    const out = OutputFile.reserve(target, 'a/b/out.json', { what: '--json', isOurs: () => false });
    const temps = fs.readdirSync(path.join(tmp, 'a', 'b'));
    expect(temps).toHaveLength(1);
    expect(temps[0]).toMatch(new RegExp(`^\\.out\\.json\\.tmp-${process.pid}-[0-9a-f]{8}$`));
    expect(fs.existsSync(target)).toBe(false);
    out.discard();
    expect(fs.existsSync(path.join(tmp, 'a'))).toBe(false);
  });

  test('write renames over an earlier output of ours; a file that is not ours is refused and left alone', () => {
    const target = path.join(tmp, 'result.json');
    fs.writeFileSync(target, '[]');
    const isOurs = jsonIsOurs((j) => Array.isArray(j));
    OutputFile.reserve(target, 'result.json', { what: '--json', isOurs }).write('[1]\n');
    expect(fs.readFileSync(target, 'utf8')).toBe('[1]\n');
    expect(fs.readdirSync(tmp).filter((f) => f.includes('.tmp-'))).toEqual([]);
    fs.writeFileSync(target, 'my notes');
    expect(() => OutputFile.reserve(target, 'result.json', { what: '--json', isOurs, notOursReason: 'is not ours' })).toThrow(
      new ToolError('--json result.json: exists and is not ours; it is left alone (remove it yourself or choose another name)'),
    );
    expect(fs.readFileSync(target, 'utf8')).toBe('my notes');
  });

  test('a path through a file, a folder as the target and /proc/self/x/y are refused at once', () => {
    const file = path.join(tmp, 'plain.txt');
    fs.writeFileSync(file, 'x');
    const opts = { what: '--out', isOurs: () => true };
    expect(() => OutputFile.reserve(path.join(file, 'y.json'), 'plain.txt/y.json', opts)).toThrow(
      new ToolError(`--out plain.txt/y.json: ${file} is a file, not a folder`),
    );
    expect(() => OutputFile.reserve(tmp, 'tmp', opts)).toThrow(new ToolError('--out tmp: is a folder, not a file it can write'));
    expect(() => OutputFile.reserve('/proc/self/x/y', '/proc/self/x/y', opts)).toThrow(
      /^--out \/proc\/self\/x\/y: cannot create the folder \/proc\/self\/x \(/,
    );
  });
});

describe('what a killed run left', () => {
  test('temporaries of dead processes are removed; those of live ones, and other names, are not', () => {
    const dir = path.join(tmp, 'temps');
    fs.mkdirSync(dir);
    const dead = deadPid();
    const names = [
      `.x.json.tmp-${dead}-0123abcd`,
      `.x.json.tmp-${process.pid}-0123abcd`,
      `.x.json.tmp-${dead}-notours`,
      `.y.json.tmp-${dead}-0123abcd`,
      'x.json',
    ];
    for (const n of names) fs.writeFileSync(path.join(dir, n), '');
    expect(removeStaleTemporaries(dir, 'x.json')).toEqual([names[0]]);
    expect(fs.readdirSync(dir).sort()).toEqual(names.slice(1).sort());
  });

  test('folders of earlier versions are removed only when they hold nothing but their outputs', () => {
    const dir = path.join(tmp, 'folders');
    fs.mkdirSync(dir);
    const dead = deadPid();
    const make = (name: string, files: string[]): void => {
      fs.mkdirSync(path.join(dir, name));
      for (const f of files) fs.writeFileSync(path.join(dir, name, f), '');
    };
    make(`.m.tmp-${dead}-abcdef01`, ['model.json', 'weights.bin']);
    make(`.m.old-${dead}-1700000000000`, ['model.json']);
    make(`.m.old-${dead}-abcdef02`, ['model.json', 'mine.txt']);
    make(`.m.tmp-${process.pid}-abcdef03`, ['model.json']);
    const ours = (n: string) => n === 'model.json' || n === 'weights.bin';
    expect(removeStaleFolders(dir, 'm', ours).sort()).toEqual([`.m.old-${dead}-1700000000000`, `.m.tmp-${dead}-abcdef01`]);
    expect(fs.readdirSync(dir).sort()).toEqual([`.m.old-${dead}-abcdef02`, `.m.tmp-${process.pid}-abcdef03`]);
  });
});

describe('errors', () => {
  test('user errors print their message; anything else one line, the stack only with POSENET_DEBUG', () => {
    expect(errorLine('convert', new ToolError('x.onnx: no such file'))).toBe('convert: x.onnx: no such file');
    const bug = new TypeError('cannot read properties of undefined\n    at f (a.ts:1:1)');
    expect(errorLine('convert', bug)).toBe(
      'convert: unexpected error: cannot read properties of undefined (a bug: POSENET_DEBUG=1 shows where)',
    );
    const e = new Error('http://h/model.json: bad');
    e.name = 'ModelLoadError';
    expect(errorLine('infer', e)).toBe('infer: http://h/model.json: bad');
  });

  test('a user error from a page (Puppeteer gives "Name: message") becomes a ToolError again', () => {
    const fromBrowser = fromPage(new Error('ModelLoadError: http://h/model.json: not valid JSON'));
    expect(fromBrowser).toBeInstanceOf(ToolError);
    expect((fromBrowser as Error).message).toBe('http://h/model.json: not valid JSON');
    const other = new Error('TypeError: x is undefined');
    expect(fromPage(other)).toBe(other);
  });
});
