/**
 * The population CLV model of the tier engine (issue 15; docs/design-decisions.md §19 for the maths, §21 for the
 * schedule): BG/NBD (Fader, Hardie & Lee 2005) and Gamma-Gamma (Fader & Hardie 2013) fitted by maximum likelihood on
 * every customer's CLV inputs as of a day close (the aggregates' clv_x, clv_t_x_weeks, clv_T_weeks, clv_zbar), at the
 * cut-point barrier, every CLV_FIT_EVERY_DAYS days at least. A fitted model is a version (`clv-<YYYY-MM-DD>` of the
 * day it measured) in force from the next day on; a fit that does not converge keeps the version in force. Pure.
 */
import {
  type BgNbdParams,
  compressBgNbd,
  type FitOptions,
  fitBgNbd,
  fitGammaGamma,
  type GammaGammaParams,
} from '@tierstream/clv';
import type { Metrics } from './metrics';
import { type CutPointSchedule, nextCutPointDay } from './schedule';
import type { CutPoints } from './types';

/** The time unit of the model's statistics and of α (BG/NBD): weeks (the papers') or days. */
export type ClvTimeUnit = 'weeks' | 'days';

/** Days per model time unit. */
export const DAYS_PER_UNIT: Record<ClvTimeUnit, number> = { weeks: 7, days: 1 };

/** Engine settings of the CLV model (CLV_* in the tier engine's config, docs/operations.md §12). */
export interface ClvSettings {
  /** Refit at the first cut-point day at least this many days after the last fit's day; 0 = no model. */
  fitEveryDays: number;
  timeUnit: ClvTimeUnit;
  /** Share of the spend that is margin, in [0, 1] (1: clv_365d is revenue). */
  margin: number;
  /** Monthly discount rate of clv_365d (0: none). */
  monthlyDiscount: number;
  /** A fit needs at least this many customers with a purchase day, else it is no model (absent: 0). */
  minCustomers?: number;
  /** A fit needs at least this many repeat buyers with a positive mean spend, else it is no model (absent: 0). */
  minRepeatBuyers?: number;
}

export const DEFAULT_CLV_SETTINGS: ClvSettings = {
  fitEveryDays: 0,
  timeUnit: 'weeks',
  margin: 1,
  monthlyDiscount: 0,
  minCustomers: 500,
  minRepeatBuyers: 50,
};

/** A fitted model version, as stored in Redis (JSON) and published with its fit figures. */
export interface ClvModel {
  /** `clv-<YYYY-MM-DD>`: the day close whose population it was fitted on. */
  version: string;
  /** That day (UTC day number); the model is in force from day + 1 on. */
  day: number;
  timeUnit: ClvTimeUnit;
  bgnbd: BgNbdParams;
  /** Log-likelihood of the BG/NBD fit (natural log, summed over the population). */
  bgnbdLogLikelihood: number;
  /** Customers with a purchase day that the BG/NBD fit used. */
  sampleSize: number;
  gammaGamma: GammaGammaParams;
  gammaGammaLogLikelihood: number;
  /** Repeat buyers with a positive mean spend that the Gamma-Gamma fit used. */
  repeatBuyers: number;
  /**
   * CLV_MARGIN and CLV_MONTHLY_DISCOUNT when it was fitted: clv_365d uses these, so every engine instance and tierctl
   * give the same value under one version (a changed setting applies from the next fit on).
   */
  margin: number;
  monthlyDiscount: number;
  /** Wall-clock time of the fit (epoch ms) and its duration (ms, both fits with the grouping). */
  fittedAt: number;
  fitMs: number;
}

/** The metric names a fit reads from each customer's metrics (as of the fit's day close). */
export const CLV_FIT_INPUTS = ['clv_x', 'clv_t_x_weeks', 'clv_T_weeks', 'clv_zbar'] as const;

const DAY_MS = 86_400_000;
const isoDay = (day: number): string => new Date(day * DAY_MS).toISOString().slice(0, 10);

/**
 * The day of the last fit attempt that counts for an evaluation as of `day`: the day of the model in force, or a
 * later failed attempt (a fit that gave no model) at the close of a day before `day`; null when none. Failed
 * attempts are stored with the models (tierstate's ClvModelStore), so every instance and a restart agree.
 */
export function clvLastAttemptDay(inForce: ClvModel | null, failedDays: readonly number[], day: number): number | null {
  let last = inForce?.day ?? null;
  for (const f of failedDays) if (f < day && (last === null || f > last)) last = f;
  return last;
}

/**
 * Whether the close of `day` fits a new model: only at a cut-point day (the population is gathered there, behind the
 * barrier every partition passes), when fits are on and at least `fitEveryDays` days passed since the last attempt
 * (clvLastAttemptDay: the model in force's day or a later failed attempt), or there was none. A failed fit leaves the
 * model in force; the next attempt is `fitEveryDays` later (not the next cut-point day: a population too small to
 * fit stays so for a while, and a daily retry would wake every CLV-rule customer daily). Every partition answers
 * alike: the models and failed attempts are loaded with the cut points.
 */
export function isClvFitDay(
  settings: Pick<ClvSettings, 'fitEveryDays'>,
  lastAttemptDay: number | null,
  day: number,
  cutPointDay: boolean,
): boolean {
  if (settings.fitEveryDays <= 0 || !cutPointDay) return false;
  return lastAttemptDay === null || day - lastAttemptDay >= settings.fitEveryDays;
}

/**
 * The first day after `day` on which a new model version can come into force (the day after a fit), for an
 * evaluation as of `day`; null when fits are off or cut points are never recomputed. A fit is due from
 * `lastAttemptDay + fitEveryDays` on (or `day` when no attempt was made) and happens at the first cut-point day
 * close on or after that (schedule.ts; `cutPointsInForce` are those in force on `day`). When that cut-point day is on
 * or after the due day it is exact: nothing recomputes the cut points before it, so the schedule cannot change. When
 * the cut points are recomputed before the due day, that recompute may change the schedule (a population that starts
 * moving recomputes daily), so the answer is the due day + 1, the earliest possible; the customer asks again then
 * (at most one such wake-up per fit). While the population is young or changing cut points are daily, so this is
 * the due day + 1.
 */
export function nextClvModelDay(
  settings: Pick<ClvSettings, 'fitEveryDays'>,
  schedule: CutPointSchedule,
  cutPointsInForce: CutPoints,
  lastAttemptDay: number | null,
  day: number,
): number | null {
  if (settings.fitEveryDays <= 0) return null;
  const due = lastAttemptDay === null ? day : Math.max(day, lastAttemptDay + settings.fitEveryDays);
  const cut = nextCutPointDay(schedule, cutPointsInForce, day - 1);
  if (cut === null) return null;
  return Math.max(cut, due) + 1;
}

/** A customer's statistics in model time units (t_x, T) and minor units (zbar, 0 when x = 0). */
export interface ClvStats {
  x: number;
  tx: number;
  T: number;
  zbar: number;
}

/**
 * The model statistics of one customer from its metrics (clv_* inputs, weeks): null without a purchase day. Days are
 * recovered exactly (the inputs are whole days / 7), so a days model sees integers.
 */
export function clvStats(m: Metrics, unit: ClvTimeUnit): ClvStats | null {
  const x = m.clv_x;
  const txWeeks = m.clv_t_x_weeks;
  const TWeeks = m.clv_T_weeks;
  if (x === null || x === undefined || txWeeks === null || txWeeks === undefined) return null;
  if (TWeeks === null || TWeeks === undefined) return null;
  const toUnit = (weeks: number) => (unit === 'weeks' ? weeks : Math.round(weeks * 7));
  return { x, tx: toUnit(txWeeks), T: toUnit(TWeeks), zbar: m.clv_zbar ?? 0 };
}

/** Outcome of {@link fitClvModel}: a new version, or why the model in force stays. */
export type ClvFitOutcome = { ok: true; model: ClvModel } | { ok: false; reason: string };

/**
 * Fits BG/NBD on every customer with a purchase day and Gamma-Gamma on the repeat buyers with zbar > 0, from their
 * metrics as of the close of `day`. Not ok (keep the model in force) when a fit does not converge, when there is no
 * customer or no repeat buyer, when there are fewer customers than `minCustomers` or fewer repeat buyers than
 * `minRepeatBuyers` (a young population gives nonsense that still converges: 3 customers → r ≈ 300, b ≈ 1e-5), when a fitted parameter is not finite, or when the Gamma-Gamma q is ≤ 1 (spend so
 * heavy-tailed across customers that the mean spend, hence expected_aov and clv_365d, does not exist). Never throws
 * on data.
 * @param population metrics of every customer (at least the CLV_FIT_INPUTS), any order
 * @param settings time unit of the statistics; margin and discount recorded for clv_365d
 * @param fittedAt wall-clock epoch ms recorded in the model
 */
export function fitClvModel(
  population: readonly Metrics[],
  day: number,
  settings: Pick<ClvSettings, 'timeUnit' | 'margin' | 'monthlyDiscount' | 'minCustomers' | 'minRepeatBuyers'>,
  fittedAt: number,
  options: FitOptions = {},
): ClvFitOutcome {
  const unit = settings.timeUnit;
  const started = performance.now();
  const rows: ClvStats[] = [];
  for (const m of population) {
    const s = clvStats(m, unit);
    if (s) rows.push(s);
  }
  if (rows.length === 0) return { ok: false, reason: 'no customer with a purchase day' };
  // Sorted, so that the fit does not depend on the order the partitions delivered the population in.
  const repeat = rows.filter((r) => r.x >= 1 && r.zbar > 0).sort((p, q) => p.x - q.x || p.zbar - q.zbar);
  if (repeat.length === 0) return { ok: false, reason: 'no repeat buyer with a positive mean spend' };
  const minCustomers = settings.minCustomers ?? 0;
  const minRepeat = settings.minRepeatBuyers ?? 0;
  if (rows.length < minCustomers) {
    return { ok: false, reason: `${rows.length} customers with a purchase day, fewer than the ${minCustomers} needed` };
  }
  if (repeat.length < minRepeat) {
    return { ok: false, reason: `${repeat.length} repeat buyers, fewer than the ${minRepeat} needed` };
  }
  try {
    const bg = fitBgNbd(compressBgNbd(rows), options);
    if (!bg.converged) return { ok: false, reason: `BG/NBD fit did not converge: ${bg.reason ?? 'unknown'}` };
    const gg = fitGammaGamma({ x: repeat.map((r) => r.x), zbar: repeat.map((r) => r.zbar) }, options);
    if (!gg.converged) return { ok: false, reason: `Gamma-Gamma fit did not converge: ${gg.reason ?? 'unknown'}` };
    // q ≤ 1: the population mean spend pγ/(q−1) does not exist, so no expected_aov or clv_365d could be computed.
    if (!(gg.params.q > 1)) {
      return { ok: false, reason: `Gamma-Gamma fit gave q = ${gg.params.q} ≤ 1: the mean spend does not exist` };
    }
    const values = [...Object.values(bg.params), ...Object.values(gg.params), bg.logLikelihood, gg.logLikelihood];
    if (!values.every(Number.isFinite)) return { ok: false, reason: 'a fitted parameter is not finite' };
    return {
      ok: true,
      model: {
        version: `clv-${isoDay(day)}`,
        day,
        timeUnit: unit,
        bgnbd: bg.params,
        bgnbdLogLikelihood: bg.logLikelihood,
        sampleSize: bg.sampleSize,
        gammaGamma: gg.params,
        gammaGammaLogLikelihood: gg.logLikelihood,
        repeatBuyers: gg.sampleSize,
        margin: settings.margin,
        monthlyDiscount: settings.monthlyDiscount,
        fittedAt,
        fitMs: performance.now() - started,
      },
    };
  } catch (err) {
    return { ok: false, reason: `fit failed: ${(err as Error).message}` };
  }
}

/**
 * The model in force on `day`: the newest of `models` fitted at the close of a day before it (versions sort by
 * day); null when none.
 */
export function clvModelFor(models: readonly ClvModel[], day: number): ClvModel | null {
  let best: ClvModel | null = null;
  for (const m of models) if (m.day < day && (best === null || m.day > best.day)) best = m;
  return best;
}
