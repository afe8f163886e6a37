import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  CDNOW_DIR,
  Clients,
  defaultEngineInstances,
  describeProgress,
  engineClosed,
  feedEvents,
  type PipelineProgress,
  pipelineProgress,
  REPORT_TABLES,
  resetPipelineData,
  sendWatermarks,
  tableCounts,
  topicRecords,
} from '@tierstream/cli';
import { type InputEvent, TOPICS } from '@tierstream/contracts';
import { generateWorkload, type ProfileName, parseCdnow, resolveOptions } from '@tierstream/generator';
import { dayOf, endOfDay, isoDay } from '@tierstream/tierstate';
import { type Build, bootstrapBuild, currentBuild, prepareBaseline } from './builds';
import { type BenchContext, cpuProfDir } from './phases';
import { type BenchService, scrapeMetricSum, sleep, startBenchService, waitReady } from './proc';

/**
 * Phase `replay`: a full replay end to end — aggregator, tier engine (CLOCK_MODE=replay) and warehouse writer as
 * processes; the workload fed, the closing watermarks sent, until `pipelineProgress().done` (ClickHouse complete) —
 * on a baseline build (a git worktree of a base revision) and then on the current checkout, one after the other on the
 * same stack, each from a clean reset, each within its own time budget. See docs/performance.md.
 */

export interface ReplayOptions {
  source: 'generator' | 'cdnow';
  profile: ProfileName;
  cdnowFile: string;
  /** Base revision of the baseline build; null: the current build only. */
  baseline: string | null;
  baselineDir?: string;
  baselineBudgetMs: number;
  currentBudgetMs: number;
  /** Tier-engine processes per build; null: `defaultEngineInstances` (one per core, at most one per partition). */
  engineInstances: number | null;
}

export interface ReplayWorkload {
  label: string;
  source: 'generator' | 'cdnow';
  profile: ProfileName | null;
  events: number;
  customers: number;
  firstDay: string;
  lastDay: string;
  days: number;
}

export interface ReplayRun {
  build: Build;
  finished: boolean;
  budgetSeconds: number;
  error?: string;
  /** Tier-engine processes of this run. */
  engineInstances: number | null;
  /** reset + bootstrap (the build's own schemas, topics, migrations) + services ready. */
  setupSeconds: number;
  /** From the start of the feed: feed done (events and watermarks), aggregator lag 0, engine closed the last day, writer drained. */
  stages: {
    feedSeconds: number | null;
    aggregatorDrainedSeconds: number | null;
    engineClosedSeconds: number | null;
    writerDrainedSeconds: number | null;
  };
  /** Feed start → ClickHouse complete, or → budget. */
  wallSeconds: number;
  events: number;
  daysTotal: number;
  daysClosed: number;
  lastClosedDay: string | null;
  progressAtEnd: string;
  daysClosedPerSec: number | null;
  /** Days closed per second over the last 2 minutes (or the last half of the run when shorter). */
  recentDaysClosedPerSec: number | null;
  /** Unfinished runs: elapsed + remaining days at the recent rate (the engine only: the writer's drain is not included). */
  projectedSeconds: number | null;
  evaluations: number | null;
  evaluationsPerClosedDay: number | null;
  cutpointRechecks: number | null;
  cutpointRecheckChanges: number | null;
  /** Records on customer-tier-transitions.v1. */
  transitions: number | null;
  /** Rows per ClickHouse table (count(), no FINAL: rows stored); null: the build has no such table. */
  rows: Record<string, number | null>;
  /** rows ÷ days closed. */
  rowsPerDay: Record<string, number | null>;
  peakRssBytes: Record<string, number>;
}

export interface ReplayResult {
  workload: ReplayWorkload;
  runs: ReplayRun[];
}

const EVALUATED = 'tierstream_sweeper_evaluated_total';
const RECHECKS = 'tierstream_cutpoint_rechecks_total';
const RECHECK_CHANGES = 'tierstream_cutpoint_recheck_changes_total';

/** The workload as a replayable source: a fresh event iterable per run (the generator streams: 5M events at standard). */
function workloadSource(opts: ReplayOptions): {
  events: () => Iterable<InputEvent>;
  endAt: number;
  label: string;
  profile: ProfileName | null;
} {
  if (opts.source === 'cdnow') {
    const orders = parseCdnow(readFileSync(opts.cdnowFile, 'utf8'), path.basename(opts.cdnowFile));
    const events: InputEvent[] = [...orders].map((event) => ({ kind: 'order', event }));
    const last = events.reduce((m, e) => Math.max(m, e.event.occurred_at), 0);
    return {
      events: () => events,
      endAt: endOfDay(dayOf(last)),
      label: `CDNOW ${path.basename(opts.cdnowFile)}`,
      profile: null,
    };
  }
  const o = resolveOptions(opts.profile);
  const end = typeof o.end === 'number' ? o.end : Date.parse(o.end);
  return {
    events: () => generateWorkload(opts.profile),
    endAt: endOfDay(dayOf(end)),
    label: `generator profile ${opts.profile} (${o.customers.toLocaleString('en')} customers, ${o.days} days, seed ${o.seed})`,
    profile: opts.profile,
  };
}

/** One build's full replay, from a clean reset. Never throws: a failure is recorded in `error`. */
async function replayOnce(
  ctx: BenchContext,
  build: Build,
  source: ReturnType<typeof workloadSource>,
  budgetMs: number,
  engineInstances: number | null,
): Promise<{ run: ReplayRun; customers: number; firstDay: number }> {
  const clients = new Clients();
  const services: BenchService[] = [];
  const lastDay = dayOf(source.endAt + 1) - 1;
  let firstDay = Number.NaN;
  let customers = 0;
  const run: ReplayRun = {
    build,
    finished: false,
    budgetSeconds: budgetMs / 1000,
    engineInstances: null,
    setupSeconds: 0,
    stages: {
      feedSeconds: null,
      aggregatorDrainedSeconds: null,
      engineClosedSeconds: null,
      writerDrainedSeconds: null,
    },
    wallSeconds: 0,
    events: 0,
    daysTotal: 0,
    daysClosed: 0,
    lastClosedDay: null,
    progressAtEnd: '',
    daysClosedPerSec: null,
    recentDaysClosedPerSec: null,
    projectedSeconds: null,
    evaluations: null,
    evaluationsPerClosedDay: null,
    cutpointRechecks: null,
    cutpointRecheckChanges: null,
    transitions: null,
    rows: {},
    rowsPerDay: {},
    peakRssBytes: {},
  };
  const log = (msg: string) => ctx.log(`  ${build.role}: ${msg}`);
  const setupStart = Date.now();
  let feedStart = 0;
  let enginePorts: number[] = [];
  const samples: Array<[number, number]> = [];
  let last: PipelineProgress | null = null;
  try {
    await resetPipelineData(clients);
    log(`bootstrap with the build's code: ${await bootstrapBuild(build, clients.endpoints.schemaRegistryUrl, log)}`);
    const engines = engineInstances ?? (await defaultEngineInstances(await clients.admin()));
    run.engineInstances = engines;
    for (const name of ['aggregator', 'tier-engine', 'warehouse-writer'] as const)
      for (let i = 0; i < (name === 'tier-engine' ? engines : 1); i++)
        services.push(
          startBenchService(name, name === 'tier-engine' ? { CLOCK_MODE: 'replay' } : {}, {
            root: build.root,
            cpuProfDir: build.role === 'current' ? cpuProfDir(ctx, name) : undefined,
          }),
        );
    const ports = await Promise.all(services.map((s) => waitReady(s, 90_000)));
    enginePorts = ports.filter((_, i) => services[i]!.name === 'tier-engine');
    run.setupSeconds = (Date.now() - setupStart) / 1000;
    log(`services ready in ${run.setupSeconds.toFixed(1)} s (${build.root}); feeding ${source.label}`);

    feedStart = Date.now();
    const deadline = feedStart + budgetMs;
    const seen = new Set<string>();
    const tracked = function* (events: Iterable<InputEvent>): Iterable<InputEvent> {
      for (const e of events) {
        const day = dayOf(e.event.occurred_at);
        if (Number.isNaN(firstDay) || day < firstDay) firstDay = day;
        const id = 'customer_id' in e.event ? e.event.customer_id : null;
        if (id) seen.add(id);
        yield e;
      }
    };
    const producer = await clients.producer();
    let lastLog = Date.now();
    const fed = await feedEvents(producer, clients.serde, tracked(source.events()), {
      batchSize: 5_000,
      onProgress: (p) => {
        if (Date.now() - lastLog > 15_000) {
          lastLog = Date.now();
          log(`produced ${p.sent.toLocaleString('en')} events`);
        }
      },
    });
    await sendWatermarks(await clients.admin(), producer, source.endAt);
    run.events = fed.sent;
    customers = seen.size;
    run.stages.feedSeconds = (Date.now() - feedStart) / 1000;
    run.daysTotal = lastDay - firstDay + 1;
    log(
      `fed ${fed.sent.toLocaleString('en')} events in ${run.stages.feedSeconds.toFixed(1)} s; waiting for the pipeline`,
    );

    lastLog = Date.now();
    for (;;) {
      const dead = services.map((s) => s.dead()).find((d) => d !== null);
      if (dead) throw new Error(dead);
      try {
        last = await pipelineProgress(clients, lastDay);
      } catch (err) {
        if (!(err as { retriable?: boolean }).retriable) throw err;
      }
      const now = Date.now();
      const t = (now - feedStart) / 1000;
      if (last) {
        const closed = last.closedDays.filter((d): d is number => d !== null);
        const minClosed = closed.length > 0 ? Math.min(...closed) : null;
        run.daysClosed = minClosed === null ? 0 : Math.max(0, Math.min(minClosed, lastDay) - firstDay + 1);
        run.lastClosedDay = minClosed === null || minClosed < firstDay ? null : isoDay(minClosed);
        samples.push([now, run.daysClosed]);
        if (run.stages.aggregatorDrainedSeconds === null && last.aggregatorLag === 0)
          run.stages.aggregatorDrainedSeconds = t;
        if (run.stages.engineClosedSeconds === null && engineClosed(last, lastDay)) run.stages.engineClosedSeconds = t;
        if (last.done) {
          run.stages.writerDrainedSeconds = t;
          run.finished = true;
          break;
        }
      }
      if (now > deadline) {
        log(`time budget of ${Math.round(budgetMs / 1000)} s reached`);
        break;
      }
      if (now - lastLog > 15_000) {
        lastLog = now;
        log(describeProgress(last, firstDay, lastDay));
      }
      await sleep(1_000);
    }
  } catch (err) {
    run.error = (err as Error).message;
    log(`FAILED: ${run.error.split('\n')[0]}`);
  } finally {
    const end = Date.now();
    run.wallSeconds = feedStart > 0 ? (end - feedStart) / 1000 : 0;
    run.progressAtEnd = Number.isNaN(firstDay) ? 'no event fed' : describeProgress(last, firstDay, lastDay);
    if (enginePorts.length > 0) {
      run.evaluations = await scrapeMetricSum(enginePorts, EVALUATED);
      run.cutpointRechecks = await scrapeMetricSum(enginePorts, RECHECKS);
      run.cutpointRecheckChanges = await scrapeMetricSum(enginePorts, RECHECK_CHANGES);
    }
    for (const s of services) {
      await s.stop().catch(() => null);
      // Several engine processes: the largest.
      run.peakRssBytes[s.name] = Math.max(run.peakRssBytes[s.name] ?? 0, s.maxRssBytes());
    }
    try {
      run.transitions = await topicRecords(clients, TOPICS.transitions).catch(() => null);
      // Rows stored, re-inserts included (no FINAL): what each build wrote.
      run.rows = await tableCounts(clients, REPORT_TABLES, { final: false });
    } catch (err) {
      run.error ??= `counting rows: ${(err as Error).message}`;
    }
    await clients.close().catch(() => undefined);
  }
  if (run.daysClosed > 0) {
    run.daysClosedPerSec = run.daysClosed / Math.max(run.wallSeconds, 1e-3);
    if (run.evaluations !== null) run.evaluationsPerClosedDay = run.evaluations / run.daysClosed;
    for (const [t, n] of Object.entries(run.rows)) run.rowsPerDay[t] = n === null ? null : n / run.daysClosed;
  }
  if (!run.finished && samples.length > 1 && run.daysTotal > 0) {
    // The recent rate, not the average: later days cost more once the population has grown.
    const [tEnd, dEnd] = samples[samples.length - 1]!;
    const window = Math.min(120_000, (tEnd - feedStart) / 2);
    const from = samples.find(([t]) => t >= tEnd - window) ?? samples[0]!;
    const rate = (dEnd - from[1]) / Math.max((tEnd - from[0]) / 1000, 1e-3);
    run.recentDaysClosedPerSec = rate;
    if (rate > 0) run.projectedSeconds = run.wallSeconds + (run.daysTotal - run.daysClosed) / rate;
  }
  return { run, customers, firstDay };
}

export async function phaseReplay(ctx: BenchContext, opts: ReplayOptions): Promise<ReplayResult> {
  const source = workloadSource(opts);
  const builds: Array<{ build: Build; budgetMs: number }> = [];
  // The baseline first: its older schemas register only before the current ones (or after deleting the subjects).
  if (opts.baseline) {
    const baseline = await prepareBaseline(opts.baseline, opts.baselineDir, ctx.log);
    ctx.log(`  baseline: node_modules ${baseline.nodeModules}`);
    builds.push({ build: baseline, budgetMs: opts.baselineBudgetMs });
  }
  builds.push({ build: currentBuild(), budgetMs: opts.currentBudgetMs });
  const runs: ReplayRun[] = [];
  let customers = 0;
  let firstDay = Number.NaN;
  for (const { build, budgetMs } of builds) {
    ctx.log(`  replay of ${source.label} on ${build.role} ${build.label}, budget ${Math.round(budgetMs / 60_000)} min`);
    const r = await replayOnce(ctx, build, source, budgetMs, opts.engineInstances);
    runs.push(r.run);
    if (r.customers > 0) customers = r.customers;
    if (!Number.isNaN(r.firstDay)) firstDay = r.firstDay;
  }
  const lastDay = dayOf(source.endAt + 1) - 1;
  return {
    workload: {
      label: source.label,
      source: opts.source,
      profile: source.profile,
      events: runs.find((r) => r.events > 0)?.events ?? 0,
      customers,
      firstDay: Number.isNaN(firstDay) ? '' : isoDay(firstDay),
      lastDay: isoDay(lastDay),
      days: Number.isNaN(firstDay) ? 0 : lastDay - firstDay + 1,
    },
    runs,
  };
}

export const DEFAULT_CDNOW_FILE = path.join(CDNOW_DIR, 'CDNOW_master.txt');

/** The side-by-side table: one column per build. */
export function formatReplayTable(r: ReplayResult): string {
  const f = (n: number | null | undefined, digits = 0) =>
    n === null || n === undefined || Number.isNaN(n)
      ? 'n/a'
      : n.toLocaleString('en', { maximumFractionDigits: digits, minimumFractionDigits: digits });
  const s = (n: number | null | undefined) => (n === null || n === undefined ? 'n/a' : `${f(n, 1)} s`);
  const mb = (b: number | undefined) => (b ? `${f(b / 2 ** 20)} MB` : 'n/a');
  const rows: Array<[string, ...string[]]> = [];
  const add = (label: string, cell: (run: ReplayRun) => string) => rows.push([label, ...r.runs.map(cell)]);
  add('build', (x) => `${x.build.role} ${x.build.label}`);
  add('result', (x) =>
    x.error ? `FAILED: ${x.error.split('\n')[0]!.slice(0, 80)}` : x.finished ? 'finished' : 'budget reached',
  );
  add('wall time, feed start → ClickHouse complete', (x) =>
    x.finished
      ? s(x.wallSeconds)
      : x.projectedSeconds !== null
        ? `> ${s(x.budgetSeconds)} budget; PROJECTED ${s(x.projectedSeconds)}`
        : `> ${s(x.wallSeconds)} (no projection)`,
  );
  add('  setup (reset, bootstrap, services ready; not in wall time)', (x) => s(x.setupSeconds));
  add('tier-engine processes', (x) => (x.engineInstances === null ? '—' : String(x.engineInstances)));
  add('  feed done (events + watermarks)', (x) => s(x.stages.feedSeconds));
  add('  aggregator drained (lag 0)', (x) => s(x.stages.aggregatorDrainedSeconds));
  add('  tier engine closed the last day', (x) => s(x.stages.engineClosedSeconds));
  add('  writer drained (ClickHouse complete)', (x) => s(x.stages.writerDrainedSeconds));
  add('days closed', (x) => `${f(x.daysClosed)} of ${f(x.daysTotal)}${x.lastClosedDay ? ` (${x.lastClosedDay})` : ''}`);
  add(
    'days closed/s (average; last 2 min)',
    (x) => `${f(x.daysClosedPerSec, 2)}; ${x.finished ? '—' : f(x.recentDaysClosedPerSec, 2)}`,
  );
  add('evaluations (sweeper_evaluated_total)', (x) => f(x.evaluations));
  add('evaluations per closed day', (x) => f(x.evaluationsPerClosedDay));
  add('cut-point rechecks / changes', (x) => `${f(x.cutpointRechecks)} / ${f(x.cutpointRecheckChanges)}`);
  add('transitions (records on the topic)', (x) => f(x.transitions));
  const tables = [...new Set(r.runs.flatMap((x) => Object.keys(x.rows)))];
  for (const t of tables)
    add(`rows ${t} (total; per closed day)`, (x) =>
      x.rows[t] === null || x.rows[t] === undefined ? 'n/a (no table)' : `${f(x.rows[t])}; ${f(x.rowsPerDay[t], 1)}`,
    );
  add('peak RSS aggregator / engine / writer', (x) =>
    [x.peakRssBytes.aggregator, x.peakRssBytes['tier-engine'], x.peakRssBytes['warehouse-writer']].map(mb).join(' / '),
  );
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ');
  const w = r.workload;
  const out = [
    `\nreplay: ${w.label}: ${f(w.events)} events, ${f(w.customers)} customers, ${w.firstDay} → ${w.lastDay} (${f(w.days)} days)`,
    line(rows[0]!),
    widths.map((x) => '-'.repeat(x)).join('-|-'),
    ...rows.slice(1).map(line),
  ];
  for (const x of r.runs) if (!x.finished) out.push(`${x.build.role} at the end: ${x.progressAtEnd}`);
  if (r.runs.some((x) => x.projectedSeconds !== null))
    out.push(
      'PROJECTED = elapsed + remaining days at the days closed/s of the last 2 minutes (of the last half of shorter runs); engine only, the writer’s drain not included; later days usually cost more.',
    );
  return out.join('\n');
}
