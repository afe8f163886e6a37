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

/** Number of sorted `days` that are ≤ x (binary search). */
export function countUpTo(days: number[], x: number): number {
  let lo = 0;
  let hi = days.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (days[mid]! <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
