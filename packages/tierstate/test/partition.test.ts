import { Partitioners } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { signalPartitionOf } from '../src/partition';

describe('signalPartitionOf: the partition the producer gives a customer id', () => {
  it("equals kafkajs DefaultPartitioner's partition of the id as key (the due index shards like the signals)", () => {
    const partitioner = Partitioners.DefaultPartitioner();
    for (const n of [1, 2, 3, 6]) {
      const partitionMetadata = Array.from({ length: n }, (_, i) => ({
        partitionErrorCode: 0,
        partitionId: i,
        leader: 0,
        replicas: [0],
        isr: [0],
      }));
      for (let i = 0; i < 2000; i++) {
        const id = i % 7 === 0 ? `kund-ü-${i}` : `C${i * 7919}`;
        const expected = partitioner({ topic: 's', partitionMetadata, message: { key: id, value: null } });
        expect(signalPartitionOf(id, n), `${id} over ${n}`).toBe(expected);
      }
    }
  });
});
