import { createServer } from 'node:net';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { COALESCE_MAX_BYTES, COALESCE_MAX_RECORDS, coalescingSender, createKafka, topicPartitions } from '../src';

/** A loopback port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('topicPartitions: the start probe of every service', () => {
  it('fails at once with the connection error against an unreachable broker, logging nothing itself', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'trace' }, { write: (line: string) => lines.push(line) });
    const kafka = createKafka({ brokers: [`127.0.0.1:${await closedPort()}`], clientId: 'probe-test', logger });
    const started = Date.now();
    await expect(topicPartitions(kafka, ['orders.v1'])).rejects.toThrow(/ECONNREFUSED/);
    // /health/ready says `waiting for kafka: <this error>` after the first attempt, not "connecting" for ~25 s.
    expect(Date.now() - started).toBeLessThan(3_000);
    // The caller (waitForDependency) logs one warning per distinct error; kafkajs' own error lines would repeat.
    expect(lines).toEqual([]);
  });
});

describe('coalescingSender: the producer sends one request at a time, combining the sends made meanwhile', () => {
  const rec = (key: string, bytes = 10) => ({ key, value: Buffer.alloc(bytes) });
  it('sends at once when idle, combines the sends queued behind a request in order, one entry per topic', async () => {
    const requests: Array<Array<{ topic: string; keys: string[] }>> = [];
    const pending: Array<() => void> = [];
    const send = coalescingSender(async (topicMessages) => {
      requests.push(topicMessages.map((t) => ({ topic: t.topic, keys: t.messages.map((m) => String(m.key)) })));
      await new Promise<void>((resolve) => pending.push(resolve));
    });
    const done: string[] = [];
    const a = send([{ topic: 's', records: [rec('a')] }]).then(() => done.push('a'));
    const b = send([{ topic: 's', records: [rec('b1'), rec('b2')] }]).then(() => done.push('b'));
    const c = send([
      { topic: 'd', records: [rec('c1')] },
      { topic: 's', records: [rec('c2')] },
    ]).then(() => done.push('c'));
    await new Promise((r) => setImmediate(r));
    // a went alone; b and c wait for it.
    expect(requests).toEqual([[{ topic: 's', keys: ['a'] }]]);
    pending.shift()!();
    await a;
    await new Promise((r) => setImmediate(r));
    // b and c in one request: records of topic s in send order (kafkajs keeps only the last entry of a topic).
    expect(requests[1]).toEqual([
      { topic: 's', keys: ['b1', 'b2', 'c2'] },
      { topic: 'd', keys: ['c1'] },
    ]);
    expect(done).toEqual(['a']);
    pending.shift()!();
    await Promise.all([b, c]);
    expect(done).toEqual(['a', 'b', 'c']);
    await send([{ topic: 's', records: [] }]);
    expect(requests).toHaveLength(2);
    // A tombstone (erasure writes them with no value) goes through too.
    const tombstone = send([{ topic: 'c', records: [{ key: 'gone', value: null as unknown as Buffer }] }]);
    await new Promise((r) => setImmediate(r));
    pending.shift()!();
    await tombstone;
    expect(requests[2]).toEqual([{ topic: 'c', keys: ['gone'] }]);
  });

  it('rejects every send of a failed request and goes on with the next; no request above the byte bound', async () => {
    const sizes: number[] = [];
    let fail = true;
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const send = coalescingSender(async (topicMessages) => {
      sizes.push(topicMessages.reduce((n, t) => n + t.messages.length, 0));
      await gate;
      if (fail) {
        fail = false;
        throw new Error('broker said no');
      }
    });
    const first = send([{ topic: 's', records: [rec('x')] }]);
    const big = Math.floor(COALESCE_MAX_BYTES / 2);
    // Three sends of half the bound each: two fit in one request, the third goes in the next.
    const rest = [0, 1, 2].map((i) => send([{ topic: 's', records: [rec(`r${i}`, big - 200)] }]));
    // Small records: bounded by their number.
    const many = (n: number) => send([{ topic: 's', records: Array.from({ length: n }, (_, i) => rec(`m${i}`, 1)) }]);
    const counted = [many(COALESCE_MAX_RECORDS - 10), many(10), many(1)];
    release();
    await expect(first).rejects.toThrow('broker said no');
    await Promise.all([...rest, ...counted]);
    // r2 and the first many fit both bounds; the second many would exceed the record bound.
    expect(sizes).toEqual([1, 2, 1 + COALESCE_MAX_RECORDS - 10, 10 + 1]);
  });
  it('cuts a send above the bounds into requests within them, in order; a record above them goes alone', async () => {
    const requests: Array<{ keys: string[]; bytes: number }> = [];
    const send = coalescingSender(async (topicMessages) => {
      const messages = topicMessages.flatMap((t) => t.messages);
      requests.push({
        keys: messages.map((m) => String(m.key)),
        bytes: messages.reduce((n, m) => n + (m.value as Buffer).length + String(m.key).length + 64, 0),
      });
    });
    // The signals of a batch of many customers: more records than one request may hold, and more bytes.
    const n = 2 * COALESCE_MAX_RECORDS + 5;
    await send([{ topic: 's', records: Array.from({ length: n }, (_, i) => rec(`k${i}`, 100)) }]);
    expect(requests.map((r) => r.keys.length)).toEqual([COALESCE_MAX_RECORDS, COALESCE_MAX_RECORDS, 5]);
    expect(requests.flatMap((r) => r.keys)).toEqual(Array.from({ length: n }, (_, i) => `k${i}`));
    requests.length = 0;
    const third = Math.floor(COALESCE_MAX_BYTES / 3);
    await send([
      { topic: 's', records: [0, 1, 2, 3].map((i) => rec(`b${i}`, third)) },
      { topic: 's', records: [rec('huge', COALESCE_MAX_BYTES * 2), rec('after')] },
    ]);
    expect(requests.map((r) => r.keys)).toEqual([['b0', 'b1'], ['b2', 'b3'], ['huge'], ['after']]);
    for (const r of requests) if (r.keys.length > 1) expect(r.bytes).toBeLessThanOrEqual(COALESCE_MAX_BYTES);
  });
});
