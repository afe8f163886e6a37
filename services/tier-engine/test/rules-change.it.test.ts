import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type CutPoints,
  computeCutPoints,
  cutPointsInForce,
  initialCutPoints,
  type Metrics,
  parseRules,
  type Rules,
  sortCutPoints,
} from '@tierstream/tiering';
import { TierStateStore } from '@tierstream/tierstate';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { createTestRedis } from '../../../test/support/stack';
import type { TierEngine } from '../src/engine';
import { RulesChange } from '../src/rules-change';

// The rules-change rendezvous (rules-change.ts) on the real Redis, with two "instances" sharing three partitions and
// a stand-in for the engine: a partition behind catches up before anything is decided, the decision is taken once,
// and every partition re-evaluates as of the same day with the same cut points.

const TEXT = readFileSync(
  path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../rules/default.yaml'),
  'utf8',
);
const V1 = parseRules(TEXT, 'v1');
const V2_TEXT = TEXT.replace(/^version: "[^"]+"/m, 'version: "v2"')
  .replace('- { tier: PLATINUM, share: 0.2 }', '- { tier: PLATINUM, share: 0.1 }')
  .replace('- { tier: GOLD, share: 0.3 }', '- { tier: GOLD, share: 0.4 }');
const DAY = 20_000;

const metrics = (revenue: number): Metrics => ({
  revenue_365d: revenue,
  revenue_lifetime: revenue,
  orders_lifetime: 1,
  recency_days: 3,
});
/** Partition p's population as of `day`: revenues growing with the day, so a stale report would show. */
const populationOf = (p: number, day: number): Metrics[] =>
  Array.from({ length: 5 }, (_, i) => metrics((p * 5 + i + 1) * 1000 + (day - DAY) * 7));

/** What RulesChange needs of the engine, recording what it was asked. */
function fakeEngine() {
  const history: CutPoints[] = [initialCutPoints(V1)];
  const fake = {
    rules: V1 as Rules,
    populationNames: null as string[] | null,
    reads: [] as Array<[number, number]>,
    evaluations: [] as Array<{ partition: number; day: number; rulesChanged: boolean; customers: number }>,
    set cutPoints(cp: CutPoints) {
      if (!history.some((c) => c.version === cp.version)) history.push(cp);
    },
    get cutPoints(): CutPoints {
      return sortCutPoints(history).at(-1)!;
    },
    cutPointsFor: (day: number) => cutPointsInForce(sortCutPoints(history), day),
    rulesChangePopulation: async (p: number, day: number) => {
      fake.reads.push([p, day]);
      return populationOf(p, day);
    },
    evaluate: async (p: number, requests: Array<{ day: number; rulesChanged?: boolean }>) => {
      fake.evaluations.push({
        partition: p,
        day: requests[0]!.day,
        rulesChanged: requests.every((r) => r.rulesChanged === true),
        customers: requests.length,
      });
      return 0;
    },
    publishCutPoints: async () => undefined,
  };
  return fake;
}

describe('rules change rendezvous', () => {
  const t = createTestRedis('rules-change');
  afterAll(() => t.cleanup());
  const tierState = new TierStateStore(t.redis, 'ts');
  const logger = pino({ level: 'silent' });

  function instance(engine: ReturnType<typeof fakeEngine>) {
    return new RulesChange({
      engine: engine as unknown as TierEngine,
      tierState,
      redis: t.redis,
      mode: 'replay',
      numPartitions: 3,
      rulesReevaluationRate: 1_000_000,
      clock: async () => null,
      startVersion: V1.version,
      logger,
    });
  }

  it('a partition behind catches up first; one decision; every partition waves on the same day', async () => {
    await tierState.rules.apply(V1.version, TEXT, 'engine start: RULES_FILE rules/default.yaml');
    for (const [p, closed] of [
      [0, DAY],
      [1, DAY],
      [2, DAY - 2],
    ] as const) {
      await tierState.setPartitionMeta(p, { closed_day: closed });
      await t.redis.sadd(tierState.keys.customers(p), `c${p}a`, `c${p}b`);
    }
    const engineA = fakeEngine();
    const engineB = fakeEngine();
    const a = instance(engineA); // owns partitions 0 and 1
    const b = instance(engineB); // owns partition 2
    expect(await a.poll([0, 1])).toEqual([]); // on the start file's version already
    expect((await tierState.getPartitionMeta(0)).rules_seq).toBe('1');

    await tierState.rules.apply('v2', V2_TEXT, 'tierctl rules apply v2.yaml');
    expect(await a.poll([0, 1])).toEqual([0, 1]);
    expect(await a.step(0, DAY)).toBe(false);
    expect(await a.step(1, DAY)).toBe(false);
    // Held at its closed day, waiting for partition 2 (not reported yet).
    expect(await a.closeLimit(0, DAY)).toMatchObject({ limit: DAY, decided: false, apply: 2, waitingFor: [2] });
    expect(await b.poll([2])).toEqual([2]);
    expect(await b.step(2, DAY - 2)).toBe(false); // reported, behind: nothing decided
    // May catch up to the others' day; the rendezvous waits for it.
    expect(await b.closeLimit(2, DAY - 2)).toMatchObject({ limit: DAY, waitingFor: [2] });
    // Partition 2 closes its two days (old rules), then reports again: now every report is DAY.
    await tierState.setPartitionMeta(2, { closed_day: DAY });
    expect(await b.step(2, DAY)).toBe(true);
    expect(engineB.reads).toEqual([
      [2, DAY - 2],
      [2, DAY],
    ]);
    const expected = computeCutPoints(
      parseRules(V2_TEXT, 'v2'),
      [0, 1, 2].flatMap((p) => populationOf(p, DAY)),
      'x',
      (DAY + 1) * 86_400_000 - 1,
    );
    const version = 'cp-2024-10-04+r2';
    expect(engineB.cutPoints).toMatchObject({ version, from_day: DAY, rules_version: 'v2', rules_seq: 2 });
    expect(engineB.cutPoints.cuts.value_tier).toEqual(expected.cuts.value_tier);
    expect(engineB.rules.version).toBe('v2');
    expect(engineB.evaluations).toEqual([{ partition: 2, day: DAY, rulesChanged: true, customers: 2 }]);

    // The other instance re-evaluates with the stored decision: the same cut points, the same day.
    expect(a.reevaluating(0)).toBe(false);
    expect(await a.step(0, DAY)).toBe(true);
    expect(await a.step(1, DAY)).toBe(true);
    expect(engineA.cutPoints).toEqual(engineB.cutPoints);
    expect(engineA.evaluations.map((e) => [e.partition, e.day, e.rulesChanged])).toEqual([
      [0, DAY, true],
      [1, DAY, true],
    ]);
    for (const p of [0, 1, 2]) {
      expect(await tierState.getPartitionMeta(p)).toMatchObject({ rules_seq: '2', rules_version: 'v2' });
    }
    expect(await a.poll([0, 1])).toEqual([]);
    expect(await a.closeLimit(0, DAY)).toBeUndefined(); // free to close days again
    const stored = (await tierState.getCutPointsHistory()).find((c) => c.version === version);
    expect(stored?.cuts.value_tier).toEqual(expected.cuts.value_tier);
    // The population parts are dropped once decided; the progress stays for `tierctl rules show`.
    const h = await t.redis.hgetall(tierState.rules.keys.change(2));
    expect(Object.keys(h).filter((k) => k.startsWith('pop:'))).toEqual([]);
    expect(
      Object.keys(h)
        .filter((k) => k.startsWith('done:'))
        .sort(),
    ).toEqual(['done:0', 'done:1', 'done:2']);
  });
});

describe('a rules change decided by an engine (re)started after the apply', () => {
  const t = createTestRedis('rules-change-restart');
  afterAll(() => t.cleanup());
  const tierState = new TierStateStore(t.redis, 'ts');

  it('recomputes the cuts of a changed share: the rules before the apply are the history, not the engine', async () => {
    await tierState.rules.apply(V1.version, TEXT, 'engine start: RULES_FILE rules/default.yaml');
    for (const p of [0, 1, 2]) {
      await tierState.setPartitionMeta(p, { closed_day: DAY, rules_seq: 1, rules_version: V1.version });
      await t.redis.sadd(tierState.keys.customers(p), `c${p}a`);
    }
    await tierState.rules.apply('v2', V2_TEXT, 'tierctl rules apply v2.yaml');
    // Started after the apply: the active version (v2) wins over RULES_FILE, so the engine already runs v2.
    const engine = fakeEngine();
    engine.rules = parseRules(V2_TEXT, 'v2');
    const change = new RulesChange({
      engine: engine as unknown as TierEngine,
      tierState,
      redis: t.redis,
      mode: 'replay',
      numPartitions: 3,
      rulesReevaluationRate: 1_000_000,
      clock: async () => null,
      startVersion: 'v2',
      logger: pino({ level: 'silent' }),
    });
    expect(await change.poll([0, 1, 2])).toEqual([0, 1, 2]);
    for (const p of [0, 1]) expect(await change.step(p, DAY)).toBe(false);
    expect(await change.step(2, DAY)).toBe(true);
    const expected = computeCutPoints(
      parseRules(V2_TEXT, 'v2'),
      [0, 1, 2].flatMap((p) => populationOf(p, DAY)),
      'x',
      (DAY + 1) * 86_400_000 - 1,
    );
    // Not the fallback cuts in force before (what keeping "unchanged" dimensions gave): PLATINUM's new share applies.
    expect(engine.cutPoints.cuts.value_tier).toEqual(expected.cuts.value_tier);
    expect(engine.cutPoints.cuts.value_tier).not.toEqual(initialCutPoints(V1).cuts.value_tier);
  });
});
