/**
 * Special functions, from stdlib-js (Apache-2.0): one place that names the library functions the models use, so a
 * change of library touches one file. See docs/design-decisions.md §19.
 */
import betalnImpl from '@stdlib/math-base-special-betaln';
import gammalnImpl from '@stdlib/math-base-special-gammaln';
import hyp2f1Impl from '@stdlib/math-base-special-hyp2f1';

/** ln Γ(x) for x > 0 (stdlib `gammaln`). */
export const gammaln: (x: number) => number = gammalnImpl;

/** ln B(a, b) = ln Γ(a) + ln Γ(b) − ln Γ(a + b), a, b > 0 (stdlib `betaln`). */
export const betaln: (a: number, b: number) => number = betalnImpl;

/**
 * Gauss hypergeometric function ₂F₁(a, b; c; z) (stdlib `hyp2f1`). The models call it with 0 ≤ z < 1.
 * @throws Error when the result is not finite (the library returns NaN or ±∞ outside its domain).
 */
export function hyp2f1(a: number, b: number, c: number, z: number): number {
  const v = hyp2f1Impl(a, b, c, z);
  if (!Number.isFinite(v)) throw new Error(`hyp2f1(${a}, ${b}; ${c}; ${z}) is not finite`);
  return v;
}
