import { createRequire } from 'node:module';
import { Partitioners } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { keyPartitioner, murmur2, partitionOfKey } from '../src';

const require = createRequire(import.meta.url);
/** kafkajs' own murmur2 (Long arithmetic), the reference. */
const kafkajsMurmur2 = require('kafkajs/src/producer/partitioners/default/murmur2') as (key: string | Buffer) => number;

/** Deterministic keys: ASCII ids of every length 0..40, and keys with multi-byte UTF-8 characters. */
function keys(): string[] {
  let x = 12345;
  const next = () => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return x;
  };
  const out: string[] = [];
  const alphabets = ['abcdefghijklmnopqrstuvwxyz0123456789-_', 'aé€😀ß\u007f\u0080Z'];
  for (const alphabet of alphabets)
    for (let len = 0; len <= 40; len++)
      for (let n = 0; n < 25; n++) {
        const chars = [...alphabet];
        let s = '';
        for (let i = 0; i < len; i++) s += chars[next() % chars.length];
        out.push(s);
      }
  return out;
}

const metadata = (n: number) =>
  Array.from({ length: n }, (_, i) => ({ partitionErrorCode: 0, partitionId: i, leader: 0, replicas: [0], isr: [0] }));

describe('murmur2 and keyPartitioner: the Java client default partitioning without Long arithmetic', () => {
  it('murmur2 equals kafkajs murmur2 on ASCII and multi-byte keys, as strings and as buffers', () => {
    for (const k of keys()) {
      expect(murmur2(k), k).toBe(kafkajsMurmur2(k));
      expect(murmur2(Buffer.from(k)), k).toBe(kafkajsMurmur2(Buffer.from(k)));
    }
    // Known value of the Java client: Utils.murmur2("21".getBytes()) = -973932308.
    expect(murmur2('21')).toBe(-973932308);
  });

  it('gives every keyed message the partition of kafkajs DefaultPartitioner, and an explicit partition as it is', () => {
    const ours = keyPartitioner();
    const theirs = Partitioners.DefaultPartitioner();
    for (const n of [1, 2, 3, 7, 12]) {
      const partitionMetadata = metadata(n);
      for (const k of keys()) {
        const message = { key: k, value: null };
        const expected = theirs({ topic: 't', partitionMetadata, message });
        expect(ours({ topic: 't', partitionMetadata, message }), `${k} over ${n}`).toBe(expected);
        expect(partitionOfKey(k, n)).toBe(expected);
      }
      expect(ours({ topic: 't', partitionMetadata, message: { key: 'k', value: null, partition: n - 1 } })).toBe(n - 1);
    }
  });

  it('spreads keyless messages over the partitions (round robin)', () => {
    const ours = keyPartitioner();
    const partitionMetadata = metadata(3);
    const seen = new Set<number>();
    for (let i = 0; i < 6; i++) seen.add(ours({ topic: 't', partitionMetadata, message: { key: null, value: null } }));
    expect([...seen].sort()).toEqual([0, 1, 2]);
  });
});
