import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type AggregateState, DEFAULT_AGGREGATE_CONFIG, emptyState, type IdentityRecord } from '@tierstream/aggregates';
import type { TierTransition } from '@tierstream/contracts';
import type { OutgoingRecord } from '@tierstream/kafka';
import { initialCutPoints, parseRules, type TierState } from '@tierstream/tiering';
import { describe, expect, it } from 'vitest';
import { type EngineDeps, type EvaluationRequest, TierEngine } from '../src/engine';
import { engineFakes } from './support';

// The tier engine across a merge (design-decisions §22), with in-memory stores: A ends once with MERGED_INTO, B
// announces MERGED once and, without a state of its own, starts from A's tiers (no second ENTER).

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const rules = parseRules(readFileSync(path.join(ROOT, 'rules/default.yaml'), 'utf8'), 'rules/default.yaml');
const DAY = 86_400_000;
const D = 20_300;

function aggregate(id: string, revenue: number): AggregateState {
  const s = emptyState(id);
  s.maxEventAt = D * DAY + 1000;
  s.orders.set(D - 1, { count: 2, revenue, margin: 0, lastPlacedAt: (D - 1) * DAY + 1000 });
  return s;
}

function world(identities: Map<string, IdentityRecord>) {
  const states = new Map<string, TierState>();
  const aggs = new Map<string, AggregateState>([
    ['A', aggregate('A', 900_000)],
    ['B', aggregate('B', 900_000)],
  ]);
  const sent: TierTransition[] = [];
  const removed: string[] = [];
  const deps = {
    aggregateConfig: DEFAULT_AGGREGATE_CONFIG,
    aggregates: {
      readMany: async (ids: string[]) => new Map(ids.flatMap((id) => (aggs.has(id) ? [[id, aggs.get(id)!]] : []))),
    },
    tierState: {
      readStates: async (ids: string[]) =>
        new Map(ids.flatMap((id) => (states.has(id) ? [[id, states.get(id)!]] : []))),
      readAttributes: async () => new Map(),
      prepareCommit: async (items: unknown) => items,
      commit: async (_p: number, items: Array<{ customerId: string; state: TierState | null }>) => {
        for (const it of items) {
          if (!it.state) continue;
          states.set(it.customerId, structuredClone(it.state));
          if (it.state.merged_into) removed.push(it.customerId);
        }
      },
    },
    identity: {
      readMany: async (ids: readonly string[]) =>
        new Map(ids.flatMap((id) => (identities.has(id) ? [[id, identities.get(id)!]] : []))),
    },
    producer: {
      sendMany: async (batches: Array<{ topic: string; records: OutgoingRecord[] }>) => {
        for (const b of batches) if (b.topic === 't') for (const r of b.records) sent.push(JSON.parse(String(r.value)));
      },
    },
    ...engineFakes,
  } as unknown as EngineDeps;
  const engine = new TierEngine(deps, rules, initialCutPoints(rules));
  engine.publishCutPoints = async () => undefined;
  const request = (customerId: string, day: number): EvaluationRequest => ({
    customerId,
    day,
    at: day * DAY + DAY - 1,
    processedDueAt: null,
    touch: '0',
  });
  return { engine, states, sent, removed, request };
}

const merged: IdentityRecord = {
  id: 'A',
  mergedInto: { customerId: 'B', mergeId: 'm1', at: D * DAY, to: 'B' },
  merges: [],
  aliases: [],
};
const survivor: IdentityRecord = {
  id: 'B',
  mergedInto: null,
  merges: [{ customerId: 'A', mergeId: 'm1' }],
  aliases: [],
};

describe('tier engine across a merge', () => {
  it('A ends with one MERGED_INTO naming B, B announces one MERGED naming A, re-evaluations add nothing', async () => {
    const w = world(new Map());
    await w.engine.evaluate(0, [w.request('A', D), w.request('B', D)]);
    const entered = w.sent.filter((t) => t.direction === 'ENTER').length;
    expect(entered).toBeGreaterThan(0);
    w.sent.length = 0;
    // The merge lands: A merged into B.
    const after = world(
      new Map([
        ['A', merged],
        ['B', survivor],
      ]),
    );
    for (const [id, s] of w.states) after.states.set(id, s);
    await after.engine.evaluate(0, [after.request('A', D + 1), after.request('B', D + 1)]);
    await after.engine.evaluate(0, [after.request('A', D + 2), after.request('B', D + 2)]);
    const identity = after.sent.filter((t) => t.dimension === 'identity');
    expect(identity.map((t) => [t.customer_id, t.reason, t.related_customer_id])).toEqual([
      ['A', 'MERGED_INTO', 'B'],
      ['B', 'MERGED', 'A'],
    ]);
    expect(after.sent.filter((t) => t.customer_id === 'A')).toHaveLength(1);
    expect(after.states.get('A')).toMatchObject({ merged_into: 'B', tiers: { identity: 'MERGED' } });
    expect(after.states.get('B')!.merges).toEqual(['m1']);
    expect(after.removed).toContain('A');
  });

  it('a survivor without a state starts from the merged customer: no second ENTER of the same tier', async () => {
    const w = world(new Map());
    await w.engine.evaluate(0, [w.request('A', D)]);
    const aEntered = w.sent.filter((t) => t.direction === 'ENTER').map((t) => `${t.dimension}:${t.to_tier}`);
    expect(aEntered.length).toBeGreaterThan(0);
    const after = world(
      new Map([
        ['A', merged],
        ['B', survivor],
      ]),
    );
    after.states.set('A', w.states.get('A')!);
    // B is evaluated before A's end is written (other partition): it reads A's live state.
    await after.engine.evaluate(0, [after.request('B', D + 1)]);
    await after.engine.evaluate(0, [after.request('A', D + 1)]);
    const bEntered = after.sent
      .filter((t) => t.customer_id === 'B' && t.direction === 'ENTER')
      .map((t) => `${t.dimension}:${t.to_tier}`);
    for (const e of bEntered) expect(aEntered, e).not.toContain(e);
    expect(after.sent.filter((t) => t.reason === 'MERGED' || t.reason === 'MERGED_INTO')).toHaveLength(2);
  });
});
