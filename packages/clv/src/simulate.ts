/**
 * Synthetic BG/NBD populations (seeded, pure): for tests that check a fit recovers known parameters and for the fit
 * benchmark (bench/clv-fit.ts). Each customer draws λ ~ Gamma(r, α) (purchases per model time unit) and
 * p ~ Beta(a, b); after its first purchase it buys at exponential gaps of rate λ and drops out after each repeat
 * purchase with probability p (FHL 2005 §2).
 */
import type { BgNbdParams } from './bgnbd';
import { compressBgNbd, fitBgNbd, fitGammaGamma } from './fit';
import type { GammaGammaParams } from './gamma-gamma';
import { type CustomerStats, type PurchaseDay, sufficientStats } from './stats';

/** The random source: uniform in [0, 1) and standard normal (the generator package's `Rng` fits). */
export interface RandomSource {
  next(): number;
  normal(): number;
}

/** Gamma(shape, rate) variate, Marsaglia & Tsang (2000); shape < 1 by the u^(1/shape) boost. */
export function gammaVariate(rng: RandomSource, shape: number, rate: number): number {
  if (shape < 1) return gammaVariate(rng, shape + 1, rate) * (1 - rng.next()) ** (1 / shape);
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    const z = rng.normal();
    const v = (1 + c * z) ** 3;
    if (v <= 0) continue;
    const u = 1 - rng.next();
    if (Math.log(u) < 0.5 * z * z + d - d * v + d * Math.log(v)) return (d * v) / rate;
  }
}

/** Beta(a, b) variate from two gamma variates. */
export function betaVariate(rng: RandomSource, a: number, b: number): number {
  const g1 = gammaVariate(rng, a, 1);
  return g1 / (g1 + gammaVariate(rng, b, 1));
}

/** Options of {@link simulateBgNbd}. */
export interface SimulationOptions {
  customers: number;
  /** First purchase days are uniform over [0, firstDays) (default 84: 12 weeks, like CDNOW). */
  firstDays?: number;
  /** As-of day (inclusive) of the statistics (default 272: the CDNOW calibration end, day 0 = 1997-01-01). */
  asOfDay?: number;
  /** Days per model time unit (default 7). */
  daysPerUnit?: number;
  /** Spend of every purchase, minor units (default 1000), unless `spend` is given. */
  amountMinor?: number;
  /**
   * Gamma-Gamma spend (Fader & Hardie 2013): per customer ν ~ Gamma(q, γ), each purchase ~ Gamma(p, ν) rounded to
   * whole minor units (at least 1); γ in minor units.
   */
  spend?: GammaGammaParams;
}

/**
 * Simulates a population under BG/NBD with `params` (α in model units) and returns each customer's purchase days
 * (whole days, so purchases on one day merge as in the data) and statistics as of `asOfDay`.
 */
export function simulateBgNbd(
  rng: RandomSource,
  params: BgNbdParams,
  options: SimulationOptions,
): { purchases: PurchaseDay[]; stats: CustomerStats }[] {
  const unit = options.daysPerUnit ?? 7;
  const asOfDay = options.asOfDay ?? 272;
  const firstDays = options.firstDays ?? 84;
  const amountMinor = options.amountMinor ?? 1000;
  const out: { purchases: PurchaseDay[]; stats: CustomerStats }[] = [];
  for (let i = 0; i < options.customers; i++) {
    const lambda = gammaVariate(rng, params.r, params.alpha);
    const p = betaVariate(rng, params.a, params.b);
    const first = Math.floor(rng.next() * firstDays);
    const spend = options.spend;
    const nu = spend ? gammaVariate(rng, spend.q, spend.gamma) : 0;
    const amount = () => (spend ? Math.max(1, Math.round(gammaVariate(rng, spend.p, nu))) : amountMinor);
    const purchases: PurchaseDay[] = [{ day: first, amountMinor: amount() }];
    // Time in days from day `first` (its start); a purchase at time t falls on day floor(t). The first purchase does
    // not risk dropout (x counts repeat purchases; FHL 2005 eq. 3); each repeat purchase does, with probability p.
    let t = first;
    for (;;) {
      t += (-Math.log(1 - rng.next()) / lambda) * unit;
      if (t >= asOfDay + 1) break;
      purchases.push({ day: Math.floor(t), amountMinor: amount() });
      if (rng.next() < p) break;
    }
    const stats = sufficientStats(purchases, asOfDay, { daysPerUnit: unit });
    if (stats) out.push({ purchases, stats });
  }
  return out;
}

/** Timings of {@link timeFit}, milliseconds, and what was fitted. */
export interface FitTiming {
  customers: number;
  /** Distinct (x, t_x, T) rows after grouping. */
  distinctRows: number;
  repeatBuyers: number;
  simulateMs: number;
  /** Grouping + BG/NBD fit + Gamma-Gamma fit: what a day close would spend. */
  totalFitMs: number;
  bgnbdMs: number;
  gammaGammaMs: number;
  /** BG/NBD fit on the ungrouped columns, for comparison (NaN when skipped). */
  bgnbdUngroupedMs: number;
  bgnbd: BgNbdParams;
  gammaGamma: GammaGammaParams;
  converged: boolean;
}

/**
 * Times a full model fit on a simulated population of `customers` (CDNOW-like parameters, whole days, time in
 * weeks, 39-week window): grouping, BG/NBD fit and Gamma-Gamma fit on the repeat buyers. CPU-heavy for large
 * populations (about 1–3 s for 100,000 on one core): call it from a benchmark, not from unit tests.
 */
export function timeFit(rng: RandomSource, customers: number, options: { ungrouped?: boolean } = {}): FitTiming {
  const bgTruth = { r: 0.243, alpha: 4.414, a: 0.793, b: 2.426 };
  const ggTruth = { p: 6.25, q: 3.74, gamma: 1544 };
  let t0 = performance.now();
  const pop = simulateBgNbd(rng, bgTruth, { customers, spend: ggTruth });
  const simulateMs = performance.now() - t0;
  const stats = pop.map((c) => c.stats);
  t0 = performance.now();
  const grouped = compressBgNbd(stats);
  const bg = fitBgNbd(grouped);
  const repeat = stats.filter((s) => s.x > 0 && s.zbar > 0);
  const gg = fitGammaGamma({ x: repeat.map((s) => s.x), zbar: repeat.map((s) => s.zbar) });
  const totalFitMs = performance.now() - t0;
  let bgnbdUngroupedMs = Number.NaN;
  if (options.ungrouped) {
    const t1 = performance.now();
    fitBgNbd({ x: stats.map((s) => s.x), tx: stats.map((s) => s.tx), T: stats.map((s) => s.T) });
    bgnbdUngroupedMs = performance.now() - t1;
  }
  return {
    customers,
    distinctRows: grouped.x.length,
    repeatBuyers: repeat.length,
    simulateMs,
    totalFitMs,
    bgnbdMs: bg.fitMs,
    gammaGammaMs: gg.fitMs,
    bgnbdUngroupedMs,
    bgnbd: bg.params,
    gammaGamma: gg.params,
    converged: bg.converged && gg.converged,
  };
}
