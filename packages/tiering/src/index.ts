/**
 * @tierstream/tiering — the pure rules engine: rules file → tiers, transitions and due days. No I/O.
 */
export {
  CLV_FIT_INPUTS,
  type ClvFitOutcome,
  type ClvModel,
  type ClvSettings,
  type ClvStats,
  type ClvTimeUnit,
  clvLastAttemptDay,
  clvModelFor,
  clvStats,
  DAYS_PER_UNIT,
  DEFAULT_CLV_SETTINGS,
  fitClvModel,
  isClvFitDay,
  nextClvModelDay,
} from './clv-model';
export { CLV_PREDICTION_METRICS, clvPredictions } from './clv-predictions';
export { conditionMetrics, describeCondition, evalCondition } from './conditions';
export { computeCutPoints, cutsFromShares, groupIndex, initialCutPoints } from './cutpoints';
export { DUE_SEARCH_HORIZON_DAYS, type NextDueInput, nextDueDay } from './due';
export {
  type Candidate,
  type EvaluateInput,
  evaluateTiers,
  RULES_CHANGED,
  sameRecord,
  scoreDimension,
  transitionId,
} from './engine';
export { type CutSetDescription, describeCutPoints, ruleMetricNames } from './explain';
export {
  finalMergedState,
  IDENTITY_ACTIVE,
  IDENTITY_DIMENSION,
  IDENTITY_MERGED,
  type IdentityFacts,
  identityTransitionId,
  inheritedState,
  MERGED,
  MERGED_INTO,
  mergedTransitions,
  unannouncedMerges,
} from './identity';
export {
  type Attributes,
  closeMetricNames,
  DAY_LINEAR_METRICS,
  DECREASING_METRICS,
  KNOWN_METRICS,
  type Metrics,
  metricDrift,
} from './metrics';
export { parseRules } from './parse';
export {
  cutMetricNames,
  entryMetricsAt,
  type MovedBoundary,
  movedBoundaries,
  type PopulationEntry,
  populationCacheSupported,
  populationEntry,
  recheckDay,
} from './population';
export {
  compareCutPoints,
  cutPointsForRules,
  cutPointsInForce,
  inForceFrom,
  measuredDayOf,
  type RulesChangeCutPointsInput,
  rulesChangeVersion,
  sortCutPoints,
} from './rules-change';
export {
  type CutPointSchedule,
  DEFAULT_CUTPOINT_SCHEDULE,
  isCutPointDay,
  nextCutPointDay,
  recomputesEarly,
} from './schedule';
export {
  type Condition,
  type CutPoints,
  type Dimension,
  type Direction,
  RFM_KEYS,
  type RfmComponent,
  type RfmKey,
  type Rules,
  RulesError,
  type Scoring,
  TIE_RULES,
  type TieRule,
  type TierState,
  type TransitionDraft,
} from './types';
