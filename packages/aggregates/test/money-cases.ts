/**
 * The money cases of issue 14 (items 1–4) with their right values, as of the close of 2024-06-30 unless stated:
 * shared by the oracle unit test (money.test.ts) and the Redis store test (aggregates.it.test.ts). Events are listed
 * in arrival order. Amounts in USD minor units; `R` = REFUNDED with original_placed_at = the order's time,
 * `X` = CANCELLED.
 */
import type { InputEvent, OrderEvent } from '@tierstream/contracts';

const DAY = 86_400_000;
/** Noon UTC of a day of June 2024. */
export const june = (d: number): number => Date.UTC(2024, 5, d, 12);
/** The last millisecond of a day of June 2024 (an evaluation as of the close of that day). */
export const closeOfJune = (d: number): number => Date.UTC(2024, 5, d) + DAY - 1;

let seq = 0;
function order(
  customerId: string,
  type: OrderEvent['type'],
  orderId: string,
  day: number,
  amount: number,
  extra: Partial<OrderEvent> = {},
): InputEvent {
  return {
    kind: 'order',
    event: {
      event_id: `money-${customerId}-${++seq}`,
      customer_id: customerId,
      order_id: orderId,
      type,
      amount_minor: amount,
      currency: 'USD',
      margin_minor: null,
      channel: null,
      items: 1,
      occurred_at: june(day),
      original_placed_at: null,
      refund_id: null,
      attributes: null,
      ...extra,
    },
  };
}
export const P = (c: string, o: string, day: number, amount: number, extra: Partial<OrderEvent> = {}) =>
  order(c, 'PLACED', o, day, amount, extra);
/** A refund on `day` of the order placed on `placedDay`. */
export const R = (
  c: string,
  o: string,
  day: number,
  amount: number,
  placedDay: number,
  extra: Partial<OrderEvent> = {},
) => order(c, 'REFUNDED', o, day, amount, { original_placed_at: june(placedDay), ...extra });
export const X = (c: string, o: string, day: number, amount: number, placedDay: number) =>
  order(c, 'CANCELLED', o, day, amount, { original_placed_at: june(placedDay) });

export interface MoneyCase {
  name: string;
  customerId: string;
  events: InputEvent[];
  /** Expected metrics (a subset) as of the close of the given June day. */
  expect: Array<{ asOfDay: number; metrics: Record<string, number | null> }>;
  /** Refunded beyond the orders' amounts, over the whole history (minor units). */
  refundExcess: number;
  /** Copies of one identity differ: the result depends on their arrival order (the first copy counts). */
  arrivalMatters?: boolean;
}

const at30 = (metrics: Record<string, number | null>) => ({ asOfDay: 30, metrics });

export function moneyCases(): MoneyCase[] {
  const c1 = 'm-c1';
  const c1b = 'm-c1-swapped';
  const c1c = 'm-c1-no-refund';
  const right1 = { orders_lifetime: 1, orders_30d: 1, revenue_30d: 2000, revenue_lifetime: 2000, aov_lifetime: 2000 };
  return [
    {
      name: '1. refund and cancel of the same order: the cancelled order contributes 0',
      customerId: c1,
      events: [P(c1, 'o-31', 1, 5000), R(c1, 'o-31', 2, 5000, 1), X(c1, 'o-31', 2, 5000, 1), P(c1, 'o-32', 15, 2000)],
      expect: [
        at30(right1),
        // §8: as of 06-01 the order still counts in full (its reversals happen on 06-02).
        { asOfDay: 1, metrics: { orders_lifetime: 1, revenue_lifetime: 5000 } },
        { asOfDay: 2, metrics: { orders_lifetime: 0, revenue_lifetime: 0, aov_lifetime: null } },
      ],
      refundExcess: 0,
    },
    {
      name: '1. the same with R and X swapped',
      customerId: c1b,
      events: [
        P(c1b, 'o-31', 1, 5000),
        X(c1b, 'o-31', 2, 5000, 1),
        R(c1b, 'o-31', 2, 5000, 1),
        P(c1b, 'o-32', 15, 2000),
      ],
      expect: [at30(right1)],
      refundExcess: 0,
    },
    {
      name: '1. the same without R',
      customerId: c1c,
      events: [P(c1c, 'o-31', 1, 5000), X(c1c, 'o-31', 2, 5000, 1), P(c1c, 'o-32', 15, 2000)],
      expect: [at30(right1)],
      refundExcess: 0,
    },
    {
      name: '2. refund larger than its order: capped at the order, the excess counted',
      customerId: 'm-c2',
      events: [P('m-c2', 'o-51', 5, 5000), R('m-c2', 'o-51', 8, 7000, 5)],
      expect: [
        at30({ orders_lifetime: 1, revenue_30d: 0, revenue_lifetime: 0, aov_lifetime: 0 }),
        { asOfDay: 7, metrics: { revenue_lifetime: 5000 } },
      ],
      refundExcess: 2000,
    },
    {
      name: '3. refund whose order never arrives: no revenue effect',
      customerId: 'm-c3',
      events: [R('m-c3', 'o-61', 20, 2500, 10)],
      expect: [at30({ orders_lifetime: 0, revenue_30d: 0, revenue_lifetime: 0, first_order_at: null })],
      refundExcess: 0,
    },
    {
      name: '3. a refund that arrives before its order applies when the order arrives (kept: 7000)',
      customerId: 'm-c3-kept',
      events: [R('m-c3-kept', 'o-42', 12, 1000, 10), P('m-c3-kept', 'o-41', 1, 5000), P('m-c3-kept', 'o-42', 10, 3000)],
      expect: [
        at30({ orders_lifetime: 2, revenue_30d: 7000, revenue_lifetime: 7000 }),
        // The refund (06-12) is not known as of 06-11.
        { asOfDay: 11, metrics: { revenue_lifetime: 8000 } },
      ],
      refundExcess: 0,
    },
    {
      name: '3. a pending refund above its late order: capped when the order arrives',
      customerId: 'm-c3-late',
      events: [R('m-c3-late', 'o-62', 20, 4000, 18), P('m-c3-late', 'o-62', 18, 2500)],
      expect: [at30({ orders_lifetime: 1, revenue_lifetime: 0 }), { asOfDay: 19, metrics: { revenue_lifetime: 2500 } }],
      refundExcess: 1500,
    },
    {
      name: '4. the same order sent twice with a new event id counts once',
      customerId: 'm-c4',
      events: [P('m-c4', 'o-9', 5, 5000, { event_id: 'x-1' }), P('m-c4', 'o-9', 5, 5000, { event_id: 'x-1b' })],
      expect: [at30({ orders_lifetime: 1, orders_30d: 1, revenue_30d: 5000, revenue_lifetime: 5000 })],
      refundExcess: 0,
    },
    {
      name: '4. two partial refunds with their own ids both count; one resent under a new event id counts once',
      customerId: 'm-c4-refunds',
      events: [
        P('m-c4-refunds', 'o-10', 5, 5000),
        R('m-c4-refunds', 'o-10', 7, 1000, 5, { refund_id: 'rf-1' }),
        R('m-c4-refunds', 'o-10', 8, 1500, 5, { refund_id: 'rf-2' }),
        R('m-c4-refunds', 'o-10', 8, 1500, 5, { refund_id: 'rf-2' }),
        // No refund_id: its identity is its event id, so a second event is a second refund.
        R('m-c4-refunds', 'o-10', 9, 500, 5),
        X('m-c4-refunds', 'o-10', 25, 5000, 5),
        X('m-c4-refunds', 'o-10', 25, 5000, 5),
      ],
      expect: [
        at30({ orders_lifetime: 0, revenue_lifetime: 0 }),
        { asOfDay: 9, metrics: { orders_lifetime: 1, revenue_lifetime: 2000 } },
      ],
      refundExcess: 0,
    },
    // Cancelled orders did not happen: from the cancellation's day on they give no purchase time either (recency,
    // first/last order, tenure); before it, they do (§8). A refunded order did happen.
    {
      name: '5. a cancelled-only customer (cancelled the same day) has no purchase time',
      customerId: 'm-c5-same',
      events: [P('m-c5-same', 'o1', 1, 5000), X('m-c5-same', 'o1', 1, 5000, 1)],
      expect: [1, 2, 30].map((asOfDay) => ({ asOfDay, metrics: { ...noOrders } })),
      refundExcess: 0,
    },
    {
      name: '5. a cancelled-only customer (cancelled on 06-03): the order counts until 06-02 only',
      customerId: 'm-c5-later',
      events: [P('m-c5-later', 'o1', 1, 5000), X('m-c5-later', 'o1', 3, 5000, 1)],
      expect: [
        {
          asOfDay: 2,
          metrics: { orders_lifetime: 1, first_order_at: june(1), last_order_at: june(1), recency_days: 1 },
        },
        ...[3, 30].map((asOfDay) => ({ asOfDay, metrics: { ...noOrders } })),
      ],
      refundExcess: 0,
    },
    {
      name: '5. cancelling the latest order: recency falls back to the previous live order',
      customerId: 'm-c5-latest',
      events: [
        P('m-c5-latest', 'o1', 1, 1000),
        P('m-c5-latest', 'o2', 10, 2000),
        P('m-c5-latest', 'o3', 10, 3000, { occurred_at: june(10) + 3_600_000 }),
        X('m-c5-latest', 'o3', 12, 3000, 10),
        X('m-c5-latest', 'o2', 14, 2000, 10),
      ],
      expect: [
        { asOfDay: 11, metrics: { orders_lifetime: 3, last_order_at: june(10) + 3_600_000, recency_days: 1 } },
        { asOfDay: 12, metrics: { orders_lifetime: 2, last_order_at: june(10), recency_days: 2, aov_lifetime: 1500 } },
        {
          asOfDay: 30,
          metrics: { orders_lifetime: 1, first_order_at: june(1), last_order_at: june(1), recency_days: 29 },
        },
      ],
      refundExcess: 0,
    },
    {
      name: '5. cancelling the first order: first order and tenure move to the next live order',
      customerId: 'm-c5-first',
      events: [P('m-c5-first', 'o1', 1, 1000), P('m-c5-first', 'o2', 10, 2000), X('m-c5-first', 'o1', 15, 1000, 1)],
      expect: [
        { asOfDay: 14, metrics: { first_order_at: june(1), tenure_days: 13 } },
        { asOfDay: 30, metrics: { first_order_at: june(10), tenure_days: 20, last_order_at: june(10) } },
      ],
      refundExcess: 0,
    },
    {
      name: '5. a fully refunded order still happened: its time counts',
      customerId: 'm-c5-refunded',
      events: [P('m-c5-refunded', 'o1', 1, 5000), R('m-c5-refunded', 'o1', 2, 5000, 1)],
      expect: [
        at30({ orders_lifetime: 1, revenue_lifetime: 0, first_order_at: june(1), last_order_at: june(1) }),
        at30({ recency_days: 29, aov_lifetime: 0 }),
      ],
      refundExcess: 0,
    },
    // Copies of one identity that differ: the first in arrival order counts (design-decisions §15).
    {
      name: '6. a PLACED resent with another amount and time: the first arrived counts',
      customerId: 'm-c6-placed',
      events: [P('m-c6-placed', 'o1', 6, 7000), P('m-c6-placed', 'o1', 5, 5000)],
      expect: [
        { asOfDay: 5, metrics: { orders_lifetime: 0, last_order_at: null } },
        at30({ orders_lifetime: 1, revenue_lifetime: 7000, first_order_at: june(6), last_order_at: june(6) }),
      ],
      refundExcess: 0,
      arrivalMatters: true,
    },
    {
      name: '6. two REFUNDED with one refund_id and different amounts: the first arrived counts',
      customerId: 'm-c6-refund',
      events: [
        P('m-c6-refund', 'o1', 1, 5000),
        R('m-c6-refund', 'o1', 8, 3000, 1, { refund_id: 'rf-1' }),
        R('m-c6-refund', 'o1', 7, 1000, 1, { refund_id: 'rf-1' }),
      ],
      expect: [
        { asOfDay: 7, metrics: { revenue_lifetime: 5000 } },
        at30({ orders_lifetime: 1, revenue_lifetime: 2000 }),
      ],
      refundExcess: 0,
      arrivalMatters: true,
    },
  ];
}

/** What a customer with no (live) order has. */
const noOrders = {
  orders_lifetime: 0,
  revenue_lifetime: 0,
  aov_lifetime: null,
  first_order_at: null,
  last_order_at: null,
  recency_days: null,
  tenure_days: null,
};
