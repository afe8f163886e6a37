import { createWriteStream, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { type InputEvent, TOPICS } from '@tierstream/contracts';
import { generateWorkload, type ProfileName, parseCdnow, resolveOptions } from '@tierstream/generator';
import { dayOf, endOfDay, isoDay } from '@tierstream/tierstate';
import { formatTable, QUERIES_DIR, runNamedQuery } from '@tierstream/warehouse';
import cliProgress from 'cli-progress';
import { bootstrapPipeline, Clients } from './clients';
import { serveDemoConsole } from './demo-console';
import { feedEvents, sendWatermarks } from './feed';
import { type PipelineProgress, PipelineTimeoutError, resetPipelineData, waitForPipeline } from './pipeline';
import {
  defaultEngineInstances,
  REPO_ROOT,
  SERVICES,
  type ServiceProcess,
  startService,
  stopService,
} from './supervisor';
import { guardWipe, resetActions } from './wipe-guard';

export const CDNOW_DIR = path.join(REPO_ROOT, 'data', 'cdnow');

/** Default limit of the demo's wait for the pipeline: the CDNOW master on a 2-core box, with room to spare. */
export const DEMO_DEFAULT_TIMEOUT_MINUTES = 30;

export interface DemoOptions {
  source: 'generator' | 'cdnow';
  profile: ProfileName;
  cdnowFile: string;
  timeoutMs: number;
  /** Tier-engine processes (they share the signal partitions); default `defaultEngineInstances`. */
  engineInstances?: number;
  /** Endpoints other than the local stack the demo may wipe (--i-know-this-wipes); see guardWipe. */
  confirmedTargets?: string[];
  /** After the report, serve the console on the demo's data until Ctrl-C (default); false: end after the report. */
  console?: boolean;
}

/** The demo gave up waiting: the message says how far the replay got and how to raise the limit. */
export class DemoTimeoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DemoTimeoutError';
  }
}

/** Has the tier engine closed `lastDay` on every partition that closed any day (the aggregator done)? */
export function engineClosed(p: PipelineProgress, lastDay: number): boolean {
  const closed = p.closedDays.filter((d): d is number => d !== null);
  return p.aggregatorLag === 0 && closed.length > 0 && closed.every((d) => d >= lastDay);
}

/** How far a replay got, in a reader's words (days of the history from `firstDay` to `lastDay`, inclusive). */
export function describeProgress(p: PipelineProgress | null, firstDay: number, lastDay: number): string {
  const total = lastDay - firstDay + 1;
  if (!p) return `no progress read yet (${total} days to close)`;
  const closed = p.closedDays.filter((d): d is number => d !== null);
  const minClosed = closed.length > 0 ? Math.min(...closed) : null;
  const engine =
    minClosed === null || minClosed < firstDay
      ? `tier engine closed no day yet (0 of ${total})`
      : `tier engine closed ${isoDay(minClosed)} (day ${Math.min(minClosed, lastDay) - firstDay + 1} of ${total})`;
  const writer = Number.isNaN(p.writerLag)
    ? 'writer lag not measured until the engine closed the last day'
    : `writer lag ${p.writerLag}`;
  return `${engine}, aggregator lag ${p.aggregatorLag}, ${writer}`;
}

/** Loads the demo's events in event-time order, and the instant the replay closes at. */
export function demoEvents(opts: Pick<DemoOptions, 'source' | 'profile' | 'cdnowFile'>): {
  events: InputEvent[];
  endAt: number;
  label: string;
} {
  if (opts.source === 'cdnow') {
    const text = readFileSync(opts.cdnowFile, 'utf8');
    const events: InputEvent[] = parseCdnow(text, path.basename(opts.cdnowFile)).map((event) => ({
      kind: 'order',
      event,
    }));
    const last = events.reduce((m, e) => Math.max(m, e.event.occurred_at), 0);
    return { events, endAt: endOfDay(dayOf(last)), label: `CDNOW ${path.basename(opts.cdnowFile)}` };
  }
  const o = resolveOptions(opts.profile);
  const end = typeof o.end === 'number' ? o.end : Date.parse(o.end);
  return {
    events: [...generateWorkload(opts.profile)],
    endAt: endOfDay(dayOf(end)),
    label: `generator profile ${opts.profile} (${o.customers} customers, ${o.days} days, seed ${o.seed})`,
  };
}

const say = (msg: string) => process.stdout.write(`\x1b[1m[demo]\x1b[0m ${msg}\n`);

/**
 * The main job: a clean pipeline over the local stack in replay mode — bootstrap, start the three services, feed the
 * workload, close the replay at its last day, wait for ClickHouse to have everything, print a report; then, unless
 * `console` is false, serve the console on that data until Ctrl-C (serveDemoConsole).
 */
export async function runDemo(opts: DemoOptions): Promise<void> {
  const clients = new Clients();
  const services: ServiceProcess[] = [];
  const logDir = path.join(REPO_ROOT, '.stack', 'logs');
  const t0 = Date.now();
  const times: Array<[string, number]> = [];
  let mark = t0;
  const lap = (what: string) => {
    const now = Date.now();
    times.push([what, now - mark]);
    mark = now;
  };
  // Before anything is touched: refuses (exit 2) endpoints other than the local stack unless confirmed.
  guardWipe(
    'npm run demo',
    clients.endpoints,
    resetActions(clients.redisPrefix, clients.endpoints.clickhouseDatabase),
    opts.confirmedTargets,
  );
  try {
    say('resetting tierstream data (topics, Redis keys, ClickHouse database) for a clean run');
    await resetPipelineData(clients);
    const boot = await bootstrapPipeline(clients);
    say(
      `registered ${Object.keys(boot.schemas).length} schemas, topics created ${boot.topics.created.length}, migrations applied ${boot.migrations.applied.length}`,
    );
    const { events, endAt, label } = demoEvents(opts);
    mkdirSync(logDir, { recursive: true });
    const logFiles = new Map<ServiceProcess, string>();
    const engines = opts.engineInstances ?? (await defaultEngineInstances(await clients.admin()));
    for (const name of SERVICES) {
      const copies = name === 'tier-engine' ? engines : 1;
      for (let i = 0; i < copies; i++) {
        const file = copies === 1 ? `${name}.log` : `${name}-${i + 1}.log`;
        const log = createWriteStream(path.join(logDir, file), { flags: 'w' });
        const svc = startService(name, { CLOCK_MODE: 'replay', HTTP_PORT: '0' }, (_n, line) => log.write(`${line}\n`));
        services.push(svc);
        logFiles.set(svc, file);
      }
    }
    say(`started ${SERVICES.join(', ')} (replay mode, ${engines} tier-engine process(es); logs in .stack/logs/)`);
    lap('reset, bootstrap, load events, start services');
    say(`feeding ${events.length.toLocaleString()} events: ${label}`);
    const bar = new cliProgress.SingleBar(
      { format: '  produce |{bar}| {percentage}% {value}/{total} events', hideCursor: true },
      cliProgress.Presets.shades_classic,
    );
    bar.start(events.length, 0);
    const producer = await clients.producer();
    await feedEvents(producer, clients.serde, events, { onProgress: (p) => bar.update(p.sent) });
    bar.stop();
    await sendWatermarks(await clients.admin(), producer, endAt);
    lap('feed (produce events and closing watermarks)');
    say(`replay closes at ${new Date(endAt).toISOString()}; waiting for the pipeline`);
    const firstDay = dayOf(events[0]?.event.occurred_at ?? endAt);
    const lastDay = dayOf(endAt);
    const dayBar = new cliProgress.SingleBar(
      {
        format: '  tiers   |{bar}| {value}/{total} days closed  aggregator lag {lag}  writer lag {wlag}',
        hideCursor: true,
      },
      cliProgress.Presets.shades_classic,
    );
    dayBar.start(lastDay - firstDay + 1, 0, { lag: '-', wlag: '-' });
    let engineClosedAt = 0;
    const waitStart = Date.now();
    await waitForPipeline(clients, endAt, {
      timeoutMs: Math.max(1_000, opts.timeoutMs - (waitStart - t0)),
      isAlive: () => {
        const dead = services.find((s) => s.child.exitCode !== null);
        return dead
          ? `${dead.name} exited with code ${dead.child.exitCode} (see .stack/logs/${logFiles.get(dead)})`
          : null;
      },
      onProgress: (p) => {
        const closed = p.closedDays.filter((d): d is number => d !== null);
        const minClosed = closed.length > 0 ? Math.min(...closed) : firstDay - 1;
        dayBar.update(Math.max(0, minClosed - firstDay + 1), {
          lag: p.aggregatorLag,
          wlag: Number.isNaN(p.writerLag) ? '-' : p.writerLag,
        });
        if (engineClosedAt === 0 && engineClosed(p, lastDay)) engineClosedAt = Date.now();
      },
    }).catch((err: unknown) => {
      dayBar.stop();
      if (!(err instanceof PipelineTimeoutError)) throw err;
      const minutes = Number((opts.timeoutMs / 60_000).toFixed(2));
      throw new DemoTimeoutError(
        `the replay did not finish within ${minutes} min (limit --timeout-minutes ${minutes}): ${describeProgress(err.progress, firstDay, lastDay)}. ` +
          `Raise the limit with --timeout-minutes <n> (e.g. --timeout-minutes ${Math.max(1, Math.ceil(minutes * 2))}) or DEMO_TIMEOUT_MINUTES; service logs are in .stack/logs/.`,
      );
    });
    dayBar.stop();
    const doneAt = Date.now();
    times.push(['replay (watermarks → tier engine closed the last day)', (engineClosedAt || doneAt) - mark]);
    times.push(['ClickHouse complete (writer drained)', doneAt - (engineClosedAt || doneAt)]);
    await printReport(clients, isoDay(lastDay));
    times.push(['total', Date.now() - t0]);
    process.stdout.write(
      `-- wall time\n${times.map(([what, ms]) => `  ${(ms / 1000).toFixed(1).padStart(7)} s  ${what}`).join('\n')}\n`,
    );
  } finally {
    await Promise.all(services.map((s) => stopService(s)));
    await clients.close();
  }
  if (opts.console ?? true) process.exitCode = await serveDemoConsole(say);
}

/** The tables whose row counts the demo reports: transitions, the history (tier and metric intervals), snapshots, current. */
export const REPORT_TABLES = ['tier_transitions', 'tier_history', 'metric_history', 'tier_snapshots', 'tier_current'];

/**
 * Rows per table: `count()` over `FINAL` for the ReplacingMergeTree tables (what a reader sees: re-inserted rows count
 * once), plain `count()` for the others, or for every table with `final: false` (rows stored, re-inserts included);
 * null for a table the database does not have.
 */
export async function tableCounts(
  clients: Clients,
  tables: readonly string[],
  opts: { final: boolean } = { final: true },
): Promise<Record<string, number | null>> {
  const database = clients.endpoints.clickhouseDatabase;
  const rs = await clients.clickhouse.query({
    // ClickHouse 18.16 has no query parameters: the database name (from the config) is quoted as a literal.
    query: `SELECT name, engine FROM system.tables WHERE database = '${database.replace(/[\\']/g, '\\$&')}'`,
    format: 'JSONEachRow',
  });
  const engines = new Map((await rs.json<{ name: string; engine: string }>()).map((r) => [r.name, r.engine]));
  const counts: Record<string, number | null> = {};
  for (const table of tables) {
    // A build before migration 0003 (tier_history, metric_history) has no such table: say so, do not fail.
    if (!engines.has(table)) {
      counts[table] = null;
      continue;
    }
    const replacing = /Replacing|Collapsing|Summing|Aggregating/.test(engines.get(table) ?? '');
    const final = opts.final && replacing ? ' FINAL' : '';
    const c = await clients.clickhouse.query({
      query: `SELECT count() AS n FROM ${database}.${table}${final}`,
      format: 'JSONEachRow',
    });
    counts[table] = Number((await c.json<{ n: string }>())[0]?.n ?? 0);
  }
  return counts;
}

/** Records a topic holds now (high − low watermark, summed over partitions). */
export async function topicRecords(clients: Clients, topic: string): Promise<number> {
  const offsets = await (await clients.admin()).fetchTopicOffsets(topic);
  return offsets.reduce((n, p) => n + Number(BigInt(p.high) - BigInt(p.low)), 0);
}

export async function printReport(clients: Clients, day: string): Promise<void> {
  const database = clients.endpoints.clickhouseDatabase;
  const run = async (name: string, params: Record<string, string>) =>
    (await runNamedQuery(clients.clickhouse, { dir: QUERIES_DIR, name, params, database, format: 'table' })).output;
  const out: string[] = [];
  out.push(`\n=== tierstream report, as of ${day} ===`);
  for (const dimension of ['value_tier', 'rfm_segment', 'lifecycle', 'value_potential', 'service_flag']) {
    out.push(`\n-- ${dimension}: customers per tier on ${day}`);
    out.push(await run('tier_distribution_daily', { dimension, from: day, to: day }));
  }
  out.push(`\n-- revenue share per value tier on ${day} (does the top 20% hold ~80%?)`);
  out.push(await run('revenue_share', { day }));
  const latest = await clients.clickhouse.query({
    query: `SELECT toString(occurred_day) AS day, customer_id, dimension, ifNull(from_tier, '-') AS from_tier, to_tier, reason
            FROM ${database}.tier_transitions FINAL ORDER BY occurred_at DESC, transition_id LIMIT 10`,
    format: 'JSONEachRow',
  });
  const rows = await latest.json<Record<string, unknown>>();
  out.push('\n-- the latest transitions (customer-tier-transitions.v1 → tier_transitions)');
  out.push(formatTable(rows));
  out.push('\n-- totals in ClickHouse (rows per table)');
  const counts = await tableCounts(clients, REPORT_TABLES);
  out.push(formatTable([Object.fromEntries(Object.entries(counts).map(([t, n]) => [t, n ?? 'no table']))]));
  const onKafka = await topicRecords(clients, TOPICS.transitions);
  out.push(
    `\n-- ${onKafka} transition events on ${TOPICS.transitions} (what marketing automation consumes, keyed by customer)`,
  );
  out.push(`
Where to look next:
  npm run tierctl -- sql --list                          the analyst SQL pack (infra/clickhouse/queries)
  npm run tierctl -- sql migration_matrix --param from=<day> --param to=${day}
  npm run tierctl -- customer <id>                        one customer's aggregates and tiers
  npm run tierctl -- status                               stack health, consumer lag, DLQ sizes
  clickhouse-client --port 19000 -d ${database}           ad-hoc SQL (tables: ${REPORT_TABLES.join(', ')})
  README.md "For analysts", docs/operations.md         the SQL pack explained; running tierstream as infrastructure

Point a webhook at it (docs/destinations.md):
  mkdir -p destinations && cp examples/destinations/example-webhook.yaml destinations/   # set url: to your receiver
  export EXAMPLE_WEBHOOK_SECRET=change-me                 # the receiver verifies Tierstream-Signature with it
  npm run tierctl -- destinations test example-webhook    # one signed test POST
  npx tsx packages/cli/src/tierstream.ts destinations     # deliver the demo's ${onKafka} transitions (filtered), then live ones
`);
  process.stdout.write(`${out.join('\n')}\n`);
}
