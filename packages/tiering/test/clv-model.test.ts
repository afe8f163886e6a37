/**
 * The engine's population CLV model (issue 15): fitted from the aggregates' CLV inputs, it reproduces the published
 * CDNOW fits (Fader, Hardie & Lee 2005, Marketing Science 24(2): r = 0.243, α = 4.414, a = 0.793, b = 2.426,
 * LL = −9582.4; Fader & Hardie 2013 Gamma-Gamma note: p = 6.25, q = 3.74, γ = 15.44 in dollars); a fit that does not
 * converge keeps the model in force; the fit schedule and the model in force on a day.
 */
import { readFileSync } from 'node:fs';
import { DEFAULT_AGGREGATE_CONFIG, oracleMetrics } from '@tierstream/aggregates';
import { fitGammaGamma, gammaVariate } from '@tierstream/clv';
import type { InputEvent } from '@tierstream/contracts';
import { parseCdnow, Rng } from '@tierstream/generator';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  type ClvModel,
  clvLastAttemptDay,
  clvModelFor,
  clvStats,
  fitClvModel,
  isClvFitDay,
  nextClvModelDay,
} from '../src/clv-model';
import type { Metrics } from '../src/metrics';
import type { CutPoints } from '../src/types';

const SAMPLE = new URL('../../../data/cdnow/CDNOW_sample.txt', import.meta.url);
const DAY = 86_400_000;
const CAL_END = Math.floor(Date.UTC(1997, 8, 30) / DAY);
const W = { timeUnit: 'weeks' as const, margin: 1, monthlyDiscount: 0 };
const D = { timeUnit: 'days' as const, margin: 1, monthlyDiscount: 0 };
const within = (actual: number, expected: number, rel: number) =>
  expect(Math.abs(actual - expected) / Math.abs(expected)).toBeLessThanOrEqual(rel);

let population: Metrics[];
beforeAll(() => {
  const byCustomer = new Map<string, InputEvent[]>();
  for (const e of parseCdnow(readFileSync(SAMPLE, 'utf8'), 'CDNOW_sample.txt')) {
    const list = byCustomer.get(e.customer_id) ?? [];
    list.push({ kind: 'order', event: e });
    byCustomer.set(e.customer_id, list);
  }
  // Every customer's metrics as of the close of 1997-09-30 (the oracle: the definitions of the aggregates).
  population = [...byCustomer.values()].map((events) =>
    oracleMetrics(events, (CAL_END + 1) * DAY - 1, DEFAULT_AGGREGATE_CONFIG, 0),
  );
});

describe('fitClvModel on the CDNOW sample as of 1997-09-30 (the aggregates’ inputs)', () => {
  it('reproduces the published BG/NBD and Gamma-Gamma fits within 1 %', () => {
    const outcome = fitClvModel(population, CAL_END, W, 123);
    expect(outcome.ok).toBe(true);
    if (!outcome.ok) return;
    const m = outcome.model;
    expect(m.version).toBe('clv-1997-09-30');
    expect(m.day).toBe(CAL_END);
    expect(m.fittedAt).toBe(123);
    // 2,357 customers first bought in the calibration period; the sample has no later first purchase.
    expect(m.sampleSize).toBe(2357);
    expect(m.repeatBuyers).toBe(946);
    within(m.bgnbd.r, 0.243, 0.01);
    within(m.bgnbd.alpha, 4.414, 0.01);
    within(m.bgnbd.a, 0.793, 0.01);
    within(m.bgnbd.b, 2.426, 0.01);
    expect(Math.abs(m.bgnbdLogLikelihood - -9582.4)).toBeLessThanOrEqual(0.5);
    // zbar in cents: p and q do not depend on the money unit, γ is 100 × the published dollars.
    within(m.gammaGamma.p, 6.25, 0.01);
    within(m.gammaGamma.q, 3.74, 0.01);
    within(m.gammaGamma.gamma, 1544, 0.01);
  });

  it('does not depend on the order the population comes in (partitions deliver it in any order)', () => {
    const a = fitClvModel(population, CAL_END, W, 0);
    const b = fitClvModel([...population].reverse(), CAL_END, W, 0);
    expect(a.ok && b.ok).toBe(true);
    if (!a.ok || !b.ok) return;
    expect(b.model.bgnbd).toEqual(a.model.bgnbd);
    expect(b.model.gammaGamma).toEqual(a.model.gammaGamma);
  });

  it('in days: α scales by 7, r, a, b do not', () => {
    const weeks = fitClvModel(population, CAL_END, W, 0);
    const days = fitClvModel(population, CAL_END, D, 0);
    expect(weeks.ok && days.ok).toBe(true);
    if (!weeks.ok || !days.ok) return;
    within(days.model.bgnbd.alpha, weeks.model.bgnbd.alpha * 7, 1e-3);
    within(days.model.bgnbd.r, weeks.model.bgnbd.r, 1e-3);
    within(days.model.bgnbd.a, weeks.model.bgnbd.a, 1e-3);
  });

  it('a fit that does not converge, or an empty population, is not a model and says why', () => {
    const short = fitClvModel(population, CAL_END, W, 0, { maxIterations: 2 });
    expect(short).toEqual({ ok: false, reason: expect.stringMatching(/^BG\/NBD fit did not converge: /) });
    expect(fitClvModel([], CAL_END, W, 0)).toEqual({ ok: false, reason: 'no customer with a purchase day' });
    const oneTimers = population.filter((m) => m.clv_x === 0);
    expect(fitClvModel(oneTimers, CAL_END, W, 0)).toEqual({
      ok: false,
      reason: 'no repeat buyer with a positive mean spend',
    });
  });
});

describe('fitClvModel on spend without a mean (Gamma-Gamma q ≤ 1)', () => {
  it('is not a model and says why (the model in force stays) instead of a version whose clv_365d is null for all', () => {
    // 3,000 repeat buyers drawn from the Gamma-Gamma model with q = 0.8 (Fader & Hardie 2013: ν ~ Gamma(q, γ), each
    // transaction ~ Gamma(p, ν)); the maximum-likelihood q is below 1, so E[Z] = pγ/(q−1) does not exist.
    const rng = new Rng(5);
    const pop: Metrics[] = [];
    for (let i = 0; i < 3000; i++) {
      const x = 1 + (i % 4);
      const nu = gammaVariate(rng, 0.8, 100);
      let spend = 0;
      for (let k = 0; k < x; k++) spend += gammaVariate(rng, 4, nu);
      pop.push({ clv_x: x, clv_t_x_weeks: 2 * x, clv_T_weeks: 2 * x + (i % 30), clv_zbar: spend / x });
    }
    expect(fitGammaGamma({ x: pop.map((m) => m.clv_x!), zbar: pop.map((m) => m.clv_zbar!) }).params.q).toBeLessThan(1);
    expect(fitClvModel(pop, CAL_END, W, 0)).toEqual({
      ok: false,
      reason: expect.stringMatching(/^Gamma-Gamma fit gave q = 0\.\d+ ≤ 1: the mean spend does not exist$/),
    });
  });
});

describe('fitClvModel minimum sample', () => {
  it('a young population (3 customers, 1 repeat buyer) is no model under the minimums, and says why', () => {
    const young: Metrics[] = [
      { clv_x: 0, clv_t_x_weeks: 0, clv_T_weeks: 1, clv_zbar: null },
      { clv_x: 0, clv_t_x_weeks: 0, clv_T_weeks: 2, clv_zbar: null },
      { clv_x: 1, clv_t_x_weeks: 1, clv_T_weeks: 3, clv_zbar: 2500 },
    ];
    const guarded = { ...W, minCustomers: 500, minRepeatBuyers: 50 };
    expect(fitClvModel(young, CAL_END, guarded, 0)).toEqual({
      ok: false,
      reason: '3 customers with a purchase day, fewer than the 500 needed',
    });
    expect(fitClvModel(young, CAL_END, { ...guarded, minCustomers: 3 }, 0)).toEqual({
      ok: false,
      reason: '1 repeat buyers, fewer than the 50 needed',
    });
  });
  it('the CDNOW sample (2,357 customers, 946 repeat buyers) passes the default minimums; one more is refused', () => {
    expect(fitClvModel(population, CAL_END, { ...W, minCustomers: 500, minRepeatBuyers: 50 }, 0).ok).toBe(true);
    expect(fitClvModel(population, CAL_END, { ...W, minCustomers: 2357, minRepeatBuyers: 946 }, 0).ok).toBe(true);
    expect(fitClvModel(population, CAL_END, { ...W, minRepeatBuyers: 947 }, 0)).toEqual({
      ok: false,
      reason: '946 repeat buyers, fewer than the 947 needed',
    });
    expect(fitClvModel(population, CAL_END, { ...W, minCustomers: 2358 }, 0).ok).toBe(false);
  });
});

describe('clvStats', () => {
  it('reads the inputs in weeks or whole days; null without a purchase day', () => {
    const m = { clv_x: 2, clv_t_x_weeks: 213 / 7, clv_T_weeks: 272 / 7, clv_zbar: 2500 };
    expect(clvStats(m, 'weeks')).toEqual({ x: 2, tx: 213 / 7, T: 272 / 7, zbar: 2500 });
    expect(clvStats(m, 'days')).toEqual({ x: 2, tx: 213, T: 272, zbar: 2500 });
    expect(clvStats({ ...m, clv_x: 0, clv_zbar: null }, 'weeks')?.zbar).toBe(0);
    expect(clvStats({ clv_x: null, clv_t_x_weeks: null, clv_T_weeks: null, clv_zbar: null }, 'weeks')).toBeNull();
  });
});

describe('fit schedule and the model in force', () => {
  const model = (day: number) => ({ day, version: `v${day}` }) as ClvModel;
  it('fits at a cut-point day once fitEveryDays passed since the last attempt; never when off', () => {
    expect(isClvFitDay({ fitEveryDays: 7 }, null, 100, true)).toBe(true);
    expect(isClvFitDay({ fitEveryDays: 7 }, null, 100, false)).toBe(false);
    expect(isClvFitDay({ fitEveryDays: 7 }, 95, 101, true)).toBe(false);
    expect(isClvFitDay({ fitEveryDays: 7 }, 95, 102, true)).toBe(true);
    expect(isClvFitDay({ fitEveryDays: 0 }, null, 100, true)).toBe(false);
  });
  it('the last attempt: the model in force or a later failed attempt before the day', () => {
    expect(clvLastAttemptDay(null, [], 5)).toBeNull();
    expect(clvLastAttemptDay(null, [3], 5)).toBe(3);
    expect(clvLastAttemptDay(model(95), [90, 98, 103], 100)).toBe(98);
    expect(clvLastAttemptDay(model(95), [90, 98, 103], 98)).toBe(95);
    expect(clvLastAttemptDay(model(95), [90], 100)).toBe(95);
  });
  // 10_000 % 7 = 4: the regular cut-point days are 9_996, 10_003, 10_010, 10_017, 10_024, 10_031.
  const regular = { everyDays: 7, youngBelow: 1000, earlyChange: 0 };
  const settled = { population: 5000 } as CutPoints;
  const young = {} as CutPoints;
  it('the next model day is the day after the first cut-point day on or after the due day, not the next day', () => {
    // No attempt yet: due now, fitted at the next regular cut-point day (was: 10_001, every day until then).
    expect(nextClvModelDay({ fitEveryDays: 7 }, regular, settled, null, 10_000)).toBe(10_004);
    expect(nextClvModelDay({ fitEveryDays: 7 }, regular, settled, 9_996, 9_997)).toBe(10_004);
    // A failed attempt at 10_003: the next one is 7 days later (was: 10_005, a daily wake-up forever).
    expect(nextClvModelDay({ fitEveryDays: 7 }, regular, settled, 10_003, 10_004)).toBe(10_011);
    // Due 10_026, after a recompute at 10_003 that may change the schedule: the due day + 1, then exact.
    expect(nextClvModelDay({ fitEveryDays: 30 }, regular, settled, 9_996, 9_997)).toBe(10_027);
    expect(nextClvModelDay({ fitEveryDays: 30 }, regular, settled, 9_996, 10_027)).toBe(10_032);
    // A young population recomputes daily: the day after the due day.
    expect(nextClvModelDay({ fitEveryDays: 7 }, regular, young, 9_996, 9_997)).toBe(10_004);
    expect(nextClvModelDay({ fitEveryDays: 7 }, regular, young, 9_996, 10_005)).toBe(10_006);
    // Off, or no cut-point days (no fit ever).
    expect(nextClvModelDay({ fitEveryDays: 0 }, regular, settled, null, 10_000)).toBeNull();
    expect(nextClvModelDay({ fitEveryDays: 7 }, { ...regular, everyDays: 0 }, settled, null, 10_000)).toBeNull();
  });
  it('a model is in force from the day after the day it measured', () => {
    const models = [model(10), model(17), model(24)];
    expect(clvModelFor(models, 10)).toBeNull();
    expect(clvModelFor(models, 11)?.version).toBe('v10');
    expect(clvModelFor(models, 24)?.version).toBe('v17');
    expect(clvModelFor(models, 99)?.version).toBe('v24');
  });
});
