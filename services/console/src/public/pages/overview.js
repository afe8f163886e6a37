// The Overview page: for one dimension, the tier distribution over time (stacked area), today's customers per tier
// (the current state, cross-checked with the tier engine's Redis), the revenue share per tier on the last day of the
// range, and the latest transitions with their reasons. State lives in the hash: #/overview?dimension=&from=&to=.
// Elements the browser tests read carry data-testid and the raw number in data-value.

import { percent, qs, tierView } from './tier-view.js';

/** A number cell: the formatted text, the raw number in data-value. */
function numCell(ctx, testid, value, text) {
  return ctx.el('td', { class: 'num', 'data-testid': testid, 'data-value': value }, text ?? ctx.formatNumber(value));
}

export async function render(root, ctx) {
  const { el } = ctx;
  const { meta, dims, dimension, from, to, go } = await tierView(ctx, 'overview');

  const select = el(
    'select',
    { 'data-testid': 'dimension', 'aria-label': 'Dimension', onchange: (e) => go({ dimension: e.target.value }) },
    dims.map((d) => el('option', { value: d.id, selected: d.id === dimension }, d.id)),
  );
  const range = meta.range
    ? `data from ${ctx.formatDate(meta.range.from)} to ${ctx.formatDate(meta.range.to)}`
    : 'no data in the warehouse yet';
  root.append(
    el('h1', {}, 'Overview'),
    el(
      'div',
      { class: 'toolbar' },
      el('label', {}, 'Dimension ', select),
      ctx.dateRangePicker({ from, to, onChange: (r) => go(r) }),
      el('span', { class: 'muted', 'data-testid': 'data-range' }, range),
    ),
  );
  if (!from || !to) return;

  const chartBox = el('div', {
    class: 'chart',
    style: 'height:280px',
    'data-testid': 'distribution-chart',
    'data-from': from,
    'data-to': to,
  });
  const countsCard = el('div', { class: 'card', 'data-testid': 'counts' }, el('h2', {}, 'Customers per tier now'));
  const revenueCard = el('div', { class: 'card', 'data-testid': 'revenue-share' });
  const transitionsCard = el('div', { class: 'card', 'data-testid': 'transitions' });
  root.append(
    el('div', { class: 'card' }, el('h2', {}, `${dimension}: customers per tier per day`), chartBox),
    el('div', { class: 'grid' }, countsCard, revenueCard),
    transitionsCard,
  );

  const range2 = qs({ dimension, from, to });
  const [distribution, counts, revenue, transitions] = await Promise.all([
    ctx.api(`/api/v1/overview/distribution?${range2}`),
    ctx.api(`/api/v1/overview/counts?${qs({ dimension })}`),
    ctx.api(`/api/v1/overview/revenue-share?${qs({ dimension, day: to })}`),
    ctx.api(`/api/v1/overview/transitions?${qs({ dimension, from, to, limit: 20 })}`),
  ]);

  // Tier distribution over time: one stacked area per tier, best tier on top.
  const chart = ctx.echarts.init(chartBox);
  chart.setOption({
    tooltip: { trigger: 'axis' },
    legend: { type: 'scroll', top: 0 },
    grid: { left: 48, right: 16, top: 36, bottom: 28 },
    xAxis: { type: 'category', boundaryGap: false, data: distribution.days.map((d) => ctx.formatDate(d)) },
    yAxis: { type: 'value', minInterval: 1 },
    series: [...distribution.series].reverse().map((s) => ({
      name: s.name,
      type: 'line',
      stack: 'customers',
      areaStyle: {},
      symbol: 'none',
      emphasis: { focus: 'series' },
      data: s.values,
    })),
  });
  chartBox.dataset.series = distribution.series.map((s) => s.name).join(',');
  const onResize = () => chart.resize();
  window.addEventListener('resize', onResize);

  // Today's counts (tier_current) and the Redis cross-check.
  const day = counts.metrics_day ? ` (metrics as of ${ctx.formatDate(counts.metrics_day)})` : '';
  countsCard.append(
    el('p', { class: 'muted' }, `Current state in ClickHouse${day}.`),
    el(
      'table',
      {},
      el(
        'thead',
        {},
        el(
          'tr',
          {},
          el('th', {}, 'Tier'),
          el('th', { class: 'num' }, 'Customers'),
          el('th', { class: 'num' }, 'Share'),
        ),
      ),
      el(
        'tbody',
        {},
        counts.tiers.map((t) =>
          el(
            'tr',
            {},
            el('td', {}, el('span', { class: 'tag' }, t.tier)),
            numCell(ctx, `count-${t.tier}`, t.customers),
            numCell(ctx, `count-share-${t.tier}`, t.share, percent.format(t.share)),
          ),
        ),
        counts.without_tier > 0
          ? el(
              'tr',
              {},
              el('td', { class: 'muted' }, 'no tier in this dimension'),
              numCell(ctx, 'count-none', counts.without_tier),
              el('td'),
            )
          : null,
      ),
    ),
  );
  const redis = counts.redis;
  const agree = redis && redis.customers === counts.clickhouse_customers;
  countsCard.append(
    el(
      'p',
      { class: 'muted', 'data-testid': 'crosscheck', 'data-agree': agree ? 'true' : 'false' },
      'ClickHouse: ',
      el(
        'b',
        { 'data-testid': 'clickhouse-customers', 'data-value': counts.clickhouse_customers },
        ctx.formatNumber(counts.clickhouse_customers),
      ),
      ' customers; tier engine (Redis): ',
      redis
        ? el(
            'b',
            { 'data-testid': 'redis-customers', 'data-value': redis.customers },
            ctx.formatNumber(redis.customers),
          )
        : el('span', { 'data-testid': 'redis-customers' }, `unavailable (${counts.redis_error})`),
      agree
        ? ' — they agree.'
        : redis
          ? ' — they differ: the warehouse writer is behind, or the data sets differ.'
          : '',
    ),
  );

  // Revenue share per tier on the range's last day.
  revenueCard.append(
    el('h2', {}, `Revenue share on ${ctx.formatDate(revenue.day)}`),
    el('p', { class: 'muted' }, `${revenue.metric} per ${dimension} tier, in ${revenue.currency}.`),
    revenue.tiers.length === 0
      ? el('p', { class: 'muted' }, 'No customer with a tier on that day.')
      : el(
          'table',
          {},
          el(
            'thead',
            {},
            el(
              'tr',
              {},
              el('th', {}, 'Tier'),
              el('th', { class: 'num' }, 'Customers'),
              el('th', { class: 'num' }, 'Revenue'),
              el('th', { class: 'num' }, 'Of customers'),
              el('th', { class: 'num' }, 'Of revenue'),
            ),
          ),
          el(
            'tbody',
            {},
            revenue.tiers.map((t) =>
              el(
                'tr',
                {},
                el('td', {}, el('span', { class: 'tag' }, t.tier)),
                numCell(ctx, `revenue-customers-${t.tier}`, t.customers),
                numCell(ctx, `revenue-${t.tier}`, t.revenue, ctx.formatMoney(t.revenue, revenue.currency)),
                numCell(ctx, `customer-share-${t.tier}`, t.customer_share, percent.format(t.customer_share)),
                el(
                  'td',
                  { class: 'num', 'data-testid': `revenue-share-${t.tier}`, 'data-value': t.revenue_share },
                  el('span', {
                    class: 'share-bar',
                    style: `display:inline-block;height:8px;margin-right:6px;background:#2f6fdb;width:${Math.round(t.revenue_share * 60)}px`,
                  }),
                  percent.format(t.revenue_share),
                ),
              ),
            ),
          ),
        ),
  );

  // The latest transitions in the range, newest first.
  transitionsCard.append(
    el('h2', {}, 'Latest transitions'),
    transitions.transitions.length === 0
      ? el('p', { class: 'muted' }, 'No transition in this range.')
      : el(
          'table',
          {},
          el(
            'thead',
            {},
            el(
              'tr',
              {},
              ['Day', 'Customer', 'From', 'To', 'Direction', 'Reason', 'Rule'].map((h) => el('th', {}, h)),
            ),
          ),
          el(
            'tbody',
            {},
            transitions.transitions.map((t) =>
              el(
                'tr',
                { 'data-testid': 'transition', 'data-value': t.transition_id },
                el('td', { title: ctx.formatInstant(t.occurred_at) }, ctx.formatDate(t.day)),
                el('td', {}, el('a', { href: `#/customer/${encodeURIComponent(t.customer_id)}` }, t.customer_id)),
                el('td', {}, t.from_tier || '–'),
                el('td', {}, el('span', { class: 'tag' }, t.to_tier)),
                el('td', {}, t.direction),
                el('td', { 'data-testid': 'transition-reason' }, t.reason),
                el('td', { class: 'muted' }, t.rule_id),
              ),
            ),
          ),
        ),
  );

  return () => {
    window.removeEventListener('resize', onResize);
    chart.dispose();
  };
}
