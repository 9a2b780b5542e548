import { configDefaults, defineConfig } from 'vitest/config';

// Two projects: `npm run test:unit` (test/unit: pure logic with in-process fakes, seconds, no
// servers) and `npm run test:integration` (test/integration: real Temporal, sshd, HAProxy, labs).
// `npm test` runs both. The stack tests bring up their own Temporal cluster:
// vitest.stack.config.ts, `npm run test:stack`.
export default defineConfig({
  test: {
    // Temporal's native bridge and wasm misbehave in worker threads (sdk-typescript #876): use forks.
    pool: 'forks',
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          testTimeout: 20_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          exclude: [...configDefaults.exclude, 'test/integration/stack/**'],
          globalSetup: ['test/support/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 180_000,
          // A 2-core machine, and labs on fixed ports: one file at a time.
          fileParallelism: false,
        },
      },
    ],
  },
});
