import { configDefaults, defineConfig } from 'vitest/config';

// Temporal's native bridge and wasm misbehave in worker threads (sdk-typescript #876): use forks.
export default defineConfig({
  test: {
    pool: 'forks',
    include: ['test/**/*.test.ts'],
    // The stack tests bring up their own Temporal cluster: vitest.stack.config.ts, `npm run test:stack`.
    exclude: [...configDefaults.exclude, 'test/integration/stack/**'],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 180_000,
    fileParallelism: false,
  },
});
