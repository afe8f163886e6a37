import { defineConfig } from 'vitest/config';

// Three kinds of test, picked by file name:
//   *.test.ts      pure unit and property tests (no I/O, parallel)
//   *.it.test.ts   integration tests against the real local stack (Kafka, registry, Redis, ClickHouse)
//   *.e2e.test.ts  end-to-end tests that run the services as processes over the real stack
//   *.browser.test.ts  the console's pages in headless Chromium over data the real pipeline produced (test/browser)
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
      {
        test: {
          // Pages of the console in headless Chromium (Debian's chromium via playwright-core) on data the pipeline
          // produced once per run under names of its own (test/browser/support/global-setup.ts). After the other
          // projects (groupOrder 1): the pipeline run and the browser would compete with e2e for the 2 cores.
          name: 'browser',
          include: ['test/browser/**/*.browser.test.ts'],
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 300_000,
          globalSetup: ['test/browser/support/global-setup.ts'],
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
