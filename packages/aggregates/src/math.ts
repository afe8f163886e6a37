/** Small numeric helpers of the metric maths (metrics.ts, timeline.ts); not part of the package's API. */

export const maxOrNull = (a: number | null, b: number | null): number | null =>
  a === null ? b : b === null ? a : Math.max(a, b);
export const minOrNull = (a: number | null, b: number | null): number | null =>
  a === null ? b : b === null ? a : Math.min(a, b);

/** Mean resolve time in hours from an integer millisecond sum; one formula shared by name with the oracle docs. */
export function hours(sumMs: number, count: number): number {
  return sumMs / count / 3_600_000;
}

/** The keys of a day-keyed map, ascending. */
export function sortedDays<T>(m: Map<number, T>): number[] {
  return [...m.keys()].sort((a, b) => a - b);
}
