/**
 * The CLV model inputs (issue 15; README "CLV inputs"): x, t_x, T (weeks) and zbar, hand-computed from the
 * definitions (BG/NBD sufficient statistics, Fader, Hardie & Lee 2005; Gamma-Gamma mean spend, Fader & Hardie 2013),
 * in the oracle and in metricsAt over decoded hashes, folded days (`pd`) included. The streaming store is checked
 * against the oracle on random histories in aggregates.it.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_AGGREGATE_CONFIG } from '../src/config';
import { metricsAt } from '../src/metrics';
import { oracleMetrics } from '../src/oracle';
import { decodeState } from '../src/state-decode';
import { AggregateTimeline } from '../src/timeline';
import { closeOfJune, june, P, R, X } from './money-cases';

const cfg = DEFAULT_AGGREGATE_CONFIG;
const DAY = 86_400_000;
const pick = (m: Record<string, number | null>) => ({
  x: m.clv_x,
  t_x: m.clv_t_x_weeks,
  T: m.clv_T_weeks,
  zbar: m.clv_zbar,
});

describe('CLV inputs in the oracle (from the definitions)', () => {
  // Days of June 2024 (negative: May). Two orders on day -60 merge into one purchase day; day -10's order is refunded
  // in part on day -5; day 10's order is cancelled on day 20; day 28 is the last purchase.
  const c = 'clv';
  const events = [
    P(c, 'a', -60, 1000),
    P(c, 'b', -60, 500),
    P(c, 'c', -10, 2000),
    R(c, 'c', -5, 500, -10),
    P(c, 'd', 10, 3000),
    X(c, 'd', 20, 3000, 10),
    P(c, 'e', 28, 700),
  ];
  const at = (d: number) => pick(oracleMetrics(events, closeOfJune(d), cfg, 0));

  it('x counts repeat purchase days (same-day orders merge), zbar is the mean spend of those days', () => {
    // As of 06-30: purchase days -60, -10, 28 (10 is cancelled): x = 2; spend of -10 is 2000 − 500.
    expect(at(30)).toEqual({ x: 2, t_x: 88 / 7, T: 90 / 7, zbar: (1500 + 700) / 2 });
  });
  it('as of an earlier day: a cancellation and a refund count from their own day on', () => {
    // As of 06-19 the order of day 10 is not cancelled yet: days -60, -10, 10.
    expect(at(19)).toEqual({ x: 2, t_x: 70 / 7, T: 79 / 7, zbar: (1500 + 3000) / 2 });
    // As of 05-29 (day -2): the refund of day -5 counts; one repeat day.
    expect(at(-2)).toEqual({ x: 1, t_x: 50 / 7, T: 58 / 7, zbar: 1500 });
    // As of day -6 the refund has not happened: the full 2000.
    expect(at(-6)).toEqual({ x: 1, t_x: 50 / 7, T: 54 / 7, zbar: 2000 });
  });
  it('one purchase day: x = 0, t_x = 0, zbar null; before the first purchase all null', () => {
    expect(at(-30)).toEqual({ x: 0, t_x: 0, T: 30 / 7, zbar: null });
    expect(at(-61)).toEqual({ x: null, t_x: null, T: null, zbar: null });
  });
  it('a customer whose only order is cancelled has no purchase day', () => {
    const only = [P(c, 'z', 1, 900), X(c, 'z', 3, 900, 1)];
    expect(pick(oracleMetrics(only, closeOfJune(2), cfg, 0))).toMatchObject({ x: 0, T: 1 / 7 });
    expect(pick(oracleMetrics(only, closeOfJune(3), cfg, 0))).toEqual({ x: null, t_x: null, T: null, zbar: null });
  });
});

describe('CLV inputs in metricsAt (decoded hashes)', () => {
  const day = (d: number) => Math.floor(june(d) / DAY);
  const noon = (d: number) => june(d) - day(d) * DAY;

  it('counts folded purchase days (`pd`) and takes the first day’s spend from there', () => {
    // Folded: day -500 (spend 1200, a purchase day), day -450 (money, no live order), day -420 (spend 300).
    // Retained: day 5 (live, 800) and day 9 (cancelled on day 12: a purchase day as of days 9–11 only, 0 after).
    const h: Record<string, string> = {
      mx: String(june(12)),
      fo: String(june(-500)),
      ob: `3,1500,0,${june(-420)}`,
      pd: `${day(-500)}:1200 ${day(-450)}~0 ${day(-420)}:300`,
      [`o:${day(5)}`]: `1,800,0,${noon(5)}`,
      [`o:${day(9)}`]: `1,400,0,,${noon(9)}@${day(12)}`,
      [`a:${day(9)}:${day(12)}`]: '-1,-400,0',
    };
    const state = decodeState('c', h)!;
    const timeline = new AggregateTimeline(state, cfg);
    const check = (d: number, want: ReturnType<typeof pick>) => {
      expect(pick(metricsAt(state, closeOfJune(d), cfg))).toEqual(want);
      expect(pick(timeline.metricsAt(closeOfJune(d)))).toEqual(want);
    };
    check(10, { x: 3, t_x: 509 / 7, T: 510 / 7, zbar: (300 + 800 + 400) / 3 });
    check(12, { x: 2, t_x: 505 / 7, T: 512 / 7, zbar: (300 + 800) / 2 });
    // A refund on the first (folded) day, not folded yet: counts from its own day on.
    h[`a:${day(-500)}:${day(11)}`] = '0,-200,0';
    const refunded = decodeState('c', h)!;
    expect(pick(metricsAt(refunded, closeOfJune(10), cfg)).zbar).toBe((300 + 800 + 400) / 3);
    // The first day's spend drops with the refund, the lifetime revenue too: the repeat days' mean is unchanged.
    expect(pick(metricsAt(refunded, closeOfJune(12), cfg)).zbar).toBe((300 + 800) / 2);
    expect(metricsAt(refunded, closeOfJune(12), cfg).revenue_lifetime).toBe(1500 + 800 + 400 - 400 - 200);
  });

  it('no purchase day: all null (a customer with web events only)', () => {
    const state = decodeState('c', { mx: String(june(3)), [`w:${day(3)}`]: '100,0:2' })!;
    expect(pick(metricsAt(state, closeOfJune(3), cfg))).toEqual({ x: null, t_x: null, T: null, zbar: null });
  });
});
