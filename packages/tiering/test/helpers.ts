/**
 * Test helpers: a tiny hand-written metric model (NOT the aggregates package) so that tiering tests stay pure.
 * Windows follow the documented definition: window n at as-of day D holds days d with D - n < d <= D.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import {
  type CutPointSchedule,
  type CutPoints,
  computeCutPoints,
  evaluateTiers,
  initialCutPoints,
  isCutPointDay,
  type Metrics,
  nextDueDay,
  parseRules,
  type Rules,
  type TierState,
  type TransitionDraft,
} from '../src/index';

export const DAY_MS = 86_400_000;
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

export function loadRules(file: string): Rules {
  return parseRules(readFileSync(path.join(ROOT, file), 'utf8'), file);
}

export interface Journey {
  orders: { day: number; amount: number }[];
  web: { day: number; weight: number; type?: string }[];
  tickets: { day: number; complaint?: boolean; escalation?: boolean; csat?: number | null }[];
}

const inWindow = (d: number, D: number, n: number) => d <= D && d > D - n;
const round6 = (x: number) => Math.round(x * 1e6) / 1e6;

/** Metrics of a journey as of day D (events after D are ignored: "no new events"). */
export function journeyMetrics(j: Journey, D: number): Metrics {
  const orders = j.orders.filter((o) => o.day <= D);
  const web = j.web.filter((w) => w.day <= D);
  const tickets = j.tickets.filter((t) => t.day <= D);
  const m: Metrics = {};
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  m.orders_lifetime = orders.length;
  m.revenue_lifetime = sum(orders.map((o) => o.amount));
  m.margin_lifetime = Math.round(m.revenue_lifetime * 0.3);
  for (const n of [30, 90, 365]) {
    const w = orders.filter((o) => inWindow(o.day, D, n));
    m[`orders_${n}d`] = w.length;
    m[`revenue_${n}d`] = sum(w.map((o) => o.amount));
  }
  m.margin_365d = Math.round((m.revenue_365d ?? 0) * 0.3);
  m.revenue_prev_90d = sum(orders.filter((o) => o.day >= D - 179 && o.day <= D - 90).map((o) => o.amount));
  m.aov_lifetime = orders.length ? m.revenue_lifetime / orders.length : null;
  const first = orders.length ? Math.min(...orders.map((o) => o.day)) : null;
  const last = orders.length ? Math.max(...orders.map((o) => o.day)) : null;
  m.first_order_at = first === null ? null : first * DAY_MS;
  m.last_order_at = last === null ? null : last * DAY_MS;
  m.recency_days = last === null ? null : D - last;
  m.tenure_days = first === null ? null : D - first;
  m.engagement_score = round6(
    sum(web.filter((w) => inWindow(w.day, D, 365)).map((w) => w.weight * 0.5 ** ((D - w.day) / 14))),
  );
  m.web_events_30d = web.filter((w) => inWindow(w.day, D, 30)).length;
  m.web_events_90d = web.filter((w) => inWindow(w.day, D, 90)).length;
  for (const type of ['webinar_attended', 'demo_requested', 'sales_meeting', 'content_download']) {
    for (const n of [30, 90, 365]) {
      m[`web_${type}_${n}d`] = web.filter((w) => (w.type ?? 'page_view') === type && inWindow(w.day, D, n)).length;
    }
  }
  const lastSeen = web.length ? Math.max(...web.map((w) => w.day)) : null;
  m.last_seen_at = lastSeen === null ? null : lastSeen * DAY_MS;
  m.days_since_last_seen = lastSeen === null ? null : D - lastSeen;
  m.open_tickets = 0;
  for (const n of [30, 90, 365]) {
    const w = tickets.filter((t) => inWindow(t.day, D, n));
    m[`tickets_${n}d`] = w.length;
    m[`complaints_${n}d`] = w.filter((t) => t.complaint).length;
    m[`escalations_${n}d`] = w.filter((t) => t.escalation).length;
  }
  const rated = tickets.filter((t) => inWindow(t.day, D, 90) && t.csat != null).map((t) => t.csat!);
  m.csat_avg_90d = rated.length ? sum(rated) / rated.length : null;
  m.avg_resolve_hours = null;
  const lastTicket = tickets.length ? Math.max(...tickets.map((t) => t.day)) : null;
  m.last_ticket_at = lastTicket === null ? null : lastTicket * DAY_MS;
  m.days_since_last_ticket = lastTicket === null ? null : D - lastTicket;
  return m;
}

/** Days > fromDay on which some window metric of the journey changes without a new event. */
export function journeyRollOffDays(j: Journey, fromDay: number): number[] {
  const days = new Set<number>();
  for (const d of [...j.orders.map((o) => o.day), ...j.web.map((w) => w.day), ...j.tickets.map((t) => t.day)]) {
    for (const n of [30, 90, 180, 365]) if (d + n > fromDay) days.add(d + n);
  }
  return [...days].sort((a, b) => a - b);
}

/** Days after fromDay with events of the journey (applied ahead of fromDay, as in a replay). */
export function journeyEventDays(j: Journey, fromDay: number): number[] {
  const days = [...j.orders.map((o) => o.day), ...j.web.map((w) => w.day), ...j.tickets.map((t) => t.day)];
  return [...new Set(days.filter((d) => d > fromDay))].sort((a, b) => a - b);
}

export interface DayTransition extends TransitionDraft {
  day: number;
}

/** Evaluate every day in [fromDay, toDay]; returns final state and all transitions. */
export function runDaily(
  rules: Rules,
  cutPoints: CutPoints,
  j: Journey,
  fromDay: number,
  toDay: number,
  start: TierState | null = null,
): { state: TierState | null; transitions: DayTransition[]; changeDays: number[] } {
  let state = start;
  const transitions: DayTransition[] = [];
  const changeDays: number[] = [];
  for (let day = fromDay; day <= toDay; day++) {
    const r = evaluateTiers({
      rules,
      cutPoints,
      customerId: 'c1',
      metrics: journeyMetrics(j, day),
      previous: state,
      day,
      at: day * DAY_MS,
    });
    if (state === null || r.state.version !== state.version) changeDays.push(day);
    transitions.push(...r.transitions.map((t) => ({ ...t, day })));
    state = r.state;
  }
  return { state, transitions, changeDays };
}

/** Evaluate only on the days nextDueDay asks for, starting from `state` evaluated at `fromDay`, up to toDay. */
export function runLazy(
  rules: Rules,
  cutPoints: CutPoints,
  j: Journey,
  state: TierState,
  fromDay: number,
  toDay: number,
): { state: TierState; transitions: DayTransition[]; evaluations: number } {
  const transitions: DayTransition[] = [];
  let day = fromDay;
  let evaluations = 0;
  for (;;) {
    const due = nextDueDay({
      rules,
      cutPoints,
      state,
      fromDay: day,
      metricsAtDay: (d) => journeyMetrics(j, d),
      rollOffDays: journeyRollOffDays(j, day),
      eventDays: journeyEventDays(j, day),
    });
    if (due === null || due > toDay) break;
    expect(due).toBeGreaterThan(day);
    const r = evaluateTiers({
      rules,
      cutPoints,
      customerId: 'c1',
      metrics: journeyMetrics(j, due),
      previous: state,
      day: due,
      at: due * DAY_MS,
    });
    evaluations++;
    transitions.push(...r.transitions.map((t) => ({ ...t, day: due })));
    state = r.state;
    day = due;
  }
  return { state, transitions, evaluations };
}

/**
 * A population run with the pure functions, like the pipeline oracle: every customer is evaluated on every day
 * from its first event day to `toDay`, and cut points are recomputed at the close of each cut-point day of
 * `schedule` from that day's population (metrics of everyone seen so far).
 */
export function runPopulation(
  rules: Rules,
  journeys: ReadonlyMap<string, Journey>,
  toDay: number,
  schedule: CutPointSchedule,
): {
  /** day → customer → state after that day's evaluation */
  states: Map<number, Map<string, TierState>>;
  transitions: DayTransition[];
  cutPoints: Map<number, CutPoints>;
} {
  const first = new Map<string, number>();
  for (const [id, j] of journeys) {
    const days = [...j.orders.map((o) => o.day), ...j.web.map((w) => w.day), ...j.tickets.map((t) => t.day)];
    first.set(id, Math.min(...days));
  }
  const startDay = Math.min(...first.values());
  let cutPoints = initialCutPoints(rules);
  const current = new Map<string, TierState>();
  const states = new Map<number, Map<string, TierState>>();
  const transitions: DayTransition[] = [];
  const cuts = new Map<number, CutPoints>();
  for (let day = startDay; day <= toDay; day++) {
    cuts.set(day, cutPoints);
    const population: Metrics[] = [];
    for (const [id, j] of journeys) {
      if (first.get(id)! > day) continue;
      const metrics = journeyMetrics(j, day);
      const r = evaluateTiers({
        rules,
        cutPoints,
        customerId: id,
        metrics,
        previous: current.get(id) ?? null,
        day,
        at: (day + 1) * DAY_MS - 1,
      });
      current.set(id, r.state);
      transitions.push(...r.transitions.map((t) => ({ ...t, day })));
      population.push(metrics);
    }
    states.set(day, new Map(current));
    if (isCutPointDay(schedule, cutPoints, day)) {
      cutPoints = computeCutPoints(rules, population, `cp-${day}`, (day + 1) * DAY_MS - 1, cutPoints);
    }
  }
  return { states, transitions, cutPoints: cuts };
}
