import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parser } from '@prometheus-io/lezer-promql';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';

/**
 * The runbook's alerts (docs/operations.md §10, one ```promql block per rule, first line `# alert: <name>  for: <d>`)
 * are valid PromQL, use only metrics the code registers, and infra/prometheus/alerts.yml holds exactly them.
 * Parsing uses @prometheus-io/lezer-promql, the grammar of Prometheus' own UI; the grammar accepts a range on any
 * expression, so the rule Prometheus' server enforces ("ranges only allowed for vector selectors"; a range function
 * needs a range vector) is checked on the tree here.
 */
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const read = (file: string) => readFileSync(path.join(ROOT, file), 'utf8');

/** Series Prometheus itself creates per scrape target (not registered by any service). */
const PROMETHEUS_SERIES = new Set(['up', 'scrape_duration_seconds', 'scrape_samples_scraped']);
/** Functions whose (first) argument must be a range vector. */
const RANGE_FUNCTIONS = new Set([
  'rate',
  'irate',
  'increase',
  'delta',
  'idelta',
  'deriv',
  'predict_linear',
  'changes',
  'resets',
  'double_exponential_smoothing',
  'holt_winters',
]);

interface Alert {
  name: string;
  for: string;
  expr: string;
}

/** Every ```promql block of a markdown text, with its `# alert:` header split off. */
function runbookAlerts(markdown: string): Alert[] {
  const alerts: Alert[] = [];
  for (const match of markdown.matchAll(/```promql\n([\s\S]*?)```/g)) {
    const [header, ...rest] = match[1]!.trimEnd().split('\n');
    const head = /^# alert: (\w+)\s+for: (\d+[smhd])$/.exec(header ?? '');
    if (!head) throw new Error(`promql block without a '# alert: <name>  for: <duration>' first line: ${header}`);
    alerts.push({ name: head[1]!, for: head[2]!, expr: rest.join('\n').trim() });
  }
  return alerts;
}

/** Problems of one PromQL expression: syntax errors, ranges of non-selectors, range functions without a range. */
function promqlProblems(expr: string): string[] {
  const problems: string[] = [];
  const tree = parser.parse(expr);
  tree.iterate({
    enter: (node) => {
      const text = expr.slice(node.from, node.to);
      if (node.type.isError) problems.push(`syntax error at ${node.from}: '${expr.slice(node.from, node.from + 20)}'`);
      if (node.name === 'MatrixSelector' && node.node.firstChild?.name !== 'VectorSelector')
        problems.push(`range of a non-selector (use a subquery [range:step]): ${text}`);
      if (node.name === 'FunctionCall') {
        const fn = node.node.getChild('FunctionIdentifier');
        const name = fn ? expr.slice(fn.from, fn.to) : '';
        const arg = node.node.getChild('FunctionCallBody')?.firstChild;
        if (RANGE_FUNCTIONS.has(name) && arg?.name !== 'MatrixSelector' && arg?.name !== 'SubqueryExpr')
          problems.push(`${name}() needs a range vector: ${text}`);
      }
    },
  });
  return problems;
}

/** Metric names of every vector selector in an expression. */
function metricNames(expr: string): string[] {
  const names: string[] = [];
  parser.parse(expr).iterate({
    enter: (node) => {
      if (node.name !== 'VectorSelector') return;
      const id = node.node.getChild('Identifier');
      if (id) names.push(expr.slice(id.from, id.to));
    },
  });
  return names;
}

/** Metric names registered in the code (prom-client constructors in packages/*\/src and services/*\/src). */
function registeredMetrics(): Set<string> {
  const names = new Set<string>();
  for (const top of ['packages', 'services']) {
    for (const pkg of readdirSync(path.join(ROOT, top))) {
      const src = path.join(ROOT, top, pkg, 'src');
      let files: string[];
      try {
        files = readdirSync(src, { recursive: true }) as string[];
      } catch {
        continue;
      }
      for (const file of files.filter((f) => f.endsWith('.ts'))) {
        const text = readFileSync(path.join(src, file), 'utf8');
        for (const m of text.matchAll(/new (Counter|Gauge|Histogram|Summary)\(\{\s*name: '([a-zA-Z_:][\w:]*)'/g)) {
          names.add(m[2]!);
          if (m[1] === 'Histogram' || m[1] === 'Summary')
            for (const suffix of ['_bucket', '_count', '_sum']) names.add(m[2]! + suffix);
        }
      }
    }
  }
  return names;
}

const normalize = (expr: string) => expr.replace(/\s+/g, ' ').trim();

describe('the runbook alerts (docs/operations.md §10)', () => {
  const alerts = runbookAlerts(read('docs/operations.md'));

  it('are promql blocks, at least the documented kinds, each named once', () => {
    const names = alerts.map((a) => a.name);
    expect(new Set(names).size).toBe(names.length);
    for (const name of [
      'TierstreamLagGrowing',
      'TierstreamPartitionRetrying',
      'TierstreamDeadLetters',
      'TierstreamEngineStuck',
      'TierstreamWriterFailing',
    ])
      expect(names).toContain(name);
  });

  it('parse as PromQL without problems', () => {
    for (const a of alerts) expect(promqlProblems(a.expr), `${a.name}: ${a.expr}`).toEqual([]);
  });

  it('use only metrics the services register (or that Prometheus creates per target)', () => {
    const registered = registeredMetrics();
    expect(registered.has('tierstream_consumer_lag')).toBe(true); // the scan finds the registry
    for (const a of alerts) {
      for (const name of metricNames(a.expr)) {
        expect(registered.has(name) || PROMETHEUS_SERIES.has(name), `${a.name} uses ${name}`).toBe(true);
      }
    }
  });

  it('are exactly the rules of infra/prometheus/alerts.yml (names, expressions, durations)', () => {
    const file = parseYaml(read('infra/prometheus/alerts.yml')) as {
      groups: Array<{ rules: Array<{ alert: string; expr: string; for: string }> }>;
    };
    const rules = file.groups.flatMap((g) => g.rules);
    for (const r of rules) expect(promqlProblems(r.expr), `${r.alert}: ${r.expr}`).toEqual([]);
    expect(rules.map((r) => ({ name: r.alert, for: r.for, expr: normalize(r.expr) }))).toEqual(
      alerts.map((a) => ({ name: a.name, for: a.for, expr: normalize(a.expr) })),
    );
  });
});

describe('the metrics table (docs/operations.md §10)', () => {
  it('lists exactly the tierstream_* metrics the code registers', () => {
    const section = read('docs/operations.md')
      .split(/^## 10\./m)[1]!
      .split(/^## 11\./m)[0]!;
    const listed = [...section.matchAll(/^\| `(tierstream_\w+)`/gm)].map((m) => m[1]!);
    const registered = [...registeredMetrics()].filter(
      (n) => n.startsWith('tierstream_') && !/_(bucket|count|sum)$/.test(n),
    );
    expect([...listed].sort()).toEqual([...new Set(registered)].sort());
  });
});

describe('promqlProblems (the checker itself)', () => {
  it("refuses the runbook's former lag alert: a range of an aggregation is not PromQL (needs a subquery)", () => {
    expect(promqlProblems('deriv(sum by (service) (tierstream_consumer_lag)[10m]) > 0')).toEqual([
      'range of a non-selector (use a subquery [range:step]): sum by (service) (tierstream_consumer_lag)[10m]',
    ]);
    expect(promqlProblems('deriv(sum by (service) (tierstream_consumer_lag)[10m:1m]) > 0')).toEqual([]);
  });

  it('refuses syntax errors, unknown functions and a range function on an instant vector', () => {
    expect(promqlProblems('sum(rate(tierstream_dlq_total[5m])')).not.toEqual([]);
    expect(promqlProblems('rates(tierstream_dlq_total[5m])')).not.toEqual([]);
    expect(promqlProblems('rate(tierstream_dlq_total)')).toEqual([
      'rate() needs a range vector: rate(tierstream_dlq_total)',
    ]);
  });
});
