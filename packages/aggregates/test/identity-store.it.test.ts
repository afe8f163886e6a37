import { createRedis, type RedisClient } from '@tierstream/config';
import type { IdentityEvent, InputEvent } from '@tierstream/contracts';
import fc from 'fast-check';
import { Cluster } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { createTestRedis, uniqueName } from '../../../test/support/stack';
import { attributeEvents, buildIdentityGraph, type IdentityOutcome, rootOf } from '../src/identity-oracle';
import { type HeldEvent, type IdentityApplied, IdentityStore } from '../src/identity-store';

// The identity graph store (lua/identity_*.lua through IdentityStore) against the identity oracle, on the stack's
// Redis and on its Redis Cluster: random identity histories with redeliveries give the oracle's graph and outcomes,
// and anonymous events held/routed/folded in random interleavings with aliases count exactly as the oracle says.

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 0, 1);
const R = 10 * DAY;
const CUSTOMERS = ['c0', 'c1', 'c2', 'c3', 'c4'];
const ANONS = ['x0', 'x1', 'x2'];

type Step =
  | { kind: 'identity'; event: IdentityEvent }
  | { kind: 'redeliver'; back: number }
  | { kind: 'web'; events: Array<{ anon: string; id: number }> };

const identityArb = fc.record({
  merge: fc.boolean(),
  a: fc.constantFrom(...CUSTOMERS),
  b: fc.constantFrom(...CUSTOMERS),
  x: fc.constantFrom(...ANONS),
  gap: fc.integer({ min: 0, max: 3 }),
});
const stepArb = fc.oneof(
  { arbitrary: identityArb.map((i) => ({ kind: 'i' as const, i })), weight: 3 },
  { arbitrary: fc.integer({ min: 1, max: 4 }).map((back) => ({ kind: 'redeliver' as const, back })), weight: 1 },
  {
    arbitrary: fc
      .array(
        fc.record({
          anon: fc.constantFrom(...ANONS),
          // Few ids per anonymous id, so that copies (redeliveries) before and after its alias are common.
          id: fc.integer({ min: 0, max: 11 }),
        }),
        { minLength: 1, maxLength: 4 },
      )
      .map((events) => ({ kind: 'web' as const, events })),
    weight: 3,
  },
);

/** Turns drawn steps into a history: identity events get ids and nondecreasing times (event-time order). */
type Drawn = typeof stepArb extends fc.Arbitrary<infer T> ? T : never;
function history(drawn: Drawn[]): Step[] {
  let day = 0;
  let n = 0;
  return drawn.map((d) => {
    if (d.kind === 'redeliver') return d;
    if (d.kind === 'web') return d;
    day += d.i.gap;
    const id = `i${n++}`;
    const event: IdentityEvent = d.i.merge
      ? {
          event_id: id,
          type: 'MERGE',
          customer_id: d.i.b,
          anonymous_id: null,
          merged_customer_id: d.i.a,
          source: null,
          occurred_at: T0 + day * DAY,
        }
      : {
          event_id: id,
          type: 'ALIAS',
          customer_id: d.i.b,
          anonymous_id: d.i.x,
          merged_customer_id: null,
          source: null,
          occurred_at: T0 + day * DAY,
        };
    return { kind: 'identity', event };
  });
}

/** Anonymous event `id` of `anon`: its day is a function of both (-15 .. 40), so copies are exact copies. */
const webEvent = (anon: string, id: number): InputEvent => ({
  kind: 'web',
  event: {
    event_id: `w-${anon}-${id}`,
    customer_id: null,
    anonymous_id: anon,
    type: 'PAGE_VIEW',
    url: null,
    content_id: null,
    occurred_at: T0 + (((id * 7 + ANONS.indexOf(anon) * 3) % 56) - 15) * DAY + 3_600_000,
  },
});

/**
 * Runs a history through the store as the aggregator will: identity events in order (redeliveries re-apply an earlier
 * one; the identity steps between two web steps as one batch, through applyMany, as the identities handler applies a
 * batch: runs of aliases together), anonymous events held or routed (routed ones deduplicated by event id like the apply path's offsets), alias
 * folds once per alias event id (the fold's marker). Returns the outcomes of first applications and the anonymous
 * event ids counted per customer named (with multiplicity).
 */
async function run(store: IdentityStore, steps: Step[]) {
  const outcomes: IdentityOutcome[] = [];
  const applied: IdentityEvent[] = [];
  const counted = new Map<string, string[]>();
  const routed = new Set<string>();
  const folded = new Set<string>();
  const count = (customer: string, id: string) => counted.set(customer, [...(counted.get(customer) ?? []), id]);
  let watermark = Number.NEGATIVE_INFINITY;
  const inputs: InputEvent[] = [];
  let batch: Array<{ event: IdentityEvent; first: boolean }> = [];
  for (const [s, step] of steps.entries()) {
    if (step.kind === 'web') {
      const byAnon = new Map<string, HeldEvent[]>();
      for (const e of step.events) {
        const input = webEvent(e.anon, e.id);
        inputs.push(input);
        const list = byAnon.get(e.anon) ?? [];
        list.push({ eventId: input.event.event_id, occurredAt: input.event.occurred_at, type: 'PAGE_VIEW' });
        byAnon.set(e.anon, list);
      }
      const items = [...byAnon].map(([anonymousId, events]) => ({ anonymousId, events }));
      const res = await store.hold(items, watermark - R);
      for (const it of items) {
        const r = res.get(it.anonymousId)!;
        expect(r.decisions).toHaveLength(it.events.length);
        it.events.forEach((ev, i) => {
          const d = r.decisions[i];
          expect(d).toMatch(r.customerId === null ? /^[HOD]$/ : /^[RF]$/);
          if (d === 'R' && ev.occurredAt >= r.aliasAt! - R && !routed.has(ev.eventId)) {
            routed.add(ev.eventId);
            count(r.customerId!, ev.eventId);
          }
        });
      }
      continue;
    }
    // Identity events (and redeliveries) up to the next web step: applied together, as one identities batch is.
    const event = step.kind === 'identity' ? step.event : applied[Math.max(0, applied.length - step.back)];
    if (event) {
      batch.push({ event, first: step.kind === 'identity' });
      if (step.kind === 'identity') applied.push(event);
    }
    if (steps[s + 1]?.kind !== 'web' && s + 1 < steps.length) continue;
    const results = await store.applyMany(batch.map((b) => b.event));
    batch.forEach(({ event: e, first }, i) => {
      const result = results[i]!;
      if (first) {
        outcomes.push(result.outcome);
        watermark = Math.max(watermark, e.occurred_at);
      }
      if (result.outcome.kind === 'aliased' && !folded.has(e.event_id)) {
        folded.add(e.event_id);
        for (const h of result.held ?? []) count(e.customer_id, h.eventId);
      }
    });
    batch = [];
  }
  return { outcomes, applied, counted, inputs };
}

async function checkAgainstOracle(store: IdentityStore, steps: Step[]) {
  const { outcomes, applied, counted, inputs } = await run(store, steps);
  const graph = buildIdentityGraph(applied);
  expect(outcomes).toEqual(graph.outcomes.map((o) => o.outcome));
  const roots = await store.resolveMany(CUSTOMERS);
  for (const c of CUSTOMERS) expect(roots.get(c), c).toBe(rootOf(graph, c));
  for (const x of ANONS)
    expect((await store.aliasOf(x))?.customerId ?? null).toBe(graph.aliases.get(x)?.customerId ?? null);
  // Anonymous events counted: per root, each event the oracle attributes exactly once, and no other.
  const got = new Map<string, string[]>();
  for (const [c, ids] of counted) got.set(roots.get(c)!, [...(got.get(roots.get(c)!) ?? []), ...ids].sort());
  const unique = [...new Map(inputs.map((e) => [e.event.event_id, e])).values()];
  const want = new Map(
    [...attributeEvents(unique, graph, R)].map(([c, evs]) => [c, evs.map((e) => e.event.event_id).sort()]),
  );
  expect(new Map([...got].filter(([, ids]) => ids.length > 0))).toEqual(want);
}

function suite(name: string, client: () => { redis: RedisClient; prefix: string; cleanup: () => Promise<void> }) {
  describe(`IdentityStore on ${name}`, () => {
    const t = client();
    afterAll(() => t.cleanup());
    let runNo = 0;

    it('random histories with redeliveries give the oracle graph, outcomes and anonymous attribution', async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(stepArb, { minLength: 1, maxLength: 40 }), async (drawn) => {
          const store = new IdentityStore(t.redis, { prefix: `${t.prefix}r${runNo++}`, anonRetentionMs: R });
          await checkAgainstOracle(store, history(drawn));
        }),
        { numRuns: Number(process.env.IDENTITY_PROPERTY_RUNS ?? (name === 'Redis' ? 150 : 30)) },
      );
    });

    it('a chain compresses: ids merged into a merged id point at the root', async () => {
      const store = new IdentityStore(t.redis, { prefix: `${t.prefix}chain` });
      const merge = (a: string, b: string, id: string): IdentityEvent => ({
        event_id: id,
        type: 'MERGE',
        customer_id: b,
        anonymous_id: null,
        merged_customer_id: a,
        source: null,
        occurred_at: T0,
      });
      await store.apply(merge('a', 'b', 'm1'));
      await store.apply(merge('b', 'c', 'm2'));
      const [a, b, c] = ['a', 'b', 'c'].map((id) => store.keys.customer(id));
      expect(await t.redis.hget(a!, 'to')).toBe('c');
      expect(await store.readMany(['c', 'b'])).toEqual(
        new Map([
          ['c', { id: 'c', mergedInto: null, merges: [{ customerId: 'b', mergeId: 'm2' }], aliases: [] }],
          [
            'b',
            {
              id: 'b',
              mergedInto: { customerId: 'c', mergeId: 'm2', at: T0, to: 'c' },
              merges: [{ customerId: 'a', mergeId: 'm1' }],
              aliases: [],
            },
          ],
        ]),
      );
      // Redelivery of the first merge changes nothing (its survivor stays the one it recorded).
      expect((await store.apply(merge('a', 'b', 'm1'))).redo).toBe(true);
      expect(await t.redis.hget(a!, 'to')).toBe('c');
      expect(await t.redis.hgetall(c!)).toEqual({ 'mg:b': 'm2' });
      expect(Object.keys(await t.redis.hgetall(b!)).sort()).toEqual(['mg:a', 'ta', 'tb', 'tm', 'to']);
      expect(await t.redis.hmget(a!, 'tb', 'to')).toEqual(['b', 'c']);
    });

    it('an erased id cannot be merged or aliased (ERASED_ID)', async () => {
      const store = new IdentityStore(t.redis, { prefix: `${t.prefix}erased` });
      await t.redis.set(store.keys.erased('gone'), 'req-1');
      const base = { source: null, occurred_at: T0 };
      const merge = (a: string, b: string): IdentityEvent => ({
        ...base,
        event_id: `${a}-${b}`,
        type: 'MERGE',
        customer_id: b,
        anonymous_id: null,
        merged_customer_id: a,
      });
      expect((await store.apply(merge('gone', 'b'))).outcome).toEqual({ kind: 'rejected', reason: 'ERASED_ID' });
      expect((await store.apply(merge('b', 'gone'))).outcome).toEqual({ kind: 'rejected', reason: 'ERASED_ID' });
      const alias: IdentityEvent = {
        ...base,
        event_id: 'al',
        type: 'ALIAS',
        customer_id: 'gone',
        anonymous_id: 'x',
        merged_customer_id: null,
      };
      expect((await store.apply(alias)).outcome).toEqual({ kind: 'rejected', reason: 'ERASED_ID' });
      expect(await store.resolveMany(['b', 'gone'])).toEqual(
        new Map([
          ['b', 'b'],
          ['gone', 'gone'],
        ]),
      );
    });
  });
}

suite('Redis', () => {
  const t = createTestRedis('identity');
  return { redis: t.redis, prefix: 'ts', cleanup: t.cleanup };
});

const clusterPorts = (process.env.REDIS_CLUSTER_PORTS ?? '17001,17002,17003').split(',');
suite('Redis Cluster', () => {
  const redis = createRedis(`redis-cluster://${clusterPorts.map((p) => `127.0.0.1:${p.trim()}`).join(',')}`);
  const prefix = uniqueName('identity');
  return {
    redis,
    prefix,
    async cleanup() {
      const nodes = redis instanceof Cluster ? redis.nodes('master') : [redis];
      for (const node of nodes) {
        let cursor = '0';
        do {
          const [next, keys] = await node.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
          cursor = next;
          for (const k of keys) await node.del(k);
        } while (cursor !== '0');
      }
      redis.disconnect();
    },
  };
});

describe('IdentityStore memory', () => {
  const t = createTestRedis('identity-mem');
  afterAll(() => t.cleanup());

  it('an alias costs its alias hash and one field on the customer; a held event one entry of a string', async () => {
    const store = new IdentityStore(t.redis, { prefix: 'ts' });
    const N = 200;
    let aliasBytes = 0;
    let heldBytes = 0;
    for (let i = 0; i < N; i++) {
      const anon = `3f2b8c1e-7d4a-4f7e-9c1b-${String(i).padStart(12, '0')}`;
      const events: HeldEvent[] = Array.from({ length: 10 }, (_, k) => ({
        eventId: `0b6f7a3c-2e1d-4c5b-8a9f-${String(i * 100 + k).padStart(12, '0')}`,
        occurredAt: T0 + k * 3_600_000,
        type: 'PAGE_VIEW',
      }));
      await store.hold([{ anonymousId: anon, events }], 0);
      heldBytes += Number(await t.redis.memory('USAGE', t.keyPrefix + store.keys.held(anon)));
      const customer = `C${String(i).padStart(7, '0')}`;
      await store.apply({
        event_id: `a-${i}`,
        type: 'ALIAS',
        customer_id: customer,
        anonymous_id: anon,
        merged_customer_id: null,
        source: null,
        occurred_at: T0 + DAY,
      });
      aliasBytes += Number(await t.redis.memory('USAGE', t.keyPrefix + store.keys.alias(anon)));
      aliasBytes += Number(await t.redis.memory('USAGE', t.keyPrefix + store.keys.customer(customer)));
    }
    const perAlias = aliasBytes / N;
    const perHeld = heldBytes / N / 10;
    console.log(
      `[identity memory] per alias ${perAlias.toFixed(0)} B (alias hash + the customer's identity hash), per held anonymous event ${perHeld.toFixed(0)} B`,
    );
    expect(perAlias).toBeLessThan(400);
    expect(perHeld).toBeLessThan(100);
  });

  it('hold: at most heldMaxBytes per anonymous id (a copy counts once there), one APPEND per id, the expiry set when created and once a day', async () => {
    // An entry `<time>,0,2:eN` is 20 bytes: three fit in 60.
    const store = new IdentityStore(t.redis, { prefix: 'tscap', heldMaxBytes: 60 });
    const ev = (id: string, k: number): HeldEvent => ({ eventId: id, occurredAt: T0 + k, type: 'PAGE_VIEW' });
    const five = ['e1', 'e2', 'e3', 'e4', 'e5'].map((id, k) => ev(id, k));
    // Three fit, then dropped: the string starts with the bound's marker (the oldest time kept, an empty id).
    const x = store.keys.held('x');
    expect((await store.hold([{ anonymousId: 'x', events: five }], 0)).get('x')!.decisions).toBe('HHHDD');
    const full = `${T0},0,0:${T0},0,2:e1${T0 + 1},0,2:e2${T0 + 2},0,2:e3`;
    expect(await t.redis.get(x)).toBe(full);
    expect(await store.heldCount('x')).toBe(3);
    // Again (a redelivery) from the process that saw it full: dropped without a write (the copies too).
    expect((await store.hold([{ anonymousId: 'x', events: five }], 0)).get('x')!.decisions).toBe('DDDDD');
    expect(await t.redis.get(x)).toBe(full);
    // From another process: compacted again, the held ones are copies, the others still do not fit.
    const other = new IdentityStore(t.redis, { prefix: 'tscap', heldMaxBytes: 60 });
    expect((await other.hold([{ anonymousId: 'x', events: five }], 0)).get('x')!.decisions).toBe('HHHDD');
    expect(await t.redis.get(x)).toBe(full);
    // Once the floor passes the oldest held event, compacting prunes it: room again, the marker gone.
    expect((await store.hold([{ anonymousId: 'x', events: [ev('e6', 6)] }], T0 + 1)).get('x')!.decisions).toBe('H');
    expect(await t.redis.get(x)).toBe(`${T0 + 1},0,2:e2${T0 + 2},0,2:e3${T0 + 6},0,2:e6`);
    // A copy within one call: appended, counted once; the alias folds its first entry.
    const wide = new IdentityStore(t.redis, { prefix: 'tscap' });
    const copies = [ev('c1', 5), ev('c1', 1), ev('c2', 7)];
    expect((await wide.hold([{ anonymousId: 'y', events: copies }], 0)).get('y')!.decisions).toBe('HHH');
    expect(await wide.heldCount('y')).toBe(2);
    const held = wide.keys.held('y');
    // Expiry set when the held string is created (the horizon + 3 days)...
    expect(await t.redis.pttl(held)).toBeGreaterThan(store.anonRetentionMs);
    // ...not again by this process on the same day...
    await t.redis.pexpire(held, 1_000_000);
    await wide.hold([{ anonymousId: 'y', events: [ev('c3', 9)] }], 0);
    expect(await t.redis.pttl(held)).toBeLessThanOrEqual(1_000_000);
    // ...by another (or after a restart, or the next day).
    await new IdentityStore(t.redis, { prefix: 'tscap' }).hold([{ anonymousId: 'y', events: [ev('c4', 9)] }], 0);
    expect(await t.redis.pttl(held)).toBeGreaterThan(store.anonRetentionMs);
    expect(await wide.heldCount('y')).toBe(4);
    // A hold that writes nothing (all its events below the floor) does not count as today's: the next one sets it.
    const late = new IdentityStore(t.redis, { prefix: 'tscap' });
    await t.redis.pexpire(held, 1_000_000);
    expect((await late.hold([{ anonymousId: 'y', events: [ev('c9', 2)] }], T0 + 3)).get('y')!.decisions).toBe('O');
    expect(await t.redis.pttl(held)).toBeLessThanOrEqual(1_000_000);
    await late.hold([{ anonymousId: 'y', events: [ev('c8', 9)] }], T0 + 3);
    expect(await t.redis.pttl(held)).toBeGreaterThan(store.anonRetentionMs);
    const folded = await wide.apply({
      event_id: 'a-y',
      type: 'ALIAS',
      customer_id: 'C9',
      anonymous_id: 'y',
      merged_customer_id: null,
      source: null,
      occurred_at: T0 + DAY,
    });
    expect(folded.held).toEqual([ev('c1', 5), ev('c2', 7), ev('c3', 9), ev('c4', 9), ev('c8', 9)]);
    // Below the floor: O while X has no alias; routed once it has one (its alias may be older than the watermark).
    expect(
      (await wide.hold([{ anonymousId: 'z', events: [ev('z1', 1), ev('z2', 9)] }], T0 + 5)).get('z')!.decisions,
    ).toBe('OH');
    expect(
      (await wide.hold([{ anonymousId: 'y', events: [ev('c5', 1), ev('c1', 5)] }], T0 + 5)).get('y')!.decisions,
    ).toBe('RF');
  });

  it('refuses a bound an alias could not fold (more than 65,535 entries of 7 bytes)', () => {
    expect(() => new IdentityStore(t.redis, { heldMaxBytes: 65_535 * 7 + 1 })).toThrow(/heldMaxBytes: 1 to 458745/);
    expect(() => new IdentityStore(t.redis, { heldMaxBytes: 0 })).toThrow(RangeError);
  });

  it("a previous build's held hashes are read, made strings at the next hold and folded; an event named `_min` too", async () => {
    const store = new IdentityStore(t.redis, { prefix: 'tsmin' });
    const ev = (id: string, k: number): HeldEvent => ({ eventId: id, occurredAt: T0 + k, type: 'PAGE_VIEW' });
    const alias = (x: string, i: number): IdentityEvent => ({
      event_id: `a-${x}`,
      type: 'ALIAS',
      customer_id: `C${i}`,
      anonymous_id: x,
      merged_customer_id: null,
      source: null,
      occurred_at: T0 + DAY,
    });
    const heldIds = (a: Awaited<ReturnType<IdentityStore['apply']>>) => (a.held ?? []).map((h) => h.eventId).sort();
    const hold = async (x: string, events: HeldEvent[]) =>
      (await store.hold([{ anonymousId: x, events }], 0)).get(x)!.decisions;
    expect(await hold('x', [ev('_min', 3), ev('e1', 4)])).toBe('HH');
    // A redelivery: appended again, counted once.
    expect(await hold('x', [ev('_min', 3), ev('e1', 4)])).toBe('HH');
    expect(await store.heldCount('x')).toBe(2);
    expect(heldIds(await store.apply(alias('x', 1)))).toEqual(['_min', 'e1']);
    // The alias made the held string a hash of the folded ids ('' marks it as this build's).
    expect(await t.redis.type(store.keys.held('x'))).toBe('hash');
    expect(await t.redis.hget(store.keys.held('x'), '')).toBe('folded');
    // After the alias: `_min` was folded by it (F), a new event routed (R); and so once the folded ids are gone.
    expect(await hold('x', [ev('_min', 3), ev('e2', 5)])).toBe('FR');
    await t.redis.del(store.keys.held('x'));
    expect(await hold('x', [ev('e3', 5)])).toBe('R');
    expect(await t.redis.exists(store.keys.held('x'))).toBe(0);
    // The oldest layout: `_min` is its meta (the bound), not an event; made a string with the event `_min` beside it.
    const z = store.keys.held('z');
    await t.redis.hset(z, '_min', String(T0 + 1), 'e9', `${T0 + 1},0`);
    expect(await hold('z', [ev('_min', 3), ev('e10', 4)])).toBe('HH');
    expect(await t.redis.type(z)).toBe('string');
    expect(await store.heldCount('z')).toBe(3);
    expect(heldIds(await store.apply(alias('z', 2)))).toEqual(['_min', 'e10', 'e9']);
    // The previous layout (meta '', where `_min` is an event), folded by an alias without a hold first.
    const w = store.keys.held('w');
    await t.redis.hset(w, '', `${T0 + 1},0`, '_min', `${T0 + 2},0`, 'e8', `${T0 + 1},0`);
    expect(heldIds(await store.apply(alias('w', 3)))).toEqual(['_min', 'e8']);
    // A previous build's aliased id (its hash with the marker ' '): its held events F, new ones R.
    const v = store.keys.held('v');
    await t.redis.hset(store.keys.alias('v'), 'c', 'C4', 'e', 'a-v', 't', String(T0 + DAY));
    await t.redis.hset(v, '', `${T0 + 1},0`, ' ', `${T0 + DAY},C4`, 'e7', `${T0 + 1},0`);
    const routed = (await store.hold([{ anonymousId: 'v', events: [ev('e7', 1), ev('e6', 2)] }], 0)).get('v')!;
    expect(routed).toEqual({ customerId: 'C4', aliasAt: T0 + DAY, decisions: 'FR' });
  });
});

describe('IdentityStore.applyMany', () => {
  const t = createTestRedis('identity-many');
  afterAll(() => t.cleanup());
  const alias = (id: string, anon: string, customer: string): IdentityEvent => ({
    event_id: id,
    type: 'ALIAS',
    customer_id: customer,
    anonymous_id: anon,
    merged_customer_id: null,
    source: null,
    occurred_at: T0 + DAY,
  });

  it('a run of aliases takes a few round trips in all, with the results and graph of one at a time', async () => {
    const many = new IdentityStore(t.redis, { prefix: 'many' });
    const one = new IdentityStore(t.redis, { prefix: 'one' });
    // Before the batch: x-conflict aliased to c-other, c-erased erased, held events for x-3 (folded by its alias).
    for (const s of [many, one]) {
      await s.apply(alias('a-before', 'x-conflict', 'c-other'));
      await t.redis.set(s.keys.erased('c-erased'), '1');
      await s.hold([{ anonymousId: 'x-3', events: [{ eventId: 'w', occurredAt: T0, type: 'PAGE_VIEW' }] }], 0);
    }
    const events = [
      ...Array.from({ length: 50 }, (_, i) => alias(`a-${i}`, `x-${i}`, `c-${i}`)),
      alias('a-erased', 'x-erased', 'c-erased'),
      alias('a-conflict', 'x-conflict', 'c-1'),
      alias('a-dup', 'x-conflict', 'c-other'),
    ];
    // Round trips of `many`'s client: direct commands and pipelines (ioredis sends a pipeline's commands with a stream).
    let trips = 0;
    const redis = t.redis as unknown as {
      sendCommand: (c: unknown, s?: unknown, n?: unknown) => unknown;
      pipeline: () => { exec: () => Promise<unknown> };
    };
    const send = redis.sendCommand.bind(redis);
    const pipeline = redis.pipeline.bind(redis);
    redis.sendCommand = (c, s, n) => {
      if (s === undefined) trips++;
      return send(c, s, n);
    };
    redis.pipeline = () => {
      const p = pipeline();
      const exec = p.exec.bind(p);
      p.exec = () => {
        trips++;
        return exec();
      };
      return p;
    };
    let got: Awaited<ReturnType<IdentityStore['applyMany']>>;
    try {
      got = await many.applyMany(events);
    } finally {
      redis.sendCommand = send;
      redis.pipeline = pipeline;
    }
    // One round trip per step for the 52 aliases of distinct ids (erasure markers; the alias scripts; the customers'
    // `al:` fields beside the roots of the conflict), then the same for the last one (its anonymous id was in the run).
    expect(trips).toBeLessThanOrEqual(8); // one at a time: 157
    const want: IdentityApplied[] = [];
    for (const e of events) want.push(await one.apply(e));
    expect(got).toEqual(want);
    expect(got.slice(50).map((r) => r.outcome.kind)).toEqual(['rejected', 'rejected', 'duplicate']);
    expect(got[3]!.held).toEqual([{ eventId: 'w', occurredAt: T0, type: 'PAGE_VIEW' }]);
    const ids = [...events.map((e) => e.customer_id), 'c-other'];
    const records = async (s: IdentityStore) =>
      [...(await s.readMany(ids))].map(([id, r]) => [id, r.aliases, r.mergedInto]);
    expect(await records(many)).toEqual(await records(one));
    for (const e of events)
      expect((await many.aliasOf(e.anonymous_id!))?.customerId).toBe((await one.aliasOf(e.anonymous_id!))?.customerId);
  });
});
