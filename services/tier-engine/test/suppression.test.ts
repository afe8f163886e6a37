import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type AggregateState, DEFAULT_AGGREGATE_CONFIG, emptyState } from '@tierstream/aggregates';
import type { OutgoingRecord } from '@tierstream/kafka';
import { initialCutPoints, parseRules, type TierState } from '@tierstream/tiering';
import { describe, expect, it } from 'vitest';
import { type EngineDeps, TierEngine } from '../src/engine';
import { engineFakes } from './support';

// An erased, suppressed customer (docs/security.md "Erasure") whose signal or due entry was in flight: the engine
// evaluates the others as usual, and for it stores nothing, emits nothing and consumes its due entry.

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const rules = parseRules(readFileSync(path.join(ROOT, 'rules/default.yaml'), 'utf8'), 'rules/default.yaml');
const DAY = 86_400_000;
const D = 20_300;

function aggregate(id: string): AggregateState {
  const s = emptyState(id);
  s.maxEventAt = D * DAY + 1000;
  s.orders.set(D - 1, { count: 2, revenue: 900_000, margin: 0, lastPlacedAt: (D - 1) * DAY + 1000 });
  return s;
}

describe('tier engine and suppressed customers', () => {
  it('evaluates the others, and for a suppressed one stores and emits nothing but consumes its due entry', async () => {
    const committed: Array<{ customerId: string; state: TierState | null; processedDueAt: number | null }> = [];
    const sent: string[] = [];
    const deps = {
      aggregateConfig: DEFAULT_AGGREGATE_CONFIG,
      aggregates: { readMany: async (ids: string[]) => new Map(ids.map((id) => [id, aggregate(id)])) },
      tierState: {
        readStates: async () => new Map(),
        readAttributes: async () => new Map(),
        prepareCommit: async (items: unknown) => items,
        commit: async (_p: number, items: typeof committed) => void committed.push(...items),
      },
      producer: {
        sendMany: async (batches: Array<{ topic: string; records: OutgoingRecord[] }>) => {
          for (const b of batches) for (const r of b.records) sent.push(String(r.key));
        },
      },
      ...engineFakes,
      suppressed: async (ids: string[]) => new Set(ids.filter((id) => id === 'GONE')),
    } as unknown as EngineDeps;
    const engine = new TierEngine(deps, rules, initialCutPoints(rules));
    engine.publishCutPoints = async () => undefined;
    const at = D * DAY + DAY - 1;
    await engine.evaluate(0, [
      { customerId: 'KEPT', day: D, at, processedDueAt: at, touch: '0' },
      { customerId: 'GONE', day: D, at, processedDueAt: at, touch: '0' },
    ]);
    expect(sent.length).toBeGreaterThan(0);
    expect(new Set(sent)).toEqual(new Set(['KEPT']));
    expect(committed.find((c) => c.customerId === 'KEPT')?.state).not.toBeNull();
    expect(committed.find((c) => c.customerId === 'GONE')).toMatchObject({ state: null, processedDueAt: at });
  });
});
