/**
 * The population cache and the cut-point recheck: pure helpers that let a cut-point recompute read the population
 * in bulk and re-evaluate only the customers whose tiers can change under the new cuts.
 *
 * A customer's entry is written at each evaluation: the values of the metrics the cut points are computed from
 * (`cutMetricNames`), as a step path from the evaluated day through every later day on which one of them changes
 * without an event (window roll-offs), up to the next event already applied (`until`, exclusive: that day is
 * evaluated again and rewrites the entry). Day-linear metrics (recency_days, …) are stored at each step and grow by
 * one per day in between, so the entry gives the exact metrics on any day in [evaluated day, until).
 *
 * Why a recheck can skip a customer: share and RFM tiers depend on the cut points only through which group a
 * metric value falls in (`groupIndex`). If, on every day up to the customer's next due day (and at most until the
 * next recompute, where the question is asked again), its value lies outside every interval between an old and a
 * new cut of the same boundary, then every evaluation on those days gives the same result under the old and the
 * new cuts, and so does the due search that chose the next due day. For RFM only the boundary at `high_from`
 * matters: the segment depends on H/L per component, not on the score.
 */
import { conditionMetrics } from './conditions';
import { rfmCuts, type ScoringCuts, shareCuts } from './cutpoints';
import { type Metrics, metricDrift } from './metrics';
import type { CutPoints, Rules } from './types';

/** The metrics cut points are computed from (scored metrics and eligibility conditions), sorted. */
export function cutMetricNames(rules: Rules): string[] {
  const names: string[] = [];
  for (const dim of rules.dimensions) {
    const s = dim.scoring;
    if (s.kind === 'shares') conditionMetrics(s.eligible, names).push(s.metric);
    if (s.kind === 'rfm') {
      conditionMetrics(s.eligible, names);
      for (const k of ['r', 'f', 'm'] as const) if (s[k].quintiles) names.push(s[k].metric);
    }
  }
  return [...new Set(names)].sort();
}

/**
 * Whether entries can represent these metrics exactly between steps: piecewise-constant and day-linear metrics
 * can; engagement_score (decays every day) cannot, and a population over it is read from the aggregates.
 */
export function populationCacheSupported(names: readonly string[]): boolean {
  return names.every((n) => metricDrift(n) !== 'dec');
}

/**
 * One customer's cached population values. `e`: evaluated day; `v`: cut-point version of that evaluation; `d`: its
 * next due day (null: none); `u`: the next event day already applied (null: none; the path ends before it);
 * `p`: steps `[day, value per cutMetricNames…]`, ascending, the first on `e`.
 */
export interface PopulationEntry {
  e: number;
  v: string;
  d: number | null;
  u: number | null;
  p: Array<Array<number | null>>;
}

/**
 * Builds the entry of one evaluation. `pathDays` are the evaluated day followed by the later days (ascending) on
 * which a window metric may change; days at or after `until` are ignored; a step is kept only where a
 * piecewise-constant value changes.
 */
export function populationEntry(opts: {
  names: readonly string[];
  day: number;
  cutPointsVersion: string;
  dueDay: number | null;
  until: number | null;
  pathDays: readonly number[];
  metricsAtDay: (day: number) => Metrics;
}): PopulationEntry {
  const { names, until } = opts;
  const steps: Array<Array<number | null>> = [];
  let last: Array<number | null> | null = null;
  for (const day of opts.pathDays) {
    if (until !== null && day >= until) break;
    const m = opts.metricsAtDay(day);
    const values = names.map((n) => m[n] ?? null);
    if (last !== null && !constantsDiffer(names, last, values)) continue;
    steps.push([day, ...values]);
    last = values;
  }
  return { e: opts.day, v: opts.cutPointsVersion, d: opts.dueDay, u: until, p: steps };
}

function constantsDiffer(names: readonly string[], a: Array<number | null>, b: Array<number | null>): boolean {
  for (let i = 0; i < names.length; i++) {
    if (metricDrift(names[i]!) === 'const' && a[i] !== b[i]) return true;
  }
  return false;
}

/** The value of metric `i` (index in the names) on `day`, from the step in force (`step[0]` ≤ day). */
function valueOn(step: Array<number | null>, i: number, drift: 'inc1' | 'dec' | 'const', day: number): number | null {
  const v = step[i + 1] ?? null;
  if (v === null || drift !== 'inc1') return v;
  return v + (day - step[0]!);
}

/** Index of the step in force on `day`, or -1 before the first step. */
function stepIndex(entry: PopulationEntry, day: number): number {
  let idx = -1;
  for (let i = 0; i < entry.p.length && entry.p[i]![0]! <= day; i++) idx = i;
  return idx;
}

/** The cached metrics as of `day`, or null when the entry does not cover it (before `e`, or at/after `u`). */
export function entryMetricsAt(entry: PopulationEntry, names: readonly string[], day: number): Metrics | null {
  if (day < entry.e || (entry.u !== null && day >= entry.u)) return null;
  const idx = stepIndex(entry, day);
  if (idx < 0) return null;
  const step = entry.p[idx]!;
  const m: Metrics = {};
  names.forEach((n, i) => {
    m[n] = valueOn(step, i, metricDrift(n), day);
  });
  return m;
}

/**
 * A boundary whose cut moved between lo and hi. A value equal to a cut goes to the better group, so the values that
 * fall in another group under the new cuts are [lo, hi) when higher is better and (lo, hi] when lower is better.
 * `anchor` (both cuts anchored): lo and hi are the cuts on that day and grow by one a day, like the metric's values.
 * `mixed` (one cut anchored, the other fixed): the range slides against the values; every value is suspect.
 */
export interface MovedBoundary {
  metric: string;
  lo: number;
  hi: number;
  better: 'higher' | 'lower';
  anchor: number | null;
  mixed?: boolean;
}

/** Whether `v` falls in different groups under the two cuts of the boundary. */
function inMoved(b: MovedBoundary, v: number): boolean {
  return b.better === 'higher' ? v >= b.lo && v < b.hi : v > b.lo && v <= b.hi;
}

/** The boundaries of share and RFM dimensions whose cut differs between two cut-point versions. */
export function movedBoundaries(rules: Rules, before: CutPoints, after: CutPoints): MovedBoundary[] {
  const out: MovedBoundary[] = [];
  const add = (metric: string, better: 'higher' | 'lower', a: ScoringCuts, b: ScoringCuts, k: number) => {
    let x = a.cuts[k];
    const y = b.cuts[k];
    if (x === undefined || y === undefined) return;
    if ((a.anchor === null) !== (b.anchor === null)) {
      out.push({ metric, lo: Math.min(x, y), hi: Math.max(x, y), better, anchor: null, mixed: true });
      return;
    }
    // Both anchored: the old cut expressed on the new cut's anchor day.
    if (a.anchor !== null && b.anchor !== null) x += b.anchor - a.anchor;
    if (x === y) return;
    out.push({ metric, lo: Math.min(x, y), hi: Math.max(x, y), better, anchor: b.anchor });
  };
  for (const dim of rules.dimensions) {
    const s = dim.scoring;
    if (s.kind === 'shares') {
      const a = shareCuts(dim, s, before);
      const b = shareCuts(dim, s, after);
      for (let k = 0; k < Math.max(a.cuts.length, b.cuts.length); k++) add(s.metric, 'higher', a, b, k);
    } else if (s.kind === 'rfm') {
      // H iff score = 5 − groupIndex ≥ high_from iff the value reaches cut K = 5 − high_from (cuts are monotone).
      const K = 5 - s.high_from;
      if (K < 0 || K > 3) continue;
      for (const k of ['r', 'f', 'm'] as const) {
        const comp = s[k];
        if (!comp.quintiles) continue;
        add(comp.metric, comp.better, rfmCuts(dim, k, comp, before), rfmCuts(dim, k, comp, after), K);
      }
    }
  }
  return out;
}

/**
 * The first day in [fromDay, toDay] on which the customer must be re-evaluated because cut points moved: the first
 * day some cached value falls in different groups under the old and the new cut of a boundary; null when there
 * is none. Before that day every evaluation gives the same result under both cut versions, so the customer need not
 * be evaluated earlier. Conservative: an entry that does not cover the window, or lacks a metric, answers `fromDay`.
 */
export function recheckDay(
  entry: PopulationEntry,
  names: readonly string[],
  moved: readonly MovedBoundary[],
  fromDay: number,
  toDay: number,
): number | null {
  if (moved.length === 0 || toDay < fromDay) return null;
  // An event day before the window should have been evaluated (and the entry rewritten): stale, recheck.
  if (entry.u !== null && entry.u < fromDay) return fromDay;
  const from = Math.max(fromDay, entry.e);
  // From the next event day on, the customer is evaluated anyway, under the new cuts.
  const to = entry.u === null ? toDay : Math.min(toDay, entry.u - 1);
  if (to < from) return null;
  const first = stepIndex(entry, from);
  if (first < 0) return fromDay;
  let best: number | null = null;
  for (const b of moved) {
    const i = names.indexOf(b.metric);
    if (i < 0) return fromDay;
    const drift = metricDrift(b.metric);
    for (let s = first; s < entry.p.length && entry.p[s]![0]! <= to; s++) {
      const step = entry.p[s]!;
      const start = Math.max(step[0]!, from);
      const end = Math.min(s + 1 < entry.p.length ? entry.p[s + 1]![0]! - 1 : to, to);
      if (best !== null && start >= best) break;
      const v = valueOn(step, i, drift, start);
      if (v === null) continue;
      let hit: number | null = null;
      if (b.mixed) hit = start;
      else if (b.anchor !== null) {
        // The value and both cuts grow alike: in or out of the moved range for the whole step.
        if (inMoved(b, v - (start - b.anchor))) hit = start;
      } else if (inMoved(b, v)) hit = start;
      else if (drift === 'inc1') {
        // Grows by one a day: the first value ≥ v that is in the moved range, if reached before `end`.
        const first = b.better === 'higher' ? Math.max(b.lo, v) : Math.max(Math.floor(b.lo) + 1, v);
        if (inMoved(b, first) && first - v <= end - start) hit = start + Math.ceil(first - v);
      }
      if (hit !== null) {
        best = best === null ? hit : Math.min(best, hit);
        break;
      }
    }
  }
  return best;
}
