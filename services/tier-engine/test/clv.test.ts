/**
 * The engine's CLV model versions (issue 15): the CLV_* settings, the fit at a day close (stored, in force from the
 * next day), a fit that does not converge keeps the version in force and logs why. The store is an in-memory fake
 * here; tierstate's clv-models.it.test.ts checks the Redis one.
 */
import { AggregateTimeline, DEFAULT_AGGREGATE_CONFIG, decodeState } from '@tierstream/aggregates';
import { loadConfig } from '@tierstream/config';
import {
  type ClvModel,
  type CutPoints,
  evaluateTiers,
  initialCutPoints,
  type Metrics,
  parseRules,
} from '@tierstream/tiering';
import type { ClvModelStore } from '@tierstream/tierstate';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { ClvModels } from '../src/clv';
import { clvSettings, engineConfigSchema } from '../src/config';
import { type EngineDeps, TierEngine } from '../src/engine';

const env = (vars: Record<string, string>) => ({ ...vars }) as NodeJS.ProcessEnv;

describe('CLV settings', () => {
  it('defaults: off, weeks, margin 1, no discount; values are read', () => {
    expect(clvSettings(loadConfig(engineConfigSchema, env({})))).toEqual({
      fitEveryDays: 0,
      timeUnit: 'weeks',
      margin: 1,
      monthlyDiscount: 0,
      minCustomers: 500,
      minRepeatBuyers: 50,
    });
    const set = env({
      CLV_FIT_EVERY_DAYS: '7',
      CLV_TIME_UNIT: 'days',
      CLV_MARGIN: '0.3',
      CLV_MONTHLY_DISCOUNT: '0.01',
      CLV_MIN_CUSTOMERS: '2000',
      CLV_MIN_REPEAT_BUYERS: '0',
    });
    expect(clvSettings(loadConfig(engineConfigSchema, set))).toEqual({
      fitEveryDays: 7,
      timeUnit: 'days',
      margin: 0.3,
      monthlyDiscount: 0.01,
      minCustomers: 2000,
      minRepeatBuyers: 0,
    });
  });
  it('a bad value is one error naming the setting', () => {
    expect(() => loadConfig(engineConfigSchema, env({ CLV_TIME_UNIT: 'months' }))).toThrow(/CLV_TIME_UNIT/);
    expect(() => loadConfig(engineConfigSchema, env({ CLV_MARGIN: '1.5' }))).toThrow(/CLV_MARGIN/);
    expect(() => loadConfig(engineConfigSchema, env({ CLV_FIT_EVERY_DAYS: '-1' }))).toThrow(/CLV_FIT_EVERY_DAYS/);
  });
  it('fits without cut-point days (CUTPOINTS_EVERY_DAYS=0) are refused: the model would never be fitted', () => {
    expect(() => loadConfig(engineConfigSchema, env({ CLV_FIT_EVERY_DAYS: '30', CUTPOINTS_EVERY_DAYS: '0' }))).toThrow(
      'invalid configuration: CLV_FIT_EVERY_DAYS: needs cut-point days (CUTPOINTS_EVERY_DAYS > 0): the CLV model is fitted at a cut-point day close',
    );
    // Either alone is fine.
    expect(loadConfig(engineConfigSchema, env({ CUTPOINTS_EVERY_DAYS: '0' })).CUTPOINTS_EVERY_DAYS).toBe(0);
    expect(loadConfig(engineConfigSchema, env({ CLV_FIT_EVERY_DAYS: '30' })).CLV_FIT_EVERY_DAYS).toBe(30);
  });
});

/** A population whose fits converge: simulated-looking repeat buyers and one-timers (weeks, minor units). */
function population(): Metrics[] {
  const out: Metrics[] = [];
  for (let i = 0; i < 400; i++) {
    const x = i % 5 === 0 ? 0 : i % 7;
    const T = 20 + (i % 19);
    const tx = x === 0 ? 0 : Math.min(T, (i % 13) + x);
    out.push({ clv_x: x, clv_t_x_weeks: tx, clv_T_weeks: T, clv_zbar: x === 0 ? null : 1000 + ((i * 37) % 900) });
  }
  return out;
}

function fakeStore(): ClvModelStore & { stored: ClvModel[]; failed: Map<number, string> } {
  const stored: ClvModel[] = [];
  const failed = new Map<number, string>();
  return {
    stored,
    failed,
    setFailed: async (day: number, reason: string) => void failed.set(day, reason),
    failedDays: async () => [...failed.keys()].sort((a, b) => a - b),
    set: async (m: ClvModel) => void stored.push(m),
    history: async () => [...stored],
    latest: async () => stored[stored.length - 1] ?? null,
  } as unknown as ClvModelStore & { stored: ClvModel[]; failed: Map<number, string> };
}

function capture() {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s)) });
  return { logger, lines };
}

const settings = { fitEveryDays: 7, timeUnit: 'weeks' as const, margin: 1, monthlyDiscount: 0 };
// 10_000 % 7 = 4: the regular cut-point days are 10_003, 10_010, 10_017; `young` cut points recompute daily.
const schedule = { everyDays: 7, youngBelow: 1000, earlyChange: 0 };
const settled = { population: 5000 } as CutPoints;
const young = {} as CutPoints;

describe('ClvModels', () => {
  it('stores a converged fit, in force from the next day; the next fit is due fitEveryDays later', async () => {
    const store = fakeStore();
    const { logger, lines } = capture();
    const models = new ClvModels({ store, settings, schedule, logger, wallClock: () => 42 });
    expect(models.isFitDay(10_000, true)).toBe(true);
    expect(models.isFitDay(10_000, false)).toBe(false);
    const m = await models.fitAndStore(population(), 10_000);
    expect(m?.version).toBe('clv-1997-05-19');
    expect(m?.fittedAt).toBe(42);
    expect(m?.sampleSize).toBe(400);
    expect(store.stored).toEqual([m]);
    expect(models.inForce(10_000)).toBeNull();
    expect(models.inForce(10_001)).toBe(m);
    expect(models.isFitDay(10_006, true)).toBe(false);
    expect(models.isFitDay(10_007, true)).toBe(true);
    expect(lines.some((l) => l.msg === 'fitted CLV model' && l.version === 'clv-1997-05-19')).toBe(true);
    // Another instance loads the stored versions.
    const other = new ClvModels({ store, settings, schedule, logger });
    await other.load();
    expect(other.inForce(10_001)?.version).toBe('clv-1997-05-19');
  });

  it('the next day a model can come into force: the due index wakes CLV-rule customers then', async () => {
    const { logger } = capture();
    expect(
      new ClvModels({ store: fakeStore(), settings: { ...settings, fitEveryDays: 0 }, schedule, logger }).nextModelDay(
        5,
        settled,
      ),
    ).toBe(null);
    const models = new ClvModels({ store: fakeStore(), settings, schedule, logger });
    // No model yet: the fit comes at the next cut-point day close (today's while the population is young).
    expect(models.nextModelDay(10_000, settled)).toBe(10_004);
    expect(models.nextModelDay(10_000, young)).toBe(10_001);
    const m = (await models.fitAndStore(population(), 10_000))!;
    // Due at 10_007, no cut-point day: fitted at 10_010 (was: 10_008, then daily until 10_011). Asked on 10_003,
    // the recompute at 10_003 may change the schedule: the due day + 1; asked after it, exact.
    expect(models.nextModelDay(10_003, settled)).toBe(10_008);
    expect(models.nextModelDay(10_004, settled)).toBe(10_011);
    expect(models.nextModelDay(10_008, settled)).toBe(10_011);
    expect(models.nextModelDay(10_003, young)).toBe(m.day + 7 + 1);
    expect(models.withPredictions({ ...population()[1]! }, 10_003).p_alive).toBeGreaterThan(0);
    expect(models.withPredictions({ ...population()[1]! }, 10_000).p_alive).toBeNull();
  });

  it('a fit without repeat buyers keeps the model in force and logs why', async () => {
    const store = fakeStore();
    const { logger, lines } = capture();
    const models = new ClvModels({ store, settings, schedule, logger });
    const first = await models.fitAndStore(population(), 10_000);
    const oneTimers = population().map((p) => ({ ...p, clv_x: 0, clv_t_x_weeks: 0, clv_zbar: null }));
    expect(await models.fitAndStore(oneTimers, 10_007)).toBeNull();
    expect(store.stored).toEqual([first]);
    expect(models.inForce(10_008)).toBe(first);
    // The failed attempt is stored: the next one is CLV_FIT_EVERY_DAYS later, not at the next cut-point day (was:
    // every cut-point day, and a daily wake-up of every CLV-rule customer while the fit kept failing).
    expect([...store.failed.keys()]).toEqual([10_007]);
    expect(models.isFitDay(10_008, true)).toBe(false);
    expect(models.isFitDay(10_013, true)).toBe(false);
    expect(models.isFitDay(10_014, true)).toBe(true);
    expect(models.nextModelDay(10_008, young)).toBe(10_015);
    expect(models.nextModelDay(10_011, settled)).toBe(10_018);
    // Another instance (or a restart) loads the failed attempt and agrees.
    const other = new ClvModels({ store, settings, schedule, logger });
    await other.load();
    expect(other.lastAttemptDay(10_008)).toBe(10_007);
    expect(other.isFitDay(10_010, true)).toBe(false);
    expect(other.nextModelDay(10_011, settled)).toBe(10_018);
    expect(other.nextModelDay(10_007, settled)).toBe(10_011);
    const warn = lines.find((l) => l.msg === 'CLV model fit kept the model in force');
    expect(warn).toMatchObject({ reason: 'no repeat buyer with a positive mean spend', kept: first!.version });
  });
});

describe('TierEngine due days with CLV rules', () => {
  const rules = parseRules(
    `
version: "clv-due"
dimensions:
  - id: life
    tiers: [ALIVE, AT_RISK, LOST, UNSCORED]
    scoring:
      kind: rules
      rules:
        - { id: alive, tier: ALIVE, when: { metric: p_alive, op: gte, value: 0.7 } }
        - { id: at_risk, tier: AT_RISK, when: { metric: p_alive, op: gte, value: 0.3 } }
      default: { id: lost, tier: LOST }
`,
    'clv-due.yaml',
  );
  const DAY_MS = 86_400_000;
  // An order every 5 days from 9_950 to 10_000 (cents); evaluated as of 10_000: p_alive near 1, falling slowly.
  const hash: Record<string, string> = { mx: String(10_000 * DAY_MS + 43_200_000) };
  for (let d = 9_950; d <= 10_000; d += 5) hash[`o:${d}`] = `1,2500,0,43200000`;
  const timeline = new AggregateTimeline(decodeState('c', hash)!, DEFAULT_AGGREGATE_CONFIG);

  async function engineWith(fitEveryDays: number) {
    const { logger } = capture();
    const clv = new ClvModels({ store: fakeStore(), settings: { ...settings, fitEveryDays }, schedule, logger });
    // The published CDNOW fit (FHL 2005; γ in cents), fitted at the close of 9_996: in force from 9_997.
    clv.add({
      version: 'clv-1997-05-15',
      day: 9_996,
      timeUnit: 'weeks',
      bgnbd: { r: 0.2426, alpha: 4.4136, a: 0.7929, b: 2.4259 },
      bgnbdLogLikelihood: -9582.43,
      sampleSize: 2357,
      gammaGamma: { p: 6.2496, q: 3.7442, gamma: 1544.35 },
      gammaGammaLogLikelihood: -8412.41,
      repeatBuyers: 946,
      margin: 1,
      monthlyDiscount: 0,
      fittedAt: 0,
      fitMs: 0,
    });
    const deps = {
      aggregateConfig: DEFAULT_AGGREGATE_CONFIG,
      logger,
      cutPointsEveryDays: 7,
      numPartitions: 1,
      topics: { transitions: 't', changes: 'c', snapshots: 's', cutpoints: 'cutpoints' },
      clv,
    } as unknown as EngineDeps;
    const engine = new TierEngine(deps, rules, initialCutPoints(rules));
    const m = { ...timeline.metricsAt(10_000 * DAY_MS + DAY_MS - 1) };
    const first = clv.withPredictions(m, 10_000);
    const state = evaluateTiers({
      rules,
      cutPoints: initialCutPoints(rules),
      customerId: 'c',
      metrics: first,
      previous: null,
      day: 10_000,
      at: 0,
    }).state;
    return { engine, state, alive: first.p_alive!, clv };
  }

  it('wakes the customer the day after the next possible fit, though the model in force shows no change that day', async () => {
    const { engine, state, alive } = await engineWith(7);
    expect(alive).toBeGreaterThan(0.7);
    expect(state.tiers.life).toBe('ALIVE');
    // The next fit can be at the close of 9_996 + 7: the new version is in force from 10_004.
    expect(engine.nextDueAt(timeline, state, 10_000, null)).toBe(10_004 * DAY_MS + DAY_MS - 1);
  });

  it('after a failed fit the next model day is CLV_FIT_EVERY_DAYS later, not the next day', async () => {
    const { engine, state, clv } = await engineWith(7);
    const crossing = Math.floor(engine.nextDueAt(timeline, state, 10_004, null)! / DAY_MS);
    clv.addFailed(10_003);
    const crossingWithout = Math.floor((await engineWith(0)).engine.nextDueAt(timeline, state, 10_004, null)! / DAY_MS);
    // Without the failure the fit at the close of 10_004 (young cut points: daily) could bring a model on 10_005.
    expect(crossing).toBe(10_005);
    // After it: the next attempt is at the close of 10_010 (the model in force otherwise decides the due day).
    expect(engine.nextDueAt(timeline, state, 10_004, null)).toBe(
      Math.min(10_011, crossingWithout) * DAY_MS + DAY_MS - 1,
    );
    expect(crossingWithout).toBeGreaterThanOrEqual(10_011);
  });

  it('without refits, the day p_alive crosses 0.7 (the model in force only)', async () => {
    const { engine, state } = await engineWith(0);
    const due = engine.nextDueAt(timeline, state, 10_000, null)!;
    const dueDay = Math.floor(due / DAY_MS);
    expect(dueDay).toBeGreaterThan(10_004);
    expect(due).toBe(dueDay * DAY_MS + DAY_MS - 1);
  });
});
