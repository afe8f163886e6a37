import { partitionOfKey } from '@tierstream/kafka';

/**
 * The customer-signals partition a customer's records go to: the producer's default partitioner (murmur2 of the
 * key, as in the Java client; @tierstream/kafka partitionOfKey, equal to kafkajs' DefaultPartitioner). The due index is
 * sharded the same way, so the tier-engine instance that owns a signal partition also owns that partition's due
 * customers: one writer per customer. Pure.
 */
export function signalPartitionOf(customerId: string, numPartitions: number): number {
  return partitionOfKey(customerId, numPartitions);
}
