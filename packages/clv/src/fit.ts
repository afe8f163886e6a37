/**
 * Maximum-likelihood fits of BG/NBD and Gamma-Gamma. The optimiser is the BFGS minimiser `uncmin` of the `numeric`
 * library (MIT; docs/design-decisions.md §19), run on the logarithms of the parameters so that every point it tries
 * is a valid (positive) parameter vector. The objective is −LL / sample size, so the tolerances do not depend on the
 * population size.
 */
import numeric from 'numeric';
import { type BgNbdData, type BgNbdParams, bgnbdPopulationLogLikelihood } from './bgnbd';
import { type GammaGammaData, type GammaGammaParams, gammaGammaPopulationLogLikelihood } from './gamma-gamma';

/** Outcome of a fit. `converged` false means the iteration budget ran out first (keep the previous model). */
export interface FitResult<P> {
  params: P;
  /** Log-likelihood at `params` (natural log, summed over the population). */
  logLikelihood: number;
  /** Customers the fit used (Σ count). */
  sampleSize: number;
  converged: boolean;
  /** Log-likelihood evaluations (line search and gradients together). */
  evaluations: number;
  /** BFGS iterations (line-search halvings included, as numeric counts them). */
  iterations: number;
  /** Wall-clock milliseconds of the fit. */
  fitMs: number;
  /** Why the fit did not converge; absent when it did. */
  reason?: string;
}

/** Optimiser settings. */
export interface FitOptions {
  /** BFGS iteration budget (default 500); running out of it is a non-converged fit. */
  maxIterations?: number;
  /** Stop when the quasi-Newton step (in log-parameters) is shorter than this (default 1e-9). */
  tolerance?: number;
}

interface MinimiseResult {
  x: number[];
  fx: number;
  converged: boolean;
  evaluations: number;
  iterations: number;
  reason?: string;
}

/** Messages of numeric.uncmin that mean "at a (local) optimum". */
const UNCMIN_CONVERGED = ['Newton step smaller than tol', 'Line search step size smaller than tol'];

/**
 * Minimises f from x0 with numeric's BFGS (`uncmin`), given a central-difference gradient with a fixed step (the
 * parameters are logarithms, so one absolute step suits them all). Non-finite values of f count as NaN, which the
 * line search of uncmin backs away from.
 */
function minimise(f: (x: number[]) => number, x0: number[], options: FitOptions): MinimiseResult {
  const maxIterations = options.maxIterations ?? 500;
  const tolerance = options.tolerance ?? 1e-9;
  const h = 1e-6;
  let evaluations = 0;
  const g = (x: number[]): number => {
    evaluations++;
    const v = f(x);
    return Number.isFinite(v) ? v : Number.NaN;
  };
  const gradient = (x: number[]): number[] =>
    x.map((_, i) => {
      const up = x.slice();
      const down = x.slice();
      up[i]! += h;
      down[i]! -= h;
      return (g(up) - g(down)) / (2 * h);
    });
  if (!Number.isFinite(g(x0))) {
    return {
      x: x0,
      fx: Number.NaN,
      converged: false,
      evaluations,
      iterations: 0,
      reason: 'the log-likelihood is not finite at the starting point',
    };
  }
  const out = numeric.uncmin(g, x0, tolerance, gradient, maxIterations);
  const converged = UNCMIN_CONVERGED.includes(out.message) && Number.isFinite(out.f);
  return {
    x: out.solution,
    fx: out.f,
    converged,
    evaluations,
    iterations: out.iterations,
    ...(converged ? {} : { reason: `BFGS stopped: ${out.message || 'iteration limit'}` }),
  };
}

function total(count: ArrayLike<number> | undefined, n: number): number {
  if (!count) return n;
  let s = 0;
  for (let i = 0; i < n; i++) s += count[i]!;
  return s;
}

/**
 * Maximises `logLikelihood` (of log-parameters `v`) from `x0`: minimises the mean negative log-likelihood over the
 * `size` customers (a scale that keeps the optimiser's tolerances meaningful for any population), and reports the fit.
 */
function fitByMinimising<P>(
  logLikelihood: (v: number[]) => number,
  toParams: (v: number[]) => P,
  x0: number[],
  size: number,
  options: FitOptions,
  started: number,
): FitResult<P> {
  const res = minimise((v) => -logLikelihood(v) / size, x0, options);
  return {
    params: toParams(res.x),
    logLikelihood: -res.fx * size,
    sampleSize: size,
    converged: res.converged,
    evaluations: res.evaluations,
    iterations: res.iterations,
    fitMs: performance.now() - started,
    ...(res.reason ? { reason: res.reason } : {}),
  };
}

/**
 * Maximum-likelihood BG/NBD fit (FHL 2005, eq. 7) on a population in model time units. Start: r = 1,
 * α = mean T / 2 (so α has the scale of the data, whatever the unit), a = 1.5, b = 3.
 * @throws Error when the population is empty.
 */
export function fitBgNbd(data: BgNbdData, options: FitOptions = {}): FitResult<BgNbdParams> {
  const started = performance.now();
  const n = data.x.length;
  const size = total(data.count, n);
  if (size <= 0) throw new Error('BG/NBD fit: empty population');
  let sumT = 0;
  for (let i = 0; i < n; i++) sumT += (data.count ? data.count[i]! : 1) * data.T[i]!;
  const toParams = (v: number[]): BgNbdParams => ({
    r: Math.exp(v[0]!),
    alpha: Math.exp(v[1]!),
    a: Math.exp(v[2]!),
    b: Math.exp(v[3]!),
  });
  const x0 = [0, Math.log(Math.max(sumT / size / 2, 1e-3)), Math.log(1.5), Math.log(3)];
  return fitByMinimising((v) => bgnbdPopulationLogLikelihood(toParams(v), data), toParams, x0, size, options, started);
}

/**
 * Maximum-likelihood Gamma-Gamma fit (Fader & Hardie 2013) on repeat buyers (x ≥ 1, zbar > 0). Start: p = 1,
 * q = 3, γ = 2 · mean zbar (then the population mean pγ/(q−1) equals the mean zbar), so any unit of money works.
 * @throws Error when there is no repeat buyer, or a row has x < 1 or zbar ≤ 0.
 */
export function fitGammaGamma(data: GammaGammaData, options: FitOptions = {}): FitResult<GammaGammaParams> {
  const started = performance.now();
  const n = data.x.length;
  const size = total(data.count, n);
  if (size <= 0) throw new Error('Gamma-Gamma fit: no repeat buyer');
  let sumZ = 0;
  for (let i = 0; i < n; i++) {
    if (!(data.x[i]! >= 1) || !(data.zbar[i]! > 0)) {
      throw new Error(`Gamma-Gamma fit: row ${i} has x = ${data.x[i]}, zbar = ${data.zbar[i]} (need x ≥ 1, zbar > 0)`);
    }
    sumZ += (data.count ? data.count[i]! : 1) * data.zbar[i]!;
  }
  const toParams = (v: number[]): GammaGammaParams => ({
    p: Math.exp(v[0]!),
    q: Math.exp(v[1]!),
    gamma: Math.exp(v[2]!),
  });
  const x0 = [0, Math.log(3), Math.log((2 * sumZ) / size)];
  return fitByMinimising(
    (v) => gammaGammaPopulationLogLikelihood(toParams(v), data),
    toParams,
    x0,
    size,
    options,
    started,
  );
}

/**
 * Groups identical (x, t_x, T) rows into one row with a count: the BG/NBD likelihood depends on a customer only
 * through these three numbers, so a population measured in whole days has far fewer distinct rows than customers.
 * The groups come out sorted by (x, t_x, T), so the fit does not depend on the order the population was read in
 * (the engine gathers it from partitions in any order; the floating-point sums then run in one order).
 */
export function compressBgNbd(rows: readonly { x: number; tx: number; T: number }[]): Required<BgNbdData> {
  const sorted = [...rows].sort((p, q) => p.x - q.x || p.tx - q.tx || p.T - q.T);
  return groupSorted(sorted);
}

function groupSorted(rows: readonly { x: number; tx: number; T: number }[]): Required<BgNbdData> {
  const index = new Map<string, number>();
  const x: number[] = [];
  const tx: number[] = [];
  const T: number[] = [];
  const count: number[] = [];
  for (const row of rows) {
    const key = `${row.x}|${row.tx}|${row.T}`;
    const at = index.get(key);
    if (at !== undefined) count[at]!++;
    else {
      index.set(key, x.length);
      x.push(row.x);
      tx.push(row.tx);
      T.push(row.T);
      count.push(1);
    }
  }
  return { x, tx, T, count };
}
