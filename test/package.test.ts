/**
 * The npm package as a new user gets it. `npm pack` (which builds lib/ through prepack);
 * then, in an empty folder outside the repository: install the tarball offline (it has no
 * dependencies, so no registry is needed); bundle a ten-line page that imports
 * `posenet-webgpu` with esbuild and, separately, with Vite; use the package unbundled
 * through an import map (with the worker started from `posenet-webgpu/worker`); serve each
 * with a plain static server (python3 -m http.server); and in Chromium get the single pose
 * of a coco-mini photograph (esbuild: on the page's thread and in worker mode). Each must equal the repository's own pose of the same file (run from
 * src/ through the Vite dev server) within test/support/same-pose.ts's bound (1e-3 px,
 * 1e-4 in score): the same kernels on the same bytes; in practice identical.
 *
 * esbuild leaves `new URL('../weights/…', import.meta.url)` alone, so its site gets the
 * copy step the README gives (the package's weights/ beside the bundle's folder); Vite
 * copies the two files itself. A TypeScript file type-checks against the package's .d.ts.
 *
 * `posenet-webgpu/node`: without its optional peers (`webgpu`, `sharp`) each use says in one
 * line what to install; in a second folder with the peers installed offline from the npm
 * cache, a ten-line script decodes the photograph with the package's decodeImage and gets
 * its single pose on Dawn (SwiftShader's Vulkan driver), which must equal the repository's
 * own Node result (src/node/index.ts in this process) within the same bound.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser } from 'puppeteer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_MODEL_NAME } from '../src/default-weights.ts';
import type { Pose } from '../src/pose/types.ts';
import type { WorkerPage } from './pages/worker.ts';
import { collectPageErrors, repoRoot } from './support/browser.ts';
import { openTestPage, type TestPage } from './support/harness-page.ts';
import { expectSamePose, poseDifference } from './support/same-pose.ts';
import { type StaticServer, startStaticServer } from './support/static-server.ts';
import { NODE_PEERS } from '../src/node/peers.ts';
import { SWIFTSHADER_ICD } from '../src/node/vulkan.ts';
import { writeLockSubset } from './support/lock-subset.ts';
import { scopedNodeDevice } from './support/node-gpu.ts';

/** The model the package carries (the default weight format's). */
const MODEL = DEFAULT_MODEL_NAME;
const PHOTO = path.resolve(repoRoot, '../shared/coco-mini/images/000000084533.jpg');
const RESOLUTION = 257;

/** The ten-line page: the same file for every build. */
const MAIN_JS = `import { createPoseNet } from 'posenet-webgpu';

const worker = new URLSearchParams(location.search).has('worker');
const image = new Image();
image.src = 'photo.jpg';
await image.decode();
const net = await createPoseNet({ resolution: ${RESOLUTION}, worker });
if (!worker) net.device.onuncapturederror = (e) => console.error(\`WebGPU: \${e.error.message}\`);
window.pose = await net.estimateSinglePose(image);
await net.dispose();
`;

/** Worker mode with the worker started from `posenet-webgpu/worker` (lib/worker.js) rather than the inlined one. */
const FILE_WORKER_JS = `import { createPoseNet } from 'posenet-webgpu';

const image = new Image();
image.src = 'photo.jpg';
await image.decode();
const worker = new Worker('./node_modules/posenet-webgpu/lib/worker.js');
const net = await createPoseNet({ resolution: ${RESOLUTION}, worker });
window.pose = await net.estimateSinglePose(image);
await net.dispose();
`;

/** What a TypeScript user writes; the @ts-expect-error lines fail if the types are missing (any). */
const TYPED_TS = `import { createPoseNet, type Pose, type PoseNet, type WorkerPoseNet } from 'posenet-webgpu';

export async function run(image: HTMLImageElement): Promise<number> {
  const net: PoseNet = await createPoseNet({ resolution: 257 });
  const inWorker: WorkerPoseNet = await createPoseNet({ worker: true, weights: '/models/mine/' });
  const pose: Pose = await net.estimateSinglePose(image, { flipHorizontal: true });
  // @ts-expect-error a score is a number
  const wrong: string = pose.score;
  // @ts-expect-error no such option
  await createPoseNet({ resolutoin: 257 });
  const stats = await inWorker.profiler.stats();
  net.dispose();
  await inWorker.dispose();
  return pose.keypoints.length + stats.length + wrong.length;
}
`;

/** The ten-line Node script (README "Use it in your app", Node). */
const NODE_JS = `import { createPoseNet, decodeImage } from 'posenet-webgpu/node';

const image = await decodeImage(process.argv[2]);
const net = await createPoseNet({ resolution: ${RESOLUTION} });
net.device.onuncapturederror = (e) => console.error(\`WebGPU: \${e.error.message}\`);
const pose = await net.estimateSinglePose(image);
console.log(JSON.stringify(pose));
net.dispose();
net.device.destroy();
`;

/** Each use of a missing peer, one line per use. */
const MISSING_PEERS_JS = `import { createPoseNet, decodeImage } from 'posenet-webgpu/node';

for (const use of [() => createPoseNet(), () => decodeImage('photo.jpg')]) {
  await use().then(() => console.log('no error'), (e) => console.log(\`\${e.name}: \${e.message}\`));
}
`;

/** A TypeScript Node user's code, against posenet-webgpu/node's .d.ts. */
const TYPED_NODE_TS = `import { createPoseNet, decodeImage, listAdapters, MissingPeerError, type PoseNet } from 'posenet-webgpu/node';

export async function run(file: string): Promise<number> {
  const adapters = await listAdapters();
  const net: PoseNet = await createPoseNet({ resolution: 257, adapter: adapters[0]?.name });
  const pose = await net.estimateSinglePose(await decodeImage(file));
  // @ts-expect-error weights is a folder, a URL or loaded weights
  await createPoseNet({ weights: 7 });
  // @ts-expect-error the Node entry has no worker mode
  await createPoseNet({ worker: true });
  net.device.destroy();
  return pose.score + (new MissingPeerError('x') instanceof Error ? 1 : 0);
}
`;

const html = (script: string, head = '') =>
  `<!doctype html>\n<html lang="en">\n  <head><meta charset="utf-8" /><title>posenet-webgpu user page</title><link rel="icon" href="data:," />${head}</head>\n  <body>\n    <script type="module" src="${script}"></script>\n  </body>\n</html>\n`;

function run(cmd: string, args: string[], cwd: string, env: Record<string, string> = {}): string {
  return execFileSync(cmd, args, {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, npm_config_update_notifier: 'false', ...env },
  });
}

let tmp: string;
let tarball: string;
let entries: string[];
let consumer: string;
let reference: Pose;
let refPage: TestPage<WorkerPage>;
let browser: Browser;
const servers: StaticServer[] = [];

function log(line: string): void {
  console.log(`[package test] ${line}`);
}

/** Opens a page of a served build and returns the pose it computed. */
async function poseFrom(url: string): Promise<{ pose: Pose; errors: string[] }> {
  const page = await browser.newPage();
  const errors = collectPageErrors(page);
  try {
    await page.goto(url);
    await page
      .waitForFunction(() => 'pose' in window || document.title === 'failed', { timeout: 180_000, polling: 100 })
      .catch(() => undefined);
    const pose = (await page.evaluate(() => (window as unknown as { pose?: Pose }).pose ?? null)) as Pose | null;
    if (!pose) throw new Error(`${url}: no pose; page errors:\n${errors.join('\n')}`);
    return { pose, errors };
  } finally {
    await page.close();
  }
}

async function serve(dir: string): Promise<string> {
  const s = await startStaticServer(dir);
  servers.push(s);
  return s.url;
}

beforeAll(async () => {
  const t0 = Date.now();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'posenet-webgpu-package-'));
  run('npm', ['pack', '--pack-destination', tmp], repoRoot);
  const tgz = fs.readdirSync(tmp).filter((f) => f.endsWith('.tgz'));
  expect(tgz).toHaveLength(1);
  tarball = path.join(tmp, tgz[0]!);
  entries = run('tar', ['-tzf', tarball], tmp)
    .split('\n')
    .filter(Boolean)
    .map((e) => e.replace(/^package\//, ''));
  log(
    `npm pack: ${path.basename(tarball)}, ${(fs.statSync(tarball).size / 1e6).toFixed(2)} MB, ${entries.length} files (${((Date.now() - t0) / 1000).toFixed(1)} s)`,
  );

  consumer = path.join(tmp, 'my-app');
  fs.mkdirSync(path.join(consumer, 'src'), { recursive: true });
  fs.writeFileSync(path.join(consumer, 'package.json'), `${JSON.stringify({ name: 'my-app', private: true, type: 'module' }, null, 2)}\n`);
  const t1 = Date.now();
  run('npm', ['install', '--offline', '--no-audit', '--no-fund', tarball], consumer);
  log(`npm install --offline of the tarball: ${((Date.now() - t1) / 1000).toFixed(1)} s`);

  refPage = await openTestPage<WorkerPage>('/test/pages/worker.html', 'workerPage');
  browser = refPage.page.browser();
  let photo: Buffer;
  if (fs.existsSync(PHOTO)) photo = fs.readFileSync(PHOTO);
  else {
    console.warn(`package: ${PHOTO} is absent: using a generated picture`);
    photo = Buffer.from((await refPage.call('syntheticPng', 'synthetic:640x480')) as string, 'base64');
  }
  reference = (await refPage.call('reference', {
    weightsUrl: `/weights/${MODEL}`,
    imageB64: photo.toString('base64'),
    mime: fs.existsSync(PHOTO) ? 'image/jpeg' : 'image/png',
    resolution: RESOLUTION,
  })) as Pose;

  fs.writeFileSync(path.join(consumer, 'src/main.js'), MAIN_JS);
  fs.writeFileSync(path.join(consumer, 'photo.jpg'), photo);
  fs.mkdirSync(path.join(consumer, 'public'));
  fs.writeFileSync(path.join(consumer, 'public/photo.jpg'), photo);
  fs.writeFileSync(path.join(consumer, 'index.html'), html('/src/main.js'));
  // Unbundled: an import map names the package's module.
  const importMap =
    '\n    <script type="importmap">{ "imports": { "posenet-webgpu": "./node_modules/posenet-webgpu/lib/index.js" } }</script>';
  // The worker started from the package's worker script (as where a CSP forbids blob: workers).
  fs.writeFileSync(path.join(consumer, 'src/file-worker.js'), FILE_WORKER_JS);
  fs.writeFileSync(path.join(consumer, 'file-worker.html'), html('./src/file-worker.js', importMap));
}, 600_000);

afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  await refPage?.close();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe('the npm package', () => {
  it('holds the code, its types, the default model and the licences, and nothing of the repository besides', () => {
    const expected = [
      'package.json',
      'README.md',
      'LICENSE',
      'NOTICE',
      'LICENSES/Apache-2.0.txt',
      'lib/index.js',
      'lib/worker.js',
      'lib/node.js',
      'lib/build-info.json',
      'lib/types/src/index.d.ts',
      'lib/types/src/node/index.d.ts',
      `weights/${MODEL}/model.json`,
      `weights/${MODEL}/weights.bin`,
    ];
    for (const e of expected) expect(entries, e).toContain(e);
    const other = entries.filter((e) => !expected.includes(e) && !/^lib\/types\/.+\.d\.ts$/.test(e));
    expect(other).toEqual([]);
    const installed = path.join(consumer, 'node_modules/posenet-webgpu');
    for (const f of [`weights/${MODEL}/weights.bin`, `weights/${MODEL}/model.json`]) {
      expect(fs.readFileSync(path.join(installed, f)).equals(fs.readFileSync(path.join(repoRoot, f))), f).toBe(true);
    }
    expect(fs.readFileSync(path.join(installed, 'NOTICE'), 'utf8')).toMatch(/Apache License, Version 2\.0/);
  });

  it('is an ES module package with an exports map and types, free of side effects, dependencies and install scripts', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(consumer, 'node_modules/posenet-webgpu/package.json'), 'utf8'));
    expect(pkg.private).toBeUndefined();
    expect(pkg.type).toBe('module');
    expect(pkg.sideEffects).toBe(false);
    expect(pkg.exports['.']).toEqual({ types: './lib/types/src/index.d.ts', default: './lib/index.js' });
    expect(pkg.exports['./worker']).toBe('./lib/worker.js');
    expect(pkg.exports['./node']).toEqual({ types: './lib/types/src/node/index.d.ts', default: './lib/node.js' });
    expect(pkg.dependencies).toBeUndefined();
    // Node's peers are optional, so a browser user's install (this one) does not bring them.
    for (const name of Object.keys(NODE_PEERS)) expect(pkg.peerDependenciesMeta?.[name], name).toEqual({ optional: true });
    for (const hook of ['preinstall', 'install', 'postinstall']) expect(pkg.scripts?.[hook], hook).toBeUndefined();
    // The install brought nothing else.
    expect(fs.readdirSync(path.join(consumer, 'node_modules')).filter((d) => !d.startsWith('.'))).toEqual(['posenet-webgpu']);
  });

  it('is one self-contained module: the WGSL and the worker inlined, nothing imported', () => {
    const code = fs.readFileSync(path.join(consumer, 'node_modules/posenet-webgpu/lib/index.js'), 'utf8');
    expect(code).not.toMatch(/^\s*import\s/m);
    expect(code).not.toMatch(/\bimport\(/);
    expect(code).toMatch(/@compute @workgroup_size/);
    expect(code).toContain('spawnPoseNetWorker');
    expect(code).not.toContain('worker-main.ts');
  });

  it('type-checks a TypeScript user’s code against its .d.ts, for the browser and for Node', () => {
    fs.writeFileSync(path.join(consumer, 'typed.ts'), TYPED_TS);
    fs.writeFileSync(path.join(consumer, 'typed-node.ts'), TYPED_NODE_TS);
    fs.writeFileSync(
      path.join(consumer, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'ESNext',
          moduleResolution: 'bundler',
          strict: true,
          noEmit: true,
          lib: ['ES2022', 'DOM'],
          types: ['@webgpu/types', 'node'],
        },
        files: ['typed.ts', 'typed-node.ts'],
      }),
    );
    // @webgpu/types is the package's optional peer dependency, as a TypeScript user has it;
    // @types/node, as a Node user has it.
    for (const types of ['@webgpu/types', '@types/node']) {
      fs.mkdirSync(path.dirname(path.join(consumer, 'node_modules', types)), { recursive: true });
      fs.symlinkSync(path.join(repoRoot, 'node_modules', types), path.join(consumer, 'node_modules', types));
    }
    try {
      run(process.execPath, [path.join(repoRoot, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], consumer);
    } catch (err) {
      throw new Error(`tsc failed on typed.ts:\n${(err as { stdout?: string }).stdout ?? ''}`);
    } finally {
      for (const scope of ['@webgpu', '@types']) fs.rmSync(path.join(consumer, 'node_modules', scope), { recursive: true, force: true });
    }
  });

  it('bundled with esbuild and served statically: the repository’s pose, on the page and in a worker', async () => {
    const site = path.join(consumer, 'esbuild-site');
    run(
      path.join(repoRoot, 'node_modules/.bin/esbuild'),
      ['src/main.js', '--bundle', '--format=esm', `--outdir=${site}/assets`, '--log-level=warning'],
      consumer,
    );
    // The README's copy step: esbuild does not copy new URL(..., import.meta.url) assets.
    fs.cpSync(path.join(consumer, 'node_modules/posenet-webgpu/weights'), path.join(site, 'weights'), { recursive: true });
    fs.copyFileSync(path.join(consumer, 'photo.jpg'), path.join(site, 'photo.jpg'));
    fs.writeFileSync(path.join(site, 'index.html'), html('assets/main.js'));
    const url = await serve(site);
    const onPage = await poseFrom(`${url}/`);
    const inWorker = await poseFrom(`${url}/?worker`);
    log(
      `esbuild: largest difference from the repository's pose ${JSON.stringify(poseDifference(onPage.pose, reference))}, worker ${JSON.stringify(poseDifference(inWorker.pose, reference))}`,
    );
    expect([...onPage.errors, ...inWorker.errors]).toEqual([]);
    expectSamePose(onPage.pose, reference, 'esbuild bundle');
    expectSamePose(inWorker.pose, reference, 'esbuild bundle, worker');
  });

  it('bundled with Vite (which copies the weights itself) and served statically: the repository’s pose', async () => {
    run(
      process.execPath,
      [path.join(repoRoot, 'node_modules/vite/bin/vite.js'), 'build', '--outDir', 'vite-site', '--logLevel', 'warn'],
      consumer,
    );
    const site = path.join(consumer, 'vite-site');
    const assets = fs.readdirSync(path.join(site, 'assets'));
    log(`vite build: assets ${assets.join(', ')}`);
    expect(assets.some((a) => a.endsWith('.bin'))).toBe(true);
    const url = await serve(site);
    // (The inlined worker is the same string in every bundle: the esbuild test runs it.)
    const onPage = await poseFrom(`${url}/`);
    log(`Vite: largest difference from the repository's pose ${JSON.stringify(poseDifference(onPage.pose, reference))}`);
    expect(onPage.errors).toEqual([]);
    expectSamePose(onPage.pose, reference, 'Vite bundle');
  });

  it('unbundled, through an import map, with the worker started from posenet-webgpu/worker: the repository’s pose', async () => {
    const url = await serve(consumer);
    const fileWorker = await poseFrom(`${url}/file-worker.html`);
    log(
      `import map, worker from lib/worker.js: largest difference from the repository's pose ${JSON.stringify(poseDifference(fileWorker.pose, reference))}`,
    );
    expect(fileWorker.errors).toEqual([]);
    expectSamePose(fileWorker.pose, reference, 'import map, worker from lib/worker.js');
  });
});

describe('posenet-webgpu/node', () => {
  it('without its optional peers, says in one line which package to install', () => {
    fs.writeFileSync(path.join(consumer, 'missing-peers.mjs'), MISSING_PEERS_JS);
    const lines = run(process.execPath, ['missing-peers.mjs'], consumer).trim().split('\n');
    expect(lines).toEqual([
      `MissingPeerError: posenet-webgpu/node needs the npm package webgpu (${NODE_PEERS.webgpu.role}), which is not installed: npm install webgpu@${NODE_PEERS.webgpu.range}`,
      `MissingPeerError: posenet-webgpu/node needs the npm package sharp (${NODE_PEERS.sharp.role}), which is not installed: npm install sharp@${NODE_PEERS.sharp.range}`,
    ]);
  });

  it('with webgpu and sharp installed, a ten-line script gets the repository’s Node pose of the photograph, default model from disk', async () => {
    const server = path.join(tmp, 'my-server');
    fs.mkdirSync(server);
    const t0 = Date.now();
    const ranges = Object.fromEntries(Object.entries(NODE_PEERS).map(([name, { range }]) => [name, range]));
    writeLockSubset(path.join(repoRoot, 'package-lock.json'), server, ranges);
    run('npm', ['ci', '--offline', '--no-audit', '--no-fund'], server);
    run('npm', ['install', '--offline', '--no-audit', '--no-fund', '--no-save', tarball], server);
    log(`npm ci --offline of webgpu and sharp, then the tarball: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    fs.writeFileSync(path.join(server, 'pose.mjs'), NODE_JS);
    fs.copyFileSync(path.join(consumer, 'photo.jpg'), path.join(server, 'photo.jpg'));

    // The repository's own result: src/node on Dawn in this process, the same driver.
    const scoped = await scopedNodeDevice();
    const { createPoseNet, decodeImage } = await import('../src/node/index.ts');
    const net = await createPoseNet({ resolution: RESOLUTION, device: scoped.device, tuningStore: null });
    const repoPose = await net.estimateSinglePose(await decodeImage(path.join(server, 'photo.jpg')));
    net.dispose();
    expect(await scoped.finish()).toEqual([]);

    const t1 = Date.now();
    const stdout = run(process.execPath, ['pose.mjs', 'photo.jpg'], server, {
      VK_ICD_FILENAMES: process.env.VK_ICD_FILENAMES ?? SWIFTSHADER_ICD,
      XDG_CACHE_HOME: path.join(tmp, 'cache'), // its tuning cache file, not the user's
    });
    const pose = JSON.parse(stdout) as Pose;
    log(
      `node script: ${((Date.now() - t1) / 1000).toFixed(1)} s; largest difference from the repository's Node pose ${JSON.stringify(poseDifference(pose, repoPose))}, from its browser pose ${JSON.stringify(poseDifference(pose, reference))}`,
    );
    expectSamePose(pose, repoPose, 'posenet-webgpu/node script');
  });
});
