import fs from 'node:fs';
import path from 'node:path';
import { defineConfig, type Plugin } from 'vite';

/**
 * Serves ../shared/coco-mini (beside the repository) at /coco-mini/ for tests, tools and
 * the demo page, so that the photographs never need copying into the project.
 */
function cocoMini(): Plugin {
  const dir = path.resolve(__dirname, '../shared/coco-mini');
  return {
    name: 'coco-mini',
    configureServer(server) {
      server.middlewares.use('/coco-mini', (req, res, next) => {
        const rel = decodeURIComponent((req.url ?? '/').split('?')[0] ?? '/');
        const file = path.resolve(dir, '.' + rel);
        if (!file.startsWith(dir + path.sep) || !fs.existsSync(file) || !fs.statSync(file).isFile()) return next();
        res.setHeader('Content-Type', file.endsWith('.json') ? 'application/json' : file.endsWith('.jpg') ? 'image/jpeg' : 'application/octet-stream');
        fs.createReadStream(file).pipe(res);
      });
    },
  };
}

export default defineConfig({
  plugins: [cocoMini()],
  server: { host: '127.0.0.1', port: 5173, fs: { strict: false } },
  build: { target: 'es2022' },
  optimizeDeps: { noDiscovery: true, include: [] },
});
