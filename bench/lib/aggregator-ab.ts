/**
 * The aggregator A/B phase (issue 18): the previous build's aggregator (a git worktree of `--aggregator-baseline`) over
 * the same workload, in the same run, right before the current one. Between the two: the aggregator's consumer group
 * and tierstream's Redis keys are deleted, so both start from the same empty state; the input topics stay (the
 * baseline's closing watermark records are consumed by both).
 */
import { INPUT_TOPICS } from '@tierstream/contracts';
import { type Build, prepareBaseline } from './builds';
import { type AggregatorResult, type BenchContext, phaseAggregator, redisUsedMemory } from './phases';
import { sleep } from './proc';

export interface AggregatorBaselineResult extends AggregatorResult {
  build: { label: string; commit: string; root: string };
}

/** Deletes the aggregator's consumer group and every Redis key under `ts:` (what an aggregator run writes). */
export async function resetAggregatorRun(ctx: BenchContext): Promise<void> {
  const admin = await ctx.clients.admin();
  // The group may take a moment to become empty after the service stopped.
  for (let attempt = 0; ; attempt++) {
    try {
      await admin.deleteGroups(['tierstream-aggregator']);
      break;
    } catch (err) {
      if (/does not exist|GROUP_ID_NOT_FOUND/i.test((err as Error).message)) break;
      if (attempt >= 30) throw err;
      await sleep(1_000);
    }
  }
  const redis = ctx.clients.redis;
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', 'ts:*', 'COUNT', 5_000);
    cursor = next;
    if (keys.length > 0) await redis.unlink(...keys);
  } while (cursor !== '0');
  ctx.log(`  reset: aggregator group and Redis keys under ts: deleted (used_memory ${await redisUsedMemory(redis)})`);
}

/** Runs the baseline build's aggregator over the workload on the input topics, then resets (resetAggregatorRun). */
export async function phaseAggregatorBaseline(
  ctx: BenchContext,
  rev: string,
  timeoutMs: number,
): Promise<AggregatorBaselineResult> {
  const build: Build = await prepareBaseline(rev, undefined, ctx.log);
  ctx.log(`  aggregator A/B: previous build ${build.label} (${build.root}) over ${INPUT_TOPICS.join(', ')}`);
  try {
    const result = await phaseAggregator(ctx, timeoutMs, { root: build.root });
    ctx.log(`  previous build: ${Math.round(result.eventsPerSec)} events/s`);
    return { ...result, build: { label: build.label, commit: build.commit, root: build.root } };
  } finally {
    await resetAggregatorRun(ctx);
  }
}
