// The Customer page: search by id, the tiers each with the rule that decided it, the metrics by group, the timeline
// of transitions with reason, rule and numbers, and "as of" time travel to any past day (#/customer/<id>?as_of=DAY).
// Raw values sit in data-value next to the formatted text, for the browser tests.

const GROUP_TITLES = {
  value: 'Value',
  frequency: 'Frequency',
  recency: 'Recency',
  engagement: 'Engagement',
  service: 'Service',
  other: 'Other',
};

/** A metric's value as text, by its kind (money in the reporting currency, instants and days in the locale). */
function formatMetric(ctx, kind, value, currency) {
  if (value === null || value === undefined) return '–';
  switch (kind) {
    case 'money':
      return ctx.formatMoney(value, currency);
    case 'instant':
      return ctx.formatInstant(value);
    case 'days':
      return `${ctx.formatNumber(value)} d`;
    default:
      return ctx.formatNumber(value);
  }
}

/** The rule of the latest transition on or before `day` per dimension: what decided the tier shown for that day. */
function rulesAsOf(transitions, day) {
  const out = {};
  for (const t of transitions) if (t.day <= day) out[t.dimension] = t;
  return out;
}

function searchBar(ctx, id, asOf) {
  const { el } = ctx;
  const input = el('input', {
    type: 'search',
    value: id ?? '',
    placeholder: 'customer id',
    'aria-label': 'customer id',
    'data-testid': 'customer-search',
    size: 28,
  });
  const day = el('input', { type: 'date', value: asOf ?? '', 'aria-label': 'as of day', 'data-testid': 'as-of' });
  const go = (asOfDay) => {
    const value = input.value.trim();
    if (value) ctx.navigate('customer', [value], { as_of: asOfDay || undefined });
  };
  const form = el(
    'form',
    { class: 'toolbar', 'data-testid': 'customer-form' },
    el('label', {}, 'Customer ', input),
    el('button', { type: 'submit', 'data-testid': 'customer-go' }, 'Show'),
    el('label', {}, 'As of ', day),
    el(
      'button',
      { type: 'button', class: 'secondary', 'data-testid': 'as-of-apply', onclick: () => go(day.value) },
      'Travel',
    ),
    el('button', { type: 'button', class: 'secondary', 'data-testid': 'as-of-now', onclick: () => go('') }, 'Now'),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    go(day.value);
  });
  return form;
}

function tiersCard(ctx, profile, transitions) {
  const { el } = ctx;
  const asOfRules = rulesAsOf(transitions, profile.day);
  const rows = Object.entries(profile.tiers ?? {})
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([dimension, tier]) => {
      // Current view: the engine's decided_by; a past day: the rule of the transition that set the tier shown.
      const last = asOfRules[dimension];
      const rule = profile.decided_by?.[dimension] ?? (last && last.to_tier === tier ? last.rule_id : null);
      const since = last && last.to_tier === tier ? last.day : null;
      const pending = profile.pending?.[dimension];
      return el(
        'tr',
        { 'data-testid': `tier-row-${dimension}` },
        el('td', {}, dimension),
        el('td', {}, el('span', { class: 'tag', 'data-testid': `tier-${dimension}`, 'data-value': tier }, tier)),
        el('td', { 'data-testid': `rule-${dimension}`, 'data-value': rule ?? '' }, rule ?? '–'),
        el(
          'td',
          { 'data-testid': `since-${dimension}`, 'data-value': since ?? '' },
          since ? ctx.formatDate(since) : '–',
        ),
        el(
          'td',
          { 'data-testid': `pending-${dimension}` },
          pending
            ? `→ ${pending.tier} since ${ctx.formatDate(pending.since_day)} (applies ${ctx.formatDate(pending.until_day)})`
            : '',
        ),
      );
    });
  const source =
    profile.tiers_source === 'tier_history'
      ? `Tiers in force on ${ctx.formatDate(profile.day)} (warehouse history)`
      : `Current tiers (last evaluated ${ctx.formatDate(profile.tiers_from)})`;
  return el(
    'section',
    { class: 'card', 'data-testid': 'tiers' },
    el('h2', {}, 'Tiers'),
    el('p', { class: 'muted', 'data-testid': 'tiers-source', 'data-value': profile.tiers_source }, source),
    rows.length > 0
      ? el(
          'table',
          {},
          el(
            'thead',
            {},
            el('tr', {}, ...['Dimension', 'Tier', 'Decided by', 'Since', 'Pending'].map((h) => el('th', {}, h))),
          ),
          el('tbody', {}, rows),
        )
      : el('p', { class: 'muted' }, 'No tiers on this day.'),
  );
}

function metricsCard(ctx, profile) {
  const { el } = ctx;
  const list = (names) =>
    el(
      'dl',
      { class: 'metrics' },
      names.flatMap((name) => {
        const value = profile.metrics[name];
        return [
          el('dt', {}, name),
          el(
            'dd',
            {
              'data-testid': `metric-${name}`,
              'data-value': value === null ? '' : String(value),
              'data-kind': profile.metric_kinds[name],
            },
            formatMetric(ctx, profile.metric_kinds[name], value, profile.currency),
          ),
        ];
      }),
    );
  // Counts that are zero and metrics without a value fold away (a customer has dozens of web_* counts at 0).
  const quiet = (name) => {
    const v = profile.metrics[name];
    return v === null || (v === 0 && profile.metric_kinds[name] === 'count');
  };
  const groups = Object.entries(profile.metric_groups ?? {}).map(([group, names]) => {
    const shown = names.filter((n) => !quiet(n));
    const folded = names.filter(quiet);
    return el(
      'div',
      { class: 'card', 'data-testid': `metric-group-${group}` },
      el('h2', {}, GROUP_TITLES[group] ?? group),
      list(shown),
      folded.length > 0
        ? el('details', {}, el('summary', { class: 'muted' }, `${folded.length} more at 0 or empty`), list(folded))
        : null,
    );
  });
  const source = profile.metrics_source === 'metric_history' ? 'warehouse metric history' : 'live aggregates (Redis)';
  return el(
    'section',
    { 'data-testid': 'metrics' },
    el(
      'h2',
      {},
      `Metrics as of ${ctx.formatDate(profile.day)}`,
      el('span', { class: 'muted' }, ` — ${source}, money in ${profile.currency}`),
    ),
    profile.metrics ? el('div', { class: 'grid' }, groups) : el('p', { class: 'muted' }, 'No metrics on this day.'),
  );
}

function timelineCard(ctx, data, day) {
  const { el } = ctx;
  const rows = data.transitions.map((t, i) =>
    el(
      'tr',
      {
        'data-testid': 'transition',
        'data-transition-id': t.transition_id,
        'data-index': i,
        class: day && t.day > day ? 'future' : undefined,
      },
      el('td', { 'data-testid': 'transition-day', 'data-value': t.day }, ctx.formatDate(t.day)),
      el('td', { 'data-testid': 'transition-dimension', 'data-value': t.dimension }, t.dimension),
      el(
        'td',
        { 'data-testid': 'transition-move', 'data-value': `${t.from_tier ?? ''}>${t.to_tier}` },
        `${t.from_tier ?? '∅'} → ${t.to_tier}`,
        el('span', { class: 'muted' }, ` ${t.direction}`),
      ),
      el('td', { 'data-testid': 'transition-reason', 'data-value': t.reason }, t.reason),
      el('td', { 'data-testid': 'transition-rule', 'data-value': t.rule_id }, t.rule_id),
      el(
        'td',
        { 'data-testid': 'transition-numbers', 'data-value': JSON.stringify(t.metrics) },
        Object.entries(t.metrics)
          .map(([name, v]) => `${name} = ${formatMetric(ctx, data.metric_kinds[name], v, data.currency)}`)
          .join(', '),
      ),
    ),
  );
  return el(
    'section',
    { class: 'card', 'data-testid': 'timeline' },
    el('h2', {}, `Transitions (${data.transitions.length})`),
    rows.length > 0
      ? el(
          'table',
          {},
          el(
            'thead',
            {},
            el(
              'tr',
              {},
              ...['Day', 'Dimension', 'Move', 'Reason', 'Rule', 'Numbers behind it'].map((h) => el('th', {}, h)),
            ),
          ),
          el('tbody', {}, rows),
        )
      : el('p', { class: 'muted' }, 'No transitions in the warehouse yet.'),
  );
}

/** A link to the engine's last decided day when the view is past it (the note of customerView says which day). */
function frontierLink(ctx, profile, id) {
  const day = profile.notes
    .map((n) => /the last day the tier engine has decided \((\d{4}-\d{2}-\d{2})\)/.exec(n)?.[1])
    .find(Boolean);
  if (!day) return [];
  return [
    ctx.el(
      'p',
      {},
      ctx.el(
        'a',
        { href: `#/customer/${encodeURIComponent(id)}?as_of=${day}`, 'data-testid': 'as-of-frontier' },
        `Show ${id} as of ${ctx.formatDate(day)}, the last day decided`,
      ),
    ),
  ];
}

export async function render(root, ctx) {
  const { el } = ctx;
  const id = ctx.params[0];
  const asOf = ctx.query.as_of;
  root.append(el('h1', {}, 'Customer'), searchBar(ctx, id, asOf));
  if (!id) {
    root.append(
      el(
        'p',
        { class: 'muted', 'data-testid': 'customer-empty' },
        'Enter a customer id to see its tiers, metrics and transitions.',
      ),
    );
    return;
  }
  const path = `/api/v1/customers/${encodeURIComponent(id)}`;
  let profile;
  let transitions;
  // The transitions come from ClickHouse, the current profile from Redis: with ClickHouse down the tiers and metrics
  // are still shown, the timeline's place says why it is missing.
  let transitionsError = null;
  try {
    [profile, transitions] = await Promise.all([
      ctx.api(asOf ? `${path}?as_of=${encodeURIComponent(asOf)}` : path, { quiet: true }),
      ctx.api(`${path}/transitions`, { quiet: true }).catch((err) => {
        if (err.status === 404 || err.status === 401) throw err;
        transitionsError = err;
        return { customer_id: id, transitions: [], metric_kinds: {} };
      }),
    ]);
  } catch (err) {
    root.append(
      el('p', { class: 'error', 'data-testid': 'customer-error', 'data-status': err.status ?? '' }, err.message),
    );
    return;
  }
  root.append(
    el(
      'p',
      { 'data-testid': 'customer-header', 'data-customer': profile.customer_id, 'data-day': profile.day },
      el('strong', {}, profile.customer_id),
      asOf ? ` as of ${ctx.formatDate(profile.day)}` : ' now',
    ),
    ...profile.notes.map((n) => el('p', { class: 'muted', 'data-testid': 'customer-note' }, `Note: ${n}`)),
    // A replayed history ends before today: offer its last decided day instead of "now".
    ...frontierLink(ctx, profile, id),
    tiersCard(ctx, profile, transitions.transitions),
    metricsCard(ctx, profile),
    transitionsError
      ? el(
          'section',
          { class: 'card' },
          el('h2', {}, 'Transitions'),
          el('p', { class: 'error', 'data-testid': 'transitions-error' }, transitionsError.message),
        )
      : timelineCard(ctx, transitions, asOf ? profile.day : null),
  );
}
