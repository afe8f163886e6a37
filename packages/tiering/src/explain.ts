/**
 * What a rules file and a cut-point version mean, as data for the warehouse (pure): every metric the rules read, and
 * each cut-point key with its metric, direction and group names, so that "why GOLD on day D" is a query.
 */
import { conditionMetrics } from './conditions';
import { rfmCuts, rfmKey, shareCuts } from './cutpoints';
import type { CutPoints, Rules } from './types';

/**
 * Every metric name a rules file reads, sorted: scored metrics (shares, thresholds, the three RFM components) and
 * every metric in a condition (eligibility, rules, metric right-hand sides such as `revenue_prev_90d`).
 */
export function ruleMetricNames(rules: Rules): string[] {
  const names: string[] = [];
  for (const dim of rules.dimensions) {
    const s = dim.scoring;
    switch (s.kind) {
      case 'rules':
        for (const r of s.rules) conditionMetrics(r.when, names);
        break;
      case 'thresholds':
        names.push(s.metric);
        break;
      case 'shares':
        names.push(s.metric);
        conditionMetrics(s.eligible, names);
        break;
      case 'rfm':
        names.push(s.r.metric, s.f.metric, s.m.metric);
        conditionMetrics(s.eligible, names);
        break;
    }
  }
  return [...new Set(names)].sort();
}

/** One scoring key of a cut-point version, described (the shape of the contract's TierCutSet, days as day numbers). */
export interface CutSetDescription {
  /** Dimension id (shares) or `<dimension>.r|f|m` (RFM). */
  key: string;
  dimension: string;
  metric: string;
  better: 'higher' | 'lower';
  /** Group names best first: the tiers of a shares dimension, the scores '5'…'1' of an RFM component. */
  groups: string[];
  /** The cuts the engine uses with this version (computed ones, else the rules' fallback cuts or bands). */
  values: number[];
  /** UTC day number the cuts of a day-linear metric are anchored to; null: fixed values. */
  anchorDay: number | null;
}

const RFM_SCORES = ['5', '4', '3', '2', '1'];

/**
 * The cuts of `cutPoints` as the engine applies them under `rules`, one entry per share dimension and per RFM
 * component (fixed-band components included: their bands are the cuts), in rules file order.
 */
export function describeCutPoints(rules: Rules, cutPoints: CutPoints): CutSetDescription[] {
  const out: CutSetDescription[] = [];
  for (const dim of rules.dimensions) {
    const s = dim.scoring;
    if (s.kind === 'shares') {
      const c = shareCuts(dim, s, cutPoints);
      out.push({
        key: dim.id,
        dimension: dim.id,
        metric: s.metric,
        better: 'higher',
        groups: s.tiers.map((t) => t.tier),
        values: [...c.cuts],
        anchorDay: c.anchor,
      });
    } else if (s.kind === 'rfm') {
      for (const k of ['r', 'f', 'm'] as const) {
        const c = rfmCuts(dim, k, s[k], cutPoints);
        out.push({
          key: rfmKey(dim.id, k),
          dimension: dim.id,
          metric: s[k].metric,
          better: s[k].better,
          groups: RFM_SCORES,
          values: [...c.cuts],
          anchorDay: c.anchor,
        });
      }
    }
  }
  return out;
}
