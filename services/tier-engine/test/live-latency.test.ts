import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type AggregateState, DEFAULT_AGGREGATE_CONFIG, emptyState } from '@tierstream/aggregates';
import { loadConfig } from '@tierstream/config';
import type { OutgoingRecord } from '@tierstream/kafka';
import { initialCutPoints, parseRules } from '@tierstream/tiering';
import { describe, expect, it } from 'vitest';
import { engineConfigSchema } from '../src/config';
import { type EngineDeps, TierEngine } from '../src/engine';
import { engineFakes } from './support';

// Live latency (issue 18): a signal's evaluation should not pay for round trips it can share, and one signals
// partition should not wait for another's.

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const rules = parseRules(readFileSync(path.join(ROOT, 'rules/default.yaml'), 'utf8'), 'rules/default.yaml');
const DAY = 86_400_000;
const D = 20_300;
const env = (vars: Record<string, string>) => ({ ...vars }) as NodeJS.ProcessEnv;

function aggregate(id: string): AggregateState {
  const s = emptyState(id);
  s.maxEventAt = D * DAY + 1000;
  s.orders.set(D, { count: 1, revenue: 120_000, margin: 0, lastPlacedAt: D * DAY + 1000 });
  return s;
}

describe('tier engine live latency', () => {
  it('evaluates three signals partitions at once by default (PARTITIONS_CONCURRENCY), 1 to 64', () => {
    expect(loadConfig(engineConfigSchema, env({})).PARTITIONS_CONCURRENCY).toBe(3);
    expect(loadConfig(engineConfigSchema, env({ PARTITIONS_CONCURRENCY: '1' })).PARTITIONS_CONCURRENCY).toBe(1);
    expect(() => loadConfig(engineConfigSchema, env({ PARTITIONS_CONCURRENCY: '0' }))).toThrow(
      /PARTITIONS_CONCURRENCY/,
    );
  });

  it('reads the aggregates, states and attributes while the suppression check is on its way (one round trip)', async () => {
    const order: string[] = [];
    let readsStarted!: () => void;
    const reads = new Promise<void>((resolve) => {
      readsStarted = resolve;
    });
    const sent: string[] = [];
    const deps = {
      aggregateConfig: DEFAULT_AGGREGATE_CONFIG,
      aggregates: {
        readMany: async (ids: string[]) => {
          order.push('aggregates');
          readsStarted();
          return new Map(ids.map((id) => [id, aggregate(id)]));
        },
      },
      tierState: {
        readStates: async () => new Map(),
        readAttributes: async () => new Map(),
        prepareCommit: async (items: unknown) => items,
        commit: async () => undefined,
      },
      producer: {
        sendMany: async (batches: Array<{ topic: string; records: OutgoingRecord[] }>) => {
          for (const b of batches) for (const r of b.records) sent.push(String(r.key));
        },
      },
      ...engineFakes,
      // Answers only once the reads were sent: an evaluation that waits for it before reading never ends.
      suppressed: async (ids: string[]) => {
        order.push('suppressed');
        await reads;
        return new Set(ids.filter((id) => id === 'GONE'));
      },
    } as unknown as EngineDeps;
    const engine = new TierEngine(deps, rules, initialCutPoints(rules));
    engine.publishCutPoints = async () => undefined;
    const at = D * DAY + 5_000;
    const evaluation = engine.evaluate(0, [
      { customerId: 'NEW', day: D, at, processedDueAt: null, touch: '0' },
      { customerId: 'GONE', day: D, at, processedDueAt: null, touch: '0' },
    ]);
    const outcome = await Promise.race([
      evaluation.then(() => 'done'),
      new Promise((resolve) => setTimeout(() => resolve('stuck waiting for the suppression check'), 2_000)),
    ]);
    expect(outcome).toBe('done');
    expect(order).toEqual(['suppressed', 'aggregates']);
    // The suppressed customer's reads are not used: nothing is emitted for it.
    expect(sent.length).toBeGreaterThan(0);
    expect(new Set(sent)).toEqual(new Set(['NEW']));
  });

  it('looks the commit codes up while the outputs are produced, and stores the state only after they are', async () => {
    const steps: string[] = [];
    let prepareCalled!: () => void;
    const prepareStarted = new Promise<void>((resolve) => {
      prepareCalled = resolve;
    });
    let sendCalled!: () => void;
    const sendStarted = new Promise<void>((resolve) => {
      sendCalled = resolve;
    });
    const deps = {
      aggregateConfig: DEFAULT_AGGREGATE_CONFIG,
      aggregates: { readMany: async (ids: string[]) => new Map(ids.map((id) => [id, aggregate(id)])) },
      tierState: {
        readStates: async () => new Map(),
        readAttributes: async () => new Map(),
        // Each answers only once the other was started: an engine that produces, then looks codes up, never ends.
        prepareCommit: async (items: unknown) => {
          prepareCalled();
          await sendStarted;
          steps.push('codes');
          return { prepared: items };
        },
        commit: async (_p: number, prepared: unknown) => {
          steps.push('commit');
          expect(prepared).toMatchObject({ prepared: [{ customerId: 'NEW' }] });
        },
      },
      producer: {
        sendMany: async () => {
          sendCalled();
          await prepareStarted;
          steps.push('produced');
        },
      },
      ...engineFakes,
    } as unknown as EngineDeps;
    const engine = new TierEngine(deps, rules, initialCutPoints(rules));
    engine.publishCutPoints = async () => undefined;
    const at = D * DAY + 5_000;
    const outcome = await Promise.race([
      engine.evaluate(0, [{ customerId: 'NEW', day: D, at, processedDueAt: null, touch: '0' }]).then(() => 'done'),
      new Promise((resolve) => setTimeout(() => resolve('stuck: codes looked up only after the produce'), 2_000)),
    ]);
    expect(outcome).toBe('done');
    // Outputs first: the state is stored after the produce was acknowledged.
    expect(steps.slice(-1)).toEqual(['commit']);
    expect(steps).toContain('produced');
  });
});
