import type { TierChange, TierCutPoints, TierTransition } from '@tierstream/contracts';
import { describe, expect, it } from 'vitest';
import { describeError, isConnectionError, isRetriable, parseServerError, WarehouseError } from '../src/errors';
import {
  routeChangeRecord,
  routeCutPointsRecord,
  routeHistoryRecord,
  routeTransitionRecord,
  toCutPointRows,
  toHistoryRow,
  toMetricHistoryRow,
  toSnapshotRow,
  toStateRow,
  toTransitionRow,
  utcDay,
} from '../src/rows';
import { backoffDelay, WarehouseWriter, type WriterClient } from '../src/writer';

const change = (over: Partial<TierChange> = {}): TierChange => ({
  customer_id: 'c1',
  kind: 'CHANGE',
  state_version: 3,
  snapshot_day: null,
  tiers: { value_tier: 'GOLD', lifecycle: 'ACTIVE' },
  metrics: { revenue_365d: 10.5, orders_lifetime: 2 },
  rules_version: 'r1',
  cutpoints_version: 'cp1',
  as_of: 1_700_000_000_000,
  emitted_at: 1_700_000_000_500,
  ...over,
});

const transition = (over: Partial<TierTransition> = {}): TierTransition => ({
  transition_id: 'tx1',
  customer_id: 'c1',
  dimension: 'value_tier',
  from_tier: null,
  to_tier: 'GOLD',
  direction: 'ENTER',
  reason: 'value_share',
  rule_id: 'value_share',
  rules_version: 'r1',
  cutpoints_version: 'cp1',
  metrics: { revenue_365d: 10 },
  occurred_at: Date.parse('2024-03-01T23:59:59.999Z'),
  evaluated_at: Date.parse('2024-03-02T00:00:01Z'),
  ...over,
});

describe('row mapping', () => {
  it('turns maps into sorted parallel arrays, independent of key order', () => {
    const a = toStateRow(change());
    const b = toStateRow(
      change({
        tiers: { lifecycle: 'ACTIVE', value_tier: 'GOLD' },
        metrics: { orders_lifetime: 2, revenue_365d: 10.5 },
      }),
    );
    expect(a).toEqual(b);
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
    expect(a.dims).toEqual(['lifecycle', 'value_tier']);
    expect(a.tiers).toEqual(['ACTIVE', 'GOLD']);
    expect(a.metric_names).toEqual(['orders_lifetime', 'revenue_365d']);
    expect(a.metric_values).toEqual([2, 10.5]);
  });

  it('drops non-finite metrics (JSON cannot carry them)', () => {
    const r = toStateRow(change({ metrics: { a: Number.NaN, b: 1, c: Number.POSITIVE_INFINITY } }));
    expect(r.metric_names).toEqual(['b']);
    expect(r.metric_values).toEqual([1]);
  });

  it('validates snapshots and versions', () => {
    expect(toSnapshotRow(change({ kind: 'SNAPSHOT', snapshot_day: '2024-02-29' })).snapshot_day).toBe('2024-02-29');
    expect(() => toSnapshotRow(change())).toThrow('snapshot of customer c1: kind must be SNAPSHOT, got CHANGE');
    expect(() => toSnapshotRow(change({ kind: 'SNAPSHOT', snapshot_day: '2023-02-29' }))).toThrow(
      "snapshot_day must be a date 'YYYY-MM-DD'",
    );
    expect(() => toSnapshotRow(change({ kind: 'SNAPSHOT', snapshot_day: null }))).toThrow(
      'snapshot_day must be a date',
    );
    expect(() => toStateRow(change({ state_version: -1 }))).toThrow('state_version must be a non-negative integer');
    expect(() => toStateRow(change({ customer_id: '' }))).toThrow('customer_id is empty');
  });

  it('maps a CHANGE copy of the history topic to tier_history, valid from its snapshot_day', () => {
    const r = toHistoryRow(change({ snapshot_day: '2024-02-29' }));
    expect(r).toEqual({ valid_from: '2024-02-29', ...toStateRow(change()) });
    expect(() => toHistoryRow(change())).toThrow(
      "tier change of customer c1: snapshot_day must be a date 'YYYY-MM-DD', got null",
    );
    expect(() => toHistoryRow(change({ snapshot_day: '2024-13-01' }))).toThrow('snapshot_day must be a date');
    expect(() => toHistoryRow(change({ kind: 'SNAPSHOT', snapshot_day: '2024-02-29' }))).toThrow(
      'kind must be CHANGE for tier_history, got SNAPSHOT',
    );
    expect(() => toHistoryRow(change({ snapshot_day: '2024-02-29', state_version: 1.5 }))).toThrow(
      'state_version must be a non-negative integer',
    );
  });

  it('maps METRICS to metric_history and refuses a basis_day that is missing, invalid or after snapshot_day', () => {
    const metrics = (over: Partial<TierChange> = {}) =>
      change({ kind: 'METRICS', tiers: {}, snapshot_day: '2024-03-10', basis_day: '2024-03-01', ...over });
    expect(toMetricHistoryRow(metrics({ metrics: { revenue_365d: 7, orders_lifetime: 2, bad: Number.NaN } }))).toEqual({
      customer_id: 'c1',
      basis_day: '2024-03-01',
      valid_from: '2024-03-10',
      metric_names: ['orders_lifetime', 'revenue_365d'],
      metric_values: [2, 7],
      as_of: 1_700_000_000_000,
      emitted_at: 1_700_000_000_500,
    });
    expect(toMetricHistoryRow(metrics({ aggregate_config: 'ac-1' })).aggregate_config).toBe('ac-1');
    // basis_day = snapshot_day: the row of the evaluation day itself. Tiers, if any, are not part of the row.
    expect(toMetricHistoryRow(metrics({ basis_day: '2024-03-10', tiers: { lifecycle: 'NEW' } })).basis_day).toBe(
      '2024-03-10',
    );
    expect(() => toMetricHistoryRow(metrics({ basis_day: undefined }))).toThrow(
      "metrics of customer c1: basis_day must be a date 'YYYY-MM-DD', got null",
    );
    expect(() => toMetricHistoryRow(metrics({ basis_day: null }))).toThrow('basis_day must be a date');
    expect(() => toMetricHistoryRow(metrics({ basis_day: '2024-02-30' }))).toThrow('basis_day must be a date');
    expect(() => toMetricHistoryRow(metrics({ basis_day: '2024-03-11' }))).toThrow(
      'metrics of customer c1: basis_day 2024-03-11 is after snapshot_day 2024-03-10',
    );
    expect(() => toMetricHistoryRow(metrics({ snapshot_day: null }))).toThrow('snapshot_day must be a date');
    expect(() => toMetricHistoryRow(metrics({ customer_id: '' }))).toThrow('customer_id is empty');
    expect(() => toMetricHistoryRow(metrics({ as_of: -1 }))).toThrow('as_of must be a non-negative integer');
    expect(() => toMetricHistoryRow(change({ snapshot_day: '2024-03-10' }))).toThrow(
      'kind must be METRICS, got CHANGE',
    );
  });

  it('routes the history topic by kind, the changes and transitions topics to their tables', () => {
    const day = '2024-03-10';
    expect(routeHistoryRecord(change({ snapshot_day: day })).table).toBe('tier_history');
    expect(routeHistoryRecord(change({ kind: 'SNAPSHOT', snapshot_day: day })).table).toBe('tier_snapshots');
    const m = routeHistoryRecord(change({ kind: 'METRICS', tiers: {}, snapshot_day: day, basis_day: day }));
    expect(m).toEqual({ table: 'metric_history', row: expect.objectContaining({ basis_day: day, valid_from: day }) });
    expect(() => routeHistoryRecord(change({ kind: 'BOGUS' as TierChange['kind'], snapshot_day: day }))).toThrow(
      'unknown kind "BOGUS"',
    );
    // tier_current says which day its metrics are as of: the evaluated day (snapshot_day), else the UTC day of as_of.
    expect(routeChangeRecord(change())).toEqual({
      table: 'tier_current',
      row: { ...toStateRow(change()), metrics_day: '2023-11-14' },
    });
    expect(routeChangeRecord(change({ snapshot_day: '2023-11-13' })).row).toMatchObject({ metrics_day: '2023-11-13' });
    expect(routeChangeRecord(change({ kind: 'SNAPSHOT', snapshot_day: day })).table).toBe('tier_current');
    expect(() => routeChangeRecord(change({ kind: 'METRICS', tiers: {} }))).toThrow('kind METRICS is not a tier state');
    expect(routeTransitionRecord(transition())).toEqual({
      table: 'tier_transitions',
      row: toTransitionRow(transition()),
    });
  });

  it('maps a cut-point version to one cutpoint_history row per key and its aggregate_configs row', () => {
    const cp: TierCutPoints = {
      version: 'cp-2024-03-02',
      rules_version: 'r1',
      computed_at: Date.parse('2024-03-02T23:59:59.999Z'),
      measured_day: '2024-03-02',
      population: 10,
      effective_from: null,
      rules_seq: null,
      cuts: [
        {
          key: 'rfm_segment.r',
          dimension: 'rfm_segment',
          metric: 'recency_days',
          better: 'lower',
          groups: ['5', '4', '3', '2', '1'],
          values: [3, 10, 20, 40],
          anchor_day: '2024-03-02',
        },
      ],
      aggregate_config: 'ac-1',
      reporting_currency: 'USD',
      fx_rates: { USD: 1, EUR: 1.08 },
      aggregate_config_json: '{}',
      emitted_at: 5,
    };
    const routed = routeCutPointsRecord(cp);
    expect(routed.map((r) => r.table)).toEqual(['aggregate_configs', 'cutpoint_history']);
    expect(routed[0]!.row).toEqual({
      aggregate_config: 'ac-1',
      reporting_currency: 'USD',
      fx_currencies: ['EUR', 'USD'],
      fx_rates: [1.08, 1],
      config_json: '{}',
      emitted_at: 5,
    });
    // in force from the day after it was measured, unless the record says otherwise (a rules change)
    expect(routed[1]!.row).toMatchObject({ cut_key: 'rfm_segment.r', effective_from: '2024-03-03', rules_seq: null });
    expect(toCutPointRows({ ...cp, effective_from: '2024-03-02', rules_seq: 2 }).cuts[0]).toMatchObject({
      effective_from: '2024-03-02',
      rules_seq: 2,
    });
    expect(toCutPointRows({ ...cp, version: 'initial', measured_day: null }).cuts[0]!.effective_from).toBe(
      '1970-01-01',
    );
    expect(() => toCutPointRows({ ...cp, measured_day: '2024-02-30' })).toThrow('measured_day must be a date');
    expect(() => toCutPointRows({ ...cp, version: '' })).toThrow('version is empty');
  });

  it('computes the transition day in UTC', () => {
    const r = toTransitionRow(transition());
    expect(r.occurred_day).toBe('2024-03-01');
    expect(r.from_tier).toBeNull();
    expect(utcDay(Date.parse('2024-03-02T00:00:00Z'))).toBe('2024-03-02');
  });
});

describe('errors', () => {
  it('reads ClickHouse 18.x errors (no (TYPE) suffix)', () => {
    const old =
      "Code: 60, e.displayText() = DB::Exception: Table tierstream.nope doesn't exist., e.what() = DB::Exception\n";
    expect(parseServerError(old)).toEqual({
      code: 60,
      type: 'UNKNOWN_TABLE',
      message: "Table tierstream.nope doesn't exist.",
    });
    expect(describeError(new Error(old))).toBe(
      "ClickHouse error 60 UNKNOWN_TABLE: Table tierstream.nope doesn't exist",
    );
    expect(isRetriable(new Error(old))).toBe(false);
  });

  it("describes @clickhouse/client's ClickHouseError (code as string, type possibly empty)", () => {
    const typed = Object.assign(new Error('Unknown table expression identifier x.y.'), {
      code: '60',
      type: 'UNKNOWN_TABLE',
    });
    expect(describeError(typed)).toBe('ClickHouse error 60 UNKNOWN_TABLE: Unknown table expression identifier x.y');
    const untyped = Object.assign(new Error('Too many parts'), { code: '252', type: undefined });
    expect(describeError(untyped)).toBe('ClickHouse error 252 TOO_MANY_PARTS: Too many parts');
    expect(isRetriable(untyped)).toBe(true);
  });

  it('reads current errors', () => {
    const cur =
      'Code: 62. DB::Exception: Syntax error: failed at position 1 (SELEC). (SYNTAX_ERROR) (version 24.8.1.1)';
    expect(parseServerError(cur)).toEqual({
      code: 62,
      type: 'SYNTAX_ERROR',
      message: 'Syntax error: failed at position 1 (SELEC).',
    });
  });

  it('classifies connection errors as retriable, server overload too, bad data not', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:18123'), { code: 'ECONNREFUSED' });
    expect(isConnectionError(refused)).toBe(true);
    expect(isRetriable(new Error('socket hang up'))).toBe(true);
    expect(
      isRetriable(
        new Error('Code: 252, e.displayText() = DB::Exception: Too many parts (300)., e.what() = DB::Exception'),
      ),
    ).toBe(true);
    expect(
      isRetriable(
        new Error(
          'Code: 27, e.displayText() = DB::Exception: Cannot parse input: expected { before: x, e.what() = DB::Exception',
        ),
      ),
    ).toBe(false);
  });
});

type InsertArgs = Parameters<WriterClient['insert']>[0];

function fakeClient(failures: unknown[]) {
  const calls: InsertArgs[] = [];
  const client = {
    insert: async (args: InsertArgs) => {
      calls.push(args);
      const f = failures.shift();
      if (f) throw f;
      return { executed: true, query_id: 'q', response_headers: {} };
    },
  } as unknown as WriterClient;
  return { client, calls };
}

describe('WarehouseWriter', () => {
  const refused = () => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:18123'), { code: 'ECONNREFUSED' });

  it('inserts JSONEachRow into the right tables, split into batches', async () => {
    const { client, calls } = fakeClient([]);
    const w = new WarehouseWriter(client, { database: 'ts', maxBatchRows: 2 });
    await w.insertChanges([change(), change({ customer_id: 'c2' }), change({ customer_id: 'c3' })]);
    await w.insertSnapshots([change({ kind: 'SNAPSHOT', snapshot_day: '2024-01-01' })]);
    await w.insertTransitions([transition()]);
    await w.insertChanges([]);
    expect(calls.map((c) => [c.table, c.format, (c.values as unknown[]).length])).toEqual([
      ['ts.tier_current', 'JSONEachRow', 2],
      ['ts.tier_current', 'JSONEachRow', 1],
      ['ts.tier_snapshots', 'JSONEachRow', 1],
      ['ts.tier_transitions', 'JSONEachRow', 1],
    ]);
    const snapshotRows = calls[2]?.values as { snapshot_day: string }[] | undefined;
    expect(snapshotRows?.[0]?.snapshot_day).toBe('2024-01-01');
  });

  it('retries connection errors with exponential backoff, then succeeds', async () => {
    const { client, calls } = fakeClient([refused(), refused()]);
    const delays: number[] = [];
    const w = new WarehouseWriter(client, {
      database: 'ts',
      retry: { attempts: 3, baseDelayMs: 100, maxDelayMs: 10_000 },
      sleep: async (ms) => {
        delays.push(ms);
      },
    });
    await w.insertChanges([change()]);
    expect(calls).toHaveLength(3);
    expect(delays).toHaveLength(2);
    expect(delays[0]).toBeGreaterThanOrEqual(80);
    expect(delays[0]).toBeLessThanOrEqual(120);
    expect(delays[1]).toBeGreaterThanOrEqual(160);
    expect(delays[1]).toBeLessThanOrEqual(240);
  });

  it('throws after the configured number of attempts, with a readable message', async () => {
    const { client, calls } = fakeClient([refused(), refused(), refused(), refused()]);
    const w = new WarehouseWriter(client, { database: 'ts', retry: { attempts: 3 }, sleep: async () => {} });
    const err = await w.insertChanges([change()]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WarehouseError);
    expect((err as WarehouseError).message).toBe(
      'insert of 1 rows into ts.tier_current failed after 3 attempts: ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:18123'.replace(
        'ECONNREFUSED: ',
        '',
      ),
    );
    expect((err as WarehouseError).retriable).toBe(true);
    expect(calls).toHaveLength(3);
  });

  it('does not retry server errors about the data, and names them readably', async () => {
    const old = new Error(
      "Code: 60, e.displayText() = DB::Exception: Table ts.tier_current doesn't exist., e.what() = DB::Exception",
    );
    const { client, calls } = fakeClient([old]);
    const w = new WarehouseWriter(client, { database: 'ts', sleep: async () => {} });
    await expect(w.insertChanges([change()])).rejects.toThrow(
      "insert of 1 rows into ts.tier_current failed: ClickHouse error 60 UNKNOWN_TABLE: Table ts.tier_current doesn't exist",
    );
    expect(calls).toHaveLength(1);
  });

  it('inserts routed rows per table, in a fixed table order, and the history tables directly', async () => {
    const { client, calls } = fakeClient([]);
    const w = new WarehouseWriter(client, { database: 'ts', maxBatchRows: 2 });
    const day = '2024-03-10';
    const metrics = change({ kind: 'METRICS', tiers: {}, snapshot_day: day, basis_day: day });
    await w.insertRouted([
      routeChangeRecord(change()),
      routeHistoryRecord(metrics),
      routeHistoryRecord(change({ snapshot_day: day })),
      routeHistoryRecord(change({ customer_id: 'c2', snapshot_day: day })),
      routeHistoryRecord(change({ customer_id: 'c3', snapshot_day: day })),
      routeTransitionRecord(transition()),
      routeHistoryRecord(change({ kind: 'SNAPSHOT', snapshot_day: day })),
    ]);
    expect(calls.map((c) => [c.table, (c.values as { customer_id: string }[]).map((v) => v.customer_id)])).toEqual([
      ['ts.tier_transitions', ['c1']],
      ['ts.tier_snapshots', ['c1']],
      ['ts.tier_history', ['c1', 'c2']],
      ['ts.tier_history', ['c3']],
      ['ts.metric_history', ['c1']],
      ['ts.tier_current', ['c1']],
    ]);
    calls.length = 0;
    await w.insertHistory([change({ snapshot_day: day })]);
    await w.insertMetricHistory([metrics]);
    await w.insertRouted([]);
    expect(calls.map((c) => c.table)).toEqual(['ts.tier_history', 'ts.metric_history']);
    await expect(w.insertMetricHistory([metrics, { ...metrics, basis_day: null }])).rejects.toThrow(
      'basis_day must be a date',
    );
    expect(calls).toHaveLength(2);
  });

  it('validates a whole snapshot batch before inserting any of it', async () => {
    const { client, calls } = fakeClient([]);
    const w = new WarehouseWriter(client, { database: 'ts' });
    await expect(
      w.insertSnapshots([change({ kind: 'SNAPSHOT', snapshot_day: '2024-01-01' }), change()]),
    ).rejects.toThrow('kind must be SNAPSHOT');
    expect(calls).toHaveLength(0);
  });

  it('backoff doubles and is capped', () => {
    const mid = () => 0.5;
    expect([1, 2, 3, 4, 5, 6].map((a) => backoffDelay(a, 100, 1_000, mid))).toEqual([100, 200, 400, 800, 1000, 1000]);
  });
});
