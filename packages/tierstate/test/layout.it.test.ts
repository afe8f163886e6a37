import type { TierState } from '@tierstream/tiering';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { createTestRedis, testEndpoints } from '../../../test/support/stack';
import { TierStateStore } from '../src/store';

// The compact layout of tierstate (docs/design-decisions.md §23) on the real stack's Redis: tier states without JSON,
// the due index holding every customer with its touch counter, and the upgrade from the previous layout.

const state = (id: string, over: Partial<TierState> = {}): TierState => ({
  customer_id: id,
  version: 4,
  rules_version: '2026-11.1',
  cutpoints_version: 'cp-2026-06-29',
  last_eval_day: 20_634,
  tiers: {
    value_tier: 'GOLD',
    rfm_segment: 'POTENTIAL',
    lifecycle: 'ACTIVE',
    value_potential: 'STAR',
    service_flag: 'OK',
  },
  pending: { lifecycle: { tier: 'AT_RISK', since_day: 20_630 } },
  decided_by: {
    value_tier: 'share:GOLD',
    rfm_segment: 'rfm:HLH',
    lifecycle: 'active_repeat_buyer',
    value_potential: 'star_high_value_high_potential',
    service_flag: 'service_ok',
  },
  ...over,
});

describe('tierstate layout', () => {
  const t = createTestRedis('tslayout');
  const raw = new Redis(testEndpoints().redisUrl, { maxRetriesPerRequest: 3 });
  const store = new TierStateStore(t.redis, 'ts');
  const key = (k: string) => `${t.keyPrefix}${k}`;
  afterAll(async () => {
    raw.disconnect();
    await t.cleanup();
  });

  it('stores tier states compactly (under a third of the JSON), reads both layouts, rewrites JSON on commit', async () => {
    const ids = Array.from({ length: 50 }, (_, i) => `C${String(i).padStart(6, '0')}`);
    const merged = state('M1', { merged_into: 'C|{x}', merges: ['E1', 'E|2'], merged_tiers: { value_tier: 'GOLD' } });
    await store.commit(0, [
      ...ids.map((id) => ({ customerId: id, state: state(id), processedDueAt: null, touch: '0', nextDueAt: null })),
      { customerId: 'M1', state: merged, processedDueAt: null, touch: '0', nextDueAt: null },
    ]);
    expect((await raw.get(key(store.keys.state(ids[0]!))))!.startsWith('1|')).toBe(true);
    // The same key holding the previous layout's JSON, for comparison (the test prefix lengthens the key name).
    const bytes = Number(await raw.memory('USAGE', key(store.keys.state(ids[0]!))));
    await raw.set(key(store.keys.state('J')), JSON.stringify(state('C000000')));
    const jsonBytes = Number(await raw.memory('USAGE', key(store.keys.state('J'))));
    expect(bytes).toBeLessThan(jsonBytes / 3);
    // The previous layout (JSON): read as written, rewritten in the compact one by the next commit.
    const legacy = state('L1', { version: 2, merges: [] });
    await t.redis.set(store.keys.state('L1'), JSON.stringify(legacy));
    const read = await store.readStates([...ids, 'M1', 'L1', 'NONE']);
    expect(read.size).toBe(52);
    expect(read.get(ids[7]!)).toEqual(state(ids[7]!));
    expect(read.get('M1')).toEqual(merged);
    expect(read.get('L1')).toEqual(legacy);
    await store.commit(0, [{ customerId: 'L1', state: legacy, processedDueAt: null, touch: '0', nextDueAt: null }]);
    expect((await raw.get(key(store.keys.state('L1'))))!.startsWith('1|')).toBe(true);
    expect((await store.readStates(['L1'])).get('L1')).toEqual(legacy);
  });

  it('keeps population cache entries compact and gives them back as JSON; entries of the previous layout too', async () => {
    const entry = { e: 20_634, v: 'cp-2026-06-29', d: 20_700, u: null, p: [[20_634, 5, 12, 34_500, 120_000]] };
    const odd = { e: 20_634, v: 'cp-x', d: null, u: null, p: [[20_634, 0.5]] };
    await store.commit(6, [
      {
        customerId: 'P1',
        state: state('P1'),
        processedDueAt: null,
        touch: '0',
        nextDueAt: null,
        population: JSON.stringify(entry),
      },
      {
        customerId: 'P2',
        state: state('P2'),
        processedDueAt: null,
        touch: '0',
        nextDueAt: null,
        population: JSON.stringify(odd),
      },
    ]);
    await t.redis.hset(store.keys.populationCache(6), 'P3', JSON.stringify({ ...entry, d: null }));
    expect((await t.redis.hget(store.keys.populationCache(6), 'P1'))!.startsWith('1|')).toBe(true);
    const cache = await store.readPopulationCache(6);
    expect(JSON.parse(cache.get('P1')!)).toEqual(entry);
    expect(JSON.parse(cache.get('P2')!)).toEqual(odd);
    expect(JSON.parse(cache.get('P3')!)).toEqual({ ...entry, d: null });
    // A reader with a cold code table.
    expect(JSON.parse((await new TierStateStore(t.redis, 'ts').readPopulationCache(6)).get('P1')!)).toEqual(entry);
  });

  it('reads states with a code table written by another process, and after the table was deleted and rebuilt', async () => {
    const other = new TierStateStore(t.redis, 'ts2');
    await other.commit(0, [
      {
        customerId: 'A',
        state: state('A', { rules_version: 'r-a' }),
        processedDueAt: null,
        touch: '0',
        nextDueAt: null,
      },
    ]);
    const reader = new TierStateStore(t.redis, 'ts2');
    expect((await reader.readStates(['A'])).get('A')?.rules_version).toBe('r-a');
    // Wiped (a reset of the prefix) and written again by another writer: codes start over under a new generation.
    await t.redis.del(other.keys.tierCodes(), other.keys.state('A'));
    const writer = new TierStateStore(t.redis, 'ts2');
    await writer.commit(0, [
      {
        customerId: 'B',
        state: state('B', { rules_version: 'r-b' }),
        processedDueAt: null,
        touch: '0',
        nextDueAt: null,
      },
    ]);
    expect((await reader.readStates(['B'])).get('B')?.rules_version).toBe('r-b');
    expect((await other.readStates(['B'])).get('B')).toEqual(state('B', { rules_version: 'r-b' }));
  });

  it('keeps a customer touched during its evaluation due; one with nothing due stays a customer; a merged one leaves', async () => {
    const p = 3;
    const day = (d: number) => d * 86_400_000 - 1;
    await store.schedule(['T', 'Q', 'M'].map((customerId) => ({ customerId, partition: p, dueAt: day(10) })));
    const due = await store.due(p, day(10), 10);
    expect(due.map((d) => d.dueAt)).toEqual([day(10), day(10), day(10)]);
    // The aggregator applies later events of T (due later: the instant stays, the touch steps) during the evaluation.
    await store.schedule([{ customerId: 'T', partition: p, dueAt: day(12) }]);
    const commits = due.map((d) => ({
      customerId: d.customerId,
      state: d.customerId === 'M' ? state('M', { merged_into: 'T' }) : state(d.customerId),
      processedDueAt: d.dueAt,
      touch: d.touch,
      nextDueAt: null,
    }));
    await store.commit(p, commits);
    expect((await store.due(p, day(10), 10)).map((d) => d.customerId)).toEqual(['T']);
    expect(await store.dueCount(p)).toBe(1);
    expect(await store.earliestDue(p)).toBe(day(10));
    const customers: string[] = [];
    for await (const page of store.customers(p)) customers.push(...page);
    expect(customers.sort()).toEqual(['Q', 'T']);
    expect(await store.customerCount(p)).toBe(2);
    // T evaluated again, untouched this time: nothing due either, so no customer is due at all.
    const [again] = await store.due(p, day(10), 10);
    await store.commit(p, [{ ...commits[0]!, customerId: 'T', touch: again!.touch, processedDueAt: again!.dueAt }]);
    expect(await store.earliestDue(p)).toBeNull();
    expect(await store.dueCount(p)).toBe(0);
    // New events wake a customer at +inf like any other.
    await store.schedule([{ customerId: 'Q', partition: p, dueAt: day(20) }]);
    expect(await store.earliestDue(p)).toBe(day(20));
  });

  it('writes a prepared commit in one transaction on one Redis: population entries, states and due entries', async () => {
    const p = 7;
    const day = (d: number) => d * 86_400_000 - 1;
    await store.schedule([{ customerId: 'W1', partition: p, dueAt: day(10) }]);
    const [due] = await store.due(p, day(10), 10);
    const entry = { e: 20_634, v: 'cp-2026-06-29', d: 20_700, u: null, p: [[20_634, 5, 12, 34_500, 120_000]] };
    // The codes are looked up first (the engine does it while its outputs are produced): then one round trip.
    const prepared = await store.prepareCommit([
      {
        customerId: 'W1',
        state: state('W1'),
        processedDueAt: due!.dueAt,
        touch: due!.touch,
        nextDueAt: day(30),
        population: JSON.stringify(entry),
      },
      { customerId: 'W2', state: state('W2'), processedDueAt: null, touch: '0', nextDueAt: day(20) },
    ]);
    const multi = vi.spyOn(t.redis, 'multi');
    const pipeline = vi.spyOn(t.redis, 'pipeline');
    const hset = vi.spyOn(t.redis, 'hset');
    try {
      await store.commit(p, prepared);
      expect(multi).toHaveBeenCalledTimes(1);
      expect(pipeline).not.toHaveBeenCalled();
      expect(hset).not.toHaveBeenCalled();
    } finally {
      vi.restoreAllMocks();
    }
    const read = await store.readStates(['W1', 'W2']);
    expect(read.get('W1')).toEqual(state('W1'));
    expect(read.get('W2')).toEqual(state('W2'));
    expect(JSON.parse((await store.readPopulationCache(p)).get('W1')!)).toEqual(entry);
    expect((await store.due(p, day(40), 10)).map((d) => [d.customerId, d.dueAt])).toEqual([
      ['W2', day(20)],
      ['W1', day(30)],
    ]);
  });

  it('upgrades a partition of the previous layout: its customer set joins the due index, the touch hash goes', async () => {
    const p = 4;
    await t.redis.zadd(store.keys.due(p), 5_000, 'D1');
    await t.redis.hset(store.keys.touch(p), 'D1', '3');
    await t.redis.sadd(store.keys.customers(p), 'D1', 'S1', 'S2');
    // Before the upgrade, readers see the set's customers too.
    const before: string[] = [];
    for await (const page of store.customers(p)) before.push(...page);
    expect(before.sort()).toEqual(['D1', 'S1', 'S2']);
    expect(await store.customerCount(p)).toBe(3);
    await store.upgradePartition(p);
    expect(await t.redis.exists(store.keys.touch(p), store.keys.customers(p))).toBe(0);
    expect(await t.redis.zrange(store.keys.due(p), 0, -1, 'WITHSCORES')).toEqual([
      'D1',
      '5000',
      'S1',
      'inf',
      'S2',
      'inf',
    ]);
    expect(await store.customerCount(p)).toBe(3);
    expect(await store.due(p, 10_000, 10)).toEqual([{ customerId: 'D1', dueAt: 5_000, touch: '5000' }]);
    await store.upgradePartition(p);
    expect(await store.customerCount(p)).toBe(3);
  });

  it('keeps the due index, touches and customer list under 120 B per customer at 5,000 customers', async () => {
    const p = 5;
    const ids = Array.from({ length: 5_000 }, (_, i) => `C${String(i).padStart(6, '0')}`);
    // Twice, as a replay's batches do (the touch counter moves).
    for (const dueAt of [1_782_863_999_999, 1_782_777_599_999]) {
      await store.schedule(ids.map((customerId) => ({ customerId, partition: p, dueAt })));
    }
    let bytes = 0;
    for (const k of [store.keys.due(p), store.keys.touch(p), store.keys.customers(p)]) {
      bytes += Number((await raw.memory('USAGE', key(k), 'SAMPLES', 0)) ?? 0);
    }
    expect(bytes / ids.length).toBeLessThanOrEqual(120);
  });
});
