/**
 * CLV over a horizon: BG/NBD E[Y] (Fader, Hardie & Lee 2005 eq. 10) × Gamma-Gamma expected spend (Fader & Hardie
 * 2013) × margin, discounted monthly at the end of each month (discrete version of the DET of Fader, Hardie & Lee
 * 2005b, "RFM and CLV: Using Iso-Value Curves", truncated at the horizon).
 */
import { describe, expect, it } from 'vitest';
import { conditionalExpectedPurchases, conditionalExpectedSpend, customerValue, DAYS_PER_MONTH } from '../src';

const BG = { r: 0.243, alpha: 4.414, a: 0.793, b: 2.426 };
const GG = { p: 6.25, q: 3.74, gamma: 1544 }; // γ in cents
const C1 = { x: 2, tx: 30.43, T: 38.86, zbar: 2234.5 }; // CDNOW sample customer 1, zbar in cents

describe('customerValue', () => {
  it('without discounting: E[Y(horizon)] × E[Z | x, zbar] × margin', () => {
    const v = customerValue(BG, GG, C1, { horizonDays: 365, marginRatio: 0.3 });
    const ey = conditionalExpectedPurchases(BG, 365 / 7, 2, 30.43, 38.86);
    const ez = conditionalExpectedSpend(GG, 2, 2234.5);
    expect(v.expectedOrders).toBeCloseTo(ey, 12);
    expect(v.expectedSpend).toBeCloseTo(ez, 9);
    expect(v.clv).toBeCloseTo(ey * ez * 0.3, 6);
  });

  it('discounts each month’s expected orders at the month’s end: the sum by hand over 12 months', () => {
    const d = 0.01;
    const v = customerValue(BG, GG, C1, { horizonDays: 12 * DAYS_PER_MONTH, monthlyDiscountRate: d });
    let byHand = 0;
    for (let k = 1; k <= 12; k++) {
      const inc =
        conditionalExpectedPurchases(BG, (k * DAYS_PER_MONTH) / 7, 2, 30.43, 38.86) -
        conditionalExpectedPurchases(BG, ((k - 1) * DAYS_PER_MONTH) / 7, 2, 30.43, 38.86);
      byHand += inc / (1 + d) ** k;
    }
    expect(v.clv).toBeCloseTo(byHand * v.expectedSpend, 6);
    expect(v.clv).toBeLessThan(v.expectedOrders * v.expectedSpend);
    expect(v.clv).toBeGreaterThan((v.expectedOrders * v.expectedSpend) / (1 + d) ** 12);
  });

  it('a partial last month is discounted at its own end (365 days = 11.99 months)', () => {
    const d = 0.02;
    const full = customerValue(BG, GG, C1, { horizonDays: 365, monthlyDiscountRate: d });
    const lastStart = 11 * DAYS_PER_MONTH;
    const inc =
      conditionalExpectedPurchases(BG, 365 / 7, 2, 30.43, 38.86) -
      conditionalExpectedPurchases(BG, lastStart / 7, 2, 30.43, 38.86);
    const first11 = customerValue(BG, GG, C1, { horizonDays: lastStart, monthlyDiscountRate: d });
    expect(full.clv).toBeCloseTo(first11.clv + (inc / (1 + d) ** (365 / DAYS_PER_MONTH)) * full.expectedSpend, 6);
  });

  it('a customer gone quiet for long is worth less than a recent one with the same x and spend', () => {
    const recent = customerValue(BG, GG, { ...C1, tx: 38 }, { horizonDays: 365 });
    const quiet = customerValue(BG, GG, { ...C1, tx: 2 }, { horizonDays: 365 });
    expect(quiet.clv).toBeLessThan(recent.clv);
  });

  it('rejects a bad margin, discount rate or horizon', () => {
    expect(() => customerValue(BG, GG, C1, { horizonDays: 365, marginRatio: 1.5 })).toThrow(/margin/);
    expect(() => customerValue(BG, GG, C1, { horizonDays: 365, monthlyDiscountRate: -1 })).toThrow(/discount/);
    expect(() => customerValue(BG, GG, C1, { horizonDays: -1 })).toThrow(/horizon/);
    expect(() => customerValue({ ...BG, r: 0 }, GG, C1, { horizonDays: 365 })).toThrow(/BG\/NBD parameter r/);
    expect(() => customerValue(BG, { ...GG, gamma: Number.NaN }, C1, { horizonDays: 365 })).toThrow(/parameter gamma/);
  });
});
