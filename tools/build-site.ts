/**
 * build-site (`npm run build`): the demo page as a static site that any file server can
 * host, under any base path (GitHub Pages, a sub-folder): `python3 -m http.server -d dist`.
 *
 *   dist/index.html, dist/assets/   the page, built by Vite with relative URLs (base './'),
 *                                   the worker of worker mode as a chunk of its own
 *   dist/weights/<name>/            model.json and its weights file, for every model in
 *                                   weights/ (random-weight models only with --random)
 *   dist/weights/index.json         the model menu's index (tools/lib/weights-index.ts, the
 *                                   same code the dev server answers with)
 *   dist/build-info.json            what was built
 *
 *   npm run build [-- --out dist] [--weights weights] [--random]
 *
 * Each model is checked before it is copied (a valid manifest; weights of the size and
 * sha256 it records), so a stale or broken model fails the build, named, rather than the
 * page. dist/ is replaced whole, and only if this tool made it (tools/lib/output-dir.ts).
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';
import { checkWeightsSize, ManifestError, validateManifest } from '../src/model/validate.ts';
import { folderBytes, OutputDirError, writeOutputDir } from './lib/output-dir.ts';
import { type IndexedModel, listModels } from './lib/weights-index.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

class BuildError extends Error {
  override name = 'BuildError';
}

const USAGE = 'usage: npm run build [-- --out DIR] [--weights DIR] [--random]';

interface Args {
  out: string;
  weights: string;
  random: boolean;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { out: path.join(repoRoot, 'dist'), weights: path.join(repoRoot, 'weights'), random: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) throw new BuildError(`${a} needs a value (${USAGE})`);
      return path.resolve(v);
    };
    if (a === '--out') args.out = value();
    else if (a === '--weights') args.weights = value();
    else if (a === '--random') args.random = true;
    else if (a === '--help' || a === '-h') {
      console.log(USAGE);
      process.exit(0);
    } else throw new BuildError(`unknown argument ${a} (${USAGE})`);
  }
  if (!fs.existsSync(args.weights) || !fs.statSync(args.weights).isDirectory()) {
    throw new BuildError(`--weights ${args.weights}: no such folder (run \`npm run weights\`)`);
  }
  if (path.resolve(args.out) === repoRoot || repoRoot.startsWith(path.resolve(args.out) + path.sep)) {
    throw new BuildError(`--out ${args.out}: would replace the repository`);
  }
  return args;
}

/** Refuses a model the page could not load: the same checks as the page's loader. */
function checkModel(m: IndexedModel): void {
  const rel = path.relative(process.cwd(), m.manifestFile);
  let manifest: ReturnType<typeof validateManifest>;
  try {
    manifest = validateManifest(m.manifest, rel);
    if (!fs.existsSync(m.weightsFile)) throw new BuildError(`${rel}: its weights file ${path.basename(m.weightsFile)} is missing`);
    checkWeightsSize(manifest, fs.statSync(m.weightsFile).size, path.relative(process.cwd(), m.weightsFile));
  } catch (err) {
    if (err instanceof ManifestError) throw new BuildError(err.message);
    throw err;
  }
  if (manifest.weights.sha256) {
    const sha = createHash('sha256').update(fs.readFileSync(m.weightsFile)).digest('hex');
    if (sha !== manifest.weights.sha256) {
      throw new BuildError(
        `${path.relative(process.cwd(), m.weightsFile)}: sha256 ${sha} is not the ${manifest.weights.sha256} that ${rel} records`,
      );
    }
  }
}

/** Every URL index.html loads must be relative, or the site breaks under a base path. */
function checkRelative(indexHtml: string): void {
  const absolute = [...indexHtml.matchAll(/\b(?:src|href)="(\/[^"]*)"/g)].map((m) => m[1]);
  if (absolute.length)
    throw new BuildError(`dist/index.html loads ${absolute.join(', ')} by absolute path: the site would break under a base path`);
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const t0 = Date.now();
  const skipped: string[] = [];
  const models = listModels(args.weights, {
    includeRandom: args.random,
    onSkip: (file, why) => skipped.push(`${path.relative(process.cwd(), file)} (${why})`),
  });
  if (!models.length) throw new BuildError(`${args.weights}: no model to put on the site (run \`npm run weights\`)`);
  for (const m of models) checkModel(m);

  await writeOutputDir(
    args.out,
    { file: 'build-info.json', producer: 'posenet-webgpu tools/build-site.ts' },
    { models: models.map((m) => m.entry.name), randomWeights: args.random },
    async (dir) => {
      await build({
        configFile: path.join(repoRoot, 'vite.config.ts'),
        root: repoRoot,
        base: './',
        logLevel: 'warn',
        build: { outDir: dir, emptyOutDir: true },
      });
      checkRelative(fs.readFileSync(path.join(dir, 'index.html'), 'utf8'));
      const weightsDir = path.join(dir, 'weights');
      for (const m of models) {
        const dest = path.join(weightsDir, path.basename(m.dir));
        fs.mkdirSync(dest, { recursive: true });
        fs.copyFileSync(m.manifestFile, path.join(dest, 'model.json'));
        fs.copyFileSync(m.weightsFile, path.join(dest, path.basename(m.weightsFile)));
      }
      fs.writeFileSync(path.join(weightsDir, 'index.json'), `${JSON.stringify({ models: models.map((m) => m.entry) }, null, 2)}\n`);
    },
  );
  const rel = path.relative(process.cwd(), args.out) || '.';
  for (const m of models)
    console.log(
      `build-site: ${m.entry.name}${m.entry.randomWeights ? ' (random weights)' : ''}: ${((m.entry.weightsBytes ?? 0) / 1e6).toFixed(1)} MB`,
    );
  for (const s of skipped)
    console.log(`build-site: not on the site: ${s}${s.endsWith('(random weights)') ? ': add --random to include it' : ''}`);
  console.log(`build-site: ${rel}/ is ${(folderBytes(args.out) / 1e6).toFixed(1)} MB, built in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  console.log(`build-site: serve it with: python3 -m http.server -d ${rel}`);
}

main().catch((err: Error) => {
  console.error(`build-site: ${err instanceof BuildError || err instanceof OutputDirError ? err.message : (err.stack ?? err.message)}`);
  process.exit(1);
});
