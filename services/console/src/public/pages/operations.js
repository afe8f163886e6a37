// The Operations page: the stack's and the services' health, consumer lag per group (and per partition), the
// dead-letter topics' sizes (what `tierctl status` reports), and the cut points in force on a day.
//
// data-testid: health-<name> (data-value ok | down), service-<name> (data-value ready | not ready | down),
// lag-<group> (data-value = records), lag-<group>-<topic>-<partition>, dlq-<topic> (data-value = records),
// cutpoints-day (data-value = the day), cutpoints-redis-version, cut-<cut_key> (row; data-version),
// cuts-<cut_key> (data-value = JSON of the cuts on the day).

const stateClass = (ok) => (ok ? 'tag' : 'tag bad');

function healthCard(ctx, status) {
  const rows = [
    ...Object.entries(status.health).map(([name, state]) =>
      ctx.el(
        'tr',
        {},
        ctx.el('td', {}, name),
        ctx.el(
          'td',
          {},
          ctx.el(
            'span',
            {
              class: stateClass(state === 'ok'),
              'data-testid': `health-${name}`,
              'data-value': state === 'ok' ? 'ok' : 'down',
            },
            state === 'ok' ? 'ok' : 'down',
          ),
        ),
        ctx.el('td', { class: 'muted' }, state === 'ok' ? '' : state.replace(/^down: /, '')),
      ),
    ),
    ...status.services.map((s) =>
      ctx.el(
        'tr',
        {},
        ctx.el('td', {}, s.name, ' ', ctx.el('span', { class: 'muted' }, s.url)),
        ctx.el(
          'td',
          {},
          ctx.el(
            'span',
            { class: stateClass(s.state === 'ready'), 'data-testid': `service-${s.name}`, 'data-value': s.state },
            s.state,
          ),
        ),
        ctx.el('td', { class: 'muted' }, s.failing.join('; ') || (s.ms === null ? '' : `${s.ms} ms`)),
      ),
    ),
  ];
  return ctx.el(
    'section',
    { class: 'card' },
    ctx.el('h2', {}, 'Health'),
    ctx.el(
      'table',
      {},
      ctx.el(
        'thead',
        {},
        ctx.el('tr', {}, ctx.el('th', {}, 'stack / service'), ctx.el('th', {}, 'state'), ctx.el('th', {}, 'details')),
      ),
      ctx.el('tbody', {}, rows),
    ),
    status.redis_requirements.length > 0
      ? ctx.el(
          'ul',
          {},
          status.redis_requirements.map((m) => ctx.el('li', { class: 'error' }, m)),
        )
      : ctx.el(
          'p',
          { class: 'muted' },
          'Redis requirements met (maxmemory-policy noeviction, appendonly yes, appendfsync always), or Redis is down.',
        ),
  );
}

function lagCard(ctx, status) {
  const card = ctx.el('section', { class: 'card' }, ctx.el('h2', {}, 'Consumer lag per group'));
  if (status.groups.length === 0) {
    card.append(
      ctx.el('p', { class: 'muted' }, 'No consumer group has committed offsets on its topics (or Kafka is down).'),
    );
    return card;
  }
  card.append(
    ctx.el(
      'table',
      {},
      ctx.el(
        'thead',
        {},
        ctx.el(
          'tr',
          {},
          ['group', 'topics', 'partitions', 'lag (records)'].map((c, i) =>
            ctx.el('th', { class: i >= 2 ? 'num' : undefined }, c),
          ),
        ),
      ),
      ctx.el(
        'tbody',
        {},
        status.groups.map((g) =>
          ctx.el(
            'tr',
            {},
            ctx.el('td', {}, g.group),
            ctx.el('td', {}, g.topics.join(', ')),
            ctx.el('td', { class: 'num' }, String(g.partitions)),
            ctx.el(
              'td',
              { class: 'num', 'data-testid': `lag-${g.group}`, 'data-value': g.lag },
              ctx.formatNumber(g.lag),
            ),
          ),
        ),
      ),
    ),
  );
  const details = ctx.el('details', {}, ctx.el('summary', {}, 'Per partition'));
  details.append(
    ctx.el(
      'table',
      {},
      ctx.el(
        'thead',
        {},
        ctx.el(
          'tr',
          {},
          ['group', 'topic', 'partition', 'lag'].map((c, i) => ctx.el('th', { class: i >= 2 ? 'num' : undefined }, c)),
        ),
      ),
      ctx.el(
        'tbody',
        {},
        status.lag.map((l) =>
          ctx.el(
            'tr',
            {},
            ctx.el('td', {}, l.group),
            ctx.el('td', {}, l.topic),
            ctx.el('td', { class: 'num' }, String(l.partition)),
            ctx.el(
              'td',
              { class: 'num', 'data-testid': `lag-${l.group}-${l.topic}-${l.partition}`, 'data-value': l.lag },
              ctx.formatNumber(l.lag),
            ),
          ),
        ),
      ),
    ),
  );
  card.append(details);
  return card;
}

function dlqCard(ctx, status) {
  const entries = Object.entries(status.dlq);
  return ctx.el(
    'section',
    { class: 'card' },
    ctx.el('h2', {}, 'Dead letters'),
    entries.length === 0
      ? ctx.el('p', { class: 'muted' }, 'No dead-letter topic exists (or Kafka is down).')
      : ctx.el(
          'table',
          {},
          ctx.el('thead', {}, ctx.el('tr', {}, ctx.el('th', {}, 'topic'), ctx.el('th', { class: 'num' }, 'records'))),
          ctx.el(
            'tbody',
            {},
            entries.map(([topic, n]) =>
              ctx.el(
                'tr',
                {},
                ctx.el('td', {}, topic),
                ctx.el(
                  'td',
                  { class: n > 0 ? 'num bad' : 'num', 'data-testid': `dlq-${topic}`, 'data-value': n },
                  ctx.formatNumber(n),
                ),
              ),
            ),
          ),
        ),
    ctx.el(
      'p',
      { class: 'muted' },
      'Look at them with ',
      ctx.el('code', {}, 'tierctl dlq inspect <topic>'),
      '; re-drive them after a fix with ',
      ctx.el('code', {}, 'tierctl dlq replay <topic>'),
      '.',
    ),
  );
}

async function cutPointsCard(ctx, day) {
  const data = await ctx.api(`/api/v1/operations/cutpoints${day ? `?day=${encodeURIComponent(day)}` : ''}`);
  const picker = ctx.el('input', { type: 'date', value: data.day, 'data-testid': 'cutpoints-day-input' });
  const card = ctx.el(
    'section',
    { class: 'card', 'data-testid': 'cutpoints' },
    ctx.el(
      'h2',
      {},
      'Cut points in force on ',
      ctx.el('span', { 'data-testid': 'cutpoints-day', 'data-value': data.day }, ctx.formatDate(data.day)),
    ),
    ctx.el(
      'div',
      { class: 'toolbar' },
      ctx.el('label', {}, 'Day ', picker),
      ctx.el(
        'span',
        { class: 'muted' },
        `engines' last closed day: ${data.engine_closed_day ? ctx.formatDate(data.engine_closed_day) : 'none yet'}`,
      ),
    ),
  );
  picker.addEventListener('change', async () => {
    if (!picker.value) return;
    card.replaceWith(await cutPointsCard(ctx, picker.value));
  });
  card.append(
    ctx.el(
      'p',
      {},
      'The engines hold ',
      data.redis
        ? ctx.el(
            'strong',
            { 'data-testid': 'cutpoints-redis-version', 'data-value': data.redis.version },
            data.redis.version,
          )
        : ctx.el('strong', { 'data-testid': 'cutpoints-redis-version', 'data-value': '' }, 'no computed version'),
      data.redis
        ? ` (computed ${ctx.formatInstant(data.redis.computed_at)}, population ${data.redis.population ?? '–'}) in Redis.`
        : ' in Redis.',
    ),
  );
  if (data.rows.length === 0) {
    card.append(
      ctx.el(
        'p',
        { class: 'muted' },
        'No cut-point version in the warehouse is in force on this day (fallback cuts and bands apply).',
      ),
    );
    return card;
  }
  const byDim = new Map();
  for (const r of data.rows) byDim.set(r.dimension, [...(byDim.get(r.dimension) ?? []), r]);
  const first = data.rows[0];
  card.append(
    ctx.el(
      'p',
      { class: 'muted' },
      `Version ${first.version} of rules ${first.rules_version}, in force from ${ctx.formatDate(first.effective_from)}`,
      first.measured_day ? `, measured on ${ctx.formatDate(first.measured_day)}` : '',
      first.population !== null ? ` over ${ctx.formatNumber(first.population)} customers` : '',
      ' (ClickHouse cutpoint_history).',
    ),
  );
  // Money cuts (revenue, …) are minor units of the reporting currency.
  const value = (r) => (c) => (r.money && ctx.currency ? ctx.formatMoney(c, ctx.currency) : ctx.formatNumber(c));
  for (const [dim, rows] of byDim) {
    card.append(
      ctx.el('h3', {}, dim),
      ctx.el(
        'table',
        {},
        ctx.el(
          'thead',
          {},
          ctx.el(
            'tr',
            {},
            [
              'cut key',
              'metric',
              'better',
              'groups (best first)',
              'cuts on the day',
              'cuts as measured',
              'anchored on',
            ].map((c) => ctx.el('th', {}, c)),
          ),
        ),
        ctx.el(
          'tbody',
          {},
          rows.map((r) =>
            ctx.el(
              'tr',
              { 'data-testid': `cut-${r.cut_key}`, 'data-version': r.version },
              ctx.el('td', {}, r.cut_key),
              ctx.el('td', {}, r.metric),
              ctx.el('td', {}, r.better),
              ctx.el('td', {}, r.groups.join(' > ')),
              ctx.el(
                'td',
                { class: 'num', 'data-testid': `cuts-${r.cut_key}`, 'data-value': JSON.stringify(r.cuts_on_day) },
                r.cuts_on_day.map(value(r)).join(' | '),
              ),
              ctx.el('td', { class: 'num' }, r.cuts.map(value(r)).join(' | ')),
              ctx.el('td', {}, r.anchor_day ? ctx.formatDate(r.anchor_day) : '–'),
            ),
          ),
        ),
      ),
    );
  }
  return card;
}

/** Renders the page. */
export async function render(root, ctx) {
  root.append(ctx.el('h1', {}, 'Operations'));
  // The cut points come from ClickHouse and Redis: when one of them is down, the health, lag and dead letters (what
  // an operator opens this page for) are still shown, with the cut points' error in their place.
  const [status, cutpoints] = await Promise.all([
    ctx.api('/api/v1/operations/status'),
    cutPointsCard(ctx, ctx.query.day).catch((err) =>
      ctx.el(
        'section',
        { class: 'card', 'data-testid': 'cutpoints' },
        ctx.el('h2', {}, 'Cut points in force'),
        ctx.el('p', { class: 'error', 'data-testid': 'cutpoints-error' }, String(err?.message ?? err)),
      ),
    ),
  ]);
  root.append(
    ctx.el('div', { class: 'grid' }, healthCard(ctx, status), dlqCard(ctx, status)),
    lagCard(ctx, status),
    cutpoints,
  );
}
