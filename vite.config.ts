import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';
import { weightsIndex } from './tools/lib/weights-index.ts';

const root = path.dirname(fileURLToPath(import.meta.url));

/**
 * Serves ../shared/coco-mini (beside the repository) at /coco-mini/ for tests, tools and
 * the demo page, so that the photographs never need copying into the project.
 */
function cocoMini(): Plugin {
  const dir = path.resolve(root, '../shared/coco-mini');
  return {
    name: 'coco-mini',
    configureServer(server) {
      server.middlewares.use('/coco-mini', (req, res, next) => {
        const rel = decodeURIComponent((req.url ?? '/').split('?')[0] ?? '/');
        const file = path.resolve(dir, `.${rel}`);
        if (!file.startsWith(dir + path.sep) || !fs.existsSync(file) || !fs.statSync(file).isFile()) return next();
        res.setHeader(
          'Content-Type',
          file.endsWith('.json') ? 'application/json' : file.endsWith('.jpg') ? 'image/jpeg' : 'application/octet-stream',
        );
        fs.createReadStream(file).pipe(res);
      });
    },
  };
}

/**
 * Serves `/weights/index.json` (tools/lib/weights-index.ts, which also writes the static
 * site's): every `weights/<name>/model.json` that is a posenet-webgpu manifest, random-weight
 * models included (labelled), read afresh on each request, so the demo page's model menu
 * lists what `npm run weights` (or `npm run convert`) has made.
 */
function weightsIndexPlugin(): Plugin {
  const dir = path.resolve(root, 'weights');
  return {
    name: 'weights-index',
    configureServer(server) {
      server.middlewares.use('/weights/index.json', (_req, res) => {
        res.setHeader('Content-Type', 'application/json');
        res.setHeader('Cache-Control', 'no-store');
        res.end(JSON.stringify(weightsIndex(dir, { includeRandom: true })));
      });
    },
  };
}

export default defineConfig({
  // No SPA fallback: a missing file (weights, images) must be a 404, not index.html.
  appType: 'mpa',
  plugins: [cocoMini(), weightsIndexPlugin()],
  server: { host: '127.0.0.1', port: 5173, fs: { strict: false } },
  build: { target: 'es2022' },
  // The worker of worker mode (src/worker/spawn.ts) is a module worker.
  worker: { format: 'es' },
  optimizeDeps: { noDiscovery: true, include: [] },
});
