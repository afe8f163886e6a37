/**
 * Cut points for a rules change (design-decisions §20). When a new rules version is applied, the population cut
 * points (shares, RFM quintiles) are recomputed for the new rules at once, from the population as of the last closed
 * day, instead of at the next scheduled recompute: a change of PLATINUM's share applies in the same wave as every
 * other change of the file. The tier engine (at the rules-change rendezvous) and `tierctl rules diff` both call
 * `cutPointsForRules`, so the preview uses exactly the cut points the apply will.
 *
 * Versions: a rules-change version is named `cp-<measured day>+r<apply seq>`; it is measured at the close of
 * `measuredDay` like a scheduled one, but it is in force from `fromDay` (the wave's day: the measured day itself in
 * replay, where the wave re-evaluates the closed day, or the day after it live) and it supersedes every version
 * measured on or before its measured day, including a scheduled one of the same day (computed for the old rules).
 * `cutPointsInForce` is the choice for a day; `sortCutPoints` the order it searches.
 */
import { computeCutPoints } from './cutpoints';
import type { Metrics } from './metrics';
import type { CutPoints, Rules } from './types';

const DAY_MS = 86_400_000;

const isoDay = (day: number): string => new Date(day * DAY_MS).toISOString().slice(0, 10);

/** The version name of the cut points of rules apply number `seq`, measured at the close of `measuredDay`. */
export function rulesChangeVersion(measuredDay: number, seq: number): string {
  return `cp-${isoDay(measuredDay)}+r${seq}`;
}

export interface RulesChangeCutPointsInput {
  /** UTC day (days since 1970-01-01) whose close the population was measured at: the last closed day. */
  measuredDay: number;
  /** First day the cut points are in force: `measuredDay` (replay) or `measuredDay + 1` (live). */
  fromDay: number;
  /** The apply number of the rules version (`tierctl rules apply` / rollback), part of the version name. */
  seq: number;
  /**
   * The newest cut points measured on or before `measuredDay` before the change (in force on the day after it; a
   * scheduled recompute of `measuredDay` itself included): their sizes drive the recompute schedule, and unchanged
   * dimensions keep their cuts (`previousRules`).
   */
  inForce?: CutPoints;
  /**
   * The rules in force before the change. A population dimension whose scoring is the same in both (same kind,
   * metric, shares or quintile components, eligibility, ties, fallbacks) keeps the cuts of `inForce`: a change of
   * lifecycle thresholds does not re-rank the value pyramid. Without it every cut is recomputed.
   */
  previousRules?: Rules;
}

/**
 * Cut points of `rules` from `population` (one Metrics per customer existing as of `measuredDay`, metrics as of its
 * close): the quantile rule of `computeCutPoints`, the same cuts a scheduled recompute of these rules would give on
 * that population, recorded with `from_day`, `rules_version` and `rules_seq`; with `previousRules`, the dimensions
 * whose scoring did not change keep the cuts in force instead.
 *
 * The population size is recorded like a scheduled recompute's; `previous` (the size and day the recompute schedule
 * compares with, schedule.ts) is taken from `inForce`, except when `inForce` was itself measured on `measuredDay`
 * (the change follows a scheduled recompute of the same day): then its own `previous` is kept, so the rules change
 * neither starts nor stops the daily recompute of a young or changing population.
 * Throws RangeError when `fromDay` is not `measuredDay` or the day after it.
 */
export function cutPointsForRules(rules: Rules, population: Metrics[], input: RulesChangeCutPointsInput): CutPoints {
  const { measuredDay, fromDay, seq, inForce } = input;
  if (fromDay !== measuredDay && fromDay !== measuredDay + 1) {
    throw new RangeError(`fromDay must be the measured day or the next, got ${fromDay} for ${measuredDay}`);
  }
  const at = (measuredDay + 1) * DAY_MS - 1;
  const sameDay = inForce !== undefined && measuredDayOf(inForce) === measuredDay;
  const cp = computeCutPoints(
    rules,
    population,
    rulesChangeVersion(measuredDay, seq),
    at,
    sameDay ? undefined : inForce,
  );
  if (sameDay) {
    if (inForce.previous) cp.previous = inForce.previous;
    else delete cp.previous;
  }
  if (inForce && input.previousRules) keepUnchanged(rules, input.previousRules, inForce, cp);
  return { ...cp, from_day: fromDay, rules_version: rules.version, rules_seq: seq };
}

/** Copies into `cp` the cuts (and anchors) of `inForce` for the population dimensions whose scoring did not change. */
function keepUnchanged(rules: Rules, previousRules: Rules, inForce: CutPoints, cp: CutPoints): void {
  for (const dim of rules.dimensions) {
    const s = dim.scoring;
    if (s.kind !== 'shares' && s.kind !== 'rfm') continue;
    const before = previousRules.dimensions.find((d) => d.id === dim.id);
    if (!before || JSON.stringify(before.scoring) !== JSON.stringify(s)) continue;
    const keys = s.kind === 'shares' ? [dim.id] : (['r', 'f', 'm'] as const).map((k) => `${dim.id}.${k}`);
    for (const key of keys) {
      const cuts = inForce.cuts[key];
      if (!cuts) continue;
      cp.cuts[key] = [...cuts];
      const anchor = inForce.anchored?.[key];
      if (anchor !== undefined) cp.anchored = { ...cp.anchored, [key]: anchor };
      else if (cp.anchored) delete cp.anchored[key];
    }
  }
  if (cp.anchored && Object.keys(cp.anchored).length === 0) delete cp.anchored;
}

/** The UTC day a version was measured at the close of; -Infinity for the initial (fallback) cut points. */
export function measuredDayOf(cp: CutPoints): number {
  return cp.version.startsWith('cp-') ? Math.floor(cp.computed_at / DAY_MS) : Number.NEGATIVE_INFINITY;
}

/** First day a version is in force: `from_day` for a rules change, else the day after it was measured. */
export function inForceFrom(cp: CutPoints): number {
  if (cp.from_day !== undefined) return cp.from_day;
  return measuredDayOf(cp) + 1;
}

/**
 * The search order of `cutPointsInForce`: by measured day, then scheduled before rules changes, then by apply
 * number. Later in this order supersedes earlier.
 */
export function compareCutPoints(a: CutPoints, b: CutPoints): number {
  const da = measuredDayOf(a);
  const db = measuredDayOf(b);
  if (da !== db) return da < db ? -1 : 1;
  return (a.rules_seq ?? -1) - (b.rules_seq ?? -1);
}

/** A copy of `versions` in `compareCutPoints` order. */
export function sortCutPoints(versions: readonly CutPoints[]): CutPoints[] {
  return [...versions].sort(compareCutPoints);
}

/**
 * The cut points in force on `day`: of the versions in force by then (`inForceFrom <= day`), the last in
 * `compareCutPoints` order. `sorted` must be in that order and non-empty (it holds the initial cut points). Binary
 * search on the measured day, then steps back over the versions measured on `day` itself that are not in force yet
 * (every version measured before `day` is in force on it).
 */
export function cutPointsInForce(sorted: readonly CutPoints[], day: number): CutPoints {
  let lo = 0;
  let hi = sorted.length - 1;
  // The last index measured on or before `day` (index 0 when none is).
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (measuredDayOf(sorted[mid]!) <= day) lo = mid;
    else hi = mid - 1;
  }
  for (let i = lo; i >= 0; i--) if (inForceFrom(sorted[i]!) <= day) return sorted[i]!;
  return sorted[0]!;
}
