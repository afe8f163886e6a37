import { type InputEvent, topicOf } from '@tierstream/contracts';

export interface WorkloadSummary {
  events: number;
  /** Events per topic. */
  byTopic: Record<string, number>;
  /** Events per `<kind>:<type>`, e.g. `order:PLACED`, `web:PAGE_VIEW`. */
  byType: Record<string, number>;
  /** Distinct customer ids seen (any topic). */
  customers: number;
  /** Distinct customers with at least one PLACED order. */
  buyers: number;
  /** Web events without a customer id (anonymous traffic). */
  anonymousWebEvents: number;
  /** Net revenue per currency in minor units: PLACED minus REFUNDED and CANCELLED amounts. */
  netRevenueMinor: Record<string, number>;
  /** Gross revenue per currency in minor units (PLACED only). */
  grossRevenueMinor: Record<string, number>;
  firstAt: number | null;
  lastAt: number | null;
}

/** Counts and revenue of a workload (consumes the iterable once). */
export function summarize(events: Iterable<InputEvent>): WorkloadSummary {
  const s: WorkloadSummary = {
    events: 0,
    byTopic: {},
    byType: {},
    customers: 0,
    buyers: 0,
    anonymousWebEvents: 0,
    netRevenueMinor: {},
    grossRevenueMinor: {},
    firstAt: null,
    lastAt: null,
  };
  const customers = new Set<string>();
  const buyers = new Set<string>();
  for (const input of events) {
    const e = input.event;
    s.events++;
    const topic = topicOf(input);
    s.byTopic[topic] = (s.byTopic[topic] ?? 0) + 1;
    const typeKey = `${input.kind}:${e.type}`;
    s.byType[typeKey] = (s.byType[typeKey] ?? 0) + 1;
    if (e.customer_id === null) s.anonymousWebEvents++;
    else customers.add(e.customer_id);
    if (input.kind === 'order') {
      const o = input.event;
      const sign = o.type === 'PLACED' ? 1 : -1;
      s.netRevenueMinor[o.currency] = (s.netRevenueMinor[o.currency] ?? 0) + sign * o.amount_minor;
      if (o.type === 'PLACED') {
        s.grossRevenueMinor[o.currency] = (s.grossRevenueMinor[o.currency] ?? 0) + o.amount_minor;
        buyers.add(o.customer_id);
      }
    }
    if (s.firstAt === null || e.occurred_at < s.firstAt) s.firstAt = e.occurred_at;
    if (s.lastAt === null || e.occurred_at > s.lastAt) s.lastAt = e.occurred_at;
  }
  s.customers = customers.size;
  s.buyers = buyers.size;
  return s;
}
