import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

const require = createRequire(import.meta.url);

export default defineConfig({
  resolve: {
    // one graphql instance: packages in node_modules load its CommonJS build, so ours must too
    alias: [{ find: /^graphql$/, replacement: require.resolve('graphql') }],
  },
  test: {
    // the tests run the tiny model on purpose: no "real model missing" warning per test app
    env: { PIXELFIND_MODEL: 'tiny-clip-v1' },
    include: [
      'api/**/*.test.ts',
      'search-cluster/**/*.test.ts',
      'edge/**/*.test.ts',
      'test/**/*.test.ts',
      'infra/**/*.test.ts',
      'bench/**/*.test.ts',
    ],
    exclude: ['**/node_modules/**', '**/data/**'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // two cores: one file per core keeps native and model work from fighting over them
    maxWorkers: 2,
    pool: 'forks',
  },
});
