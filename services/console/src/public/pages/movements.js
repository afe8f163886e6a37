// The Movements page: for one dimension and two days, the migration matrix (heatmap and table: customers and the
// share of the first day's tier), the customers of a clicked cell (each linking to its Customer page), and the
// transitions per day by reason over the days between. State lives in the hash:
// #/movements?dimension=&from=&to=&cell=<from tier>~<to tier>. Tested elements carry data-testid and data-value.

import { percent, qs, tierView } from './tier-view.js';

export async function render(root, ctx) {
  const { el } = ctx;
  const { dims, dimension, from, to, go } = await tierView(ctx, 'movements');

  root.append(
    el('h1', {}, 'Movements'),
    el(
      'div',
      { class: 'toolbar' },
      el(
        'label',
        {},
        'Dimension ',
        el(
          'select',
          { 'data-testid': 'dimension', 'aria-label': 'Dimension', onchange: (e) => go({ dimension: e.target.value }) },
          dims.map((d) => el('option', { value: d.id, selected: d.id === dimension }, d.id)),
        ),
      ),
      ctx.dateRangePicker({ from, to, onChange: (r) => go(r) }),
      el('span', { class: 'muted' }, 'tiers on the first day → tiers on the last day'),
    ),
  );
  if (!from || !to) {
    root.append(el('p', { class: 'muted' }, 'No data in the warehouse yet.'));
    return;
  }

  const q = qs({ dimension, from, to });
  const [matrix, reasons] = await Promise.all([
    ctx.api(`/api/v1/movements/matrix?${q}`),
    ctx.api(`/api/v1/movements/reasons?${q}`),
  ]);

  const heatBox = el('div', {
    class: 'chart',
    'data-testid': 'matrix-chart',
    style: `height:${Math.max(260, 44 * matrix.from_tiers.length + 90)}px`,
  });
  const tableBox = el('div', { style: 'overflow-x:auto' });
  const listCard = el('div', { class: 'card', 'data-testid': 'cell-customers' });
  const reasonsBox = el('div', { class: 'chart', 'data-testid': 'reasons-chart' });
  root.append(
    el(
      'div',
      { class: 'card' },
      el(
        'h2',
        {},
        `${dimension}: ${ctx.formatDate(from)} → ${ctx.formatDate(to)} `,
        el(
          'span',
          { class: 'muted' },
          el('span', { 'data-testid': 'matrix-total', 'data-value': matrix.total }, ctx.formatNumber(matrix.total)),
          ' customers, ',
          el('span', { 'data-testid': 'matrix-moved', 'data-value': matrix.moved }, ctx.formatNumber(matrix.moved)),
          ' changed tier',
        ),
      ),
      el(
        'div',
        {
          class: 'grid',
          // side by side while the matrix is small; a wide one (RFM segments) gets the whole width for each
          style: `grid-template-columns: ${matrix.to_tiers.length > 5 ? '1fr' : 'minmax(320px, 1fr) minmax(320px, 1fr)'}`,
        },
        heatBox,
        tableBox,
      ),
    ),
    listCard,
    el('div', { class: 'card' }, el('h2', {}, 'Transitions per day by reason'), reasonsBox, reasonsTotal(ctx, reasons)),
  );

  const cellOf = (f, t) => matrix.cells.find((c) => c.from_tier === f && c.to_tier === t);
  const select = (f, t) => go({ cell: `${f}~${t}` });

  // The heatmap: x = tier on the last day, y = tier on the first day (best on top); label = customers and share.
  const heat = ctx.echarts.init(heatBox);
  const maxCount = Math.max(1, ...matrix.cells.map((c) => c.customers));
  heat.setOption({
    tooltip: {
      formatter: (p) =>
        `${p.data.from_tier} → ${p.data.to_tier}: ${ctx.formatNumber(p.data.customers)} (${percent.format(p.data.share)} of ${p.data.from_tier})`,
    },
    grid: { left: 150, right: 16, top: 16, bottom: 70 },
    xAxis: {
      type: 'category',
      data: matrix.to_tiers,
      name: `on ${ctx.formatDate(to)}`,
      nameLocation: 'middle',
      nameGap: 50,
      axisLabel: { rotate: 30 },
    },
    yAxis: {
      type: 'category',
      data: [...matrix.from_tiers].reverse(),
      name: '',
      axisLabel: { width: 140, overflow: 'truncate' },
    },
    visualMap: { show: false, min: 0, max: maxCount, inRange: { color: ['#eef4ff', '#2f6fdb'] } },
    series: [
      {
        type: 'heatmap',
        label: {
          show: true,
          lineHeight: 16,
          formatter: (p) => `${ctx.formatNumber(p.data.customers)}\n${percent.format(p.data.share)}`,
        },
        data: matrix.cells.map((c) => ({
          value: [
            matrix.to_tiers.indexOf(c.to_tier),
            matrix.from_tiers.length - 1 - matrix.from_tiers.indexOf(c.from_tier),
            c.customers,
          ],
          ...c,
        })),
      },
    ],
  });
  heat.on('click', (p) => select(p.data.from_tier, p.data.to_tier));
  const onResize = () => {
    heat.resize();
    reasonsChart.resize();
  };

  // The same matrix as a table (exact numbers; a click on a cell lists its customers too).
  tableBox.append(
    el(
      'p',
      { class: 'muted', style: 'margin-top:0' },
      `Rows: tier on ${ctx.formatDate(from)}; columns: tier on ${ctx.formatDate(to)}; share = of the row. `,
      '(none): not a customer yet, or no tier in this dimension, on that day.',
    ),
    el(
      'table',
      { 'data-testid': 'matrix-table' },
      el(
        'thead',
        {},
        el(
          'tr',
          {},
          el('th', {}, 'from \\ to'),
          matrix.to_tiers.map((t) => el('th', { class: 'num' }, t)),
          el('th', { class: 'num' }, 'total'),
        ),
      ),
      el(
        'tbody',
        {},
        matrix.from_tiers.map((f) =>
          el(
            'tr',
            {},
            el('th', { style: 'text-transform:none' }, f),
            matrix.to_tiers.map((t) => {
              const c = cellOf(f, t);
              if (!c) return el('td', { class: 'num muted' }, '·');
              return el(
                'td',
                {
                  class: 'num',
                  style: `cursor:pointer${f === t ? ';font-weight:600' : ''}`,
                  title: `${f} → ${t}: ${percent.format(c.share)} of ${f}`,
                  'data-testid': `cell-${f}-${t}`,
                  'data-value': c.customers,
                  'data-share': c.share,
                  onclick: () => select(f, t),
                },
                ctx.formatNumber(c.customers),
                el('span', { class: 'muted', style: 'font-size:11px' }, ` ${percent.format(c.share)}`),
              );
            }),
            el(
              'td',
              { class: 'num muted', 'data-testid': `from-total-${f}`, 'data-value': matrix.from_totals[f] },
              ctx.formatNumber(matrix.from_totals[f]),
            ),
          ),
        ),
      ),
    ),
  );

  // The customers of the selected cell.
  const [cellFrom, cellTo] = (ctx.query.cell ?? '').split('~');
  if (cellFrom && cellTo) {
    listCard.append(el('h2', {}, `Customers ${cellFrom} → ${cellTo}`));
    const list = await ctx.api(
      `/api/v1/movements/customers?${qs({ dimension, from, to, from_tier: cellFrom, to_tier: cellTo, limit: 500 })}`,
    );
    listCard.append(
      el(
        'p',
        { class: 'muted' },
        el(
          'span',
          { 'data-testid': 'cell-customers-count', 'data-value': list.customers.length },
          ctx.formatNumber(list.customers.length),
        ),
        list.truncated
          ? ` shown (the first ${list.limit} by id); the cell has ${ctx.formatNumber(cellOf(cellFrom, cellTo)?.customers)}.`
          : list.customers.length === 1
            ? ' customer.'
            : ' customers.',
      ),
      el(
        'ul',
        { style: 'columns: 6 120px; margin: 0; padding-left: 18px' },
        list.customers.map((id) =>
          el(
            'li',
            {},
            el(
              'a',
              { href: `#/customer/${encodeURIComponent(id)}`, 'data-testid': 'cell-customer', 'data-value': id },
              id,
            ),
          ),
        ),
      ),
    );
  } else {
    listCard.append(el('p', { class: 'muted' }, 'Click a cell of the matrix to list its customers.'));
  }

  // Transitions per day by reason: stacked bars.
  const reasonsChart = ctx.echarts.init(reasonsBox);
  reasonsChart.setOption({
    tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' } },
    legend: { type: 'scroll', top: 0 },
    grid: { left: 48, right: 16, top: 36, bottom: 28 },
    xAxis: { type: 'category', data: reasons.days.map((d) => ctx.formatDate(d)) },
    yAxis: { type: 'value', minInterval: 1 },
    series: reasons.series.map((s) => ({ name: s.name, type: 'bar', stack: 'transitions', data: s.values })),
  });
  window.addEventListener('resize', onResize);
  return () => {
    window.removeEventListener('resize', onResize);
    heat.dispose();
    reasonsChart.dispose();
  };
}

function reasonsTotal(ctx, reasons) {
  return ctx.el(
    'p',
    { class: 'muted' },
    ctx.el('span', { 'data-testid': 'reasons-total', 'data-value': reasons.total }, ctx.formatNumber(reasons.total)),
    ` transitions in ${ctx.formatNumber(reasons.series.length)} reasons`,
  );
}
