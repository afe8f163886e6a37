import { createHash } from 'node:crypto';
import { conditionMetrics, evalCondition } from './conditions';
import { groupOnDay, rfmCuts, shareCuts } from './cutpoints';
import type { Attributes, Metrics } from './metrics';
import {
  type CutPoints,
  type Dimension,
  type Direction,
  RFM_KEYS,
  type RfmKey,
  type Rules,
  type TierState,
  type TransitionDraft,
} from './types';

export const RULES_CHANGED = 'RULES_CHANGED';

/** What one dimension's scoring says, before hysteresis. */
export interface Candidate {
  tier: string;
  rule_id: string;
  /** metric names behind the decision (deciding condition + scored metric); shared, read-only */
  metrics: readonly string[];
  /** extra numbers behind the decision that are not metrics (rfm scores) */
  extra: Record<string, number>;
}

/**
 * The metric names behind a decision depend only on the rules, not on the customer: computed once per rule or
 * dimension object (rules are immutable once parsed) and shared read-only by every candidate.
 */
const usedMetricsMemo = new WeakMap<object, string[]>();
function usedMetrics(key: object, compute: () => string[]): string[] {
  let used = usedMetricsMemo.get(key);
  if (!used) {
    used = compute();
    usedMetricsMemo.set(key, used);
  }
  return used;
}

/**
 * Score one dimension (no hysteresis) as of UTC day `day` (anchored cuts depend on it). `tiers` holds the tiers
 * already decided for earlier dimensions.
 */
export function scoreDimension(
  dim: Dimension,
  cutPoints: CutPoints,
  metrics: Metrics,
  attributes: Attributes | null | undefined,
  tiers: Record<string, string>,
  day: number,
): Candidate {
  const s = dim.scoring;
  switch (s.kind) {
    case 'rules': {
      for (const r of s.rules) {
        if (evalCondition(r.when, metrics, attributes, tiers)) {
          return { tier: r.tier, rule_id: r.id, metrics: usedMetrics(r, () => conditionMetrics(r.when)), extra: {} };
        }
      }
      // the default is decided by every rule failing: report what they looked at
      const used = usedMetrics(s, () => {
        const all: string[] = [];
        for (const r of s.rules) conditionMetrics(r.when, all);
        return all;
      });
      return { tier: s.default.tier, rule_id: s.default.id, metrics: used, extra: {} };
    }
    case 'thresholds': {
      const v = metrics[s.metric] ?? null;
      if (v !== null) {
        for (const t of s.tiers)
          if (v >= t.min) return { tier: t.tier, rule_id: `threshold:${t.tier}`, metrics: [s.metric], extra: {} };
      }
      return { tier: s.default_tier, rule_id: 'threshold:default', metrics: [s.metric], extra: {} };
    }
    case 'shares': {
      const used = usedMetrics(s, () => conditionMetrics(s.eligible, [s.metric]));
      const v = metrics[s.metric] ?? null;
      if (v === null || (s.eligible && !evalCondition(s.eligible, metrics, attributes, tiers))) {
        return { tier: s.ineligible_tier, rule_id: 'share:ineligible', metrics: used, extra: {} };
      }
      const tier = s.tiers[groupOnDay(v, shareCuts(dim, s, cutPoints), day, 'higher')]!.tier;
      return { tier, rule_id: `share:${tier}`, metrics: used, extra: {} };
    }
    case 'rfm': {
      const used = usedMetrics(s, () => conditionMetrics(s.eligible, [s.r.metric, s.f.metric, s.m.metric]));
      if (s.eligible && !evalCondition(s.eligible, metrics, attributes, tiers)) {
        return { tier: s.ineligible_tier, rule_id: 'rfm:ineligible', metrics: used, extra: {} };
      }
      const extra: Record<string, number> = {};
      let key = '';
      for (const k of ['r', 'f', 'm'] as const) {
        const comp = s[k];
        const v = metrics[comp.metric] ?? null;
        // a missing value scores 1 (worst): it cannot be placed in the population
        const score = v === null ? 1 : 5 - groupOnDay(v, rfmCuts(dim, k, comp, cutPoints), day, comp.better);
        extra[`${k}_score`] = score;
        key += score >= s.high_from ? 'H' : 'L';
      }
      const tier = s.segments[key as RfmKey];
      return { tier, rule_id: `rfm:${key}`, metrics: used, extra };
    }
  }
}

/** Deterministic transition id: sha256 over the cause (same cause → same id, so consumers can deduplicate). */
export function transitionId(
  customerId: string,
  dimension: string,
  from: string | null,
  to: string,
  at: number,
  rulesVersion: string,
): string {
  return createHash('sha256')
    .update(JSON.stringify([customerId, dimension, from, to, at, rulesVersion]))
    .digest('hex');
}

export interface EvaluateInput {
  rules: Rules;
  cutPoints: CutPoints;
  customerId: string;
  metrics: Metrics;
  attributes?: Attributes | null;
  previous: TierState | null;
  /** UTC day number = floor(ms / 86_400_000) */
  day: number;
  /** instant (ms) stamped on transitions */
  at: number;
  /** true when re-evaluating because a new rules version was applied: transitions get reason RULES_CHANGED */
  rulesChanged?: boolean;
}

/**
 * Classify one customer along every dimension (file order), applying hysteresis against the previous state.
 * Pure and deterministic.
 */
export function evaluateTiers(input: EvaluateInput): { state: TierState; transitions: TransitionDraft[] } {
  const { rules, cutPoints, customerId, metrics, attributes, previous, day } = input;
  const tiers: Record<string, string> = {};
  const pending: TierState['pending'] = {};
  const decidedBy: Record<string, string> = {};
  const transitions: TransitionDraft[] = [];

  for (const dim of rules.dimensions) {
    const cand = scoreDimension(dim, cutPoints, metrics, attributes, tiers, day);
    const prevTier = previous?.tiers[dim.id] ?? null;
    const prevRank = prevTier === null ? -1 : dim.tiers.indexOf(prevTier);
    let apply = false;
    if (prevTier === null || prevRank < 0) {
      apply = true; // first time, or the old tier no longer exists in these rules
    } else if (cand.tier === prevTier) {
      apply = false; // unchanged; any pending demotion is dropped
    } else {
      const needsGrace = dim.grace_days > 0 && !isPromotion(dim, prevTier, prevRank, cand);
      if (!needsGrace) {
        apply = true;
      } else {
        const since = previous?.pending[dim.id]?.since_day ?? day;
        if (day - since >= dim.grace_days) apply = true;
        else pending[dim.id] = { tier: cand.tier, since_day: since };
      }
    }

    if (apply && cand.tier !== prevTier) {
      tiers[dim.id] = cand.tier;
      decidedBy[dim.id] = cand.rule_id;
      transitions.push(makeTransition(input, dim, prevTier, prevRank, cand));
    } else {
      tiers[dim.id] = prevTier!;
      decidedBy[dim.id] = cand.tier === prevTier ? cand.rule_id : (previous?.decided_by[dim.id] ?? cand.rule_id);
    }
  }

  const changed =
    previous === null ||
    !sameRecord(previous.tiers, tiers) ||
    JSON.stringify(sortKeys(previous.pending)) !== JSON.stringify(sortKeys(pending));
  const state: TierState = {
    customer_id: customerId,
    version: previous === null ? 1 : previous.version + (changed ? 1 : 0),
    rules_version: rules.version,
    cutpoints_version: cutPoints.version,
    last_eval_day: day,
    tiers,
    pending,
    decided_by: decidedBy,
  };
  return { state, transitions };
}

/**
 * Whether a change from `prevTier` to the candidate applies at once under `grace_applies_to: demotions`
 * (design-decisions §17). Ordered dimensions: a higher rank. Unordered rfm dimensions: segments are ordered by their
 * letters — the candidate's R, F and M are each at least as high as those of every letter combination of the
 * previous segment (so at least one is higher), or the customer leaves the ineligible tier. The candidate's letters
 * are those of this evaluation (its rule id), the previous ones follow from the tier alone: the result depends on
 * the tiers and the candidate only, like every other hysteresis decision (the due search stays exact).
 */
function isPromotion(dim: Dimension, prevTier: string, prevRank: number, cand: Candidate): boolean {
  if (dim.grace_applies_to === 'all') return false;
  if (dim.ordered) return dim.tiers.indexOf(cand.tier) < prevRank;
  const s = dim.scoring;
  if (s.kind !== 'rfm' || !cand.rule_id.startsWith('rfm:')) return false;
  const letters = cand.rule_id.slice(4);
  if (letters === 'ineligible') return false;
  const before = RFM_KEYS.filter((k) => s.segments[k] === prevTier);
  if (before.length === 0) return prevTier === s.ineligible_tier;
  return before.every((k) => [0, 1, 2].every((i) => letters[i] === 'H' || k[i] === 'L'));
}

function makeTransition(
  input: EvaluateInput,
  dim: Dimension,
  from: string | null,
  fromRank: number,
  cand: Candidate,
): TransitionDraft {
  let direction: Direction;
  if (from === null) direction = 'ENTER';
  else if (!dim.ordered || fromRank < 0) direction = 'LATERAL';
  else direction = dim.tiers.indexOf(cand.tier) < fromRank ? 'UP' : 'DOWN';

  let reason = cand.rule_id;
  if (input.rulesChanged) reason = RULES_CHANGED;
  else if (from !== null && dim.reactivation?.from.includes(from) && dim.reactivation.to.includes(cand.tier)) {
    reason = dim.reactivation.reason;
  }

  const numbers: Record<string, number> = {};
  for (const m of cand.metrics) {
    const v = input.metrics[m];
    if (typeof v === 'number' && Number.isFinite(v)) numbers[m] = v;
  }
  Object.assign(numbers, cand.extra);

  return {
    transition_id: transitionId(input.customerId, dim.id, from, cand.tier, input.at, input.rules.version),
    customer_id: input.customerId,
    dimension: dim.id,
    from_tier: from,
    to_tier: cand.tier,
    direction,
    reason,
    rule_id: cand.rule_id,
    rules_version: input.rules.version,
    cutpoints_version: input.cutPoints.version,
    metrics: numbers,
    occurred_at: input.at,
  };
}

/** Same keys with the same values (tiers per dimension: a rules change may drop a dimension without a transition). */
export function sameRecord(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  return ka.every((k) => a[k] === b[k]);
}

function sortKeys<T>(r: Record<string, T>): [string, T][] {
  return Object.entries(r).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}
