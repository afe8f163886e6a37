// Types for the part of `numeric` 1.2.6 (MIT, CommonJS, no bundled types) this package calls.
declare module 'numeric' {
  interface UncminResult {
    solution: number[];
    f: number;
    gradient: number[];
    invHessian: number[][];
    iterations: number;
    message: string;
  }
  const numeric: {
    /** Unconstrained minimisation by BFGS with a backtracking line search. */
    uncmin(
      f: (x: number[]) => number,
      x0: number[],
      tol?: number,
      gradient?: (x: number[]) => number[],
      maxit?: number,
    ): UncminResult;
  };
  export = numeric;
}
