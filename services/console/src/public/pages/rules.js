// The Rules page: the active rules version (as `tierctl rules show`), its dimensions as readable tables, and a rules
// file upload that is validated and previewed as a dry run (the moves `tierctl rules diff` reports). Applying is a
// button for the admin role only; a viewer is told to use `tierctl rules apply`.
//
// data-testid: active-version, active-apply, rules-file-status, rules-file, preview, validation-error (one per issue),
// preview-version, move-<dim>-<from>-<to> (matrix cell, data-value = customers), held-<dim>-<tier>-<pending>,
// rules-apply (admin), apply-hint (viewer), apply-result, dimension-<id>.

/** A table of `columns` and `rows` (cells: text or numbers; `money` column indexes formatted in `currency`). */
function dataTable(ctx, table, currency) {
  const money = new Set(table.money ?? []);
  const numeric = table.columns.map((_, i) => table.rows.some((r) => typeof r[i] === 'number'));
  const cell = (v, i) => {
    if (v === null || v === undefined) return ctx.el('td', { class: numeric[i] ? 'num' : undefined }, '–');
    if (typeof v !== 'number') return ctx.el('td', {}, String(v));
    const text = money.has(i) && currency ? ctx.formatMoney(v, currency) : ctx.formatNumber(v);
    return ctx.el('td', { class: 'num', 'data-value': v }, text);
  };
  return ctx.el(
    'table',
    {},
    ctx.el(
      'thead',
      {},
      ctx.el(
        'tr',
        {},
        table.columns.map((c, i) => ctx.el('th', { class: numeric[i] ? 'num' : undefined }, c)),
      ),
    ),
    ctx.el(
      'tbody',
      {},
      table.rows.map((r) => ctx.el('tr', {}, r.map(cell))),
    ),
  );
}

/** One dimension: its summary line and its scoring tables. */
function dimensionCard(ctx, d, currency) {
  const tags = [
    d.scoring,
    d.ordered ? 'ordered (highest first)' : 'unordered',
    d.grace_days > 0 ? `grace ${d.grace_days} days (${d.grace_applies_to})` : 'no grace',
  ];
  return ctx.el(
    'section',
    { class: 'card', 'data-testid': `dimension-${d.id}` },
    ctx.el(
      'h2',
      {},
      d.id,
      ' ',
      tags.flatMap((t) => [ctx.el('span', { class: 'tag' }, t), ' ']),
    ),
    d.description ? ctx.el('p', { class: 'muted' }, d.description) : null,
    ctx.el('p', {}, 'Tiers: ', d.tiers.join(d.ordered ? ' > ' : ', ')),
    d.reactivation ? ctx.el('p', {}, 'Reactivation: ', d.reactivation) : null,
    d.tables.flatMap((t) => [ctx.el('h3', {}, t.title), dataTable(ctx, t, currency)]),
  );
}

/** The active version and what `tierctl rules show` warns about. */
function activeCard(ctx, data) {
  const a = data.show.active;
  const card = ctx.el('section', { class: 'card' }, ctx.el('h2', {}, 'Active version'));
  if (!a) {
    card.append(ctx.el('p', {}, 'No active rules version recorded (an engine records its RULES_FILE at start).'));
    return card;
  }
  const row = (label, ...value) => [ctx.el('dt', {}, label), ctx.el('dd', {}, ...value)];
  card.append(
    ctx.el(
      'dl',
      { class: 'metrics' },
      row('version', ctx.el('strong', { 'data-testid': 'active-version', 'data-value': a.version }, a.version)),
      row('apply', ctx.el('span', { 'data-testid': 'active-apply', 'data-value': a.seq }, String(a.seq))),
      row('source', a.source),
      row('applied at', ctx.formatInstant(a.applied_at)),
      row('sha256', ctx.el('code', {}, a.sha256)),
      data.cutpoints
        ? row('cut points', `${data.cutpoints.version} (computed ${ctx.formatInstant(data.cutpoints.computed_at)})`)
        : [],
    ),
  );
  const f = data.show.file;
  if (f) {
    const text = f.differs
      ? `${f.path} (${f.version === null ? `unreadable: ${f.error}` : `version ${f.version}`}) differs from the active version: engines use the active version; \`tierctl rules apply ${f.path}\` to use the file.`
      : `${f.path}: same as the active version.`;
    card.append(
      ctx.el(
        'p',
        {
          class: f.differs ? 'error' : 'muted',
          'data-testid': 'rules-file-status',
          'data-value': f.differs ? 'differs' : 'same',
        },
        text,
      ),
    );
  }
  const c = data.show.change;
  if (c)
    card.append(
      ctx.el(
        'p',
        {},
        `Rules change: ${c.done}/${c.partitions} partitions re-evaluated${c.day ? ` as of ${ctx.formatDate(c.day)}` : ''}${c.cutpoints ? `, cut points ${c.cutpoints}` : ''}.`,
      ),
    );
  if (data.show.partitions_behind.length > 0 && !c)
    card.append(
      ctx.el(
        'p',
        { class: 'error' },
        `No engine has started apply ${a.seq} yet: partitions ${data.show.partitions_behind.join(', ')} still run an earlier version (is a tier engine running?).`,
      ),
    );
  for (const e of data.show.engine_files.filter((x) => x.differs))
    card.append(
      ctx.el(
        'p',
        { class: 'error' },
        `An engine's RULES_FILE ${e.file} (${e.version ?? 'unreadable'}) differed from the active ${e.activeVersion} at ${ctx.formatInstant(e.checkedAt)}.`,
      ),
    );
  return card;
}

/** The moves of one dimension as a from × to matrix (tiers in the new rules' order; `-` = no tier before). */
function movesMatrix(ctx, dimension, tiers, moves) {
  const order = (t) => {
    const i = tiers.indexOf(t);
    return i < 0 ? tiers.length : i;
  };
  const froms = [...new Set(moves.map((m) => m.from))].sort((a, b) => order(a) - order(b));
  const tos = [...new Set(moves.map((m) => m.to))].sort((a, b) => order(a) - order(b));
  const count = new Map(moves.map((m) => [`${m.from}\u0000${m.to}`, m.customers]));
  return ctx.el(
    'table',
    { class: 'matrix', 'data-testid': `moves-${dimension}` },
    ctx.el(
      'thead',
      {},
      ctx.el(
        'tr',
        {},
        ctx.el('th', {}, 'from \\ to'),
        tos.map((t) => ctx.el('th', { class: 'num' }, t)),
      ),
    ),
    ctx.el(
      'tbody',
      {},
      froms.map((f) =>
        ctx.el(
          'tr',
          {},
          ctx.el('th', {}, f === '-' ? '(none)' : f),
          tos.map((t) => {
            const n = count.get(`${f}\u0000${t}`);
            return n === undefined
              ? ctx.el('td', { class: 'num muted' }, '·')
              : ctx.el(
                  'td',
                  { class: 'num', 'data-testid': `move-${dimension}-${f}-${t}`, 'data-value': n },
                  ctx.formatNumber(n),
                );
          }),
        ),
      ),
    ),
  );
}

/** The preview of an upload: its validation errors, or the dry run's moves, held demotions and cut points. */
function previewView(ctx, result, currency) {
  const box = ctx.el('div', { 'data-testid': 'preview', 'data-valid': result.valid ? 'true' : 'false' });
  if (!result.valid) {
    box.append(
      ctx.el('h3', {}, `${result.file} is not valid (as tierctl rules validate reports):`),
      ctx.el(
        'ul',
        { class: 'issues' },
        result.issues.map((i) => ctx.el('li', { class: 'error', 'data-testid': 'validation-error' }, i)),
      ),
    );
    return box;
  }
  const d = result.diff;
  box.append(
    ctx.el(
      'p',
      {},
      ctx.el(
        'strong',
        { 'data-testid': 'preview-version', 'data-value': result.version },
        `${result.file}: valid, version ${result.version}`,
      ),
      ` (active: ${d.active?.version ?? 'none'}). Population as of ${ctx.formatDate(d.measured_day)}, customers re-evaluated as of ${ctx.formatDate(d.day)}.`,
      d.aligned ? '' : ' Partitions are at different days: exact once they caught up.',
    ),
  );
  if (d.cutpoints)
    box.append(
      ctx.el(
        'p',
        { class: 'muted' },
        `Cut points ${d.cutpoints.version} (population ${d.cutpoints.population ?? '–'}): `,
        Object.entries(d.cutpoints.cuts)
          .map(([k, v]) => `${k} [${v.join(', ')}]`)
          .join('; '),
      ),
    );
  const tiersOf = new Map(result.dimensions.map((x) => [x.id, x.tiers]));
  box.append(ctx.el('h3', {}, 'Moves (applied in one wave, reason RULES_CHANGED)'));
  if (d.moves.length === 0) box.append(ctx.el('p', { 'data-testid': 'no-moves' }, 'No customer would change tier.'));
  const dims = [...new Set(d.moves.map((m) => m.dimension))];
  for (const dim of dims) {
    const moves = d.moves.filter((m) => m.dimension === dim);
    const total = moves.reduce((n, m) => n + m.customers, 0);
    box.append(
      ctx.el('h4', {}, `${dim}: ${ctx.formatNumber(total)} customers`),
      movesMatrix(ctx, dim, tiersOf.get(dim) ?? [], moves),
    );
  }
  box.append(
    ctx.el('h3', {}, 'Held by grace (the tier stays; the lower tier is pending until grace_days have passed)'),
  );
  if (d.held.length === 0) box.append(ctx.el('p', {}, 'None.'));
  else
    box.append(
      ctx.el(
        'table',
        {},
        ctx.el(
          'thead',
          {},
          ctx.el(
            'tr',
            {},
            ['dimension', 'tier (stays)', 'pending', 'applies from', 'customers'].map((c) => ctx.el('th', {}, c)),
          ),
        ),
        ctx.el(
          'tbody',
          {},
          d.held.map((h) =>
            ctx.el(
              'tr',
              {},
              ctx.el('td', {}, h.dimension),
              ctx.el('td', {}, h.tier),
              ctx.el('td', {}, h.pending),
              ctx.el('td', {}, ctx.formatDate(h.applies_from)),
              ctx.el(
                'td',
                {
                  class: 'num',
                  'data-testid': `held-${h.dimension}-${h.tier}-${h.pending}`,
                  'data-value': h.customers,
                },
                ctx.formatNumber(h.customers),
              ),
            ),
          ),
        ),
      ),
    );
  const details = ctx.el('details', {}, ctx.el('summary', {}, `The dimensions of ${result.version}`));
  for (const dim of result.dimensions) details.append(dimensionCard(ctx, dim, currency));
  box.append(details);
  return box;
}

/** Renders the page. */
export async function render(root, ctx) {
  const data = await ctx.api('/api/v1/rules');
  const currency = data.currency ?? ctx.currency;
  root.append(ctx.el('h1', {}, 'Rules'), activeCard(ctx, data));

  const input = ctx.el('input', {
    type: 'file',
    accept: '.yaml,.yml,application/yaml,text/yaml',
    'data-testid': 'rules-file',
  });
  const status = ctx.el('span', { class: 'muted', 'data-testid': 'preview-status' });
  const result = ctx.el('div');
  const applyBox = ctx.el('div');
  let upload = null;
  input.addEventListener('change', async () => {
    const file = input.files?.[0];
    result.replaceChildren();
    applyBox.replaceChildren();
    upload = null;
    if (!file) return;
    status.textContent = `Checking ${file.name} and computing the dry run…`;
    const text = await file.text();
    try {
      const preview = await ctx.api('/api/v1/rules/preview', { method: 'POST', json: { text, name: file.name } });
      status.textContent = '';
      result.append(previewView(ctx, preview, currency));
      if (!preview.valid) return;
      upload = { text, name: file.name, version: preview.version };
      if (data.can_apply) {
        const button = ctx.el('button', { type: 'button', 'data-testid': 'rules-apply' }, `Apply ${preview.version}`);
        button.addEventListener('click', async () => {
          button.disabled = true;
          try {
            const applied = await ctx.api('/api/v1/rules/apply', {
              method: 'POST',
              json: { text: upload.text, name: upload.name },
            });
            applyBox.append(
              ctx.el(
                'p',
                { 'data-testid': 'apply-result', 'data-value': applied.apply },
                applied.changed
                  ? `Rules ${applied.applied} is active (apply ${applied.apply}; was ${applied.previous ?? 'none'}): every engine recomputes the cut points and re-evaluates every customer (reason RULES_CHANGED).`
                  : `Rules ${applied.applied} is already active (apply ${applied.apply}) with this text: nothing changed.`,
              ),
            );
          } finally {
            button.disabled = false;
          }
        });
        applyBox.append(button);
      } else {
        applyBox.append(
          ctx.el(
            'p',
            { class: 'muted', 'data-testid': 'apply-hint' },
            'Applying needs the admin role: apply with ',
            ctx.el('code', {}, `tierctl rules apply ${file.name}`),
            '.',
          ),
        );
      }
    } catch (err) {
      status.textContent = `Preview failed: ${err.message}`;
    }
  });

  root.append(
    ctx.el(
      'section',
      { class: 'card' },
      ctx.el('h2', {}, 'Preview a rules file (dry run: changes nothing)'),
      ctx.el('div', { class: 'toolbar' }, input, status),
      result,
      applyBox,
    ),
  );

  if (data.active) {
    root.append(ctx.el('h2', {}, `Dimensions of ${data.active.version}`));
    for (const d of data.active.dimensions) root.append(dimensionCard(ctx, d, currency));
  }
  if (data.history.length > 0)
    root.append(
      ctx.el(
        'section',
        { class: 'card' },
        ctx.el('h2', {}, 'History'),
        dataTable(ctx, {
          columns: ['apply', 'version', 'applied at', 'source', 'sha256', 'active'],
          rows: data.history.map((h) => [
            h.seq,
            h.version,
            ctx.formatInstant(h.applied_at),
            h.source,
            h.sha256,
            h.active ? 'yes' : '',
          ]),
          money: [],
        }),
      ),
    );
}
