/**
 * Kafka offsets of one partition (decimal strings, as kafkajs gives them) in numeric order without BigInt: a shorter
 * string is smaller, then byte order. Negative when `a` comes first, 0 when equal.
 */
export function compareOffsets(a: string, b: string): number {
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}
