/**
 * Cut points: the boundaries between tiers of population-relative dimensions (shares, rfm quintiles).
 *
 * Quantile rule (exact, deterministic, documented in rules/README.md):
 *   - the population of a dimension is every customer whose `eligible` condition holds (evaluated on metrics only:
 *     attribute and tier conditions see no attributes / no tiers here) and whose scored metric is not null;
 *   - sort its values best first (descending when higher is better, ascending when lower is better); N = its size;
 *   - for the boundary below group k (groups best first, cumulative share C_k of groups 0..k),
 *     m_k = round-half-up(C_k × N) (C_k rounded to 9 decimals first, so 0.2+0.3 is exactly 0.5);
 *     the m_k best values make up groups 0..k, and the cut is the m_k-th best value;
 *   - ties (`ties` of the scoring): with `never_exceed` (default), when the m_k-th and the (m_k+1)-th best values
 *     are equal the whole tied group falls below the boundary: m_k drops to j, the number of values strictly better
 *     than the tie, and the cut is the j-th best value. With `better_group` the cut stays the m_k-th best value and
 *     the tied group goes above it. Either way the comparison is the same — a value equal to a cut goes to the
 *     better group — so with `never_exceed` groups 0..k together hold at most m_k customers, and equal values
 *     always share a group. If m_k (or j) is 0 nobody qualifies: the cut is ±Number.MAX_VALUE.
 *   RFM quintiles are the same rule with 5 groups of 0.2 (score 5 = best fifth).
 *   An empty population keeps the fallback cuts / bands of the rules file.
 *
 * Anchoring (design-decisions §14): a computed cut of a day-linear metric (recency_days grows by one a day for
 * everyone) is anchored to the day A whose close the population was measured at: on day d it is c + (d − A). So a
 * recency quintile means "last order on or after day A − c": a customer's R group changes when it buys or when the
 * cuts are recomputed, never with the clock alone (a fixed "c days" cut would slide everyone towards R low within
 * the week between two recomputes). Fallback bands stay fixed day counts: they say "bought within c days".
 */
import { evalCondition } from './conditions';
import { type Metrics, metricDrift } from './metrics';
import type { CutPoints, Dimension, RfmComponent, Rules, ShareScoring, TieRule } from './types';

const NO_TIERS: Record<string, string> = {};

/** Index of the best group whose cut the value reaches (cuts best first); cuts.length = the worst group. */
export function groupIndex(value: number, cuts: readonly number[], better: 'higher' | 'lower'): number {
  for (let k = 0; k < cuts.length; k++) {
    const cut = cuts[k]!;
    if (better === 'higher' ? value >= cut : value <= cut) return k;
  }
  return cuts.length;
}

/**
 * Cut values (best first) splitting `values` into groups with the given shares (best first), following the quantile
 * rule above: with `never_exceed` a group of equal values straddling a boundary goes below it.
 */
export function cutsFromShares(
  values: number[],
  shares: readonly number[],
  better: 'higher' | 'lower',
  ties: TieRule = 'never_exceed',
): number[] | null {
  const n = values.length;
  if (n === 0) return null;
  const sorted = [...values].sort((a, b) => (better === 'higher' ? b - a : a - b));
  const nobody = better === 'higher' ? Number.MAX_VALUE : -Number.MAX_VALUE;
  const cuts: number[] = [];
  let cumulative = 0;
  for (let k = 0; k < shares.length - 1; k++) {
    cumulative += shares[k]!;
    const c = Math.round(cumulative * 1e9) / 1e9;
    let m = Math.min(Math.floor(c * n + 0.5 + 1e-9), n);
    if (ties === 'never_exceed' && m > 0 && m < n && sorted[m] === sorted[m - 1]) {
      // The m-th and (m+1)-th best are tied: keep only the values strictly better than the tie above the cut.
      const tied = sorted[m - 1]!;
      while (m > 0 && sorted[m - 1] === tied) m--;
    }
    cuts.push(m <= 0 ? nobody : sorted[m - 1]!);
  }
  return cuts;
}

const QUINTILES = [0.2, 0.2, 0.2, 0.2, 0.2];
const DAY_MS = 86_400_000;
export const rfmKey = (dim: string, c: 'r' | 'f' | 'm') => `${dim}.${c}`;

/**
 * Cuts as stored (best first) and, for anchored ones, the day they are relative to (null: fixed values). Callers
 * that compare values on a day use `groupOnDay`; the due search and the recheck use the anchor directly.
 */
export interface ScoringCuts {
  cuts: readonly number[];
  anchor: number | null;
}

/** The cuts the engine uses for a shares dimension: computed ones if present and well-formed, else the fallback. */
export function shareCuts(dim: Dimension, s: ShareScoring, cp: CutPoints): ScoringCuts {
  const c = cp.cuts[dim.id];
  return c && c.length === s.tiers.length - 1
    ? { cuts: c, anchor: cp.anchored?.[dim.id] ?? null }
    : { cuts: s.fallback_cuts, anchor: null };
}

/** The cuts (scores 5,4,3,2) the engine uses for one rfm component. */
export function rfmCuts(dim: Dimension, key: 'r' | 'f' | 'm', comp: RfmComponent, cp: CutPoints): ScoringCuts {
  if (!comp.quintiles) return { cuts: comp.bands, anchor: null };
  const k = rfmKey(dim.id, key);
  const c = cp.cuts[k];
  return c && c.length === 4 ? { cuts: c, anchor: cp.anchored?.[k] ?? null } : { cuts: comp.bands, anchor: null };
}

/**
 * The group of `value` on UTC day `day` (cuts best first, as in `groupIndex`). An anchored cut c is c + (day − anchor)
 * on that day; comparing value − (day − anchor) with c instead is the same and allocates nothing (±Number.MAX_VALUE,
 * "nobody qualifies", stays out of reach either way).
 */
export function groupOnDay(value: number, c: ScoringCuts, day: number, better: 'higher' | 'lower'): number {
  return groupIndex(c.anchor === null ? value : value - (day - c.anchor), c.cuts, better);
}

/** Cut points before any population was seen: fallback cuts and bands of the rules file. */
export function initialCutPoints(rules: Rules): CutPoints {
  const cuts: Record<string, number[]> = {};
  for (const dim of rules.dimensions) {
    const s = dim.scoring;
    if (s.kind === 'shares') cuts[dim.id] = [...s.fallback_cuts];
    if (s.kind === 'rfm') for (const k of ['r', 'f', 'm'] as const) cuts[rfmKey(dim.id, k)] = [...s[k].bands];
  }
  return { version: 'initial', computed_at: 0, cuts };
}

/**
 * Cut points from a population snapshot (one Metrics per customer) measured at the close of the day of `at` (epoch
 * ms), following the quantile rule above; cuts of day-linear metrics are anchored to that day. They record the
 * population size and, from `previous` (the cut points they replace), the size and day of the last measurement: the
 * recompute schedule (schedule.ts) reads both.
 */
export function computeCutPoints(
  rules: Rules,
  population: Metrics[],
  version: string,
  at: number,
  previous?: CutPoints,
): CutPoints {
  const base = initialCutPoints(rules);
  const cuts = base.cuts;
  const anchored: Record<string, number> = {};
  const measuredDay = Math.floor(at / DAY_MS);
  const set = (key: string, metric: string, c: number[]) => {
    cuts[key] = c;
    if (metricDrift(metric) === 'inc1') anchored[key] = measuredDay;
  };
  for (const dim of rules.dimensions) {
    const s = dim.scoring;
    if (s.kind === 'shares') {
      const values: number[] = [];
      for (const m of population) {
        const v = m[s.metric] ?? null;
        if (v === null) continue;
        if (s.eligible && !evalCondition(s.eligible, m, null, NO_TIERS)) continue;
        values.push(v);
      }
      const c = cutsFromShares(
        values,
        s.tiers.map((t) => t.share),
        'higher',
        s.ties,
      );
      if (c) set(dim.id, s.metric, c);
    } else if (s.kind === 'rfm') {
      const eligible = population.filter((m) => !s.eligible || evalCondition(s.eligible, m, null, NO_TIERS));
      for (const k of ['r', 'f', 'm'] as const) {
        const comp = s[k];
        if (!comp.quintiles) continue;
        const values: number[] = [];
        for (const m of eligible) {
          const v = m[comp.metric] ?? null;
          if (v !== null) values.push(v);
        }
        const c = cutsFromShares(values, QUINTILES, comp.better, s.ties);
        if (c) set(rfmKey(dim.id, k), comp.metric, c);
      }
    }
  }
  const out: CutPoints = { version, computed_at: at, cuts };
  if (Object.keys(anchored).length > 0) out.anchored = anchored;
  out.population = population.length;
  if (previous?.population !== undefined) {
    out.previous = { population: previous.population, day: Math.floor(previous.computed_at / DAY_MS) };
  }
  return out;
}
