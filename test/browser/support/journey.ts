import { readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '@tierstream/cli';
import type { InputEvent } from '@tierstream/contracts';
import { parse as parseYaml } from 'yaml';
import { placed, web } from '../../support/journeys';

/**
 * The scripted journey the browser tests look at, fed with the `tiny` workload (whose window is the 120 days up to
 * 2026-06-30): a visitor engages (PROSPECT), buys (NEW), buys again (ACTIVE), then goes quiet until the lifecycle
 * rule's AT_RISK threshold of recency. Expected days come from rules/default.yaml, never from running the engine.
 */
export const JOURNEY_CUSTOMER = 'console-journey-1';

type Yaml = Record<string, unknown>;

/** The lower recency bound (days) of the lifecycle rule at_risk_quiet_91_180 in rules/default.yaml. */
function atRiskFromDays(): number {
  const doc = parseYaml(readFileSync(path.join(REPO_ROOT, 'rules/default.yaml'), 'utf8')) as { dimensions: Yaml[] };
  const lifecycle = doc.dimensions.find((d) => d.id === 'lifecycle') as { scoring: { rules: Yaml[] } };
  const rule = lifecycle.scoring.rules.find((r) => r.id === 'at_risk_quiet_91_180') as { when: Yaml };
  const leaves = (rule.when.all as Yaml[] | undefined) ?? [rule.when];
  const leaf = leaves.find((c) => c.metric === 'recency_days');
  if (!leaf) throw new Error('rules/default.yaml: at_risk_quiet_91_180 has no recency_days condition');
  return (leaf.value as [number, number])[0];
}

export interface JourneyStep {
  /** Epoch day of the transition. */
  day: number;
  from: string | null;
  to: string;
  reason: string;
}

/**
 * The journey's events and its expected lifecycle transitions, starting on epoch day `firstDay` (the first day of the
 * workload window + 2).
 */
export function consoleJourney(firstDay: number): { events: InputEvent[]; lifecycle: JourneyStep[] } {
  const d0 = firstDay + 2;
  const firstOrder = d0 + 3;
  const secondOrder = d0 + 13;
  const events = [
    web(JOURNEY_CUSTOMER, d0, 'PAGE_VIEW'),
    web(JOURNEY_CUSTOMER, d0, 'PRODUCT_VIEW', 1),
    placed(JOURNEY_CUSTOMER, firstOrder, 12_345),
    placed(JOURNEY_CUSTOMER, secondOrder, 8_000),
  ];
  return {
    events,
    lifecycle: [
      { day: d0, from: null, to: 'PROSPECT', reason: 'prospect_engaged' },
      { day: firstOrder, from: 'PROSPECT', to: 'NEW', reason: 'new_first_order' },
      { day: secondOrder, from: 'NEW', to: 'ACTIVE', reason: 'active_repeat_buyer' },
      { day: secondOrder + atRiskFromDays(), from: 'ACTIVE', to: 'AT_RISK', reason: 'at_risk_quiet_91_180' },
    ],
  };
}
