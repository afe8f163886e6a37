import { readFileSync } from 'node:fs';
import path from 'node:path';
import { type AggregateConfig, DEFAULT_AGGREGATE_CONFIG, oracleMetrics } from '@tierstream/aggregates';
import { REPO_ROOT } from '@tierstream/cli';
import { customerIdOf, type InputEvent } from '@tierstream/contracts';
import {
  type Attributes,
  type CutPointSchedule,
  type CutPoints,
  computeCutPoints,
  DEFAULT_CUTPOINT_SCHEDULE,
  evaluateTiers,
  initialCutPoints,
  isCutPointDay,
  type Metrics,
  parseRules,
  type Rules,
  type TierState,
  type TransitionDraft,
} from '@tierstream/tiering';
import { dayOf, endOfDay, isoDay } from '@tierstream/tierstate';

export interface OracleResult {
  /** Final tier state per customer. */
  states: Map<string, TierState>;
  /** Every transition, in (day, customer) order. */
  transitions: TransitionDraft[];
  /** Snapshot rows: day → customer → tiers. */
  snapshots: Map<string, Map<string, Record<string, string>>>;
  /** Metrics per customer as of each day's close (the snapshot rows' metrics). */
  metrics: Map<string, Map<string, Metrics>>;
  /** Customers per tier per day per dimension: `${day}|${dimension}|${tier}` → count. */
  distribution: Map<string, number>;
  cutPoints: CutPoints;
}

/**
 * The batch reference for the whole streaming path, written from the definitions and not from the services:
 * aggregates by the batch oracle (oracleMetrics, over the raw event list), tiers by the pure engine, evaluated for
 * EVERY customer on EVERY day from its first event day to the last closed day (the service evaluates only when its
 * due index says something can change; equal results prove the due index never skips a change). Cut points are
 * recomputed at the close of every cut-point day (tiering's schedule: every `cutPointsEveryDays`-th day, and every
 * day while the population is young or changing; the other settings default to the engine's) from that day's
 * population and apply from the next day.
 */
export function runPipelineOracle(opts: {
  /**
   * In the order they are produced (each customer's order events arrive in that order, one partition): where copies
   * of one order identity differ, the first counts (design-decisions §15). Callers that feed sorted by event time
   * must pass the list sorted the same way if their copies differ.
   */
  events: InputEvent[];
  /** Default: rules/default.yaml. */
  rules?: Rules;
  /** Default: DEFAULT_AGGREGATE_CONFIG. */
  aggregateConfig?: AggregateConfig;
  cutPointsEveryDays: number;
  /** The rest of the schedule (CUTPOINTS_YOUNG_BELOW, CUTPOINTS_EARLY_CHANGE); default: the engine's defaults. */
  cutPointsSchedule?: Partial<Omit<CutPointSchedule, 'everyDays'>>;
  endAt: number;
}): OracleResult {
  const rules: Rules =
    opts.rules ?? parseRules(readFileSync(path.join(REPO_ROOT, 'rules/default.yaml'), 'utf8'), 'rules/default.yaml');
  const aggregateConfig = opts.aggregateConfig ?? DEFAULT_AGGREGATE_CONFIG;
  const schedule: CutPointSchedule = {
    ...DEFAULT_CUTPOINT_SCHEDULE,
    ...opts.cutPointsSchedule,
    everyDays: opts.cutPointsEveryDays,
  };
  const byCustomer = new Map<string, InputEvent[]>();
  const attributes = new Map<string, Attributes>();
  for (const e of opts.events) {
    const id = customerIdOf(e);
    if (id === null) continue;
    const list = byCustomer.get(id) ?? [];
    list.push(e);
    byCustomer.set(id, list);
    if (e.kind === 'order' && e.event.attributes) {
      const prev = attributes.get(id) ?? { industry: null, company_size: null, region: null };
      const a = e.event.attributes;
      attributes.set(id, {
        industry: a.industry ?? prev.industry ?? null,
        company_size: a.company_size ?? prev.company_size ?? null,
        region: a.region ?? prev.region ?? null,
      });
    }
  }
  const firstDay = new Map<string, number>();
  for (const [id, list] of byCustomer) firstDay.set(id, Math.min(...list.map((e) => dayOf(e.event.occurred_at))));
  const lastDay = dayOf(opts.endAt + 1) - 1;
  const startDay = Math.min(...firstDay.values());
  let cutPoints = initialCutPoints(rules);
  const states = new Map<string, TierState>();
  const transitions: TransitionDraft[] = [];
  const snapshots = new Map<string, Map<string, Record<string, string>>>();
  const metricsByDay = new Map<string, Map<string, Metrics>>();
  const distribution = new Map<string, number>();
  const ids = [...byCustomer.keys()].sort();
  for (let day = startDay; day <= lastDay; day++) {
    const population: Metrics[] = [];
    const snapshot = new Map<string, Record<string, string>>();
    const dayMetrics = new Map<string, Metrics>();
    for (const id of ids) {
      if (firstDay.get(id)! > day) continue;
      const metrics = oracleMetrics(byCustomer.get(id)!, endOfDay(day), aggregateConfig, 48 * 3_600_000);
      const result = evaluateTiers({
        rules: rules,
        cutPoints,
        customerId: id,
        metrics,
        attributes: attributes.get(id) ?? null,
        previous: states.get(id) ?? null,
        day,
        at: endOfDay(day),
      });
      states.set(id, result.state);
      transitions.push(...result.transitions);
      population.push(metrics);
      dayMetrics.set(id, metrics);
      snapshot.set(id, { ...result.state.tiers });
      for (const [dimension, tier] of Object.entries(result.state.tiers)) {
        const k = `${isoDay(day)}|${dimension}|${tier}`;
        distribution.set(k, (distribution.get(k) ?? 0) + 1);
      }
    }
    snapshots.set(isoDay(day), snapshot);
    metricsByDay.set(isoDay(day), dayMetrics);
    if (isCutPointDay(schedule, cutPoints, day)) {
      cutPoints = computeCutPoints(rules, population, `cp-${isoDay(day)}`, endOfDay(day), cutPoints);
    }
  }
  return { states, transitions, snapshots, metrics: metricsByDay, distribution, cutPoints };
}
