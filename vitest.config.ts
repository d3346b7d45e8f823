import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['api/**/*.test.ts', 'search-cluster/**/*.test.ts', 'edge/**/*.test.ts', 'test/**/*.test.ts'],
    exclude: ['**/node_modules/**', '**/data/**'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // two cores: one file per core keeps native and model work from fighting over them
    maxWorkers: 2,
    pool: 'forks',
  },
});
