import {
  type CutPoints,
  type Dimension,
  describeCondition,
  RFM_KEYS,
  type RfmComponent,
  type Rules,
} from '@tierstream/tiering';
import { isoDay } from '@tierstream/tierstate';

/**
 * The rules page's readable form of a rules document: per dimension a short summary and its scoring as tables of
 * plain cells, with the cut points in force next to the shares and RFM quintile scorings. Pure; the page renders
 * every table the same way.
 */

/** A cell: text, or a number (money metrics' numbers are minor units of the reporting currency). */
export type Cell = string | number | null;

export interface ReadableTable {
  /** What the table shows, e.g. `Shares of customers ranked on revenue_365d (higher is better)`. */
  title: string;
  columns: string[];
  rows: Cell[][];
  /** Indexes of the columns whose numbers are money (minor units): the page formats them in the reporting currency. */
  money: number[];
}

export interface ReadableDimension {
  id: string;
  description: string | null;
  /** Highest first when `ordered`. */
  tiers: string[];
  ordered: boolean;
  grace_days: number;
  grace_applies_to: 'demotions' | 'all';
  /** e.g. `AT_RISK, DORMANT → NEW, ACTIVE reported as REACTIVATED`; null without reactivation. */
  reactivation: string | null;
  scoring: 'rules' | 'thresholds' | 'shares' | 'rfm';
  tables: ReadableTable[];
}

/** Metrics in minor units of the reporting currency (revenue, margin, order values, CLV). */
export function isMoneyMetric(metric: string): boolean {
  return /^(revenue|margin|aov|clv)_/.test(metric) || metric === 'expected_aov';
}

const moneyIf = (metric: string, ...columns: number[]) => (isMoneyMetric(metric) ? columns : []);

function settings(rows: Array<[string, Cell]>): ReadableTable {
  return { title: 'Settings', columns: ['setting', 'value'], rows: rows.map(([k, v]) => [k, v]), money: [] };
}

function sharesTables(d: Dimension & { scoring: { kind: 'shares' } }, cuts: number[] | undefined): ReadableTable[] {
  const s = d.scoring;
  let cumulative = 0;
  const rows = s.tiers.map((t, i): Cell[] => {
    cumulative += t.share;
    const last = i === s.tiers.length - 1;
    return [
      t.tier,
      t.share,
      Math.round(cumulative * 1e6) / 1e6,
      last ? null : (cuts?.[i] ?? null),
      s.fallback_cuts[i] ?? null,
    ];
  });
  return [
    {
      title: `Shares of the eligible customers ranked on ${s.metric} (highest first; a value equal to a cut goes to the better tier)`,
      columns: ['tier', 'share', 'cumulative share', 'minimum in force', 'fallback minimum'],
      rows,
      money: moneyIf(s.metric, 3, 4),
    },
    settings([
      ['eligible', s.eligible ? describeCondition(s.eligible) : 'everyone'],
      ['ineligible tier', s.ineligible_tier],
      ['ties at a cut', s.ties === 'never_exceed' ? 'the lower tier (no tier above its share)' : 'the better tier'],
    ]),
  ];
}

function rfmTables(d: Dimension & { scoring: { kind: 'rfm' } }, cutPoints: CutPoints | null): ReadableTable[] {
  const s = d.scoring;
  const component = (name: 'r' | 'f' | 'm', c: RfmComponent): Cell[] => {
    const key = `${d.id}.${name}`;
    const inForce = c.quintiles ? cutPoints?.cuts[key] : undefined;
    const anchor = cutPoints?.anchored?.[key];
    const from = !inForce
      ? c.quintiles
        ? 'fallback bands (no cut points yet)'
        : 'fixed bands'
      : `cut points ${cutPoints?.version}${anchor === undefined ? '' : ` (as of ${isoDay(anchor)}: + 1 per day since)`}`;
    return [
      name.toUpperCase(),
      c.metric,
      c.better,
      c.quintiles ? 'population quintiles' : 'fixed bands',
      (inForce ?? c.bands).join(', '),
      from,
    ];
  };
  return [
    {
      title: `Scores 5..1 per component: the cuts for the scores 5, 4, 3, 2 (a score ≥ ${s.high_from} is high, H)`,
      columns: ['component', 'metric', 'better', 'scored by', 'cuts (5, 4, 3, 2)', 'from'],
      rows: [component('r', s.r), component('f', s.f), component('m', s.m)],
      money: [],
    },
    {
      title: 'Segments by R, F, M (H high, L low)',
      columns: ['R F M', 'segment'],
      rows: RFM_KEYS.map((k) => [k.split('').join(' '), s.segments[k]]),
      money: [],
    },
    settings([
      ['eligible', s.eligible ? describeCondition(s.eligible) : 'everyone'],
      ['ineligible tier', s.ineligible_tier],
      ['ties at a cut', s.ties === 'never_exceed' ? 'the lower score' : 'the better score'],
    ]),
  ];
}

/** One dimension's summary and tables; `cutPoints`: the version in force (null: none computed yet). */
export function readableDimension(d: Dimension, cutPoints: CutPoints | null): ReadableDimension {
  const s = d.scoring;
  let tables: ReadableTable[];
  switch (s.kind) {
    case 'rules':
      tables = [
        {
          title: 'Rules (the first that matches decides the tier)',
          columns: ['#', 'rule', 'tier', 'when'],
          rows: [
            ...s.rules.map((r, i): Cell[] => [i + 1, r.id, r.tier, describeCondition(r.when)]),
            ['', s.default.id, s.default.tier, 'otherwise'],
          ],
          money: [],
        },
      ];
      break;
    case 'thresholds':
      tables = [
        {
          title: `Thresholds on ${s.metric} (a value ≥ the minimum gets the tier; the highest tier that fits wins)`,
          columns: ['tier', 'minimum'],
          rows: [...s.tiers.map((t): Cell[] => [t.tier, t.min]), [s.default_tier, 'below every minimum, or no value']],
          money: moneyIf(s.metric, 1),
        },
      ];
      break;
    case 'shares':
      tables = sharesTables(d as Dimension & { scoring: typeof s }, cutPoints?.cuts[d.id]);
      break;
    case 'rfm':
      tables = rfmTables(d as Dimension & { scoring: typeof s }, cutPoints);
      break;
  }
  return {
    id: d.id,
    description: d.description,
    tiers: [...d.tiers],
    ordered: d.ordered,
    grace_days: d.grace_days,
    grace_applies_to: d.grace_applies_to,
    reactivation: d.reactivation
      ? `${d.reactivation.from.join(', ')} → ${d.reactivation.to.join(', ')} reported as ${d.reactivation.reason}`
      : null,
    scoring: s.kind,
    tables,
  };
}

/** Every dimension of `rules` in file order (see readableDimension). */
export function readableRules(rules: Rules, cutPoints: CutPoints | null): ReadableDimension[] {
  return rules.dimensions.map((d) => readableDimension(d, cutPoints));
}
