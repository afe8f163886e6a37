import { describe, expect, it } from 'vitest';
import { DEFAULT_AGGREGATE_CONFIG } from '../src/config';
import { encodeEventInto, orderIdentity } from '../src/keyspace';
import { oracleMetrics, oracleRefundExcess } from '../src/oracle';
import { closeOfJune, moneyCases, P, R } from './money-cases';

const cfg = DEFAULT_AGGREGATE_CONFIG;

describe('money semantics in the oracle (issue 14, items 1–4; design-decisions §15)', () => {
  for (const c of moneyCases()) {
    it(c.name, () => {
      for (const { asOfDay, metrics } of c.expect) {
        const m = oracleMetrics(c.events, closeOfJune(asOfDay), cfg, 0);
        const got = Object.fromEntries(Object.keys(metrics).map((k) => [k, m[k]]));
        expect({ asOfDay, ...got }).toEqual({ asOfDay, ...metrics });
      }
      expect(oracleRefundExcess(c.events, closeOfJune(30), cfg)).toBe(c.refundExcess);
    });
  }

  it('the result does not depend on the order the events arrive in (when copies are exact)', () => {
    for (const c of moneyCases()) {
      if (c.arrivalMatters) continue;
      const reversed = [...c.events].reverse();
      expect(oracleMetrics(reversed, closeOfJune(30), cfg, 0)).toEqual(
        oracleMetrics(c.events, closeOfJune(30), cfg, 0),
      );
    }
  });

  it('refunded margins keep the margin between 0 and the order margin (negative margins too)', () => {
    const events = [
      P('mg', 'a', 1, 5000, { margin_minor: 1000 }),
      R('mg', 'a', 2, 4000, 1, { margin_minor: 1500 }),
      P('mg', 'b', 1, 5000, { margin_minor: -300 }),
      R('mg', 'b', 2, 1000, 1, { margin_minor: -800 }),
      P('mg', 'c', 1, 5000, { margin_minor: 700 }),
      R('mg', 'c', 2, 1000, 1, { margin_minor: 200 }),
    ];
    // a: 1000 − 1500 → 0; b: −300 − (−800) = 500 → 0 (between −300 and 0); c: 700 − 200 = 500.
    expect(oracleMetrics(events, closeOfJune(30), cfg, 0).margin_lifetime).toBe(500);
  });
});

describe('order identity in the script arguments', () => {
  it('length-prefixes the order id so that ids with any characters stay intact, and adds a refund id', () => {
    const placed = P('c', 'o,1:ä', 1, 100).event;
    expect(orderIdentity(placed as never)).toBe('6:o,1:ä');
    const refund = R('c', 'o,1:ä', 2, 50, 1, { refund_id: 'rf,9' });
    expect(orderIdentity(refund.event as never)).toBe('6:o,1:ärf,9');
    const out: string[] = [];
    encodeEventInto(out, refund, 'orders.v1', 0, '7', cfg);
    expect(out[0]).toBe(
      `orders.v1,0,7,${refund.event.occurred_at},R,,${P('c', 'x', 1, 1).event.occurred_at},50,6:o,1:ärf,9`,
    );
  });
});
