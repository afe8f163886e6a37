import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseRules, type TierState } from '@tierstream/tiering';
import { describe, expect, it } from 'vitest';
import { beyondEngineNote, fromHistoryRows, pendingDemotions } from '../src/ops/customer-view';
import { REPO_ROOT } from '../src/supervisor';

const rules = parseRules(readFileSync(path.join(REPO_ROOT, 'rules/default.yaml'), 'utf8'), 'rules/default.yaml');
const DAY = (iso: string) => Date.parse(`${iso}T00:00:00Z`) / 86_400_000;

const state = (pending: TierState['pending']): TierState => ({
  customer_id: 'C1',
  version: 3,
  rules_version: rules.version,
  cutpoints_version: 'cp',
  last_eval_day: DAY('2026-06-20'),
  tiers: { value_tier: 'PLATINUM', rfm_segment: 'CHAMPION' },
  pending,
  decided_by: {},
});

describe('pendingDemotions', () => {
  it('gives target, since and until (since + the dimension grace_days) as ISO days', () => {
    const valueGrace = rules.dimensions.find((d) => d.id === 'value_tier')!.grace_days;
    expect(valueGrace).toBeGreaterThan(0);
    const out = pendingDemotions(state({ value_tier: { tier: 'GOLD', since_day: DAY('2026-06-18') } }), rules);
    expect(out).toEqual({
      value_tier: {
        tier: 'GOLD',
        since_day: '2026-06-18',
        until_day: new Date((DAY('2026-06-18') + valueGrace) * 86_400_000).toISOString().slice(0, 10),
      },
    });
  });

  it('until_day is null without the rules, and no pending gives an empty record', () => {
    expect(pendingDemotions(state({ value_tier: { tier: 'GOLD', since_day: DAY('2026-06-18') } }), null)).toEqual({
      value_tier: { tier: 'GOLD', since_day: '2026-06-18', until_day: null },
    });
    expect(pendingDemotions(state({}), rules)).toEqual({});
  });
});

describe('fromHistoryRows', () => {
  it('splits tiers (with the day they took effect) from metrics and derives recency_days on the asked day', () => {
    const lastOrder = Date.parse('2026-03-10T15:00:00Z');
    const out = fromHistoryRows(
      [
        { kind: 'tier', name: 'value_tier', value: 'GOLD', valid_from: '2026-03-01', basis_day: '2026-03-01' },
        { kind: 'tier', name: 'lifecycle', value: 'ACTIVE', valid_from: '2026-03-01', basis_day: '2026-03-01' },
        { kind: 'metric', name: 'revenue_365d', value: '12345', valid_from: '2026-03-10', basis_day: '2026-03-10' },
        {
          kind: 'metric',
          name: 'last_order_at',
          value: String(lastOrder),
          valid_from: '2026-03-10',
          basis_day: '2026-03-10',
        },
        { kind: 'metric', name: 'recency_days', value: '0', valid_from: '2026-03-10', basis_day: '2026-03-10' },
      ],
      DAY('2026-03-31'),
    );
    expect(out.tiers).toEqual({ value_tier: 'GOLD', lifecycle: 'ACTIVE' });
    expect(out.tiersFrom).toBe('2026-03-01');
    expect(out.metrics).toEqual({ revenue_365d: 12345, last_order_at: lastOrder, recency_days: 21 });
  });

  it('no rows: no tiers and no metrics', () => {
    expect(fromHistoryRows([], DAY('2026-03-31'))).toEqual({ tiers: null, tiersFrom: null, metrics: null });
  });
});

describe('beyondEngineNote', () => {
  it('says when the day asked for is after the last day the engine decided (tiers last known, metrics of the day)', () => {
    expect(beyondEngineNote(DAY('2026-06-30'), DAY('2026-06-30'))).toBeNull();
    expect(beyondEngineNote(DAY('2026-03-31'), DAY('2026-06-30'))).toBeNull();
    expect(beyondEngineNote(DAY('2030-01-01'), DAY('2026-06-30'))).toBe(
      '2030-01-01 is after the last day the tier engine has decided (2026-06-30): the tiers are the last known ones, ' +
        'not evaluated for 2030-01-01, while the metrics are computed for 2030-01-01',
    );
    expect(beyondEngineNote(DAY('2026-06-30'), null)).toMatch(/has not closed any day yet/);
  });
});
