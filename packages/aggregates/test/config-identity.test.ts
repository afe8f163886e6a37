import { describe, expect, it } from 'vitest';
import { aggregateConfigIdentity, DEFAULT_AGGREGATE_CONFIG, parseAggregateConfig } from '../src/index';

describe('aggregateConfigIdentity', () => {
  it('is the same for the same configuration in any key order, and differs when a rate changes', () => {
    const a = aggregateConfigIdentity(DEFAULT_AGGREGATE_CONFIG);
    const reordered = parseAggregateConfig({
      halfLifeDays: DEFAULT_AGGREGATE_CONFIG.halfLifeDays,
      fxRates: Object.fromEntries(Object.entries(DEFAULT_AGGREGATE_CONFIG.fxRates).reverse()),
      reportingCurrency: 'USD',
    });
    expect(aggregateConfigIdentity(reordered)).toEqual(a);
    expect(a.hash).toMatch(/^ac-[0-9a-f]{12}$/);
    const eur = parseAggregateConfig({ fxRates: { ...DEFAULT_AGGREGATE_CONFIG.fxRates, EUR: 1.1 } });
    expect(aggregateConfigIdentity(eur).hash).not.toBe(a.hash);
    expect(JSON.parse(a.json).fxRates.EUR).toBe(1.08);
  });
});
