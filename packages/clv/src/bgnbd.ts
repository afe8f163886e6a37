/**
 * BG/NBD model of repeat purchasing: Fader, Hardie & Lee (2005), "Counting Your Customers the Easy Way: An
 * Alternative to the Pareto/NBD Model", Marketing Science 24(2), 275–284 (FHL 2005 below; equation numbers are the
 * paper's). While alive a customer buys at a Poisson rate λ ~ Gamma(r, α); after each purchase it drops out with
 * probability p ~ Beta(a, b). Time is in the unit of the statistics (weeks by default, see stats.ts); α has that unit.
 */
import { gammaln, hyp2f1 } from './special';

/** BG/NBD parameters, all > 0. α is in model time units (weeks in the CDNOW acceptance tests). */
export interface BgNbdParams {
  r: number;
  alpha: number;
  a: number;
  b: number;
}

/**
 * A population in column form: customer i has x[i] repeat purchase days (integer ≥ 0), recency tx[i] and age T[i]
 * (model time units, 0 ≤ tx ≤ T, tx = 0 when x = 0); `count[i]` (optional, default 1) customers share that row.
 */
export interface BgNbdData {
  x: ArrayLike<number>;
  tx: ArrayLike<number>;
  T: ArrayLike<number>;
  count?: ArrayLike<number>;
}

/** Throws unless every parameter is a finite number > 0. */
export function checkBgNbdParams(p: BgNbdParams): void {
  for (const [k, v] of Object.entries(p)) {
    if (!(v > 0) || !Number.isFinite(v)) throw new Error(`BG/NBD parameter ${k} must be a finite number > 0, got ${v}`);
  }
}

function logAddExp(u: number, v: number): number {
  if (u === Number.NEGATIVE_INFINITY) return v;
  const m = Math.max(u, v);
  return m + Math.log1p(Math.exp(-Math.abs(u - v)));
}

/**
 * Log-likelihood of one customer's (x, t_x, T), FHL 2005 eq. 6 in log form:
 * ln Γ(r+x) − ln Γ(r) + r ln α + ln B(a, b+x) − ln B(a, b)
 *   + ln[(α+T)^−(r+x) + 1{x>0} · a/(b+x−1) · (α+t_x)^−(r+x)].
 */
export function bgnbdLogLikelihood(p: BgNbdParams, x: number, tx: number, T: number): number {
  const { r, alpha, a, b } = p;
  const a1 = gammaln(r + x) - gammaln(r) + r * Math.log(alpha);
  const a2 = gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x);
  const a3 = -(r + x) * Math.log(alpha + T);
  const a4 = x > 0 ? Math.log(a) - Math.log(b + x - 1) - (r + x) * Math.log(alpha + tx) : Number.NEGATIVE_INFINITY;
  return a1 + a2 + logAddExp(a3, a4);
}

/**
 * Log-likelihood of a population (FHL 2005 eq. 7): Σ count[i] · eq. 6. Terms that depend on x only are computed
 * once per distinct x, so the cost per customer is two logarithms and one exponential.
 * @throws Error when a customer has a non-integer or negative x (x indexes a table).
 */
export function bgnbdPopulationLogLikelihood(p: BgNbdParams, data: BgNbdData): number {
  const { r, alpha, a, b } = p;
  const n = data.x.length;
  let maxX = 0;
  for (let i = 0; i < n; i++) if (data.x[i]! > maxX) maxX = data.x[i]!;
  if (!Number.isInteger(maxX)) throw new Error('BG/NBD data: x must be integers');
  // Per-x constants: A1 + A2 without the α term, and ln(a/(b+x−1)).
  const constX = new Float64Array(maxX + 1);
  const logOddsX = new Float64Array(maxX + 1);
  const base = -gammaln(r) + r * Math.log(alpha) + gammaln(a + b) - gammaln(b);
  for (let k = 0; k <= maxX; k++) {
    constX[k] = base + gammaln(r + k) + gammaln(b + k) - gammaln(a + b + k);
    logOddsX[k] = k > 0 ? Math.log(a) - Math.log(b + k - 1) : Number.NEGATIVE_INFINITY;
  }
  let sum = 0;
  const count = data.count;
  for (let i = 0; i < n; i++) {
    const x = data.x[i]!;
    if (!(x >= 0) || !Number.isInteger(x)) throw new Error(`BG/NBD data: x[${i}] = ${x} is not an integer ≥ 0`);
    const rx = r + x;
    const a3 = -rx * Math.log(alpha + data.T[i]!);
    let ll: number;
    if (x === 0) ll = constX[0]! + a3;
    else {
      const a4 = logOddsX[x]! - rx * Math.log(alpha + data.tx[i]!);
      ll = constX[x]! + (a3 > a4 ? a3 + Math.log1p(Math.exp(a4 - a3)) : a4 + Math.log1p(Math.exp(a3 - a4)));
    }
    sum += count ? count[i]! * ll : ll;
  }
  return sum;
}

/**
 * P(alive | x, t_x, T): probability that a customer with this history is still active at T (Fader, Hardie & Lee 2008,
 * note "Computing P(alive) using the BG/NBD model"; it is the last factor of FHL 2005 eq. 10):
 * 1 / (1 + 1{x>0} · a/(b+x−1) · ((α+T)/(α+t_x))^(r+x)). Equals 1 for x = 0 (the model lets a customer drop out only
 * after a purchase), and decreases with T for x > 0 while nothing is bought.
 */
export function pAlive(p: BgNbdParams, x: number, tx: number, T: number): number {
  if (x === 0) return 1;
  const { r, alpha, a, b } = p;
  const logOdds = Math.log(a) - Math.log(b + x - 1) + (r + x) * (Math.log(alpha + T) - Math.log(alpha + tx));
  return 1 / (1 + Math.exp(logOdds));
}

/**
 * Unconditional expected number of repeat purchases in (0, t] of a customer who made its first purchase at 0,
 * FHL 2005 eq. 9: E[X(t)] = (a+b−1)/(a−1) · [1 − (α/(α+t))^r · ₂F₁(r, b; a+b−1; t/(α+t))].
 * @param t time since the first purchase, model units (weeks in the CDNOW tests), ≥ 0 (a ≠ 1: the formula divides by a − 1)
 */
export function expectedPurchases(p: BgNbdParams, t: number): number {
  if (t <= 0) return 0;
  const { r, alpha, a, b } = p;
  const z = t / (alpha + t);
  const h = hyp2f1(r, b, a + b - 1, z);
  return ((a + b - 1) / (a - 1)) * (1 - (alpha / (alpha + t)) ** r * h);
}

/**
 * Conditional expectation E[Y(t) | x, t_x, T]: expected number of purchases in (T, T+t] of a customer with this
 * history, FHL 2005 eq. 10:
 * [(a+b+x−1)/(a−1)] · [1 − ((α+T)/(α+T+t))^(r+x) · ₂F₁(r+x, b+x; a+b+x−1; t/(α+T+t))]
 *   / [1 + 1{x>0} · a/(b+x−1) · ((α+T)/(α+t_x))^(r+x)].
 * @param t length of the forecast period, model units (weeks in the CDNOW tests), ≥ 0 (a ≠ 1)
 */
export function conditionalExpectedPurchases(p: BgNbdParams, t: number, x: number, tx: number, T: number): number {
  if (t <= 0) return 0;
  const { r, alpha, a, b } = p;
  const rx = r + x;
  const z = t / (alpha + T + t);
  const h = hyp2f1(rx, b + x, a + b + x - 1, z);
  const head = ((a + b + x - 1) / (a - 1)) * (1 - ((alpha + T) / (alpha + T + t)) ** rx * h);
  return head * pAlive(p, x, tx, T);
}
