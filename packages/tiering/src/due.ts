/**
 * nextDueDay: the first day after `fromDay` on which, with no new event, a re-evaluation could change the result.
 *
 * Without events, inputs only move in three ways: window metrics change on roll-off days (given by the caller),
 * day-linear metrics (recency_days, ...) grow by exactly 1 per day, engagement_score only decreases.
 * So between two jump days (roll-offs, and days of events already applied ahead of `fromDay` in a replay) every
 * comparison `lhs op rhs` has a monotone difference f(d) = lhs(d) - rhs(d), and its outcome can only flip on the
 * first day f reaches 0 or crosses it. Those days (by arithmetic for day-linear metrics, by binary search over
 * metricsAtDay for engagement), the jump days and the grace expiry of pending demotions are the candidates; the
 * answer is the smallest. Returning a day on which nothing changes is harmless (the engine re-evaluates and asks
 * again); skipping one is not.
 */
import { metricComparisons } from './conditions';
import { rfmCuts, shareCuts } from './cutpoints';
import { type Attributes, type Metrics, metricDrift } from './metrics';
import type { CutPoints, Rules, TierState } from './types';

export const DUE_SEARCH_HORIZON_DAYS = 800;

export interface NextDueInput {
  rules: Rules;
  cutPoints: CutPoints;
  state: TierState;
  fromDay: number;
  metricsAtDay: (day: number) => Metrics;
  /** Days on which a window metric changes without a new event (bucket day + window length). */
  rollOffDays: number[];
  /**
   * Days after `fromDay` that already hold applied events: in a replay the aggregator runs ahead of the evaluated
   * day, so `metricsAtDay` of a later day includes them. Metrics jump on those days (engagement rises, recency
   * resets), so no search may look past the next one; live there are none.
   */
  eventDays: number[];
  attributes?: Attributes | null;
}

/**
 * lhs (a metric) compared with rhs (a constant or another metric). `ge`: the outcome is that of lhs >= rhs
 * (gte, lt, thresholds, "higher is better" cuts); `gt`: that of lhs > rhs (gt, lte, "lower is better" cuts);
 * `both` for eq / neq.
 */
interface Pair {
  lhs: string;
  rhs: number | string;
  kind: 'ge' | 'gt' | 'both';
}

const KIND_OF_OP: Record<string, Pair['kind']> = { gte: 'ge', lt: 'ge', gt: 'gt', lte: 'gt', eq: 'both', neq: 'both' };

function pairsOfDimension(input: NextDueInput): Pair[] {
  const pairs: Pair[] = [];
  const { cutPoints } = input;
  for (const dim of input.rules.dimensions) {
    const s = dim.scoring;
    const comparisons =
      s.kind === 'rules'
        ? s.rules.flatMap((r) => metricComparisons(r.when))
        : s.kind === 'thresholds'
          ? []
          : metricComparisons(s.eligible);
    for (const c of comparisons) {
      if (c.op === 'is_null' || c.op === 'not_null') continue; // null-ness does not change without events
      if (c.range) {
        pairs.push({ lhs: c.metric, rhs: c.range[0], kind: 'ge' }, { lhs: c.metric, rhs: c.range[1], kind: 'gt' });
      } else {
        const rhs = c.ref ?? c.value;
        if (rhs !== null) pairs.push({ lhs: c.metric, rhs, kind: KIND_OF_OP[c.op] ?? 'both' });
      }
    }
    if (s.kind === 'thresholds') for (const t of s.tiers) pairs.push({ lhs: s.metric, rhs: t.min, kind: 'ge' });
    // Anchored cuts grow with the clock like their day-linear metric: those comparisons never flip without events.
    if (s.kind === 'shares') {
      const c = shareCuts(dim, s, cutPoints);
      if (c.anchor === null) for (const cut of c.cuts) pairs.push({ lhs: s.metric, rhs: cut, kind: 'ge' });
    }
    if (s.kind === 'rfm') {
      for (const k of ['r', 'f', 'm'] as const) {
        const kind = s[k].better === 'higher' ? 'ge' : 'gt';
        const c = rfmCuts(dim, k, s[k], cutPoints);
        if (c.anchor === null) for (const cut of c.cuts) pairs.push({ lhs: s[k].metric, rhs: cut, kind });
      }
    }
  }
  return pairs;
}

/** A pair whose outcome can flip without events, with what the search needs to know about it. */
interface MovingPair extends Pair {
  /** f = lhs − rhs rises over days (else it falls) */
  up: boolean;
  /** exact arithmetic: a day-linear metric against a constant */
  arithmetic: boolean;
  needReach: boolean;
  needPass: boolean;
}

/** Moving pairs per rules and cut points (immutable objects the engine keeps): computed once for each. */
const movingPairsMemo = new WeakMap<Rules, WeakMap<CutPoints, MovingPair[]>>();

function movingPairs(input: NextDueInput): MovingPair[] {
  let byCuts = movingPairsMemo.get(input.rules);
  if (!byCuts) {
    byCuts = new WeakMap();
    movingPairsMemo.set(input.rules, byCuts);
  }
  let pairs = byCuts.get(input.cutPoints);
  if (pairs) return pairs;
  pairs = [];
  const seen = new Set<string>();
  for (const p of pairsOfDimension(input)) {
    const key = `${p.lhs}|${typeof p.rhs}|${p.rhs}|${p.kind}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const dl = metricDrift(p.lhs);
    const dr = typeof p.rhs === 'number' ? 'const' : metricDrift(p.rhs);
    // direction of f = lhs - rhs over days
    const up = dl === 'inc1' || dr === 'dec';
    const down = dl === 'dec' || dr === 'inc1';
    if (up === down) continue; // constant (both sides move alike, or neither moves)
    const ge = p.kind !== 'gt';
    const gt = p.kind !== 'ge';
    pairs.push({
      ...p,
      up,
      arithmetic: (dl === 'inc1' && dr === 'const') || (dl === 'const' && dr === 'inc1'),
      needReach: (ge && up) || (gt && down),
      needPass: (gt && up) || (ge && down),
    });
  }
  byCuts.set(input.cutPoints, pairs);
  return pairs;
}

export function nextDueDay(input: NextDueInput): number | null {
  const { fromDay, state, rules } = input;
  let best = Number.POSITIVE_INFINITY;
  const consider = (d: number) => {
    if (d > fromDay && d < best) best = d;
  };

  // The next day on which metrics jump (a roll-off or an already-applied event): a candidate itself, and the end of
  // every search below, since the monotone drift between jumps is what makes the searches exact.
  let nextJump = Number.POSITIVE_INFINITY;
  for (const d of [...input.rollOffDays, ...input.eventDays]) if (d > fromDay && d < nextJump) nextJump = d;
  consider(nextJump);

  for (const dim of rules.dimensions) {
    const p = state.pending[dim.id];
    if (p) consider(Math.max(fromDay + 1, p.since_day + dim.grace_days));
  }

  const searchEnd = Math.min(fromDay + DUE_SEARCH_HORIZON_DAYS, nextJump - 1);
  const cache = new Map<number, Metrics>();
  const at = (d: number): Metrics => {
    let m = cache.get(d);
    if (!m) {
      m = input.metricsAtDay(d);
      cache.set(d, m);
    }
    return m;
  };
  const value = (m: Metrics, x: number | string): number | null => (typeof x === 'number' ? x : (m[x] ?? null));
  const diff = (d: number, p: Pair): number | null => {
    const m = at(d);
    const l = value(m, p.lhs);
    const r = value(m, p.rhs);
    return l === null || r === null ? null : l - r;
  };

  for (const p of movingPairs(input)) {
    const { up, needReach, needPass } = p;
    const f0 = diff(fromDay, p);
    if (f0 === null) continue; // null stays null without events
    // g is f oriented to be non-decreasing. f >= 0 flips where g first reaches 0 (f rising) or first passes 0
    // (f falling: f < 0 <=> g > 0); f > 0 flips where g first passes 0 (rising) or first reaches 0 (falling).
    const g0 = up ? f0 : -f0;
    if (p.arithmetic) {
      if (needReach && g0 < 0) consider(fromDay + Math.ceil(-g0));
      if (needPass && g0 <= 0) consider(fromDay + Math.floor(-g0) + 1);
      continue;
    }
    const g = (d: number): number | null => {
      const f = diff(d, p);
      return f === null ? null : up ? f : -f;
    };
    if (needReach && g0 < 0) consider(firstDay(fromDay + 1, searchEnd, (d) => (g(d) ?? Number.NEGATIVE_INFINITY) >= 0));
    if (needPass && g0 <= 0) consider(firstDay(fromDay + 1, searchEnd, (d) => (g(d) ?? Number.NEGATIVE_INFINITY) > 0));
  }
  return Number.isFinite(best) ? best : null;
}

/** Smallest d in [lo, hi] with pred(d), for a predicate that is monotone (false…false true…true); Infinity if none. */
function firstDay(lo: number, hi: number, pred: (d: number) => boolean): number {
  if (lo > hi || !pred(hi)) return Number.POSITIVE_INFINITY;
  let a = lo;
  let b = hi;
  while (a < b) {
    const mid = a + Math.floor((b - a) / 2);
    if (pred(mid)) b = mid;
    else a = mid + 1;
  }
  return a;
}
