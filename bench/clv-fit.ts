/**
 * CLV model fit time (issue 15): `npx tsx bench/clv-fit.ts [--customers 100000] [--seed 1] [--ungrouped]`.
 * Simulates a CDNOW-like BG/NBD + Gamma-Gamma population (packages/clv simulateBgNbd) and times what a day close
 * would do: group the (x, t_x, T) rows, fit BG/NBD, fit Gamma-Gamma on the repeat buyers. Pure CPU, no stack.
 * Target: ≤ 10 s for 100,000 customers on the 2-core machine. Prints one JSON object.
 */
import { parseArgs } from 'node:util';
import { timeFit } from '@tierstream/clv';
import { Rng } from '@tierstream/generator';

const { values } = parseArgs({
  options: {
    customers: { type: 'string', default: '100000' },
    seed: { type: 'string', default: '1' },
    ungrouped: { type: 'boolean', default: false },
  },
});
const customers = Number(values.customers);
if (!Number.isInteger(customers) || customers < 1)
  throw new Error(`--customers must be a positive integer, got ${values.customers}`);
const result = timeFit(new Rng(Number(values.seed)), customers, { ungrouped: values.ungrouped });
console.log(JSON.stringify({ ...result, targetMs: 10_000, withinTarget: result.totalFitMs <= 10_000 }, null, 2));
