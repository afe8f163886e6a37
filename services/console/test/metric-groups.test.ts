import { KNOWN_METRICS } from '@tierstream/tiering';
import { describe, expect, it } from 'vitest';
import { groupMetrics, metricGroup, metricKind } from '../src/metric-groups';

describe('console metric groups', () => {
  it('puts every metric a rules file may use into one of the five reading groups (none under other)', () => {
    const other = KNOWN_METRICS.filter((m) => metricGroup(m) === 'other');
    expect(other).toEqual([]);
  });

  it('groups and orders metrics: value, frequency, recency, engagement, service, then the rest', () => {
    expect(
      groupMetrics([
        'tickets_90d',
        'revenue_365d',
        'clv_x',
        'orders_30d',
        'recency_days',
        'web_events_30d',
        'aov_lifetime',
      ]),
    ).toEqual({
      value: ['aov_lifetime', 'revenue_365d'],
      frequency: ['orders_30d'],
      recency: ['recency_days'],
      engagement: ['web_events_30d'],
      service: ['tickets_90d'],
      other: ['clv_x'],
    });
  });

  it('formats money, instants, days and counts by kind', () => {
    expect(['revenue_lifetime', 'margin_365d', 'aov_lifetime', 'clv_365d'].map(metricKind)).toEqual([
      'money',
      'money',
      'money',
      'money',
    ]);
    expect(
      ['last_order_at', 'recency_days', 'days_since_last_seen', 'orders_90d', 'web_search_30d'].map(metricKind),
    ).toEqual(['instant', 'days', 'days', 'count', 'count']);
    expect(['engagement_score', 'p_alive', 'csat_avg_90d'].map(metricKind)).toEqual(['score', 'score', 'score']);
  });
});
