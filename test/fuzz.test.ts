/**
 * Fuzz test: seeded mutations of the real ONNX PoseNet (bytes: cut, bits flipped, spans
 * zeroed; graph: values set to NaN / ±Inf / huge, conv attributes changed, nodes duplicated,
 * removed or rewired, op types changed, a Div by zero) through the converter, and of its
 * manifest and weights.bin (values replaced, huge geometry, 1e999, 100,000-deep nesting,
 * weights.file outside the folder, duplicate layer names, cut or flipped text, NaN weights)
 * through the runtime's loader. test/support/fuzz-runner.ts runs the cases in a child
 * process and says what each must end in: a valid result or a one-line error that names
 * the file; never a hang, an unexpected exception, a write outside the output, or a
 * changed or deleted file.
 *
 * Bounded in count (FUZZ_CASES per kind, default 60) and in time: each case must end
 * within CASE_TIMEOUT_MS (a hang is killed and reported), and no new case starts after
 * FUZZ_BUDGET_S seconds (default 150); at least MIN_CASES per kind must have run. The seed
 * is FUZZ_SEED (default 8); FUZZ_ONLY=onnx:12 replays one case. Prints the count of cases
 * per outcome and per mutation.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { CaseLine, FuzzConfig } from './support/fuzz-runner.ts';
import { onnxCase } from './support/fuzz-cases.ts';

const repoRoot = path.resolve(import.meta.dirname, '..');
const MODEL = 'posenet-mobilenet-v1-075-s16';
const onnxPath = path.join(repoRoot, 'weights', `${MODEL}.onnx`);
const convertedDir = path.join(repoRoot, 'weights', MODEL);

const SEED = Number(process.env.FUZZ_SEED ?? 8);
const CASES = Number(process.env.FUZZ_CASES ?? 60);
const BUDGET_MS = Number(process.env.FUZZ_BUDGET_S ?? 150) * 1000;
/** A conversion of the 5 MB model takes about 0.2 s here; 20 s is a hang, even on a loaded machine. */
const CASE_TIMEOUT_MS = 20_000;
const MIN_CASES = Math.min(CASES, 15);

let root: string;
beforeAll(() => {
  for (const f of [onnxPath, path.join(convertedDir, 'model.json')]) {
    if (!fs.existsSync(f)) throw new Error(`${path.relative(repoRoot, f)} is missing: run \`npm run weights\``);
  }
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'fuzz-'));
});
afterAll(() => {
  if (root) fs.rmSync(root, { recursive: true, force: true });
});

interface Hang {
  kind: string;
  index: number;
}

/** Runs `cases` in runner processes; a case that outlives CASE_TIMEOUT_MS is killed and recorded. */
async function runCases(cases: FuzzConfig['cases'], deadline: number): Promise<{ lines: CaseLine[]; hangs: Hang[]; stopped: number }> {
  const lines: CaseLine[] = [];
  const hangs: Hang[] = [];
  let todo = [...cases];
  while (todo.length && Date.now() < deadline) {
    const config: FuzzConfig = { seed: SEED, onnxPath, convertedDir, root: path.join(root, 'cases'), cases: todo };
    fs.mkdirSync(config.root, { recursive: true });
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'test/support/fuzz-runner.ts'), JSON.stringify(config)], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    let current: Hang | null = null;
    let timer: NodeJS.Timeout | undefined;
    let hung = false;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        hung = true;
        child.kill('SIGKILL');
      }, CASE_TIMEOUT_MS);
    };
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    for await (const text of readline.createInterface({ input: child.stdout })) {
      const line = JSON.parse(text) as CaseLine | { event: 'start'; kind: string; index: number };
      if (line.event === 'start') {
        if (Date.now() >= deadline) {
          child.kill('SIGKILL');
          break;
        }
        current = { kind: line.kind, index: line.index };
        arm();
      } else {
        clearTimeout(timer);
        lines.push(line);
        todo = todo.filter((c) => !(c.kind === line.kind && c.index === line.index));
        current = null;
      }
    }
    clearTimeout(timer);
    const code = await exited;
    if (current && hung) {
      hangs.push(current);
      todo = todo.filter((c) => !(c.kind === current!.kind && c.index === current!.index));
    } else if (todo.length && Date.now() < deadline) {
      throw new Error(`the fuzz runner stopped (exit ${code}) before finishing its cases:\n${stderr}`);
    }
  }
  return { lines, hangs, stopped: todo.length };
}

function only(): FuzzConfig['cases'] | null {
  const m = /^(onnx|manifest):(\d+)$/.exec(process.env.FUZZ_ONLY ?? '');
  return m ? [{ kind: m[1] as 'onnx' | 'manifest', index: Number(m[2]) }] : null;
}

describe('fuzz', () => {
  test(`seeded mutations of the real ONNX and of its manifest end in a result or a one-line error (seed ${SEED})`, async () => {
    const started = Date.now();
    const cases: FuzzConfig['cases'] = only() ?? [];
    if (!cases.length) {
      // Interleaved, so that a cut budget still covers both kinds.
      for (let i = 0; i < CASES; i++) cases.push({ kind: 'onnx', index: i }, { kind: 'manifest', index: i });
    }
    const { lines, hangs, stopped } = await runCases(cases, started + BUDGET_MS);
    const seconds = ((Date.now() - started) / 1000).toFixed(1);

    const table = new Map<string, number>();
    const byMutation = new Map<string, Map<string, number>>();
    for (const l of lines) {
      const key = `${l.kind} ${l.outcome}`;
      table.set(key, (table.get(key) ?? 0) + 1);
      const kind = l.mutation.replace(/ \(.*$/, '');
      const m = byMutation.get(kind) ?? new Map<string, number>();
      m.set(l.outcome, (m.get(l.outcome) ?? 0) + 1);
      byMutation.set(kind, m);
    }
    const slowest = [...lines].sort((a, b) => b.ms - a.ms)[0];
    console.log(
      [
        `fuzz (seed ${SEED}): ${lines.length} cases in ${seconds} s, ${hangs.length} hung, ${stopped} not run (time budget)`,
        ...[...table].sort().map(([k, n]) => `  ${k}: ${n}`),
        '  by mutation:',
        ...[...byMutation]
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([k, m]) => `    ${k}: ${[...m].map(([o, n]) => `${n} ${o}`).join(', ')}`),
        slowest ? `  slowest: ${slowest.kind} ${slowest.index} (${slowest.mutation}) ${slowest.ms.toFixed(0)} ms` : '',
        '  examples of refusals:',
        ...['onnx', 'manifest'].flatMap((k) =>
          lines
            .filter((l) => l.kind === k && l.outcome === 'refused')
            .slice(0, 4)
            .map((l) => `    ${l.message.slice(0, 220)}`),
        ),
      ].join('\n'),
    );

    const problems = lines.filter((l) => l.outcome === 'problem');
    const report = problems.map((l) => `${l.kind} ${l.index} (${l.mutation}): ${l.problems.join('; ')} [${l.message.slice(0, 300)}]`);
    expect(report, 'cases with a problem').toEqual([]);
    expect(hangs, `cases that did not end within ${CASE_TIMEOUT_MS} ms`).toEqual([]);
    if (!only()) {
      for (const kind of ['onnx', 'manifest']) {
        expect(lines.filter((l) => l.kind === kind).length, `${kind} cases run within the budget`).toBeGreaterThanOrEqual(MIN_CASES);
      }
      // The mutations are meant to break things: most must be refused, and some get through.
      expect(lines.filter((l) => l.outcome === 'refused').length).toBeGreaterThan(lines.length / 3);
    }
    // The scratch folder holds nothing but what the runner made and removed.
    expect(fs.readdirSync(path.join(root, 'cases'))).toEqual([]);
  });

  test('the convert CLI prints one line and exits 1 for fuzzed models it refuses', () => {
    const source = fs.readFileSync(onnxPath);
    const dir = path.join(root, 'cli');
    fs.mkdirSync(dir);
    let tried = 0;
    for (let index = 0; tried < 3 && index < 50; index++) {
      const c = onnxCase(source, SEED, index);
      if (!c.mutation.includes('Div by zero') && !c.mutation.includes('conv attribute') && !c.mutation.startsWith('bytes: cut')) continue;
      tried++;
      const input = path.join(dir, `case-${index}.onnx`);
      fs.writeFileSync(input, c.bytes);
      const r = spawnSync(
        process.execPath,
        ['--import', 'tsx', path.join(repoRoot, 'tools/convert.ts'), input, '--out', path.join(dir, `out-${index}`)],
        {
          cwd: repoRoot,
          encoding: 'utf8',
          timeout: 60_000,
        },
      );
      const where = `${c.mutation}: exit ${r.status}\n${r.stderr}`;
      if (r.status === 0) continue; // a mutation that still converts (e.g. pads within bounds) is fine
      expect(r.status, where).toBe(1);
      const lines = r.stderr.trim().split('\n');
      expect(lines, where).toHaveLength(1);
      expect(lines[0], where).toMatch(new RegExp(`^convert: ${input.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: `));
      expect(fs.existsSync(path.join(dir, `out-${index}`)), where).toBe(false);
    }
    expect(tried).toBe(3);
  });
});
