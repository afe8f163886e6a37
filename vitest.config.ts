import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

/** The secured stack's client settings (KEY=value lines the stack script writes); empty before its first `up`. */
function secureClientEnv(
  file = fileURLToPath(new URL('./infra/local/.secure/client.env', import.meta.url)),
): Record<string, string> {
  if (!existsSync(file)) return {};
  return Object.fromEntries(
    readFileSync(file, 'utf8')
      .split('\n')
      .map((line) => /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line))
      .filter((m) => m !== null)
      .map((m) => [m[1]!, m[2]!]),
  );
}

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
      {
        test: {
          // The secured stack (STACK_SECURE=1 npm run stack:up, docs/security.md): its client settings
          // (infra/local/.secure/client.env) are this project's environment only, so the others keep the plain stack.
          // Last (groupOrder 2): its 30-second failure deadlines are measured without the e2e project's load.
          name: 'e2e-secure',
          include: ['test/e2e-secure/**/*.e2e.test.ts'],
          fileParallelism: false,
          testTimeout: 600_000,
          hookTimeout: 300_000,
          env: secureClientEnv(),
          globalSetup: ['test/support/secure-stack.ts'],
          sequence: { groupOrder: 2 },
        },
      },
    ],
  },
});
