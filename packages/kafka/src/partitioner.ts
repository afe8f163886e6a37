/**
 * The Java client's default partitioning (murmur2 of the key, positive, modulo the partition count) in 32-bit integer
 * arithmetic: the same partitions as kafkajs' `Partitioners.DefaultPartitioner`, without its per-key Buffer and Long
 * objects and its per-message copy of the partition list (a measurable share of the aggregator's CPU: one signal per
 * customer per batch, and the due index sharded with the same function).
 */
import { type ICustomPartitioner, Partitioners } from 'kafkajs';

const SEED = 0x9747b28c;
const M = 0x5bd1e995;

/**
 * Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2, seed 0x9747b28c) of a key's UTF-8 bytes, as a
 * signed 32-bit integer: equal to kafkajs' murmur2 for every key. Pure.
 */
export function murmur2(key: string | Buffer): number {
  if (typeof key !== 'string') return murmur2Bytes(key);
  const n = key.length;
  // Keys are ASCII almost always (customer ids): hash the code units without encoding them.
  for (let i = 0; i < n; i++) if (key.charCodeAt(i) > 127) return murmur2Bytes(Buffer.from(key, 'utf8'));
  let h = (SEED ^ n) | 0;
  const n4 = n & ~3;
  for (let i = 0; i < n4; i += 4) {
    let k =
      key.charCodeAt(i) | (key.charCodeAt(i + 1) << 8) | (key.charCodeAt(i + 2) << 16) | (key.charCodeAt(i + 3) << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M) ^ k;
  }
  const rest = n & 3;
  if (rest === 3) h ^= key.charCodeAt(n4 + 2) << 16;
  if (rest >= 2) h ^= key.charCodeAt(n4 + 1) << 8;
  if (rest >= 1) h = Math.imul(h ^ key.charCodeAt(n4), M);
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

function murmur2Bytes(data: Buffer): number {
  const n = data.length;
  let h = (SEED ^ n) | 0;
  const n4 = n & ~3;
  for (let i = 0; i < n4; i += 4) {
    let k = data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M) ^ k;
  }
  const rest = n & 3;
  if (rest === 3) h ^= data[n4 + 2]! << 16;
  if (rest >= 2) h ^= data[n4 + 1]! << 8;
  if (rest >= 1) h = Math.imul(h ^ data[n4]!, M);
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

/**
 * The partition (0 ≤ p < numPartitions) the default partitioner gives a record keyed `key`: murmur2, made positive
 * by masking the sign bit, modulo the count. Pure.
 */
export function partitionOfKey(key: string | Buffer, numPartitions: number): number {
  return (murmur2(key) & 0x7fffffff) % numPartitions;
}

/**
 * A kafkajs partitioner equal to `Partitioners.DefaultPartitioner`: a message's explicit `partition` first, else
 * partitionOfKey of its key over the topic's partitions, else kafkajs' own round robin (keyless messages).
 */
export const keyPartitioner: ICustomPartitioner = () => {
  const roundRobin = Partitioners.DefaultPartitioner();
  return (args) => {
    const { message, partitionMetadata } = args;
    if (message.partition !== null && message.partition !== undefined) return message.partition;
    if (message.key !== null && message.key !== undefined) return partitionOfKey(message.key, partitionMetadata.length);
    return roundRobin(args);
  };
};
