import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    environment: 'node',
    // Browser tests run WebGPU on SwiftShader, which uses every core: one file at a time.
    fileParallelism: false,
    testTimeout: 10 * 60 * 1000,
    hookTimeout: 10 * 60 * 1000,
    reporters: ['default'],
  },
});
