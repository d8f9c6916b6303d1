/**
 * build-lib (`npm run build:lib`, and `npm pack` / `npm publish` through `prepack`): builds
 * lib/, the npm package's code, from src/.
 *
 *   lib/index.js        `posenet-webgpu`: src/index.ts bundled into one ES module (the WGSL
 *                       is TS modules, so it is inlined), with the worker's code inlined
 *                       too (src/worker/spawn.ts is replaced by a blob: URL starter)
 *   lib/worker.js       `posenet-webgpu/worker`: the same worker as a file, for pages whose
 *                       Content-Security-Policy forbids blob: workers
 *   lib/types/          .d.ts files (tsc) for src/index.ts and what it exports
 *   lib/build-info.json what was built, from what
 *
 * It checks that the default model the code points at (src/default-weights.ts) is in
 * weights/ and matches its manifest, since the package carries it (package.json `files`).
 * lib/ is replaced whole (tools/lib/output-dir.ts), and only if this tool made it.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';
import { folderBytes, writeOutputDir } from './lib/output-dir.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const LIB = path.join(repoRoot, 'lib');
const TARGET = 'es2022';

class BuildError extends Error {
  override name = 'BuildError';
}

const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { name: string; version: string };
const banner = `/*! ${pkg.name} ${pkg.version} | code: MIT | default model weights: Google's PoseNet, Apache-2.0 (see NOTICE) */`;

/** The files `src/default-weights.ts` points at, relative to the repository (and the package). */
export function defaultWeightFiles(): string[] {
  const source = fs.readFileSync(path.join(repoRoot, 'src/default-weights.ts'), 'utf8');
  const files = [...source.matchAll(/new URL\('\.\.\/([^']+)', import\.meta\.url\)/g)].map((m) => m[1]!);
  if (files.length !== 2)
    throw new BuildError(`src/default-weights.ts: expected two new URL('../weights/...') literals, found ${files.length}`);
  return files;
}

function checkDefaultWeights(): string[] {
  const files = defaultWeightFiles();
  for (const f of files) {
    if (!fs.existsSync(path.join(repoRoot, f)))
      throw new BuildError(`${f}: missing (the package carries the default model): run \`npm run weights\``);
  }
  const manifestFile = files.find((f) => f.endsWith('model.json'));
  const weightsFile = files.find((f) => !f.endsWith('model.json'));
  if (!manifestFile || !weightsFile)
    throw new BuildError(`src/default-weights.ts: needs a model.json and a weights file, has ${files.join(', ')}`);
  const manifest = JSON.parse(fs.readFileSync(path.join(repoRoot, manifestFile), 'utf8')) as { weights?: { sha256?: string } };
  const sha = createHash('sha256')
    .update(fs.readFileSync(path.join(repoRoot, weightsFile)))
    .digest('hex');
  if (manifest.weights?.sha256 !== sha) {
    throw new BuildError(`${weightsFile}: sha256 ${sha} is not the one ${manifestFile} records: run \`npm run weights -- --force\``);
  }
  return files;
}

/** Replaces src/worker/spawn.ts with a starter for the worker's code, inlined as a string. */
function inlineWorker(workerCode: string): Plugin {
  return {
    name: 'inline-worker',
    setup(b) {
      b.onLoad({ filter: /[\\/]src[\\/]worker[\\/]spawn\.ts$/ }, () => ({
        loader: 'ts',
        contents: `
const WORKER_SOURCE = ${JSON.stringify(workerCode)};
/** Starts the worker from its code inlined above (a blob: URL): nothing to host or copy. */
export function spawnPoseNetWorker(): Worker {
  const url = URL.createObjectURL(new Blob([WORKER_SOURCE], { type: 'text/javascript' }));
  const worker = new Worker(url, { name: 'posenet-webgpu' });
  // Once the worker has run its script (it answers, or fails), the URL has served.
  const revoke = () => URL.revokeObjectURL(url);
  worker.addEventListener('message', revoke, { once: true });
  worker.addEventListener('error', revoke, { once: true });
  return worker;
}
`,
      }));
    },
  };
}

/**
 * Deletes the .d.ts files that the entry's declarations do not reach (tsc declares every
 * module of the program, e.g. each shader's WGSL text as a string literal type).
 */
function pruneTypes(typesDir: string, entry: string): void {
  const reached = new Set<string>();
  const visit = (file: string) => {
    if (reached.has(file)) return;
    reached.add(file);
    const text = fs.readFileSync(file, 'utf8');
    for (const m of text.matchAll(/(?:from\s+|import\()['"](\.{1,2}\/[^'"]+)['"]/g)) {
      const target = path.resolve(path.dirname(file), m[1]!).replace(/\.(ts|js)$/, '.d.ts');
      if (!fs.existsSync(target)) throw new BuildError(`${path.relative(typesDir, file)}: imports ${m[1]}, which tsc did not declare`);
      visit(target);
    }
  };
  visit(path.join(typesDir, entry));
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) {
        walk(p);
        if (fs.readdirSync(p).length === 0) fs.rmdirSync(p);
      } else if (!reached.has(p)) fs.rmSync(p);
    }
  };
  walk(typesDir);
}

async function buildInto(dir: string): Promise<Record<string, number>> {
  // The worker: one self-contained classic script (no imports), so that it runs from a
  // blob: URL or a file, as a classic or a module worker.
  const worker = await build({
    entryPoints: [path.join(repoRoot, 'src/worker/worker-main.ts')],
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: TARGET,
    minify: true,
    write: false,
    logLevel: 'warning',
    banner: { js: banner },
  });
  const workerCode = worker.outputFiles[0]!.text;
  fs.writeFileSync(path.join(dir, 'worker.js'), workerCode);

  await build({
    entryPoints: { index: path.join(repoRoot, 'src/index.ts') },
    outdir: dir,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: TARGET,
    // Readable: the user's bundler minifies.
    minify: false,
    logLevel: 'warning',
    banner: { js: banner },
    plugins: [inlineWorker(workerCode)],
  });
  const index = fs.readFileSync(path.join(dir, 'index.js'), 'utf8');
  if (index.includes('worker-main.ts'))
    throw new BuildError('lib/index.js still starts the worker from worker-main.ts: the inline-worker plugin did not apply');
  if (!index.includes('new URL("../weights/'))
    throw new BuildError('lib/index.js lost the new URL("../weights/...", import.meta.url) literals');

  execFileSync(
    process.execPath,
    [path.join(repoRoot, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.lib.json', '--outDir', path.join(dir, 'types')],
    {
      cwd: repoRoot,
      stdio: 'inherit',
    },
  );
  if (!fs.existsSync(path.join(dir, 'types/src/index.d.ts'))) throw new BuildError('tsc wrote no lib/types/src/index.d.ts');
  pruneTypes(path.join(dir, 'types'), 'src/index.d.ts');
  return {
    'index.js': fs.statSync(path.join(dir, 'index.js')).size,
    'worker.js': workerCode.length,
    types: folderBytes(path.join(dir, 'types')),
  };
}

async function main(): Promise<void> {
  const t0 = Date.now();
  const weights = checkDefaultWeights();
  let sizes: Record<string, number> = {};
  await writeOutputDir(
    LIB,
    { file: 'build-info.json', producer: 'posenet-webgpu tools/build-lib.ts' },
    { version: pkg.version, defaultWeights: weights },
    async (dir) => {
      sizes = await buildInto(dir);
    },
  );
  for (const [name, bytes] of Object.entries(sizes)) console.log(`build-lib: lib/${name} ${(bytes / 1024).toFixed(1)} KiB`);
  console.log(`build-lib: done in ${((Date.now() - t0) / 1000).toFixed(1)} s; the package also carries ${weights.join(', ')}`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err: Error) => {
    console.error(`build-lib: ${err instanceof BuildError || err.name === 'OutputDirError' ? err.message : (err.stack ?? err.message)}`);
    process.exit(1);
  });
}
