import { describe } from 'vitest';
import { pipelineScenario } from '../support/pipeline-scenario';

/**
 * The whole pipeline (aggregator → tier engine → warehouse writer) as real processes over the real stack, in replay
 * mode, on the `tiny` profile, with kill -9 of the aggregator (twice) and of the writer mid-run. Everything that comes
 * out — Redis aggregates, tier state, the set of transition ids, ClickHouse snapshots per tier per day, and every query
 * of the analyst SQL pack — must equal the batch oracle computed from the generator's events.
 * The scenario and its checks are in test/support/pipeline-scenario.ts; test/e2e/cluster.e2e.test.ts runs the same on
 * Redis Cluster. Here: the stack's Redis (REDIS_URL).
 */
describe('pipeline end to end (replay mode, with crashes)', () => {
  pipelineScenario();
});
