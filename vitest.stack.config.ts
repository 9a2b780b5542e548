import { defineConfig } from 'vitest/config';

// The production path: tests against a real Temporal server on PostgreSQL (test/support/stack-global-setup.ts
// brings one up), kept apart from the main suite, which runs on the dev server. `npm run test:stack`.
export default defineConfig({
  test: {
    pool: 'forks',
    include: ['test/integration/stack/**/*.test.ts'],
    globalSetup: ['test/support/stack-global-setup.ts'],
    testTimeout: 300_000,
    // The first run on a machine builds the server with Go (minutes); .ci/run builds it beforehand.
    hookTimeout: 900_000,
    fileParallelism: false,
  },
});
