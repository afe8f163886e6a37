import { bootstrapPipeline, Clients, resetPipelineData } from '@tierstream/cli';
import type { InputEvent } from '@tierstream/contracts';
import { dayOf, endOfDay, TierStateStore } from '@tierstream/tierstate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type DecodedTransition,
  feedAndClose,
  placed,
  type RunningPipeline,
  readTransitions,
  startPipeline,
} from '../support/journeys';
import { runPipelineOracle } from '../support/pipeline-oracle';

/**
 * Issue 14, case 5 through the real services (replay mode, default rules, default cut-point schedule): sixteen
 * customers as of 2024-06-30, C1…C13 one order of 1000 on 06-10, C14…C16 five orders of 1000 (06-01, 05, 10, 15,
 * 20). The thirteen tied one-time minimum spenders straddle every value cut: under `ties: never_exceed` they take the
 * lower tier (BRONZE) and are never "high M" (LOST); C14…C16 are PLATINUM and CHAMPION. The population is young, so
 * the cut points are recomputed at every day close (design-decisions §18). Expected tiers are derived in
 * packages/tiering/test/ranking.test.ts from the quantile rule; here they must come out of Kafka and ClickHouse.
 */

const CUTPOINTS_EVERY_DAYS = 7;
const ENV = { CUTPOINTS_EVERY_DAYS: String(CUTPOINTS_EVERY_DAYS), SWEEP_INTERVAL_MS: '20' };
const day = (iso: string) => dayOf(Date.parse(`${iso}T00:00:00Z`));
const JUNE_30 = day('2024-06-30');
const endAt = endOfDay(JUNE_30);
const tied = Array.from({ length: 13 }, (_, i) => `C${i + 1}`);
const frequent = ['C14', 'C15', 'C16'];

function script(): InputEvent[] {
  const events: InputEvent[] = [];
  for (const id of tied) events.push(placed(id, day('2024-06-10'), 1000));
  for (const id of frequent) {
    for (const d of ['2024-06-01', '2024-06-05', '2024-06-10', '2024-06-15', '2024-06-20']) {
      events.push(placed(id, day(d), 1000));
    }
  }
  return events;
}

/** The tier of each customer in `dimension` after its last transition. */
function tiersFrom(transitions: DecodedTransition[], dimension: string): Record<string, string> {
  const out: Record<string, string> = {};
  const sorted = [...transitions].sort((a, b) => a.occurred_at - b.occurred_at);
  for (const t of sorted) if (t.dimension === dimension) out[t.customer_id] = t.to_tier;
  return out;
}

describe('ranking with ties through the real services (issue 14 case 5)', () => {
  const clients = new Clients();
  const events = script();
  let pipeline: RunningPipeline | null = null;
  let transitions: DecodedTransition[] = [];

  beforeAll(async () => {
    await resetPipelineData(clients);
    await bootstrapPipeline(clients);
    pipeline = startPipeline(ENV);
    await feedAndClose(clients, pipeline, events, endAt);
    transitions = await readTransitions(clients);
  });

  afterAll(async () => {
    await pipeline?.stop();
    await clients.close();
  });

  it('as of 06-30: C1…C13 BRONZE and LOST, C14…C16 PLATINUM and CHAMPION', () => {
    const value = tiersFrom(transitions, 'value_tier');
    const rfm = tiersFrom(transitions, 'rfm_segment');
    for (const id of tied) {
      expect(value[id], id).toBe('BRONZE');
      expect(rfm[id], id).toBe('LOST');
    }
    for (const id of frequent) {
      expect(value[id], id).toBe('PLATINUM');
      expect(rfm[id], id).toBe('CHAMPION');
    }
  });

  it('the stored state agrees, and nobody has a pending change', async () => {
    const tierState = new TierStateStore(clients.redis, clients.redisPrefix);
    const states = await tierState.readStates([...tied, ...frequent]);
    for (const id of tied) {
      expect(states.get(id)!.tiers, id).toMatchObject({ value_tier: 'BRONZE', rfm_segment: 'LOST' });
      expect(states.get(id)!.pending, id).toEqual({});
    }
    for (const id of frequent) {
      expect(states.get(id)!.tiers, id).toMatchObject({ value_tier: 'PLATINUM', rfm_segment: 'CHAMPION' });
    }
  });

  it('cut points were recomputed every day (young population); those of 06-29 keep the tied group below', async () => {
    const tierState = new TierStateStore(clients.redis, clients.redisPrefix);
    const history = await tierState.getCutPointsHistory();
    const versions = new Set(history.map((c) => c.version));
    for (let d = day('2024-06-01'); d < JUNE_30; d++) {
      expect(versions.has(`cp-${new Date(d * 86_400_000).toISOString().slice(0, 10)}`), String(d)).toBe(true);
    }
    const last = history.find((c) => c.version === 'cp-2024-06-29')!;
    expect(last.population).toBe(16);
    expect(last.cuts.value_tier).toEqual([5000, 5000, 5000]);
    expect(last.cuts['rfm_segment.m']).toEqual([5000, 5000, 5000, 5000]);
  });

  it('exactly the transitions of the batch oracle (same schedule, same tie rule)', () => {
    const oracle = runPipelineOracle({
      events,
      cutPointsEveryDays: CUTPOINTS_EVERY_DAYS,
      endAt,
    });
    const ids = transitions.map((t) => t.transition_id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(new Set(ids)).toEqual(new Set(oracle.transitions.map((t) => t.transition_id)));
  });
});
