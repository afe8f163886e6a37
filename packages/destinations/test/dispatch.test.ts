import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DestinationGate, dispatch } from '../src/dispatch';
import { CustomerLanes } from '../src/lanes';
import { DeliveryError } from '../src/retry-policy';

const settings = {
  max_attempts: 4,
  initial_backoff_ms: 1,
  max_backoff_ms: 4,
  timeout_ms: 1_000,
  concurrency: 3,
  rate_per_second: 0,
  breaker_failures: 1_000,
  breaker_open_ms: 5,
};

type Fate = 'ok' | 'retriable' | 'fatal';

describe('CustomerLanes', () => {
  it('hands out only idle heads: a key waits for its head to be done, other keys do not', () => {
    const lanes = new CustomerLanes<number>();
    lanes.push('a', 1);
    lanes.push('a', 2);
    lanes.push('b', 3);
    expect(lanes.next(0)).toEqual({ key: 'a', item: 1 });
    expect(lanes.next(0)).toEqual({ key: 'b', item: 3 });
    expect(lanes.next(0)).toBeUndefined();
    lanes.defer('a', 10);
    expect(lanes.next(5)).toBeUndefined();
    expect(lanes.nextDueAt()).toBe(10);
    expect(lanes.next(10)).toEqual({ key: 'a', item: 1 });
    lanes.done('a');
    expect(lanes.next(10)).toEqual({ key: 'a', item: 2 });
    expect(() => lanes.done('c')).toThrow(/no item in flight/);
  });
});

describe('dispatch', () => {
  it('per key, items are first sent in order and never after a later one; each ends delivered or dead-lettered once', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.tuple(
            fc.constantFrom('c1', 'c2', 'c3', 'c4'),
            fc.array(fc.constantFrom<Fate>('ok', 'retriable', 'retriable', 'fatal'), { minLength: 1, maxLength: 5 }),
          ),
          { minLength: 1, maxLength: 25 },
        ),
        async (spec) => {
          const items = spec.map(([key, fates], seq) => ({ key, item: { seq, key, fates } }));
          const sent: Array<{ seq: number; key: string }> = [];
          const outcome = new Map<number, string>();
          let inFlight = 0;
          let maxInFlight = 0;
          const gate = new DestinationGate(settings, Date.now());
          const result = await dispatch(items, gate, {
            send: async (it, attempt) => {
              inFlight++;
              maxInFlight = Math.max(maxInFlight, inFlight);
              sent.push({ seq: it.seq, key: it.key });
              await new Promise((r) => setTimeout(r, Math.random() < 0.5 ? 0 : 1));
              inFlight--;
              const fate = it.fates[Math.min(attempt - 1, it.fates.length - 1)] ?? 'ok';
              if (fate === 'ok') return null;
              return new DeliveryError(fate, fate === 'retriable', fate === 'retriable' ? 503 : 400);
            },
            onDelivered: (it) => {
              expect(outcome.has(it.seq)).toBe(false);
              outcome.set(it.seq, 'delivered');
            },
            onDeadLetter: (it, info) => {
              expect(outcome.has(it.seq)).toBe(false);
              outcome.set(it.seq, info.reason);
              if (info.reason === 'ATTEMPTS_EXHAUSTED') expect(info.attempts).toBe(settings.max_attempts);
            },
          });
          expect(result.stopped).toBe(false);
          expect(outcome.size).toBe(items.length);
          expect(result.delivered + result.deadLettered).toBe(items.length);
          expect(maxInFlight).toBeLessThanOrEqual(settings.concurrency);
          for (const key of ['c1', 'c2', 'c3', 'c4']) {
            const order = sent.filter((s) => s.key === key).map((s) => s.seq);
            // Non-decreasing: retries repeat the same seq, but a later seq never precedes an earlier one.
            for (let i = 1; i < order.length; i++) expect(order[i]!).toBeGreaterThanOrEqual(order[i - 1]!);
            const expected = items.filter((x) => x.key === key).map((x) => x.item.seq);
            expect([...new Set(order)]).toEqual(expected);
          }
          for (const { item } of items) {
            const first = item.fates.slice(0, settings.max_attempts);
            const ok = first.findIndex((f) => f !== 'retriable');
            const want = ok < 0 ? 'ATTEMPTS_EXHAUSTED' : first[ok] === 'ok' ? 'delivered' : 'NON_RETRIABLE_STATUS';
            expect(outcome.get(item.seq)).toBe(want);
          }
        },
      ),
      { numRuns: 40 },
    );
  });

  it('another key is not blocked while one key retries', async () => {
    const gate = new DestinationGate(
      { ...settings, initial_backoff_ms: 60, max_backoff_ms: 60, max_attempts: 2 },
      Date.now(),
    );
    const delivered: string[] = [];
    const items = [
      { key: 'slow', item: 'slow-1' },
      { key: 'fast', item: 'fast-1' },
      { key: 'fast', item: 'fast-2' },
    ];
    let failedOnce = false;
    await dispatch(items, gate, {
      send: async (it) => {
        if (it === 'slow-1' && !failedOnce) {
          failedOnce = true;
          return new DeliveryError('HTTP 500', true, 500);
        }
        return null;
      },
      onDelivered: (it) => delivered.push(it),
      onDeadLetter: () => undefined,
    });
    expect(delivered).toEqual(['fast-1', 'fast-2', 'slow-1']);
  });

  it('an open breaker pauses the destination without dropping items, and shouldStop leaves the rest undone', async () => {
    const gate = new DestinationGate(
      { ...settings, breaker_failures: 2, breaker_open_ms: 80, concurrency: 1 },
      Date.now(),
    );
    const times: number[] = [];
    let calls = 0;
    const start = Date.now();
    const r = await dispatch(
      [1, 2, 3].map((n) => ({ key: 'k', item: n })),
      gate,
      {
        send: async () => {
          times.push(Date.now() - start);
          calls++;
          return calls <= 2 ? new DeliveryError('HTTP 503', true, 503) : null;
        },
        onDeadLetter: () => undefined,
      },
    );
    expect(r).toEqual({ delivered: 3, deadLettered: 0, parked: 0, stopped: false });
    // the third call (the probe) waited for the open breaker
    expect(times[2]! - times[1]!).toBeGreaterThanOrEqual(70);
    expect(gate.breaker.stateAt(Date.now())).toBe('closed');

    let n = 0;
    const stopped = await dispatch(
      [1, 2, 3].map((x) => ({ key: 'k', item: x })),
      new DestinationGate(settings, Date.now()),
      {
        send: async () => {
          n++;
          return null;
        },
        onDeadLetter: () => undefined,
        shouldStop: () => n >= 1,
      },
    );
    expect(stopped).toEqual({ delivered: 1, deadLettered: 0, parked: 0, stopped: true });
  });
});
