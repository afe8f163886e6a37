import { AggregateStore, DEFAULT_AGGREGATE_CONFIG, metricsAt, oracleMetrics } from '@tierstream/aggregates';
import type { Clients } from '@tierstream/cli';
import { customerIdOf, type InputEvent } from '@tierstream/contracts';
import { TierStateStore } from '@tierstream/tierstate';
import type { OracleResult } from './pipeline-oracle';

/**
 * Customers whose Redis aggregates (as of `endAt`) differ from the batch oracle over their events, one line each
 * naming the differing metrics; a customer without aggregates counts as a mismatch. Empty when all are equal.
 */
export async function aggregateMismatches(
  clients: Clients,
  events: readonly InputEvent[],
  endAt: number,
): Promise<string[]> {
  const byCustomer = new Map<string, InputEvent[]>();
  for (const e of events) {
    const id = customerIdOf(e);
    if (id !== null) byCustomer.set(id, [...(byCustomer.get(id) ?? []), e]);
  }
  const store = new AggregateStore(clients.redis, { prefix: clients.redisPrefix, config: DEFAULT_AGGREGATE_CONFIG });
  await store.init();
  const aggregates = await store.readMany([...byCustomer.keys()]);
  const mismatches: string[] = [];
  for (const [id, list] of byCustomer) {
    const state = aggregates.get(id);
    const expected = oracleMetrics(list, endAt, DEFAULT_AGGREGATE_CONFIG, 48 * 3_600_000);
    const actual = state ? metricsAt(state, endAt, DEFAULT_AGGREGATE_CONFIG) : null;
    if (JSON.stringify(actual) !== JSON.stringify(expected)) {
      const fields = Object.keys(expected).filter(
        (k) =>
          JSON.stringify(actual?.[k as keyof typeof actual]) !== JSON.stringify(expected[k as keyof typeof expected]),
      );
      const show = (m: object | null) =>
        JSON.stringify(Object.fromEntries(fields.map((k) => [k, (m as Record<string, unknown> | null)?.[k]])));
      mismatches.push(`${JSON.stringify(id)}: ${show(actual)} != ${show(expected)}`);
    }
  }
  return mismatches;
}

/** Customers whose tiers in Redis differ from the oracle's final state, one line each. Empty when all are equal. */
export async function tierStateMismatches(clients: Clients, oracle: OracleResult): Promise<string[]> {
  const states = await new TierStateStore(clients.redis, clients.redisPrefix).readStates([...oracle.states.keys()]);
  const mismatches: string[] = [];
  for (const [id, expected] of oracle.states) {
    const actual = states.get(id)?.tiers;
    if (JSON.stringify(sortKeys(actual)) !== JSON.stringify(sortKeys(expected.tiers))) {
      mismatches.push(`${JSON.stringify(id)}: ${JSON.stringify(actual)} != ${JSON.stringify(expected.tiers)}`);
    }
  }
  return mismatches;
}

function sortKeys(o: Record<string, string> | undefined): Array<[string, string]> | undefined {
  return o === undefined ? undefined : Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}
