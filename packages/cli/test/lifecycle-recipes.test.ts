import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseRules } from '@tierstream/tiering';
import { DAY_MS } from '@tierstream/tierstate';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml, stringify } from 'yaml';
import { placed } from '../../../test/support/journeys';
import { runPipelineOracle } from '../../../test/support/pipeline-oracle';

/**
 * rules/README.md "Lifecycle recipes": the recipe's YAML, spliced into default.yaml in place of its lifecycle
 * dimension, is a valid rules file, and a loyal customer who goes quiet moves LOYAL → LAPSING → AT_RISK where the
 * default rules go LOYAL → ACTIVE → AT_RISK (the reason the recipe exists). Evaluated by the batch oracle.
 */
const ROOT = path.resolve(import.meta.dirname, '../../..');
const README = readFileSync(path.join(ROOT, 'rules/README.md'), 'utf8');
const DEFAULT = readFileSync(path.join(ROOT, 'rules/default.yaml'), 'utf8');

function recipeBlock(name: string): unknown[] {
  const at = README.indexOf(`<!-- recipe: ${name}`);
  expect(at, `recipe ${name} in rules/README.md`).toBeGreaterThan(0);
  const block = /```yaml\n([\s\S]*?)```/.exec(README.slice(at))![1]!;
  return parseYaml(block.replace(/^ {3}/gm, '')) as unknown[];
}

function withLifecycle(dimension: unknown) {
  const doc = parseYaml(DEFAULT) as { version: string; dimensions: Array<{ id: string }> };
  doc.dimensions = doc.dimensions.map((d) => (d.id === 'lifecycle' ? (dimension as { id: string }) : d));
  doc.version = `${doc.version}-lapsing`;
  return parseRules(stringify(doc), 'rules/README.md#lifecycle-recipes');
}

const D0 = Date.parse('1997-01-06T00:00:00Z') / DAY_MS;
const LAST = D0 + 90;
// Four orders in a year, the last on LAST, then silence for 100 days.
const events = [0, 30, 60, 90].map((d) => placed('loyal-1', D0 + d, 2_500));
const endAt = (LAST + 100) * DAY_MS + DAY_MS - 1;

function lifecycleMoves(rules?: ReturnType<typeof parseRules>) {
  const { transitions } = runPipelineOracle({ events, rules, cutPointsEveryDays: 7, endAt });
  return transitions
    .filter((t) => t.dimension === 'lifecycle')
    .map((t) => ({
      day: Math.floor(t.occurred_at / DAY_MS) - LAST,
      from: t.from_tier,
      to: t.to_tier,
      rule: t.rule_id,
    }));
}

describe('lifecycle recipe: a LAPSING stage between LOYAL and AT_RISK', () => {
  it('default rules: LOYAL passes through ACTIVE, so LOYAL → AT_RISK never fires', () => {
    const moves = lifecycleMoves();
    expect(moves.slice(-3).map((m) => [m.day, m.from, m.to])).toEqual([
      [0, 'ACTIVE', 'LOYAL'],
      [61, 'LOYAL', 'ACTIVE'],
      [91, 'ACTIVE', 'AT_RISK'],
    ]);
  });

  it('with the recipe: LOYAL → LAPSING on day 61 of silence, LAPSING → AT_RISK on day 91', () => {
    const [dimension] = recipeBlock('lifecycle-lapsing');
    const moves = lifecycleMoves(withLifecycle(dimension));
    expect(moves.slice(-3)).toEqual([
      { day: 0, from: 'ACTIVE', to: 'LOYAL', rule: 'loyal_frequent_recent' },
      { day: 61, from: 'LOYAL', to: 'LAPSING', rule: 'loyal_lapsing' },
      { day: 91, from: 'LAPSING', to: 'AT_RISK', rule: 'at_risk_quiet_91_180' },
    ]);
  });
});
