/**
 * The cut-point recompute schedule: on which day closes the population cut points are recomputed (design-decisions
 * §5 and §18). Used by the tier engine's sweeper and by the pipeline oracle, so both recompute on the same days.
 *
 * A day is a cut-point day when it is a regular one (day % everyDays == 0, days since 1970-01-01) or when the cut
 * points in force on it say the population is moving:
 *   - young: fewer than `youngBelow` customers were measured at the last recompute (or none was measured yet);
 *   - changing: between the last two recomputes the population size changed faster than `earlyChange` (a
 *     fraction) per `everyDays` days, or the last recompute was the first to measure it.
 * Then every day is a cut-point day until it is neither. The decision reads only the cut points in force, which
 * the barrier makes the same for every partition: all partitions agree on the cut-point days without another
 * rendezvous. The price: a population that jumps right after a regular recompute is only noticed at the next one.
 */
import type { CutPoints } from './types';

export interface CutPointSchedule {
  /** Regular recompute every N-th day (day % N == 0); 0 = never recompute (and no early recompute either). */
  everyDays: number;
  /** Recompute every day while the last recompute measured fewer customers than this; 0 = off. */
  youngBelow: number;
  /** Recompute every day while the population size changed by more than this fraction per everyDays; 0 = off. */
  earlyChange: number;
}

export const DEFAULT_CUTPOINT_SCHEDULE: CutPointSchedule = { everyDays: 7, youngBelow: 1000, earlyChange: 0.1 };

const DAY_MS = 86_400_000;

/** Whether the cut points in force ask for a recompute at every day close (young or changing population). */
export function recomputesEarly(schedule: CutPointSchedule, inForce: CutPoints): boolean {
  const n = inForce.population;
  if (n === undefined) return schedule.youngBelow > 0; // never measured: as young as it gets
  if (n < schedule.youngBelow) return true;
  if (schedule.earlyChange <= 0) return false;
  const prev = inForce.previous;
  if (!prev) return true; // the first measurement: changed from nothing known
  const days = Math.floor(inForce.computed_at / DAY_MS) - prev.day;
  if (days <= 0) return true;
  // |Δn| / n_prev per everyDays days > earlyChange, without dividing (n_prev may be 0).
  return Math.abs(n - prev.population) * schedule.everyDays > schedule.earlyChange * prev.population * days;
}

/**
 * Whether the cut points are recomputed at the close of `day`, given the cut points in force on that day (computed
 * at the close of an earlier day, or the initial ones).
 */
export function isCutPointDay(schedule: CutPointSchedule, inForce: CutPoints, day: number): boolean {
  if (schedule.everyDays <= 0) return false;
  if (day % schedule.everyDays === 0) return true;
  return recomputesEarly(schedule, inForce);
}

/**
 * The first cut-point day after `afterDay` while `inForce` stays in force (it does until that day's recompute);
 * null when cut points are never recomputed.
 */
export function nextCutPointDay(schedule: CutPointSchedule, inForce: CutPoints, afterDay: number): number | null {
  if (schedule.everyDays <= 0) return null;
  if (recomputesEarly(schedule, inForce)) return afterDay + 1;
  const n = schedule.everyDays;
  return afterDay + n - (((afterDay % n) + n) % n);
}
