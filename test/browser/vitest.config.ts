import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// The browser test alone (npm run test:browser): builds the demo with Vite, serves it with
// vite preview, drives Debian's Chromium (WebGPU on SwiftShader) with playwright-core, and checks
// the page's results against the Node (Dawn) path. Slow on 2 cores: one file, long timeouts.
export default defineConfig({
  root: fileURLToPath(new URL('../..', import.meta.url)),
  test: {
    include: ['test/browser/**/*.test.ts'],
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 300_000,
    hookTimeout: 300_000,
    reporters: ['default'],
  },
});
