import { Partitioners } from 'kafkajs';

const defaultPartitioner = Partitioners.DefaultPartitioner();

/**
 * The customer-signals partition a customer's records go to: the producer's default partitioner (murmur2 of the
 * key, as in the Java client). The due index is sharded the same way, so the tier-engine instance that owns a
 * signal partition also owns that partition's due customers: one writer per customer.
 */
export function signalPartitionOf(customerId: string, numPartitions: number): number {
  const partitionMetadata = Array.from({ length: numPartitions }, (_, i) => ({
    partitionErrorCode: 0,
    partitionId: i,
    leader: 0,
    replicas: [0],
    isr: [0],
  }));
  return defaultPartitioner({ topic: '', partitionMetadata, message: { key: customerId, value: null } });
}
