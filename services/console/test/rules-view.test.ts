import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type CutPoints, parseRules } from '@tierstream/tiering';
import { describe, expect, it } from 'vitest';
import { isMoneyMetric, readableRules } from '../src/rules-view';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const rulesOf = (file: string) => parseRules(readFileSync(path.join(ROOT, file), 'utf8'), file);

describe('readableRules', () => {
  const rules = rulesOf('rules/default.yaml');
  const cutPoints: CutPoints = {
    version: 'cp-2024-06-30',
    computed_at: 0,
    cuts: { value_tier: [90000, 40000, 12000], 'rfm_segment.r': [7, 20, 45, 100], 'rfm_segment.m': [1, 2, 3, 4] },
    anchored: { 'rfm_segment.r': 19904 },
  };
  const dims = readableRules(rules, cutPoints);

  it('keeps every dimension in file order with its tiers and grace', () => {
    expect(dims.map((d) => d.id)).toEqual(rules.dimensions.map((d) => d.id));
    const value = dims.find((d) => d.id === 'value_tier')!;
    expect(value).toMatchObject({ scoring: 'shares', ordered: true, grace_days: 14, grace_applies_to: 'demotions' });
    expect(value.tiers).toEqual(['PLATINUM', 'GOLD', 'SILVER', 'BRONZE']);
  });

  it('puts the cut points in force next to the shares, money columns marked', () => {
    const table = dims.find((d) => d.id === 'value_tier')!.tables[0]!;
    expect(table.rows).toEqual([
      ['PLATINUM', 0.2, 0.2, 90000, 100000],
      ['GOLD', 0.3, 0.5, 40000, 30000],
      ['SILVER', 0.3, 0.8, 12000, 10000],
      ['BRONZE', 0.2, 1, null, null],
    ]);
    expect(table.money).toEqual([3, 4]);
  });

  it('shows RFM quintile components with the cuts in force (anchored ones with their day), bands otherwise', () => {
    const [components, segments] = dims.find((d) => d.id === 'rfm_segment')!.tables;
    expect(components!.rows.map((r) => [r[0], r[4], r[5]])).toEqual([
      ['R', '7, 20, 45, 100', 'cut points cp-2024-06-30 (as of 2024-06-30: + 1 per day since)'],
      ['F', '10, 6, 3, 2', 'fixed bands'],
      ['M', '1, 2, 3, 4', 'cut points cp-2024-06-30'],
    ]);
    expect(segments!.rows).toContainEqual(['H H H', 'CHAMPION']);
    expect(segments!.rows).toHaveLength(8);
    const noCuts = readableRules(rules, null).find((d) => d.id === 'rfm_segment')!.tables[0]!;
    expect(noCuts.rows[0]![4]).toBe('14, 30, 60, 120');
    expect(noCuts.rows[0]![5]).toBe('fallback bands (no cut points yet)');
  });

  it('lists rules in order with readable conditions and the default last', () => {
    const table = dims.find((d) => d.id === 'lifecycle')!.tables[0]!;
    expect(table.rows[0]).toEqual([1, 'loyal_frequent_recent', 'LOYAL', 'orders_365d ≥ 4 and recency_days ≤ 60']);
    const scoring = rules.dimensions.find((d) => d.id === 'lifecycle')!.scoring as unknown as { rules: unknown[] };
    expect(table.rows).toHaveLength(scoring.rules.length + 1);
    expect(table.rows.at(-1)?.[3]).toBe('otherwise');
  });

  it('shows thresholds highest first with the default tier, money formatted', () => {
    const b2b = readableRules(rulesOf('rules/b2b.yaml'), null);
    const table = b2b.find((d) => d.scoring === 'thresholds')!.tables[0]!;
    expect(table.rows.slice(0, 3)).toEqual([
      ['STRATEGIC', 50000000],
      ['KEY', 10000000],
      ['GROWTH', 2000000],
    ]);
    expect(table.rows[3]![0]).toBe('STANDARD');
    expect(table.money).toEqual([1]);
  });

  it('knows the money metrics', () => {
    expect(['revenue_365d', 'margin_lifetime', 'aov_lifetime', 'clv_365d', 'expected_aov'].every(isMoneyMetric)).toBe(
      true,
    );
    expect(['orders_365d', 'recency_days', 'expected_orders_90d', 'engagement_score'].some(isMoneyMetric)).toBe(false);
  });
});
