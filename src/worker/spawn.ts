/**
 * Starts the worker of worker mode (src/worker/worker-main.ts).
 *
 * In the repository (`npm start`, `npm run build`, the tests) Vite sees this
 * `new Worker(new URL(...), ...)` and bundles worker-main.ts as a worker script of its own.
 * The npm package replaces this module at build time (tools/build-lib.ts) with one that
 * starts the worker from its code inlined as a string (a blob: URL), so that worker mode
 * works in any bundler, or none, with nothing to copy.
 */
export function spawnPoseNetWorker(): Worker {
  return new Worker(new URL('./worker-main.ts', import.meta.url), { type: 'module', name: 'posenet-webgpu' });
}
