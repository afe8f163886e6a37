import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { keyPartitioner } from '../src';

const require = createRequire(import.meta.url);
type Group = (args: {
  topic: string;
  partitionMetadata: Array<{ partitionId: number; leader: number }>;
  messages: Array<{ key: string | null; value: null; partition?: number }>;
  partitioner: (args: unknown) => number;
}) => Record<string, unknown[]>;
/** kafkajs' producer grouping as installed (patched by scripts/patch-kafkajs.mjs after npm install). */
const installed = require('kafkajs/src/producer/groupMessagesPerPartition') as Group;

/** kafkajs 2.2.4's own text of the function, the reference. */
const original: Group = ({ topic, partitionMetadata, messages, partitioner }) => {
  if (partitionMetadata.length === 0) return {};
  return messages.reduce<Record<string, unknown[]>>((result, message) => {
    const partition = partitioner({ topic, partitionMetadata, message });
    const current = result[partition] || [];
    return Object.assign(result, { [partition]: [...current, message] });
  }, {});
};

const metadata = (n: number) => Array.from({ length: n }, (_, i) => ({ partitionId: i, leader: 0 }));

describe("kafkajs' per-partition grouping of a produce request (patched linear by scripts/patch-kafkajs.mjs)", () => {
  it('groups as kafkajs 2.2.4 does: every partition, messages in order, the partitioner called once per message', () => {
    for (const n of [0, 1, 3, 7]) {
      const messages = Array.from({ length: 500 }, (_, i) => ({
        key: i % 11 === 0 ? null : `C${i * 7919}`,
        value: null,
        ...(i % 5 === 0 ? { partition: i % Math.max(n, 1) } : {}),
      }));
      const calls: unknown[] = [];
      const ours = installed({
        topic: 't',
        partitionMetadata: metadata(n),
        messages,
        partitioner: (a) => {
          calls.push(a);
          return (keyPartitioner() as (a: unknown) => number)(a);
        },
      });
      // Keyless messages go round robin from a random start: the same partitioner state for both.
      const p1 = keyPartitioner() as (a: unknown) => number;
      const p2 = keyPartitioner() as (a: unknown) => number;
      const keyed = messages.filter((m) => m.key !== null);
      const a = installed({ topic: 't', partitionMetadata: metadata(n), messages: keyed, partitioner: p1 });
      const b = original({ topic: 't', partitionMetadata: metadata(n), messages: keyed, partitioner: p2 });
      expect(a).toEqual(b);
      expect(Object.keys(a)).toEqual(Object.keys(b));
      if (n > 0) {
        expect(calls.length).toBe(messages.length);
        expect(Object.values(ours).flat().length).toBe(messages.length);
        for (const list of Object.values(ours)) {
          const order = list.map((m) => messages.indexOf(m as (typeof messages)[number]));
          expect(order).toEqual([...order].sort((x, y) => x - y));
        }
      } else expect(ours).toEqual({});
    }
  });

  it('is linear: 20,000 messages of one partition in well under a second (kafkajs 2.2.4 takes seconds: 2e8 copies)', () => {
    const messages = Array.from({ length: 20_000 }, (_, i) => ({ key: `C${i}`, value: null, partition: 0 }));
    const started = performance.now();
    const out = installed({
      topic: 't',
      partitionMetadata: metadata(1),
      messages,
      partitioner: (a) => (a as { message: { partition: number } }).message.partition,
    });
    expect(performance.now() - started).toBeLessThan(300);
    expect(out[0]).toHaveLength(20_000);
  });
});
