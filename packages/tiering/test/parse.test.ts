import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { KNOWN_METRICS, parseRules, RulesError } from '../src/index';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/** The issues a bad file produces (fails the test if it parses). */
function issuesOf(text: string, file = 'rules/bad.yaml'): string[] {
  try {
    parseRules(text, file);
  } catch (e) {
    expect(e).toBeInstanceOf(RulesError);
    return (e as RulesError).issues;
  }
  throw new Error('expected the file to be rejected');
}

const sharesDim = (tiers: string, extra = '') => `
version: "t1"
dimensions:
  - id: value_tier
    tiers: [PLATINUM, GOLD, SILVER, BRONZE]
    scoring:
      kind: shares
      metric: revenue_365d
      tiers:
${tiers}
      eligible: { metric: revenue_365d, op: gt, value: 0 }
      ineligible_tier: BRONZE
      fallback_cuts: [300, 200, 100]
${extra}`;

const GOOD_SHARES = `        - { tier: PLATINUM, share: 0.2 }
        - { tier: GOLD, share: 0.3 }
        - { tier: SILVER, share: 0.3 }
        - { tier: BRONZE, share: 0.2 }`;

describe('parseRules: validation messages', () => {
  it('accepts a well-formed shares file', () => {
    const rules = parseRules(sharesDim(GOOD_SHARES), 'rules/ok.yaml');
    expect(rules.version).toBe('t1');
    expect(rules.dimensions[0]!.grace_days).toBe(0);
    expect(rules.dimensions[0]!.ordered).toBe(true);
  });

  it('wrong type: names file, path, expectation and the value found', () => {
    const bad = GOOD_SHARES.replace('{ tier: GOLD, share: 0.3 }', '{ tier: GOLD, share: "x" }');
    expect(issuesOf(sharesDim(bad), 'rules/default.yaml')).toEqual([
      'rules/default.yaml: dimensions[0].scoring.tiers[1].share: expected a number between 0 and 1, got "x"',
    ]);
  });

  it('out of range number', () => {
    const bad = GOOD_SHARES.replace('share: 0.2 }\n        - { tier: GOLD', 'share: 1.5 }\n        - { tier: GOLD');
    expect(issuesOf(sharesDim(bad))).toContain(
      'rules/bad.yaml: dimensions[0].scoring.tiers[0].share: expected a number between 0 and 1, got 1.5',
    );
  });

  it('missing required key', () => {
    const text = sharesDim(GOOD_SHARES).replace('version: "t1"\n', '');
    expect(issuesOf(text)).toEqual(['rules/bad.yaml: version: expected a version string, got nothing (missing key)']);
  });

  it('missing key deeper down', () => {
    const text = sharesDim(GOOD_SHARES).replace('      ineligible_tier: BRONZE\n', '');
    expect(issuesOf(text)).toEqual([
      'rules/bad.yaml: dimensions[0].scoring.ineligible_tier: expected a tier name (letters, digits and _, starting with a letter), got nothing (missing key)',
    ]);
  });

  it('shares not summing to 1', () => {
    const bad = GOOD_SHARES.replace('{ tier: SILVER, share: 0.3 }', '{ tier: SILVER, share: 0.2 }');
    expect(issuesOf(sharesDim(bad))).toEqual([
      'rules/bad.yaml: dimensions[0].scoring.tiers: expected shares summing to 1, got 0.9',
    ]);
  });

  it('wrong number of fallback cuts', () => {
    const text = sharesDim(GOOD_SHARES).replace('fallback_cuts: [300, 200, 100]', 'fallback_cuts: [300, 200]');
    expect(issuesOf(text)).toEqual([
      'rules/bad.yaml: dimensions[0].scoring.fallback_cuts: expected 3 cut values (one fewer than tiers), got 2',
    ]);
  });

  it('unknown key (a typo) lists the allowed keys', () => {
    const text = sharesDim(GOOD_SHARES).replace('    tiers: [PLATINUM', '    grace_dayz: 3\n    tiers: [PLATINUM');
    expect(issuesOf(text)).toEqual([
      'rules/bad.yaml: dimensions[0].grace_dayz: unknown key (expected one of: id, description, tiers, ordered, grace_days, grace_applies_to, reactivation, scoring)',
    ]);
  });

  it('tier referenced by scoring must exist in the dimension', () => {
    const text = sharesDim(GOOD_SHARES).replace('ineligible_tier: BRONZE', 'ineligible_tier: COPPER');
    expect(issuesOf(text)).toEqual([
      'rules/bad.yaml: dimensions[0].scoring.ineligible_tier: unknown tier "COPPER"; expected one of PLATINUM, GOLD, SILVER, BRONZE (the dimension\'s tiers)',
    ]);
  });

  const rulesFile = (when: string, before = '') => `
version: "t2"
dimensions:${before}
  - id: flag
    tiers: [HIGH, LOW]
    scoring:
      kind: rules
      rules:
        - id: r1
          tier: HIGH
          when: ${when}
      default: { id: d, tier: LOW }
`;

  it('unknown metric lists close names', () => {
    expect(issuesOf(rulesFile('{ metric: revenue_356d, op: gt, value: 1 }'))).toEqual([
      'rules/bad.yaml: dimensions[0].scoring.rules[0].when.metric: unknown metric "revenue_356d" (did you mean revenue_365d, revenue_30d, revenue_90d?)',
    ]);
  });

  it('window sugar resolves to the windowed metric, and is checked too', () => {
    const ok = parseRules(rulesFile('{ metric: orders, window: 90d, op: gte, value: 2 }'), 'x.yaml');
    const s = ok.dimensions[0]!.scoring;
    expect(s.kind === 'rules' && s.rules[0]!.when).toMatchObject({
      type: 'metric',
      metric: 'orders_90d',
      op: 'gte',
      value: 2,
    });
    expect(issuesOf(rulesFile('{ metric: csat, window: 30d, op: gt, value: 1 }'))[0]).toMatch(
      /^rules\/bad\.yaml: dimensions\[0\]\.scoring\.rules\[0\]\.when\.metric: unknown metric "csat_30d"/,
    );
  });

  it('forward dimension reference', () => {
    const text = `
version: "t3"
dimensions:
  - id: value_potential
    tiers: [STAR, DOG]
    scoring:
      kind: rules
      rules:
        - id: star
          tier: STAR
          when: { tier: { dimension: value_tier, in: [GOLD] } }
      default: { id: dog, tier: DOG }
  - id: value_tier
    tiers: [GOLD, BRONZE]
    scoring: { kind: thresholds, metric: revenue_365d, tiers: [{ tier: GOLD, min: 10 }], default_tier: BRONZE }
`;
    expect(issuesOf(text)).toEqual([
      'rules/bad.yaml: dimensions[0].scoring.rules[0].when.tier.dimension: dimension "value_tier" is defined later in the file; expected an earlier dimension (none)',
    ]);
  });

  it('tier condition naming a tier the earlier dimension does not have', () => {
    const before = `
  - id: value_tier
    tiers: [GOLD, BRONZE]
    scoring: { kind: thresholds, metric: revenue_365d, tiers: [{ tier: GOLD, min: 10 }], default_tier: BRONZE }`;
    expect(issuesOf(rulesFile('{ tier: { dimension: value_tier, in: [GOLD, PLATINUM] } }', before))).toEqual([
      'rules/bad.yaml: dimensions[1].scoring.rules[0].when.tier.in[1]: unknown tier "PLATINUM" of dimension "value_tier"; expected one of GOLD, BRONZE',
    ]);
  });

  it('condition value must match the op', () => {
    expect(issuesOf(rulesFile('{ metric: recency_days, op: between, value: [90, 30] }'))).toEqual([
      'rules/bad.yaml: dimensions[0].scoring.rules[0].when.value: expected a list [low, high] of two numbers with low <= high for op between, got a list of 2',
    ]);
    expect(issuesOf(rulesFile('{ metric: recency_days, op: gt }'))).toEqual([
      'rules/bad.yaml: dimensions[0].scoring.rules[0].when.value: expected a number or {metric: <name>} for op gt, got nothing (missing key)',
    ]);
    expect(issuesOf(rulesFile('{ metric: recency_days, op: greater, value: 3 }'))).toEqual([
      'rules/bad.yaml: dimensions[0].scoring.rules[0].when.op: expected one of gt, gte, lt, lte, eq, neq, between, is_null, not_null, got "greater"',
    ]);
  });

  it('not a condition at all', () => {
    expect(issuesOf(rulesFile('{ metrik: recency_days }'))).toEqual([
      'rules/bad.yaml: dimensions[0].scoring.rules[0].when: expected a condition (a mapping with metric, attribute, tier, all, any or not), got a mapping',
    ]);
  });

  it('duplicate ids', () => {
    const text = `
version: "t4"
dimensions:
  - id: flag
    tiers: [HIGH, LOW, HIGH]
    scoring:
      kind: rules
      rules:
        - { id: r1, tier: HIGH, when: { metric: open_tickets, op: gt, value: 1 } }
        - { id: r1, tier: HIGH, when: { metric: open_tickets, op: gt, value: 2 } }
      default: { id: d, tier: LOW }
  - id: flag
    tiers: [A]
    scoring: { kind: rules, rules: [], default: { id: d, tier: A } }
`;
    expect(issuesOf(text)).toEqual([
      'rules/bad.yaml: dimensions[1].id: duplicate dimension id "flag" (first at dimensions[0])',
      'rules/bad.yaml: dimensions[0].tiers[2]: duplicate tier "HIGH"',
      'rules/bad.yaml: dimensions[0].scoring.rules[1].id: duplicate rule id "r1"',
    ]);
  });

  it('unknown scoring kind', () => {
    const text = sharesDim(GOOD_SHARES).replace('kind: shares', 'kind: pyramid');
    expect(issuesOf(text)).toEqual([
      'rules/bad.yaml: dimensions[0].scoring.kind: expected a scoring with kind one of rules, thresholds, shares, rfm, got "pyramid"',
    ]);
  });

  it('YAML syntax errors name file, line and column', () => {
    const issues = issuesOf('version: "1"\ndimensions: [\n', 'rules/broken.yaml');
    expect(issues.length).toBeGreaterThan(0);
    expect(issues[0]).toMatch(/^rules\/broken\.yaml: line \d+, column \d+: invalid YAML: /);
  });
});

describe('shipped rules files', () => {
  for (const file of ['rules/default.yaml', 'rules/b2b.yaml']) {
    it(`${file} parses`, () => {
      const rules = parseRules(readFileSync(path.join(ROOT, file), 'utf8'), file);
      expect(rules.version.length).toBeGreaterThan(0);
      expect(rules.dimensions.length).toBeGreaterThanOrEqual(5);
    });
  }

  it('default.yaml has the model the design asks for', () => {
    const rules = parseRules(readFileSync(path.join(ROOT, 'rules/default.yaml'), 'utf8'), 'rules/default.yaml');
    const byId = Object.fromEntries(rules.dimensions.map((d) => [d.id, d]));
    expect(byId.value_tier!.tiers).toEqual(['PLATINUM', 'GOLD', 'SILVER', 'BRONZE']);
    expect(byId.value_tier!.grace_days).toBe(14);
    const vt = byId.value_tier!.scoring;
    expect(vt.kind === 'shares' && vt.tiers.map((t) => t.share)).toEqual([0.2, 0.3, 0.3, 0.2]);
    expect(byId.rfm_segment!.ordered).toBe(false);
    for (const t of ['CHAMPION', 'LOYAL_AT_RISK', 'POTENTIAL', 'BIG_SPENDER_LOST', 'NO_PURCHASE']) {
      expect(byId.rfm_segment!.tiers).toContain(t);
    }
    expect(byId.lifecycle!.ordered).toBe(false);
    expect(byId.lifecycle!.reactivation?.reason).toBe('REACTIVATED');
    expect(byId.value_potential!.tiers).toEqual(['STAR', 'CASH_COW', 'QUESTION_MARK', 'DOG']);
    expect(byId.service_flag!.tiers).toContain('COMPLAINT_RISK');
  });
});

describe('KNOWN_METRICS', () => {
  it('includes the per-type web metrics and the core names', () => {
    for (const m of [
      'web_webinar_attended_90d',
      'web_demo_requested_90d',
      'web_sales_meeting_365d',
      'web_page_view_30d',
      'recency_days',
      'revenue_prev_90d',
      'csat_avg_90d',
      'days_since_last_ticket',
    ]) {
      expect(KNOWN_METRICS).toContain(m);
    }
    expect(new Set(KNOWN_METRICS).size).toBe(KNOWN_METRICS.length);
  });
});
