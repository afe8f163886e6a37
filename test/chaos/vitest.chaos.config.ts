import { defineConfig } from 'vitest/config';

// The full chaos suite has its own config so that `npm test` never runs it (npm run test:chaos does).
export default defineConfig({
  test: {
    include: ['test/chaos/**/*.chaos.test.ts'],
    fileParallelism: false,
    testTimeout: 3_600_000,
    hookTimeout: 600_000,
    globalSetup: ['test/support/global-setup.ts'],
  },
});
