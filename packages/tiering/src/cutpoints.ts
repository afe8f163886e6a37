/**
 * Cut points: the boundaries between tiers of population-relative dimensions (shares, rfm quintiles).
 *
 * Quantile rule (exact, deterministic, documented in rules/README.md):
 *   - the population of a dimension is every customer whose `eligible` condition holds (evaluated on metrics only:
 *     attribute and tier conditions see no attributes / no tiers here) and whose scored metric is not null;
 *   - sort its values best first (descending when higher is better, ascending when lower is better); N = its size;
 *   - for the boundary below group k (groups best first, cumulative share C_k of groups 0..k),
 *     m_k = round-half-up(C_k × N) (C_k rounded to 9 decimals first, so 0.2+0.3 is exactly 0.5);
 *     the cut is the m_k-th best value; if m_k = 0 nobody qualifies and the cut is ±Number.MAX_VALUE;
 *   - a value equal to a cut goes to the better group, so with ties a group can get a few more than its share.
 *   RFM quintiles are the same rule with 5 groups of 0.2 (score 5 = best fifth).
 *   An empty population keeps the fallback cuts / bands of the rules file.
 */
import { evalCondition } from './conditions';
import type { Metrics } from './metrics';
import type { CutPoints, Dimension, RfmComponent, Rules, ShareScoring } from './types';

const NO_TIERS: Record<string, string> = {};

/** Index of the best group whose cut the value reaches (cuts best first); cuts.length = the worst group. */
export function groupIndex(value: number, cuts: readonly number[], better: 'higher' | 'lower'): number {
  for (let k = 0; k < cuts.length; k++) {
    const cut = cuts[k]!;
    if (better === 'higher' ? value >= cut : value <= cut) return k;
  }
  return cuts.length;
}

/** Cut values (best first) splitting `values` into groups with the given shares (best first). */
export function cutsFromShares(
  values: number[],
  shares: readonly number[],
  better: 'higher' | 'lower',
): number[] | null {
  const n = values.length;
  if (n === 0) return null;
  const sorted = [...values].sort((a, b) => (better === 'higher' ? b - a : a - b));
  const cuts: number[] = [];
  let cumulative = 0;
  for (let k = 0; k < shares.length - 1; k++) {
    cumulative += shares[k]!;
    const c = Math.round(cumulative * 1e9) / 1e9;
    const m = Math.floor(c * n + 0.5 + 1e-9);
    if (m <= 0) cuts.push(better === 'higher' ? Number.MAX_VALUE : -Number.MAX_VALUE);
    else cuts.push(sorted[Math.min(m, n) - 1]!);
  }
  return cuts;
}

const QUINTILES = [0.2, 0.2, 0.2, 0.2, 0.2];
const rfmKey = (dim: string, c: 'r' | 'f' | 'm') => `${dim}.${c}`;

/** The cuts the engine uses for a shares dimension: computed ones if present and well-formed, else the fallback. */
export function shareCuts(dim: Dimension, s: ShareScoring, cp: CutPoints): readonly number[] {
  const c = cp.cuts[dim.id];
  return c && c.length === s.tiers.length - 1 ? c : s.fallback_cuts;
}

/** The cuts (scores 5,4,3,2) the engine uses for one rfm component. */
export function rfmCuts(dim: Dimension, key: 'r' | 'f' | 'm', comp: RfmComponent, cp: CutPoints): readonly number[] {
  if (!comp.quintiles) return comp.bands;
  const c = cp.cuts[rfmKey(dim.id, key)];
  return c && c.length === 4 ? c : comp.bands;
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

/** Cut points from a population snapshot (one Metrics per customer), following the quantile rule above. */
export function computeCutPoints(rules: Rules, population: Metrics[], version: string, at: number): CutPoints {
  const base = initialCutPoints(rules);
  const cuts = base.cuts;
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
      );
      if (c) cuts[dim.id] = c;
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
        const c = cutsFromShares(values, QUINTILES, comp.better);
        if (c) cuts[rfmKey(dim.id, k)] = c;
      }
    }
  }
  return { version, computed_at: at, cuts };
}
