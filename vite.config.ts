import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';

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
 * Serves `/weights/index.json`: every `weights/<name>/model.json` that is a posenet-webgpu
 * manifest, as `{ models: [{ name, url, architecture, outputStride, weightsBytes,
 * weightFormat, randomWeights }] }` (randomWeights: made by make-posenet-onnx, for speed only),
 * read afresh on each request, so the demo page's model menu lists what
 * `npm run weights` (or `npm run convert`) has made.
 */
function weightsIndex(): Plugin {
  const dir = path.resolve(root, 'weights');
  return {
    name: 'weights-index',
    configureServer(server) {
      server.middlewares.use('/weights/index.json', (_req, res) => {
        const models: {
          name: string;
          url: string;
          architecture: string;
          outputStride: number;
          weightsBytes: number | null;
          weightFormat: string;
          randomWeights: boolean;
        }[] = [];
        const folders = fs.existsSync(dir) ? fs.readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory()) : [];
        for (const folder of folders.sort((a, b) => a.name.localeCompare(b.name))) {
          const file = path.join(dir, folder.name, 'model.json');
          if (!fs.existsSync(file)) continue;
          try {
            const m = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
            if (m.format !== 'posenet-webgpu/manifest') continue;
            const weights = m.weights as { file?: string; format?: string } | undefined;
            const bin = path.join(dir, folder.name, weights?.file ?? 'weights.bin');
            models.push({
              name: typeof m.name === 'string' ? m.name : folder.name,
              url: `/weights/${folder.name}/`,
              architecture: String(m.architecture ?? 'unknown'),
              outputStride: Number(m.outputStride),
              weightsBytes: fs.existsSync(bin) ? fs.statSync(bin).size : null,
              weightFormat: weights?.format ?? 'f32',
              randomWeights: String((m.source as { producer?: string } | undefined)?.producer ?? '').includes('make-posenet-onnx'),
            });
          } catch {
            // A manifest being written right now, or not JSON: not listed.
          }
        }
        res.setHeader('Content-Type', 'application/json');
        res.setHeader('Cache-Control', 'no-store');
        res.end(JSON.stringify({ models }));
      });
    },
  };
}

export default defineConfig({
  // No SPA fallback: a missing file (weights, images) must be a 404, not index.html.
  appType: 'mpa',
  plugins: [cocoMini(), weightsIndex()],
  server: { host: '127.0.0.1', port: 5173, fs: { strict: false } },
  build: { target: 'es2022' },
  optimizeDeps: { noDiscovery: true, include: [] },
});
