export type CompareOp = 'gt' | 'gte' | 'lt' | 'lte' | 'eq' | 'neq' | 'between' | 'is_null' | 'not_null';
export type AttributeName = 'industry' | 'company_size' | 'region';
export type AttributeOp =
  | 'eq'
  | 'neq'
  | 'in'
  | 'not_in'
  | 'gt'
  | 'gte'
  | 'lt'
  | 'lte'
  | 'between'
  | 'is_null'
  | 'not_null';

/**
 * A condition after parsing: window sugar resolved (`{metric: orders, window: 90d}` → `orders_90d`),
 * and the right-hand side made explicit (a constant, a [lo, hi] range, or another metric).
 */
export type Condition =
  | {
      type: 'metric';
      metric: string;
      op: CompareOp;
      /** constant right-hand side (gt..neq) */
      value: number | null;
      /** inclusive range for `between` */
      range: readonly [number, number] | null;
      /** right-hand side is another metric of the same customer */
      ref: string | null;
    }
  | { type: 'attribute'; attribute: AttributeName; op: AttributeOp; value: unknown }
  | { type: 'tier'; dimension: string; in: readonly string[] }
  | { type: 'all'; of: readonly Condition[] }
  | { type: 'any'; of: readonly Condition[] }
  | { type: 'not'; of: Condition };

export interface RuleScoring {
  kind: 'rules';
  rules: readonly { id: string; tier: string; when: Condition }[];
  default: { id: string; tier: string };
}

export interface ThresholdScoring {
  kind: 'thresholds';
  metric: string;
  /** highest first; value >= min gets the tier (ties go to the higher tier) */
  tiers: readonly { tier: string; min: number }[];
  /** for a null value or a value below every min */
  default_tier: string;
}

/**
 * What happens to customers tied at a cut (rules/README.md "Quantile rule"). `never_exceed` (default): a tied group
 * that straddles a cut goes to the lower group, so no group (cumulatively, from the best) holds more than its share.
 * `better_group`: the whole tied group goes to the better group (a group can hold more than its share).
 */
export type TieRule = 'never_exceed' | 'better_group';
export const TIE_RULES: readonly TieRule[] = ['never_exceed', 'better_group'];

export interface ShareScoring {
  kind: 'shares';
  metric: string;
  /** highest first; shares sum to 1 */
  tiers: readonly { tier: string; share: number }[];
  eligible: Condition | null;
  ineligible_tier: string;
  /** tiers.length - 1 cut values, highest first; used until cut points are computed from the population */
  fallback_cuts: readonly number[];
  ties: TieRule;
}

export interface RfmComponent {
  metric: string;
  better: 'higher' | 'lower';
  /** true: scored by quintiles of the population (bands are the fallback); false: fixed bands */
  quintiles: boolean;
  /** 4 cut values for the scores 5, 4, 3, 2 (best first) */
  bands: readonly number[];
}

export type RfmKey = 'HHH' | 'HHL' | 'HLH' | 'HLL' | 'LHH' | 'LHL' | 'LLH' | 'LLL';
export const RFM_KEYS: readonly RfmKey[] = ['HHH', 'HHL', 'HLH', 'HLL', 'LHH', 'LHL', 'LLH', 'LLL'];

export interface RfmScoring {
  kind: 'rfm';
  r: RfmComponent;
  f: RfmComponent;
  m: RfmComponent;
  /** a score >= high_from counts as high (H), else low (L) */
  high_from: number;
  /** R, F, M letters (H/L) → segment tier */
  segments: Readonly<Record<RfmKey, string>>;
  eligible: Condition | null;
  ineligible_tier: string;
  /** the tie rule of the quintile components */
  ties: TieRule;
}

export type Scoring = RuleScoring | ThresholdScoring | ShareScoring | RfmScoring;

export interface Reactivation {
  from: readonly string[];
  to: readonly string[];
  reason: string;
}

export interface Dimension {
  id: string;
  description: string | null;
  /** ordered: highest first */
  tiers: readonly string[];
  ordered: boolean;
  grace_days: number;
  /**
   * Which changes wait `grace_days`: `demotions` (every change that is not a promotion: a higher rank in an ordered
   * dimension; in an unordered rfm dimension, a segment at least as high on each of R, F and M, or leaving the
   * ineligible tier) or `all`. Default: `demotions` for ordered and rfm dimensions, `all` for other unordered ones.
   */
  grace_applies_to: 'demotions' | 'all';
  reactivation: Reactivation | null;
  scoring: Scoring;
}

export interface Rules {
  version: string;
  file: string;
  dimensions: readonly Dimension[];
}

export class RulesError extends Error {
  readonly issues: string[];
  constructor(issues: string[]) {
    super(`invalid rules:\n  ${issues.join('\n  ')}`);
    this.name = 'RulesError';
    this.issues = issues;
  }
}

export interface CutPoints {
  version: string;
  computed_at: number;
  /** key: dimension id (shares) or `${dim}.r|f|m` (rfm); values best first */
  cuts: Record<string, number[]>;
  /**
   * Per cut key of a day-linear metric (recency_days, …) whose cuts were computed from a population: the UTC day
   * (days since 1970-01-01) at whose close the population was measured. Such a cut c is c + (d − anchor) on day d
   * (see `groupOnDay`). Absent (older stored versions, fallback cuts and bands): the cuts are fixed values.
   */
  anchored?: Record<string, number>;
  /**
   * Customers in the population the cuts were computed from (everyone measured, eligible or not); absent for the
   * initial cut points and older stored versions. With `previous` it drives the recompute schedule (schedule.ts).
   */
  population?: number;
  /** The population size and measured day of the computed version these replaced (absent: none had a size). */
  previous?: { population: number; day: number };
  /**
   * Rules-change versions only (rules-change.ts): the first day they are in force (the measured day or the next; a
   * scheduled version is in force from the day after it was measured), the rules version and the apply number they
   * were computed for. A rules-change version supersedes every version measured on or before its measured day.
   */
  from_day?: number;
  rules_version?: string;
  rules_seq?: number;
}

export interface TierState {
  customer_id: string;
  version: number;
  rules_version: string;
  cutpoints_version: string;
  last_eval_day: number;
  tiers: Record<string, string>;
  pending: Record<string, { tier: string; since_day: number }>;
  /** rule id per dimension that decided the current tier */
  decided_by: Record<string, string>;
  /**
   * Identity (design-decisions §22): set once this customer id was merged into another (final: never evaluated
   * again); `merges`: the event ids of the merges into this customer already announced (one MERGED each);
   * `merged_tiers`: a merged customer's tiers before its merge (a survivor without a state starts from them).
   */
  merged_into?: string;
  merges?: string[];
  merged_tiers?: Record<string, string>;
}

export type Direction = 'UP' | 'DOWN' | 'ENTER' | 'LATERAL';

export interface TransitionDraft {
  transition_id: string;
  customer_id: string;
  dimension: string;
  from_tier: string | null;
  to_tier: string;
  direction: Direction;
  reason: string;
  rule_id: string;
  rules_version: string;
  cutpoints_version: string;
  metrics: Record<string, number>;
  occurred_at: number;
  /** Identity transitions only: the other customer id of the merge (MERGED_INTO: the survivor; MERGED: the merged). */
  related_customer_id?: string;
}
