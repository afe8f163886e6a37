/**
 * Gamma-Gamma model of spend per transaction: Fader & Hardie (2013), "The Gamma-Gamma Model of Monetary Value"
 * (note), after Colombo & Jiang (1999), "A stochastic RFM model", Journal of Interactive Marketing 13(3). A customer's
 * transaction values are Gamma(p, ν) with ν ~ Gamma(q, γ) across customers; the model is fitted on the repeat buyers'
 * mean repeat spend zbar over their x repeat transactions. γ has the unit of the spend (dollars in the CDNOW tests,
 * minor units in the engine): p and q do not depend on the unit, γ scales with it.
 */
import { gammaln } from './special';

/** Gamma-Gamma parameters, all > 0 (γ in the unit of the spend). */
export interface GammaGammaParams {
  p: number;
  q: number;
  gamma: number;
}

/** Repeat buyers in column form: x[i] ≥ 1 repeat transactions with mean spend zbar[i] > 0; optional counts. */
export interface GammaGammaData {
  x: ArrayLike<number>;
  zbar: ArrayLike<number>;
  count?: ArrayLike<number>;
}

/** Throws unless every parameter is a finite number > 0. */
export function checkGammaGammaParams(p: GammaGammaParams): void {
  for (const [k, v] of Object.entries(p)) {
    if (!(v > 0) || !Number.isFinite(v)) {
      throw new Error(`Gamma-Gamma parameter ${k} must be a finite number > 0, got ${v}`);
    }
  }
}

/**
 * Log density of one repeat buyer's mean spend zbar given x (Fader & Hardie 2013, the
 * density of zbar obtained by integrating ν out):
 * ln Γ(px+q) − ln Γ(px) − ln Γ(q) + q ln γ + (px−1) ln zbar + px ln x − (px+q) ln(γ + x·zbar).
 * @throws Error when x < 1 or zbar ≤ 0 (the model is defined for repeat buyers with positive spend).
 */
export function gammaGammaLogLikelihood(params: GammaGammaParams, x: number, zbar: number): number {
  if (!(x >= 1)) throw new Error(`Gamma-Gamma: x must be ≥ 1 (repeat buyers only), got ${x}`);
  if (!(zbar > 0)) throw new Error(`Gamma-Gamma: zbar must be > 0, got ${zbar}`);
  const { p, q, gamma } = params;
  const px = p * x;
  return (
    gammaln(px + q) -
    gammaln(px) -
    gammaln(q) +
    q * Math.log(gamma) +
    (px - 1) * Math.log(zbar) +
    px * Math.log(x) -
    (px + q) * Math.log(gamma + x * zbar)
  );
}

/**
 * Σ count[i] · {@link gammaGammaLogLikelihood} over the repeat buyers. The terms that depend on x only (ln Γ(px+q),
 * ln Γ(px), px ln x) are computed once per distinct integer x, so a buyer costs two logarithms.
 * @throws Error when a row has x < 1 or zbar ≤ 0.
 */
export function gammaGammaPopulationLogLikelihood(params: GammaGammaParams, data: GammaGammaData): number {
  const { p, q, gamma } = params;
  const byX = new Map<number, number>();
  const base = -gammaln(q) + q * Math.log(gamma);
  let sum = 0;
  for (let i = 0; i < data.x.length; i++) {
    const x = data.x[i]!;
    const zbar = data.zbar[i]!;
    if (!(x >= 1)) throw new Error(`Gamma-Gamma: x must be ≥ 1 (repeat buyers only), got ${x} in row ${i}`);
    if (!(zbar > 0)) throw new Error(`Gamma-Gamma: zbar must be > 0, got ${zbar} in row ${i}`);
    const px = p * x;
    let constX = byX.get(x);
    if (constX === undefined) {
      constX = base + gammaln(px + q) - gammaln(px) + px * Math.log(x);
      byX.set(x, constX);
    }
    const ll = constX + (px - 1) * Math.log(zbar) - (px + q) * Math.log(gamma + x * zbar);
    sum += data.count ? data.count[i]! * ll : ll;
  }
  return sum;
}

/**
 * Population mean spend per transaction E[Z] = pγ/(q−1) (q > 1), in the unit of γ: the expected spend of a customer
 * with no repeat transaction.
 * @throws Error when q ≤ 1 (the mean does not exist).
 */
export function populationMeanSpend(params: GammaGammaParams): number {
  if (!(params.q > 1)) throw new Error(`Gamma-Gamma: the mean spend needs q > 1, got q = ${params.q}`);
  return (params.p * params.gamma) / (params.q - 1);
}

/**
 * Conditional expected spend per transaction E[Z | x, zbar] (Fader & Hardie 2013, the
 * posterior mean of pν):
 * p(γ + x·zbar)/(px + q − 1), a weighted mean of the population mean pγ/(q−1) and the customer's zbar, the weight
 * of zbar growing with x. For x = 0 it is the population mean (zbar is not read). Unit: that of γ and zbar.
 * @throws Error when q ≤ 1.
 */
export function conditionalExpectedSpend(params: GammaGammaParams, x: number, zbar: number): number {
  const { p, q, gamma } = params;
  if (!(q > 1)) throw new Error(`Gamma-Gamma: the expected spend needs q > 1, got q = ${q}`);
  if (x <= 0) return populationMeanSpend(params);
  return (p * (gamma + x * zbar)) / (p * x + q - 1);
}
