import { defineConfig } from 'vitest/config';

// GPU tests share one Dawn device per worker process; forks (not threads) keep the native
// addon out of worker_threads, and one fork at a time keeps 2-core CI machines responsive.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/browser/**'],
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // default + each file's duration and the run's wall time at the end (CI output).
    reporters: ['default', './test/reporters/file-durations.ts'],
  },
});
