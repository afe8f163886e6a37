import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { describeCondition, parseRules } from '../src/index';
import type { RuleScoring } from '../src/types';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/** The `when` texts of a rules-scored dimension of a repository rules file, keyed by rule id. */
function whenTexts(file: string, dimension: string): Record<string, string> {
  const rules = parseRules(readFileSync(path.join(ROOT, file), 'utf8'), file);
  const scoring = rules.dimensions.find((d) => d.id === dimension)?.scoring as RuleScoring;
  return Object.fromEntries(scoring.rules.map((r) => [r.id, describeCondition(r.when)]));
}

describe('describeCondition', () => {
  it('reads metric conditions with window sugar resolved, and groups them with and', () => {
    const texts = whenTexts('rules/default.yaml', 'lifecycle');
    expect(texts.loyal_frequent_recent).toBe('orders_365d ≥ 4 and recency_days ≤ 60');
    expect(texts.new_first_order).toBe('recency_days ≤ 90');
  });

  it('reads attribute conditions (in a list, between) of the B2B rules', () => {
    const texts = Object.values(whenTexts('rules/b2b.yaml', 'account_fit'));
    expect(texts).toContain(
      'company_size ≥ 200 and industry in [software, financial_services, healthcare, manufacturing]',
    );
    expect(texts.some((t) => t.includes('company_size between 50 and 199'))).toBe(true);
  });

  it('parenthesises nested groups and negations, and names tier and null tests', () => {
    const text = describeCondition({
      type: 'any',
      of: [
        { type: 'tier', dimension: 'value_tier', in: ['GOLD', 'PLATINUM'] },
        {
          type: 'all',
          of: [
            { type: 'metric', metric: 'aov_lifetime', op: 'gt', value: null, range: null, ref: 'aov_365d' },
            { type: 'metric', metric: 'recency_days', op: 'is_null', value: null, range: null, ref: null },
          ],
        },
        { type: 'not', of: { type: 'attribute', attribute: 'region', op: 'eq', value: 'EU' } },
      ],
    });
    expect(text).toBe(
      'value_tier in [GOLD, PLATINUM] or (aov_lifetime > aov_365d and recency_days is null) or not (region = EU)',
    );
  });
});
