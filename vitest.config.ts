import { defineConfig } from 'vitest/config';

// Three kinds of test, picked by file name:
//   *.test.ts      pure unit and property tests (no I/O, parallel)
//   *.it.test.ts   integration tests against the real local stack (Kafka, registry, Redis, ClickHouse)
//   *.e2e.test.ts  end-to-end tests that run the services as processes over the real stack
// Integration and e2e files run one at a time: they share one stack on a 2-core machine.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['packages/*/test/**/*.test.ts', 'services/*/test/**/*.test.ts'],
          exclude: ['**/*.it.test.ts', '**/*.e2e.test.ts', '**/node_modules/**'],
          testTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['packages/*/test/**/*.it.test.ts', 'services/*/test/**/*.it.test.ts', 'test/**/*.it.test.ts'],
          fileParallelism: false,
          testTimeout: 180_000,
          hookTimeout: 180_000,
          globalSetup: ['test/support/global-setup.ts'],
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.e2e.test.ts'],
          fileParallelism: false,
          testTimeout: 600_000,
          hookTimeout: 300_000,
          globalSetup: ['test/support/global-setup.ts'],
        },
      },
    ],
  },
});
