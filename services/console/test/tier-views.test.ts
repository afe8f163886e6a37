import { describe, expect, it } from 'vitest';
import { resolveRange } from '../src/routes/dimension-catalog';
import { MAX_RANGE_DAYS } from '../src/routes/params';
import {
  addDays,
  dayRange,
  daySeries,
  dimensionCatalog,
  migrationMatrix,
  NO_TIER,
  orderTiers,
  tierCounts,
} from '../src/tier-views';

const VALUE = ['PLATINUM', 'GOLD', 'SILVER', 'BRONZE'];

describe('days', () => {
  it('counts across month ends and a leap day', () => {
    expect(addDays('2024-02-28', 1)).toBe('2024-02-29');
    expect(addDays('2024-03-01', -1)).toBe('2024-02-29');
    expect(dayRange('2024-02-28', '2024-03-01')).toEqual(['2024-02-28', '2024-02-29', '2024-03-01']);
    expect(dayRange('2024-03-02', '2024-03-01')).toEqual([]);
  });
});

describe('dimensionCatalog and orderTiers', () => {
  it('keeps the rules order and adds dimensions only the warehouse has', () => {
    const rules = {
      dimensions: [
        { id: 'value_tier', tiers: VALUE, ordered: true },
        { id: 'lifecycle', tiers: ['NEW', 'ACTIVE'], ordered: false },
      ],
    } as never;
    expect(dimensionCatalog(rules, ['old_dim', 'lifecycle', 'value_tier'])).toEqual([
      { id: 'value_tier', tiers: VALUE, ordered: true },
      { id: 'lifecycle', tiers: ['NEW', 'ACTIVE'], ordered: false },
      { id: 'old_dim', tiers: [], ordered: false },
    ]);
    expect(dimensionCatalog(null, ['b', 'a']).map((d) => d.id)).toEqual(['a', 'b']);
  });

  it('orders tiers best first, unknown ones after, (none) last', () => {
    expect(orderTiers(VALUE, ['BRONZE', NO_TIER, 'ZINC', 'PLATINUM', 'COPPER'])).toEqual([
      'PLATINUM',
      'BRONZE',
      'COPPER',
      'ZINC',
      NO_TIER,
    ]);
  });
});

describe('daySeries', () => {
  it('fills missing days with 0 and drops rows outside the range', () => {
    const rows = [
      { day: '2024-03-01', tier: 'GOLD', customers: 2 },
      { day: '2024-03-03', tier: 'GOLD', customers: 3 },
      { day: '2024-03-02', tier: 'PLATINUM', customers: 1 },
      { day: '2024-03-09', tier: 'SILVER', customers: 7 },
    ];
    expect(
      daySeries(
        rows,
        '2024-03-01',
        '2024-03-03',
        (r) => r.tier,
        (r) => r.customers,
        (k) => orderTiers(VALUE, k),
      ),
    ).toEqual({
      days: ['2024-03-01', '2024-03-02', '2024-03-03'],
      series: [
        { name: 'PLATINUM', values: [0, 1, 0] },
        { name: 'GOLD', values: [2, 0, 3] },
      ],
    });
  });

  it('adds up rows of the same key and day (reasons of several dimensions)', () => {
    const rows = [
      { day: '2024-03-01', reason: 'r', n: 2 },
      { day: '2024-03-01', reason: 'r', n: 5 },
    ];
    expect(
      daySeries(
        rows,
        '2024-03-01',
        '2024-03-01',
        (r) => r.reason,
        (r) => r.n,
        (k) => [...k],
      ).series,
    ).toEqual([{ name: 'r', values: [7] }]);
  });
});

describe('migrationMatrix', () => {
  // The SQL pack's answer for the warehouse scenario (value_tier 03-02 -> 03-06) plus a stayer.
  const rows = [
    { from_tier: NO_TIER, to_tier: 'BRONZE', customers: 1 },
    { from_tier: NO_TIER, to_tier: 'GOLD', customers: 1 },
    { from_tier: 'BRONZE', to_tier: 'GOLD', customers: 1 },
    { from_tier: 'SILVER', to_tier: NO_TIER, customers: 1 },
    { from_tier: 'GOLD', to_tier: 'GOLD', customers: 3 },
    { from_tier: 'GOLD', to_tier: 'PLATINUM', customers: 1 },
  ];

  it('orders rows and columns best first, (none) last, with each row’s shares adding up to 1', () => {
    const m = migrationMatrix(rows, VALUE);
    expect(m.from_tiers).toEqual(['GOLD', 'SILVER', 'BRONZE', NO_TIER]);
    expect(m.to_tiers).toEqual(['PLATINUM', 'GOLD', 'BRONZE', NO_TIER]);
    expect(m.cells.map((c) => [c.from_tier, c.to_tier, c.customers, c.share])).toEqual([
      ['GOLD', 'PLATINUM', 1, 0.25],
      ['GOLD', 'GOLD', 3, 0.75],
      ['SILVER', NO_TIER, 1, 1],
      ['BRONZE', 'GOLD', 1, 1],
      [NO_TIER, 'GOLD', 1, 0.5],
      [NO_TIER, 'BRONZE', 1, 0.5],
    ]);
    expect(m.from_totals).toEqual({ [NO_TIER]: 2, BRONZE: 1, SILVER: 1, GOLD: 4 });
    expect(m.to_totals).toEqual({ BRONZE: 1, GOLD: 5, [NO_TIER]: 1, PLATINUM: 1 });
    expect([m.total, m.stayed, m.moved]).toEqual([8, 3, 5]);
  });

  it('is empty without rows', () => {
    expect(migrationMatrix([], VALUE)).toEqual({
      from_tiers: [],
      to_tiers: [],
      cells: [],
      from_totals: {},
      to_totals: {},
      total: 0,
      stayed: 0,
      moved: 0,
    });
  });
});

describe('tierCounts', () => {
  it('counts customers with a tier, shares of those, and those without one apart', () => {
    const c = tierCounts(
      [
        { tier: '', customers: 5, metrics_day: '2024-03-01' },
        { tier: 'BRONZE', customers: 3, metrics_day: '2024-03-08' },
        { tier: 'PLATINUM', customers: 1, metrics_day: '2024-03-07' },
      ],
      VALUE,
    );
    expect(c).toEqual({
      tiers: [
        { tier: 'PLATINUM', customers: 1, share: 0.25 },
        { tier: 'BRONZE', customers: 3, share: 0.75 },
      ],
      total: 4,
      without_tier: 5,
      metrics_day: '2024-03-08',
    });
    expect(tierCounts([], VALUE)).toEqual({ tiers: [], total: 0, without_tier: 0, metrics_day: null });
  });
});

describe('resolveRange', () => {
  const catalog = (range: { from: string; to: string } | null) => ({
    rules: null,
    dimensions: [{ id: 'value_tier', tiers: VALUE, ordered: true }],
    range,
  });

  it("defaults to the data's days, at most MAX_RANGE_DAYS of them, and checks the dimension", () => {
    expect(resolveRange(catalog({ from: '2026-03-03', to: '2026-06-30' }), {}, '2030-01-01')).toEqual({
      from: '2026-03-03',
      to: '2026-06-30',
    });
    expect(resolveRange(catalog({ from: '1990-01-01', to: '2026-06-30' }), {}, '2030-01-01')).toEqual({
      from: addDays('2026-06-30', -(MAX_RANGE_DAYS - 1)),
      to: '2026-06-30',
    });
    // a `to` before the data: from = to
    expect(resolveRange(catalog({ from: '2026-03-03', to: '2026-06-30' }), { to: '2026-01-01' }, 'x')).toEqual({
      from: '2026-01-01',
      to: '2026-01-01',
    });
    expect(resolveRange(catalog(null), {}, '2030-01-01')).toEqual({ from: '2030-01-01', to: '2030-01-01' });
    expect(() => resolveRange(catalog(null), { dimension: 'lifecycle' }, '2030-01-01')).toThrow(
      "dimension: unknown dimension 'lifecycle' (known: value_tier)",
    );
  });
});
