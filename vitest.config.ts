import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Two cores on CI: keep file-level parallelism modest so CPU-heavy suites do not starve each other.
    maxWorkers: 2,
    pool: 'forks',
  },
});
