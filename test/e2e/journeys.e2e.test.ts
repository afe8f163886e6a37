import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bootstrapPipeline, Clients, REPO_ROOT, resetPipelineData, waitForPipeline } from '@tierstream/cli';
import type { InputEvent } from '@tierstream/contracts';
import { dayOf, endOfDay, isoDay, TierStateStore } from '@tierstream/tierstate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import {
  complaint,
  type DecodedTransition,
  endOffsets,
  feedAndClose,
  isAfter,
  journey,
  placed,
  type RunningPipeline,
  readTransitions,
  resetGroupsAndRedis,
  startPipeline,
  step,
  tierctl,
  web,
} from '../support/journeys';

/**
 * Scripted customer journeys through the real services (aggregator, tier engine, warehouse writer as processes,
 * replay mode). Every expected day below is derived from the thresholds in rules/default.yaml and from the
 * documented metric definitions (recency_days = as-of day − last order day; windows hold days D−n < day ≤ D), never
 * from running the engine. Transitions are read back from customer-tier-transitions.v1 and decoded with the serde.
 */

// ------------------------------------------------------------------------------------------- rules thresholds
const RULES_PATH = path.join(REPO_ROOT, 'rules/default.yaml');
const RULES_TEXT = readFileSync(RULES_PATH, 'utf8');
type Yaml = Record<string, unknown>;
const rulesDoc = parseYaml(RULES_TEXT) as { version: string; dimensions: Yaml[] };
const dimension = (id: string) => {
  const d = rulesDoc.dimensions.find((x) => x.id === id);
  if (!d) throw new Error(`rules/default.yaml has no dimension ${id}`);
  return d as Yaml & { grace_days?: number; scoring: Yaml };
};
const ruleWhen = (dim: string, ruleId: string): Yaml => {
  const rules = dimension(dim).scoring.rules as Yaml[];
  const r = rules.find((x) => x.id === ruleId);
  if (!r) throw new Error(`rules/default.yaml: ${dim} has no rule ${ruleId}`);
  return r.when as Yaml;
};
/** The `value` of the condition on `metric` (and window) inside a rule's `when` (a leaf or an `all`). */
const conditionValue = (when: Yaml, metric: string, window?: string): unknown => {
  const leaves = (when.all as Yaml[] | undefined) ?? (when.any as Yaml[] | undefined) ?? [when];
  const leaf = leaves.find((c) => c.metric === metric && (window === undefined || c.window === window));
  if (!leaf) throw new Error(`condition on ${metric} ${window ?? ''} not found in ${JSON.stringify(when)}`);
  return leaf.value;
};

const lifecycle = {
  loyalMinOrders365: conditionValue(ruleWhen('lifecycle', 'loyal_frequent_recent'), 'orders', '365d') as number,
  loyalMaxRecency: conditionValue(ruleWhen('lifecycle', 'loyal_frequent_recent'), 'recency_days') as number,
  activeMaxRecency: conditionValue(ruleWhen('lifecycle', 'active_repeat_buyer'), 'recency_days') as number,
  newMaxRecency: conditionValue(ruleWhen('lifecycle', 'new_first_order'), 'recency_days') as number,
  atRisk: conditionValue(ruleWhen('lifecycle', 'at_risk_quiet_91_180'), 'recency_days') as [number, number],
  dormant: conditionValue(ruleWhen('lifecycle', 'dormant_quiet_181_365'), 'recency_days') as [number, number],
  churnedAbove: conditionValue(ruleWhen('lifecycle', 'churned_quiet_over_365'), 'recency_days') as number,
};
const complaintsMin = conditionValue(ruleWhen('service_flag', 'complaint_risk'), 'complaints', '90d') as number;
const serviceGrace = dimension('service_flag').grace_days ?? 0;
const valueGrace = dimension('value_tier').grace_days ?? 0;
const COMPLAINT_WINDOW = 90; // the `window: 90d` of the complaint rule (checked below)

// ------------------------------------------------------------------------------------------- the script
const CUTPOINTS_EVERY_DAYS = 7;
/** A cut-point day (day % 7 == 0) early in 2024: day b+7k closes with a cut-point recomputation. */
const firstDay2024 = dayOf(Date.UTC(2024, 0, 1));
const b = firstDay2024 + ((CUTPOINTS_EVERY_DAYS - (firstDay2024 % CUTPOINTS_EVERY_DAYS)) % CUTPOINTS_EVERY_DAYS);

// Prospect P: web only on day b, then loyalMinOrders365 orders 10 days apart from b+16, then silence, then a return.
// P's history spans more than 400 days (the aggregates' RETENTION_DAYS): the replay applies the return before the
// engine evaluates day b, so this also proves that the day buckets the engine still needs are not folded away.
const P = 'j-prospect';
const pOrderDays = Array.from({ length: lifecycle.loyalMinOrders365 }, (_, i) => b + 16 + 10 * i);
const pLastOrder = pOrderDays.at(-1)!;
const pDays = {
  prospect: b,
  new: pOrderDays[0]!,
  active: pOrderDays[1]!,
  loyal: pLastOrder,
  loyalLapses: pLastOrder + lifecycle.loyalMaxRecency + 1, // recency 61: no longer LOYAL, still a recent repeat buyer
  atRisk: pLastOrder + lifecycle.atRisk[0],
  dormant: pLastOrder + lifecycle.dormant[0],
  churned: pLastOrder + lifecycle.churnedAbove + 1,
};
const pReturn = pDays.churned + 3;
const END_DAY = pReturn + 1;
const endAt = endOfDay(END_DAY);

// Value pyramid: A..D and X buy on day b; five small buyers E1..E5 join on b+3 (the population shifts). Cut points
// are recomputed at the close of b (5 buyers: PLATINUM needs the best value) and of b+7 (10 buyers: the two best).
const X = 'j-x';
const pyramid: Array<[string, number]> = [
  ['j-a', 50_000],
  [X, 40_000],
  ['j-b', 30_000],
  ['j-c', 20_000],
  ['j-d', 10_000],
];
const newcomers = ['j-e1', 'j-e2', 'j-e3', 'j-e4', 'j-e5'];
const shiftDay = b + 3;

// STAR account S: one big order (the top value, revenue growing), two complaints 19 days apart.
const S = 'j-star';
const sFirstOrder = b + 20;
const complaintDays = [b + 31, b + 50];

// Rules-change population: recency at END_DAY between the new AT_RISK start (46) and the old one (91) moves.
const NEW_AT_RISK_FROM = 46;
// R.edgeMover crosses the new threshold only on END_DAY itself: the dry run must evaluate as of the day the apply will.
const R = {
  newMover: 'j-r1',
  activeMover1: 'j-r2',
  activeMover2: 'j-r3',
  staysNew: 'j-r4',
  staysAtRisk: 'j-r5',
  edgeMover: 'j-r6',
};
const rOrders: Array<[string, number[]]> = [
  [R.newMover, [END_DAY - 60]],
  [R.edgeMover, [END_DAY - NEW_AT_RISK_FROM]],
  [R.activeMover1, [END_DAY - 76, END_DAY - 66]],
  [R.activeMover2, [END_DAY - 96, END_DAY - 86]],
  [R.staysNew, [END_DAY - 6]],
  [R.staysAtRisk, [END_DAY - 100]],
];

function script(): InputEvent[] {
  const events: InputEvent[] = [];
  events.push(web(P, b, 'PAGE_VIEW'), web(P, b, 'PRODUCT_VIEW', 1), web(P, b, 'SEARCH', 2));
  for (const d of pOrderDays) events.push(placed(P, d, 5_000));
  events.push(placed(P, pReturn, 5_000));
  for (const [id, amount] of pyramid) events.push(placed(id, b, amount));
  for (const id of newcomers) events.push(placed(id, shiftDay, 1_000));
  events.push(placed(S, sFirstOrder, 1_000_000));
  complaintDays.forEach((d, i) => {
    events.push(complaint(S, d, `j-ticket-${i}`));
  });
  for (const [id, days] of rOrders) for (const d of days) events.push(placed(id, d, 7_000));
  return events;
}

// The script's cut-point days are the regular ones only: no daily recompute while its small population is young or
// growing (design-decisions §18; test/e2e/ranking.e2e.test.ts runs with the default schedule).
const ENV = {
  CUTPOINTS_EVERY_DAYS: String(CUTPOINTS_EVERY_DAYS),
  CUTPOINTS_YOUNG_BELOW: '0',
  CUTPOINTS_EARLY_CHANGE: '0',
  SWEEP_INTERVAL_MS: '20',
};

describe('customer journeys through the real services (replay mode)', () => {
  const clients = new Clients();
  const events = script();
  let pipeline: RunningPipeline | null = null;
  let run1: DecodedTransition[] = [];
  let tmp = '';

  beforeAll(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'tierstream-journeys-'));
    await resetPipelineData(clients);
    await bootstrapPipeline(clients);
    pipeline = startPipeline(ENV);
    await feedAndClose(clients, pipeline, events, endAt);
    run1 = await readTransitions(clients);
  });

  afterAll(async () => {
    await pipeline?.stop();
    await clients.close();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('the script matches the rules it was derived from', () => {
    // The journeys below need this shape of the default rules; if the file changes, the scripts must change too.
    expect(lifecycle.atRisk[0]).toBe(lifecycle.activeMaxRecency + 1);
    expect(lifecycle.newMaxRecency).toBe(lifecycle.activeMaxRecency);
    expect(lifecycle.dormant[0]).toBe(lifecycle.atRisk[1] + 1);
    expect(lifecycle.churnedAbove).toBe(lifecycle.dormant[1]);
    expect(lifecycle.loyalMaxRecency).toBeLessThan(lifecycle.activeMaxRecency);
    expect(complaintsMin).toBe(2);
    expect(
      (ruleWhen('service_flag', 'complaint_risk').any as Yaml[]).find((c) => c.metric === 'complaints')?.window,
    ).toBe(`${COMPLAINT_WINDOW}d`);
    expect(run1.length).toBeGreaterThan(0);
  });

  it('a prospect buys, repeats, becomes LOYAL, lapses day by day with no event, and comes back REACTIVATED', () => {
    expect(journey(run1, P, 'lifecycle')).toEqual([
      step('lifecycle', null, 'PROSPECT', 'prospect_engaged', pDays.prospect),
      step('lifecycle', 'PROSPECT', 'NEW', 'new_first_order', pDays.new),
      step('lifecycle', 'NEW', 'ACTIVE', 'active_repeat_buyer', pDays.active),
      step('lifecycle', 'ACTIVE', 'LOYAL', 'loyal_frequent_recent', pDays.loyal),
      step('lifecycle', 'LOYAL', 'ACTIVE', 'active_repeat_buyer', pDays.loyalLapses),
      step('lifecycle', 'ACTIVE', 'AT_RISK', 'at_risk_quiet_91_180', pDays.atRisk),
      step('lifecycle', 'AT_RISK', 'DORMANT', 'dormant_quiet_181_365', pDays.dormant),
      step('lifecycle', 'DORMANT', 'CHURNED', 'churned_quiet_over_365', pDays.churned),
      step('lifecycle', 'CHURNED', 'ACTIVE', 'REACTIVATED', pReturn),
    ]);
    expect(pReturn - pDays.prospect).toBeGreaterThan(400); // longer than the aggregates keep day buckets
    // No cut-point re-evaluation (the day after day % 7 == 0) explains the time-driven days: the due index did.
    for (const d of [pDays.loyalLapses, pDays.atRisk, pDays.dormant, pDays.churned]) {
      expect(d % CUTPOINTS_EVERY_DAYS, isoDay(d)).not.toBe(1);
    }
    const back = run1.find((t) => t.customer_id === P && t.reason === 'REACTIVATED')!;
    expect(back.rule_id).toBe('active_repeat_buyer');
    expect(back.direction).toBe('LATERAL');
    expect(back.rules_version).toBe(rulesDoc.version);
    const atRisk = run1.find((t) => t.customer_id === P && t.to_tier === 'AT_RISK')!;
    expect(atRisk.metrics.recency_days).toBe(lifecycle.atRisk[0]);
  });

  it('X crosses into PLATINUM when the population shifts, at the next cut-point recomputation', () => {
    const firstCut = b; // day % 7 == 0: cut points from {A, X, B, C, D}: only the best (A) is PLATINUM
    const secondCut = b + CUTPOINTS_EVERY_DAYS; // 10 buyers after the newcomers: the two best are PLATINUM
    expect(firstCut % CUTPOINTS_EVERY_DAYS).toBe(0);
    expect(shiftDay).toBeLessThan(secondCut);
    // P (first order b+16) and S (the new top value, b+20) join the buyers: from the cut of b+21 only S and A are in
    // the top 20 % (round(0.2 × 12) = 2), so X's demotion is pending from b+22 and applies after value_tier's grace_days.
    const demotionPendingFrom = b + 3 * CUTPOINTS_EVERY_DAYS + 1;
    const window = demotionPendingFrom + valueGrace;
    const steps = journey(run1, X, 'value_tier').filter((s) => s.day <= isoDay(window));
    expect(steps).toEqual([
      step('value_tier', null, 'GOLD', 'share:GOLD', b), // fallback cuts: $400 >= $300 GOLD minimum
      step('value_tier', 'GOLD', 'PLATINUM', 'share:PLATINUM', secondCut + 1),
      step('value_tier', 'PLATINUM', 'GOLD', 'share:GOLD', demotionPendingFrom + valueGrace),
    ]);
    const up = run1.find((t) => t.customer_id === X && t.to_tier === 'PLATINUM')!;
    expect(up.direction).toBe('UP');
    expect(up.cutpoints_version).toBe(`cp-${isoDay(secondCut)}`);
    // A, the best of the first five, became PLATINUM on the first day the computed cut points applied.
    expect(journey(run1, 'j-a', 'value_tier').slice(0, 2)).toEqual([
      step('value_tier', null, 'GOLD', 'share:GOLD', b),
      step('value_tier', 'GOLD', 'PLATINUM', 'share:PLATINUM', firstCut + 1),
    ]);
  });

  it('a STAR account gets COMPLAINT_RISK on the day of the 2nd complaint, and OK only after the grace period', () => {
    const [first, second] = complaintDays as [number, number];
    const clearsFrom = first + COMPLAINT_WINDOW; // the first complaint leaves the 90-day window
    expect(journey(run1, S, 'service_flag')).toEqual([
      step('service_flag', null, 'OK', 'service_ok', sFirstOrder),
      step('service_flag', 'OK', 'COMPLAINT_RISK', 'complaint_risk', second),
      step('service_flag', 'COMPLAINT_RISK', 'OK', 'service_ok', clearsFrom + serviceGrace),
    ]);
    // The account was a STAR (top value, growing revenue) when the flag went up.
    expect(journey(run1, S, 'value_potential').filter((s) => s.day <= isoDay(second))).toEqual([
      step('value_potential', null, 'STAR', 'star_high_value_high_potential', sFirstOrder),
    ]);
    const flag = run1.find((t) => t.customer_id === S && t.to_tier === 'COMPLAINT_RISK')!;
    expect(flag.direction).toBe('UP');
    expect(flag.metrics.complaints_90d).toBe(complaintsMin);
  });

  it('the warehouse holds exactly the transitions of the topic', async () => {
    const db = clients.endpoints.clickhouseDatabase;
    const rs = await clients.clickhouse.query({
      query: `SELECT transition_id FROM ${db}.tier_transitions FINAL`,
      format: 'JSONEachRow',
    });
    const ids = (await rs.json<{ transition_id: string }>()).map((r) => r.transition_id);
    expect(new Set(ids)).toEqual(new Set(run1.map((t) => t.transition_id)));
  });

  it('replaying the same input again (consumer groups and Redis reset, topics kept) gives the same transition ids', async () => {
    await pipeline!.stop();
    const boundary = await endOffsets(clients, 'customer-tier-transitions.v1');
    await resetGroupsAndRedis(clients);
    pipeline = startPipeline(ENV);
    await waitForPipeline(clients, endAt, { timeoutMs: 150_000, isAlive: pipeline.isAlive });
    const all = await readTransitions(clients);
    const before = all.filter((t) => !isAfter(boundary)(t));
    const run2 = all.filter(isAfter(boundary));
    expect(before.length).toBe(run1.length);
    const ids1 = run1.map((t) => t.transition_id);
    const ids2 = run2.map((t) => t.transition_id);
    expect(new Set(ids1).size).toBe(ids1.length);
    expect(ids2.length).toBe(ids1.length);
    expect(new Set(ids2)).toEqual(new Set(ids1));
  });

  it('a rules change: diff previews the moves and changes nothing, apply moves exactly those customers', async () => {
    // The new rules: AT_RISK from 46 days without an order instead of 91 (NEW and ACTIVE end at 45), new version.
    const version = `${rulesDoc.version}-e2e-at-risk-46`;
    const old = lifecycle.activeMaxRecency;
    let text = RULES_TEXT.replace(`version: "${rulesDoc.version}"`, `version: "${version}"`);
    const replacements: Array<[string, string]> = [
      [
        `- { metric: recency_days, op: lte, value: ${old} }`,
        `- { metric: recency_days, op: lte, value: ${NEW_AT_RISK_FROM - 1} }`,
      ],
      [
        `when: { metric: recency_days, op: lte, value: ${old} }`,
        `when: { metric: recency_days, op: lte, value: ${NEW_AT_RISK_FROM - 1} }`,
      ],
      [
        `value: [${lifecycle.atRisk[0]}, ${lifecycle.atRisk[1]}]`,
        `value: [${NEW_AT_RISK_FROM}, ${lifecycle.atRisk[1]}]`,
      ],
    ];
    for (const [from, to] of replacements) {
      expect(text.includes(from), from).toBe(true);
      text = text.replace(from, to);
    }
    mkdirSync(path.join(tmp, 'rules'), { recursive: true });
    const file = path.join(tmp, 'rules', 'default.yaml');
    writeFileSync(file, text);

    const tierState = new TierStateStore(clients.redis, clients.redisPrefix);
    const ids = [...new Set(events.map((e) => e.event.customer_id!))];
    const statesBefore = await tierState.readStates(ids);
    const boundary = await endOffsets(clients, 'customer-tier-transitions.v1');

    const diff = await tierctl(['rules', 'diff', file, '--json']);
    expect(diff.stderr).toBe('');
    expect(diff.code).toBe(0);
    const { moves } = JSON.parse(diff.stdout) as {
      moves: Array<{ dimension: string; from: string; to: string; customers: number }>;
    };
    expect(moves).toEqual([
      { dimension: 'lifecycle', from: 'ACTIVE', to: 'AT_RISK', customers: 2 },
      { dimension: 'lifecycle', from: 'NEW', to: 'AT_RISK', customers: 2 },
    ]);
    // A dry run: no rules activated (the active version is still the file the engine started with), no state
    // changed, nothing published.
    expect((await tierState.getActiveRules())?.version).toBe(rulesDoc.version);
    expect(await tierState.readStates(ids)).toEqual(statesBefore);
    expect(await endOffsets(clients, 'customer-tier-transitions.v1')).toEqual(boundary);

    const apply = await tierctl(['rules', 'apply', file, '--json']);
    expect(apply.code, apply.stderr).toBe(0);
    expect(JSON.parse(apply.stdout)).toEqual({ applied: version, apply: 2, previous: rulesDoc.version, changed: true });
    // The engine re-evaluates every customer of every partition; wait until each partition reports the version.
    const meta = await (await clients.admin()).fetchTopicMetadata({ topics: ['customer-signals.v1'] });
    const partitions = meta.topics[0]!.partitions.map((p) => p.partitionId);
    expect(partitions.length).toBeGreaterThan(0);
    const deadline = Date.now() + 60_000;
    for (;;) {
      const metas = await Promise.all(partitions.map((p) => tierState.getPartitionMeta(p)));
      if (metas.every((m) => m.rules_version === version)) break;
      if (Date.now() > deadline) throw new Error(`rules ${version} not applied: ${JSON.stringify(metas)}`);
      const dead = pipeline!.isAlive();
      if (dead) throw new Error(dead);
      await new Promise((r) => setTimeout(r, 300));
    }
    const changed = (await readTransitions(clients)).filter(isAfter(boundary));
    expect(
      changed
        .map((t) => ({
          customer: t.customer_id,
          ...step(t.dimension, t.from_tier, t.to_tier, t.reason, dayOf(t.occurred_at)),
        }))
        .sort((x, y) => x.customer.localeCompare(y.customer)),
    ).toEqual([
      { customer: R.newMover, ...step('lifecycle', 'NEW', 'AT_RISK', 'RULES_CHANGED', END_DAY) },
      { customer: R.activeMover1, ...step('lifecycle', 'ACTIVE', 'AT_RISK', 'RULES_CHANGED', END_DAY) },
      { customer: R.activeMover2, ...step('lifecycle', 'ACTIVE', 'AT_RISK', 'RULES_CHANGED', END_DAY) },
      { customer: R.edgeMover, ...step('lifecycle', 'NEW', 'AT_RISK', 'RULES_CHANGED', END_DAY) },
    ]);
    for (const t of changed) {
      expect(t.rules_version).toBe(version);
      expect(t.rule_id).toBe('at_risk_quiet_91_180');
    }
    const statesAfter = await tierState.readStates(ids);
    expect(statesAfter.get(R.staysNew)?.tiers.lifecycle).toBe('NEW');
    expect(statesAfter.get(R.staysAtRisk)?.tiers.lifecycle).toBe('AT_RISK');
    for (const id of ids) expect(statesAfter.get(id)?.rules_version, id).toBe(version);
  });
});
