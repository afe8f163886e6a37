import { existsSync } from 'node:fs';
import type { TestProject } from 'vitest/node';
import stackSetup from '../../support/global-setup';
import { CHROMIUM_PATH } from './chromium';
import { type BrowserRun, createBrowserRun, dropBrowserRuns } from './pipeline-run';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The data of this test run (test/browser/support/pipeline-run.ts). */
    browserRun: BrowserRun;
  }
}

/**
 * globalSetup of the `browser` project: checks the stack (as the integration and e2e projects do) and Chromium, drops
 * what earlier runs left behind, runs the pipeline once over the tiny workload under the run's own names, and hands
 * the run to the test files (`inject('browserRun')`). Teardown drops the run's topics, groups, keys and database.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  if (!existsSync(CHROMIUM_PATH))
    throw new Error(`no Chromium at ${CHROMIUM_PATH}: run scripts/install-chromium.sh (or set CHROMIUM_PATH)`);
  const stackTeardown = await stackSetup();
  await dropBrowserRuns({ olderThanMs: 3_600_000 });
  const run = await createBrowserRun();
  process.stdout.write(`[browser] pipeline run ${run.run} over the tiny workload took ${run.seconds} s\n`);
  project.provide('browserRun', run);
  return async () => {
    await dropBrowserRuns({ run: run.run });
    await stackTeardown?.();
  };
}
