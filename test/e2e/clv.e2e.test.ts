import { readFileSync } from 'node:fs';
import path from 'node:path';
import { AggregateStore, DEFAULT_AGGREGATE_CONFIG, metricsAt } from '@tierstream/aggregates';
import { bootstrapPipeline, Clients, REPO_ROOT, resetPipelineData } from '@tierstream/cli';
import {
  type BgNbdParams,
  type CustomerStats,
  compressBgNbd,
  conditionalExpectedPurchases,
  fitBgNbd,
  pAlive,
  sufficientStats,
} from '@tierstream/clv';
import type { InputEvent, OrderEvent, TierChange } from '@tierstream/contracts';
import { parseCdnow } from '@tierstream/generator';
import { type ClvModel, clvModelFor, clvPredictions } from '@tierstream/tiering';
import { ClvModelStore, dayOf, endOfDay, TierStateStore } from '@tierstream/tierstate';
import { QUERIES_DIR, runNamedQuery } from '@tierstream/warehouse';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type DecodedTransition,
  feedAndClose,
  type RunningPipeline,
  readTopic,
  readTransitions,
  startPipeline,
  tierctl,
} from '../support/journeys';

/**
 * Predicted value through the running services (issue 15): the CDNOW sample's calibration period (1997-01-01 …
 * 1997-09-30, Fader, Hardie & Lee 2005) goes through Kafka, the aggregator's Lua script and the tier engine (replay
 * mode) under rules/clv.yaml. The engine fits the CLV model at the cut-point barrier every 18 days (1997-09-30 is a
 * multiple of 18 days since 1970-01-01, so the last fit measures exactly the calibration period). Every customer's
 * p_alive and expected_orders_365d as of 1997-09-30, from the streaming inputs and the stored model, must equal the
 * batch computation (statistics from the event list, BG/NBD fitted on them) to 1e-9; transitions carry the
 * predictions of the model in force on their day.
 */

const CAL_END = dayOf(Date.UTC(1997, 8, 30));
const SAMPLE = path.join(REPO_ROOT, 'data/cdnow/CDNOW_sample.txt');

function calibrationOrders(): OrderEvent[] {
  return parseCdnow(readFileSync(SAMPLE, 'utf8'), SAMPLE).filter((e) => dayOf(e.occurred_at) <= CAL_END);
}

describe('CLV through the running services (CDNOW sample, calibration period)', () => {
  const clients = new Clients();
  let pipeline: RunningPipeline | null = null;
  const orders = calibrationOrders();
  const events: InputEvent[] = orders.map((event) => ({ kind: 'order', event }));
  const batch = new Map<string, CustomerStats>();
  let batchParams: BgNbdParams;
  let transitions: DecodedTransition[] = [];

  beforeAll(async () => {
    // The batch side: statistics per customer straight from the event list, and the BG/NBD fit on them.
    const byCustomer = new Map<string, Array<{ day: number; amountMinor: number }>>();
    for (const o of orders) {
      const list = byCustomer.get(o.customer_id) ?? [];
      list.push({ day: dayOf(o.occurred_at), amountMinor: o.amount_minor });
      byCustomer.set(o.customer_id, list);
    }
    for (const [id, purchases] of byCustomer) batch.set(id, sufficientStats(purchases, CAL_END)!);
    batchParams = fitBgNbd(compressBgNbd([...batch.values()])).params;

    await resetPipelineData(clients);
    await bootstrapPipeline(clients);
    pipeline = startPipeline({
      SWEEP_INTERVAL_MS: '20',
      RULES_FILE: 'rules/clv.yaml',
      CUTPOINTS_EVERY_DAYS: '18',
      CUTPOINTS_YOUNG_BELOW: '0',
      CUTPOINTS_EARLY_CHANGE: '0',
      CLV_FIT_EVERY_DAYS: '18',
    });
    await feedAndClose(clients, pipeline, events, endOfDay(CAL_END), 400_000);
    transitions = await readTransitions(clients);
  }, 600_000);

  afterAll(async () => {
    await pipeline?.stop();
    await clients.close();
  });

  it('fits the model at the close of 1997-09-30 on all 2,357 customers; it equals the batch fit', async () => {
    const model = await new ClvModelStore(clients.redis, clients.redisPrefix).latest();
    expect(model?.version).toBe('clv-1997-09-30');
    expect(model?.sampleSize).toBe(2357);
    expect(model?.repeatBuyers).toBe(946);
    // The same statistics, grouped in the same order (compressBgNbd sorts): the same parameters, bit for bit.
    expect(model!.bgnbd).toEqual(batchParams);
    // The published CDNOW estimates (FHL 2005): r = 0.243, α = 4.414, a = 0.793, b = 2.426 within 1 %.
    expect(Math.abs(model!.bgnbd.r / 0.243 - 1)).toBeLessThan(0.01);
    expect(Math.abs(model!.bgnbd.alpha / 4.414 - 1)).toBeLessThan(0.01);
  });

  it('every customer’s p_alive and expected_orders_365d as of 1997-09-30 equal the batch predictions to 1e-9', async () => {
    const model = (await new ClvModelStore(clients.redis, clients.redisPrefix).latest())!;
    const store = new AggregateStore(clients.redis, { prefix: clients.redisPrefix, config: DEFAULT_AGGREGATE_CONFIG });
    await store.init();
    const ids = [...batch.keys()];
    const states = await store.readMany(ids);
    let worst = 0;
    for (const id of ids) {
      const s = batch.get(id)!;
      const m = metricsAt(states.get(id)!, endOfDay(CAL_END), DEFAULT_AGGREGATE_CONFIG);
      // The streaming inputs are the batch statistics (x, t_x, T in weeks).
      expect({ id, x: m.clv_x, tx: m.clv_t_x_weeks, T: m.clv_T_weeks }).toEqual({ id, x: s.x, tx: s.tx, T: s.T });
      const p = clvPredictions(model, m);
      const want = {
        p_alive: pAlive(batchParams, s.x, s.tx, s.T),
        expected_orders_365d: conditionalExpectedPurchases(batchParams, 365 / 7, s.x, s.tx, s.T),
      };
      for (const k of ['p_alive', 'expected_orders_365d'] as const) {
        const d = Math.abs(p[k]! - want[k]);
        worst = Math.max(worst, d);
        expect(d, `${id} ${k}`).toBeLessThanOrEqual(1e-9);
      }
    }
    console.log('[clv e2e] customers', ids.length, 'largest difference', worst);
  });

  it('transitions carry the predictions of the model in force on their day', async () => {
    const models: ClvModel[] = await new ClvModelStore(clients.redis, clients.redisPrefix).history();
    expect(models.length).toBeGreaterThan(3);
    const store = new AggregateStore(clients.redis, { prefix: clients.redisPrefix, config: DEFAULT_AGGREGATE_CONFIG });
    await store.init();
    const lifecycle = transitions.filter((t) => t.dimension === 'clv_lifecycle' && t.metrics.p_alive !== undefined);
    // Customers move ALIVE → AT_RISK → LOST on the day p_alive crosses a threshold, with no event that day.
    expect(lifecycle.filter((t) => t.to_tier === 'LOST').length).toBeGreaterThan(10);
    const states = await store.readMany([...new Set(lifecycle.map((t) => t.customer_id))]);
    for (const t of lifecycle.slice(0, 500)) {
      const day = dayOf(t.occurred_at);
      const m = metricsAt(states.get(t.customer_id)!, endOfDay(day), DEFAULT_AGGREGATE_CONFIG);
      const want = clvPredictions(clvModelFor(models, day), m).p_alive;
      expect({ id: t.customer_id, day, p: t.metrics.p_alive }).toEqual({ id: t.customer_id, day, p: want });
    }
  });

  it('a new model version wakes every customer the day it comes into force (the due index, no scan)', async () => {
    const models = await new ClvModelStore(clients.redis, clients.redisPrefix).history();
    // The model in force on 1997-09-30 was fitted 18 days before; from the next day on it moved every prediction.
    const inForce = clvModelFor(models, CAL_END)!;
    expect(inForce.day).toBe(CAL_END - 18);
    const states = await new TierStateStore(clients.redis, clients.redisPrefix).readStates([...batch.keys()]);
    expect(states.size).toBe(2357);
    const stale = [...states.values()].filter((s) => s.last_eval_day < inForce.day + 1).map((s) => s.customer_id);
    expect(stale).toEqual([]);
  });

  it('tierctl customer shows the predictions of the model in force on the day', async () => {
    const models = await new ClvModelStore(clients.redis, clients.redisPrefix).history();
    const store = new AggregateStore(clients.redis, { prefix: clients.redisPrefix, config: DEFAULT_AGGREGATE_CONFIG });
    await store.init();
    const id = [...batch.keys()][0]!;
    const r = await tierctl(['customer', id, '--as-of', new Date(endOfDay(CAL_END)).toISOString(), '--json']);
    expect(r.code, r.stderr).toBe(0);
    const shown = (JSON.parse(r.stdout) as { metrics: Record<string, number | null> }).metrics;
    const want = clvPredictions(
      clvModelFor(models, CAL_END),
      metricsAt((await store.readState(id))!, endOfDay(CAL_END), DEFAULT_AGGREGATE_CONFIG),
    );
    for (const k of ['p_alive', 'expected_orders_90d', 'expected_orders_365d', 'expected_aov', 'clv_365d']) {
      expect(shown[k], k).toBe(want[k]);
      expect(shown[k], k).not.toBeNull();
    }
  });

  it('the SQL pack: clv_by_tier and likely_to_churn_high_value equal the latest tier change of every customer', async () => {
    // The oracle: each customer's latest change record (highest state_version) on the changes topic.
    const latest = new Map<string, TierChange>();
    for (const r of await readTopic(clients, 'customer-tier-changes.v1')) {
      if (!r.value) continue;
      const c = (await clients.serde.decode(r.value)).value as TierChange;
      const prev = latest.get(c.customer_id);
      if (!prev || c.state_version > prev.state_version) latest.set(c.customer_id, c);
    }
    expect(latest.size).toBe(2357);
    const run = async (name: string, params: Record<string, string> = {}) =>
      (
        await runNamedQuery(clients.clickhouse, {
          dir: QUERIES_DIR,
          name,
          params,
          database: clients.endpoints.clickhouseDatabase,
        })
      ).rows as Array<Record<string, unknown>>;

    const byTier = new Map<string, { customers: number; total: number }>();
    for (const c of latest.values()) {
      const t = c.tiers.predicted_value!;
      const agg = byTier.get(t) ?? { customers: 0, total: 0 };
      agg.customers++;
      agg.total += c.metrics.clv_365d ?? 0;
      byTier.set(t, agg);
    }
    const rows = await run('clv_by_tier');
    expect(new Set(rows.map((r) => r.tier))).toEqual(new Set(byTier.keys()));
    expect(byTier.size).toBeGreaterThanOrEqual(4);
    for (const r of rows) {
      const want = byTier.get(r.tier as string)!;
      expect(Number(r.customers), String(r.tier)).toBe(want.customers);
      expect(Math.abs(Number(r.clv_365d_total) - want.total), String(r.tier)).toBeLessThan(
        1e-6 * Math.max(1, want.total),
      );
    }

    const churn = (await run('likely_to_churn_high_value', { limit: '100000' })).map((r) => r.customer_id);
    const want = [...latest.values()]
      .filter(
        (c) =>
          ['TOP_VALUE', 'HIGH_VALUE'].includes(c.tiers.predicted_value!) &&
          c.metrics.p_alive !== undefined &&
          c.metrics.p_alive < 0.5,
      )
      .sort((a, b) => (b.metrics.clv_365d ?? 0) - (a.metrics.clv_365d ?? 0) || (a.customer_id < b.customer_id ? -1 : 1))
      .map((c) => c.customer_id);
    expect(want.length).toBeGreaterThan(0);
    expect(churn).toEqual(want);
  });

  it('tierctl clv show prints the stored model; clv fit refits the last closed day and gets the same parameters', async () => {
    const stored = (await new ClvModelStore(clients.redis, clients.redisPrefix).latest())!;
    const show = await tierctl(['clv', 'show', '--json']);
    expect(show.code, show.stderr).toBe(0);
    expect(JSON.parse(show.stdout)).toEqual(stored);
    const text = await tierctl(['clv', 'show']);
    expect(text.stdout).toContain('clv-1997-09-30 (in force from 1997-10-01; time unit weeks');
    const fit = await tierctl(['clv', 'fit', '--json']);
    expect(fit.code, fit.stderr).toBe(0);
    const r = JSON.parse(fit.stdout) as {
      day: number;
      population: number;
      stored: boolean;
      outcome: { ok: boolean; model: ClvModel };
    };
    expect({ day: r.day, population: r.population, stored: r.stored, ok: r.outcome.ok }).toEqual({
      day: CAL_END,
      population: 2357,
      stored: false,
      ok: true,
    });
    expect(r.outcome.model.bgnbd).toEqual(stored.bgnbd);
    expect(r.outcome.model.gammaGamma).toEqual(stored.gammaGamma);
  });
});
