import { createHash } from 'node:crypto';
import type { InputEvent } from '@tierstream/contracts';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_AGGREGATE_CONFIG } from '../src/config';
import { eventFingerprint } from '../src/keyspace';
import { AggregateStore } from '../src/store';

/**
 * The dedupe memory (`e:<topic code>`, design-decisions §23) is searched as a string: a fingerprint counts as
 * remembered only at an entry's position (a multiple of 16 bytes from the entries' start), not where its 9 bytes
 * happen to occur inside an entry or across two.
 */
describe('apply_events.lua: dedupe memory searched at entry positions', () => {
  const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:16379', { maxRetriesPerRequest: 2 });
  const prefix = `dedupe${process.pid}`;
  const store = new AggregateStore(redis, { prefix, config: DEFAULT_AGGREGATE_CONFIG, packedLayout: true });
  afterAll(async () => {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  });

  const field = `e:${createHash('sha1').update('web-behavior.v1').digest('hex').slice(0, 4)}`;
  const t0 = 20_000 * 86_400_000 + 3_600_000;
  /** n base-128 digits of x (apply_events.lua enc128). */
  const digits = (x: number, n: number) => {
    const codes: number[] = [];
    for (let k = 0; k < n; k++) {
      codes.unshift(x % 128);
      x = Math.floor(x / 128);
    }
    return String.fromCharCode(...codes);
  };
  const time = (at: number) => digits(at + 2 ** 48, 7);
  const web = (eventId: string, at: number) =>
    ({
      kind: 'web',
      event: {
        event_id: eventId,
        customer_id: 'x',
        anonymous_id: null,
        type: 'SEARCH',
        url: null,
        content_id: null,
        occurred_at: at,
      },
    }) as InputEvent;
  /** Applies one web event (offset 10) to customer id whose memory is `memory`; returns the events applied. */
  const applyOver = async (id: string, memory: string, eventId: string) => {
    await redis.hset(store.keys(id).agg, field, memory, 'mx', String(t0));
    const r = await store.applyBatch([
      {
        customerId: id,
        events: [{ event: web(eventId, t0 + 1000), topic: 'web-behavior.v1', partition: 0, offset: '10' }],
      },
    ]);
    return r.get(id)!.applied;
  };

  it('a fingerprint inside an entry or across two is not remembered; the same at an entry position is', async () => {
    const fp = eventFingerprint('x-event');
    const other = eventFingerprint('other-event');
    const fill = (n: number) => 'a'.repeat(n);
    // With the topic's time first (7 + 16k): the fingerprint at byte 7 of the first entry (its fingerprint's tail
    // and its time), then across the first and second entries.
    expect(await applyOver('inside', time(t0) + fill(7) + fp + other + time(t0), 'x-event')).toBe(1);
    expect(
      await applyOver('across', time(t0) + other + fill(3) + fp.slice(0, 4) + fp.slice(4) + fill(11), 'x-event'),
    ).toBe(1);
    // Without the topic's time (16k): misaligned at byte 4, then at the second entry's position: remembered.
    expect(await applyOver('later', fill(3) + fp + fill(4) + fp + time(t0), 'x-event')).toBe(0);
    // A partial entry at the end (not a whole entry) is not an entry.
    expect(await applyOver('partial', other + time(t0) + fp + time(t0).slice(0, 3), 'x-event')).toBe(1);
    // The memory then holds the event once, at an entry position.
    const memory = (await redis.hget(store.keys('inside').agg, field))!;
    const at = memory.indexOf(fp + time(t0 + 1000));
    const base = memory.length % 16 === 7 ? 7 : 0;
    expect(at).toBeGreaterThan(base);
    expect((at - base) % 16).toBe(0);
    expect(memory.indexOf(fp + time(t0 + 1000), at + 1)).toBe(-1);
  });
});
