/**
 * Parking (docs/destinations.md, "Parking"): batches never wait for a retry; parked items are delivered later by
 * retryDue, in order per customer. The store is an in-memory model of services/destinations/lua/*.lua (the Redis
 * adapter is exercised by the e2e test).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DestinationGate, dispatch } from '../src/dispatch';
import { decodeParked, encodeParked, type ParkedItem, type ParkingStore, retryDue } from '../src/parking';
import { DeliveryError } from '../src/retry-policy';

const settings = {
  max_attempts: 4,
  initial_backoff_ms: 10,
  max_backoff_ms: 40,
  timeout_ms: 1_000,
  concurrency: 3,
  rate_per_second: 0,
  breaker_failures: 1_000,
  breaker_open_ms: 50,
};

/** The semantics of park-2.lua, settle_head-2.lua and claim_due-1.lua plus the adapter's call order. */
class MemoryParkingStore implements ParkingStore {
  queues = new Map<string, { items: string[]; attempts: Map<string, number> }>();
  due = new Map<string, number>();

  private q(customer: string) {
    let q = this.queues.get(customer);
    if (!q) {
      q = { items: [], attempts: new Map() };
      this.queues.set(customer, q);
    }
    return q;
  }

  async appendIfParked(item: ParkedItem) {
    const q = this.q(item.customer);
    if (q.items.length === 0) return false;
    await this.park(item, 0, 0);
    return true;
  }

  async park(item: ParkedItem, attempts: number, dueAtMs: number) {
    const q = this.q(item.customer);
    if (!q.attempts.has(item.id)) {
      q.attempts.set(item.id, attempts);
      q.items.push(encodeParked(item));
    }
    if (!this.due.has(item.customer)) this.due.set(item.customer, dueAtMs);
  }

  async claimDue(nowMs: number, leaseUntilMs: number, limit: number) {
    const due = [...this.due]
      .filter(([, at]) => at <= nowMs)
      .sort((a, b) => a[1] - b[1])
      .slice(0, limit)
      .map(([c]) => c);
    for (const c of due) this.due.set(c, leaseUntilMs);
    return due;
  }

  async head(customer: string) {
    const q = this.q(customer);
    if (q.items.length === 0) return null;
    const item = decodeParked(q.items[0]!);
    return { item, attempts: q.attempts.get(item.id) ?? 0 };
  }

  async retryLater(customer: string, id: string, attempts: number, dueAtMs: number) {
    this.q(customer).attempts.set(id, attempts);
    this.due.set(customer, dueAtMs);
  }

  async reschedule(customer: string, dueAtMs: number) {
    this.due.set(customer, dueAtMs);
  }

  async settle(customer: string, id: string, nowMs: number) {
    const q = this.q(customer);
    if (id !== '' && q.items[0]?.startsWith(`${id}\t`)) {
      q.items.shift();
      q.attempts.delete(id);
    }
    if (q.items.length > 0) this.due.set(customer, nowMs);
    else this.due.delete(customer);
  }

  get parked(): number {
    return [...this.queues.values()].reduce((n, q) => n + q.items.length, 0);
  }
}

/** What the receiver answers attempt n of an item: ok, retriable failures first, or a refusal (410). */
type Plan = { failures: number } | { refuse: true };

const arbCase = fc
  .array(
    fc.record({
      customer: fc.constantFrom('a', 'b', 'c', 'd', 'e'),
      plan: fc.oneof(
        { weight: 5, arbitrary: fc.constant<Plan>({ failures: 0 }) },
        { weight: 3, arbitrary: fc.integer({ min: 1, max: 6 }).map<Plan>((failures) => ({ failures })) },
        { weight: 1, arbitrary: fc.constant<Plan>({ refuse: true }) },
      ),
      batch: fc.integer({ min: 0, max: 3 }),
    }),
    { minLength: 1, maxLength: 30 },
  )
  .chain((items) =>
    fc.record({ items: fc.constant(items), rounds: fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 4 }) }),
  );

describe('parking', () => {
  it('encodes items so the head can be matched by id, and refuses ids a tab would make ambiguous', () => {
    const item = { id: 'tx-1', customer: 'c', body: '{"a":"\\t"}', source: { topic: 't', partition: 2, offset: '7' } };
    expect(encodeParked(item).startsWith('tx-1\t')).toBe(true);
    expect(decodeParked(encodeParked(item))).toEqual(item);
    expect(() => encodeParked({ ...item, id: 'a\tb' })).toThrow(/tab/);
  });

  it('batches never wait for a retry; per customer every attempt is in item order; all end delivered or dead-lettered', async () => {
    await fc.assert(
      fc.asyncProperty(arbCase, async ({ items, rounds }) => {
        let now = 1_000;
        const store = new MemoryParkingStore();
        const gate = new DestinationGate(settings, now);
        const attempts: Array<{ id: string; customer: string; n: number }> = [];
        const delivered = new Map<string, number>();
        const dead = new Map<string, { reason: string; attempts: number }>();
        // Offsets: batch by batch (a later batch holds later records).
        const all = [...items].sort((x, y) => x.batch - y.batch).map((it, i) => ({ ...it, id: `${it.customer}-${i}` }));
        const byId = new Map(all.map((it) => [it.id, it]));
        const send = async (id: string, attempt: number) => {
          attempts.push({ id, customer: byId.get(id)!.customer, n: attempt });
          const plan = byId.get(id)!.plan;
          if ('refuse' in plan) return new DeliveryError('HTTP 410', false, 410);
          return attempt <= plan.failures ? new DeliveryError('HTTP 500', true, 500) : null;
        };
        const parked = (id: string): ParkedItem => ({
          id,
          customer: byId.get(id)!.customer,
          body: `{"id":"${id}"}`,
          source: { topic: 't', partition: 0, offset: id.split('-')[1]! },
        });
        const retryRound = async () => {
          const dueAts = [...store.due.values()];
          if (dueAts.length > 0) now = Math.max(now, Math.min(...dueAts));
          await retryDue(
            store,
            gate,
            {
              send: (item, n) => send(item.id, n),
              onDelivered: (item, n) => delivered.set(item.id, n),
              onDeadLetter: async (item, info) => void dead.set(item.id, info),
              now: () => now,
              random: () => 0.5,
            },
            5_000,
          );
        };
        for (let b = 0; b <= 3; b++) {
          const batch = all.filter((it) => it.batch === b);
          const before = attempts.length;
          const result = await dispatch(
            batch.map((it) => ({ key: it.customer, item: it.id })),
            gate,
            {
              send,
              onDelivered: (id, n) => delivered.set(id, n),
              onDeadLetter: (id, info) => dead.set(id, info),
              parkIfParked: (_k, id) => store.appendIfParked(parked(id)),
              park: (_k, id, n, dueAt) => store.park(parked(id), n, dueAt),
              now: () => now,
              random: () => 0.5,
            },
          );
          // The batch is done without waiting: every item delivered, dead-lettered or parked, at most one attempt.
          expect(result.stopped).toBe(false);
          expect(result.delivered + result.deadLettered + result.parked).toBe(batch.length);
          expect(attempts.slice(before).every((a) => a.n === 1)).toBe(true);
          for (let r = 0; r < (rounds[b] ?? 0); r++) await retryRound();
        }
        for (let r = 0; r < 200 && store.due.size > 0; r++) await retryRound();
        expect(store.due.size).toBe(0);
        expect(store.parked).toBe(0);

        // Every item ended exactly one way: delivered after its failures, or dead-lettered with its reason.
        for (const it of all) {
          if ('refuse' in it.plan) {
            expect(dead.get(it.id)).toMatchObject({ reason: 'NON_RETRIABLE_STATUS', attempts: 1 });
          } else if (it.plan.failures >= settings.max_attempts) {
            expect(dead.get(it.id)).toMatchObject({ reason: 'ATTEMPTS_EXHAUSTED', attempts: settings.max_attempts });
          } else {
            expect(delivered.get(it.id)).toBe(it.plan.failures + 1);
            expect(dead.has(it.id)).toBe(false);
          }
        }
        // Per customer, attempts follow item order: a later item is never tried before an earlier one is done.
        const index = (id: string) => Number(id.split('-')[1]);
        for (const c of new Set(all.map((it) => it.customer))) {
          const seq = attempts.filter((a) => a.customer === c).map((a) => index(a.id));
          expect(seq).toEqual([...seq].sort((x, y) => x - y));
        }
      }),
      { numRuns: 150 },
    );
  });

  it('a customer that never fails is delivered within its batch while another customer of the batch is parked', async () => {
    const store = new MemoryParkingStore();
    const gate = new DestinationGate(settings, 0);
    const sent: string[] = [];
    const items = ['a-0', 'b-0', 'a-1', 'b-1'].map((id) => ({ key: id[0]!, item: id }));
    const result = await dispatch(items, gate, {
      send: async (id) => {
        sent.push(id);
        return id.startsWith('a') ? new DeliveryError('HTTP 500', true, 500) : null;
      },
      onDeadLetter: () => undefined,
      parkIfParked: (key, id) =>
        store.appendIfParked({ id, customer: key, body: '{}', source: { topic: 't', partition: 0, offset: '0' } }),
      park: (key, id, n, at) =>
        store.park({ id, customer: key, body: '{}', source: { topic: 't', partition: 0, offset: '0' } }, n, at),
    });
    expect(result).toMatchObject({ delivered: 2, parked: 2, stopped: false });
    // a-1 was parked behind a-0 without an attempt; b's items went meanwhile.
    expect(sent.sort()).toEqual(['a-0', 'b-0', 'b-1']);
    expect(store.queues.get('a')!.items.map((v) => v.split('\t')[0])).toEqual(['a-0', 'a-1']);
    expect(store.queues.get('a')!.attempts.get('a-0')).toBe(1);
  });

  it('an open breaker parks items (no attempt, no waiting) instead of holding the batch', async () => {
    const store = new MemoryParkingStore();
    const gate = new DestinationGate({ ...settings, breaker_failures: 1, breaker_open_ms: 60_000 }, 0);
    gate.breaker.failure(Date.now());
    const started = Date.now();
    const result = await dispatch([{ key: 'a', item: 'a-0' }], gate, {
      send: async () => null,
      onDeadLetter: () => undefined,
      parkIfParked: async () => false,
      park: (key, id, n, at) =>
        store.park({ id, customer: key, body: '{}', source: { topic: 't', partition: 0, offset: '0' } }, n, at),
    });
    expect(result).toMatchObject({ delivered: 0, parked: 1 });
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(store.due.get('a')).toBeGreaterThan(Date.now() + 50_000);
  });

  it('a store error stops the batch: dispatch rejects, so the batch is not committed', async () => {
    const gate = new DestinationGate(settings, 0);
    await expect(
      dispatch([{ key: 'a', item: 'a-0' }], gate, {
        send: async () => new DeliveryError('HTTP 500', true, 500),
        onDeadLetter: () => undefined,
        parkIfParked: async () => false,
        park: async () => {
          throw new Error('redis away');
        },
      }),
    ).rejects.toThrow('redis away');
  });
});
