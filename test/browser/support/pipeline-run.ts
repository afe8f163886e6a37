import {
  Clients,
  deleteRedisKeys,
  feedEvents,
  loadCliConfig,
  SERVICES,
  type ServiceProcess,
  sendWatermarks,
  startService,
  stopService,
  waitForPipeline,
} from '@tierstream/cli';
import { applyTopics, loadSchemas, loadTopicsSpec, TOPICS, type TopicName } from '@tierstream/contracts';
import { generateWorkload, resolveOptions } from '@tierstream/generator';
import { dayOf, endOfDay } from '@tierstream/tierstate';
import { MIGRATIONS_DIR, migrate } from '@tierstream/warehouse';
import { byEventTime } from '../../support/journeys';
import { consoleJourney, JOURNEY_CUSTOMER, type JourneyStep } from './journey';

/**
 * The data every browser test reads: the `tiny` workload plus a scripted journey, run once per test run through the
 * real services (aggregator, tier engine, warehouse writer as processes, replay mode) under names of its own — topics
 * `<run>.<topic>`, consumer groups `<run>-<service>`, Redis prefix `<run>`, ClickHouse database `<run>` — so the e2e
 * tests, which wipe the default topics, `tierstream-*` groups, prefix `ts` and database `tierstream`, cannot touch it
 * and it touches nothing of theirs. The services are stopped once the replay is done; the data stays until
 * dropBrowserRun.
 */

/** Names start with this; a run's name is `<RUN_PREFIX><base-36 start time>`. */
export const RUN_PREFIX = 'console_bt_';

/** The settings (environment variables) that point a process at a run's data. */
export type RunSettings = Record<string, string>;

export interface BrowserRun {
  run: string;
  settings: RunSettings;
  /** The replay's end (the closing watermark, epoch ms) and the first day of the workload window (epoch day). */
  endAt: number;
  firstDay: number;
  journeyCustomer: string;
  journeyLifecycle: JourneyStep[];
  /** Seconds the pipeline run took. */
  seconds: number;
}

/** The environment variable of each renamed contract topic. */
const TOPIC_SETTINGS: Partial<Record<keyof typeof TOPICS, string>> = {
  orders: 'ORDERS_TOPIC',
  web: 'WEB_BEHAVIOR_TOPIC',
  tickets: 'TICKETS_TOPIC',
  signals: 'SIGNALS_TOPIC',
  transitions: 'TRANSITIONS_TOPIC',
  changes: 'CHANGES_TOPIC',
  snapshots: 'SNAPSHOTS_TOPIC',
  cutpoints: 'CUTPOINTS_TOPIC',
};

/** The settings of run `run` (see the module comment). */
export function runSettings(run: string): RunSettings {
  const settings: RunSettings = {
    CONFIG_FILE: '',
    REDIS_PREFIX: run,
    CLICKHOUSE_DATABASE: run,
    AGGREGATOR_GROUP_ID: `${run}-aggregator`,
    ENGINE_GROUP_ID: `${run}-tier-engine`,
    WRITER_GROUP_ID: `${run}-warehouse-writer`,
  };
  for (const [key, setting] of Object.entries(TOPIC_SETTINGS))
    settings[setting] = `${run}.${TOPICS[key as keyof typeof TOPICS]}`;
  return settings;
}

/** Clients on a run's data (the test process's own connections). */
export function runClients(settings: RunSettings): Clients {
  return new Clients(loadCliConfig({ ...process.env, ...settings }));
}

/** Creates the run's topics (and their .dlq), registers the contracts under them, migrates the run's database. */
async function bootstrapRun(clients: Clients, settings: RunSettings): Promise<void> {
  const renamed = new Map<string, string>();
  for (const [key, setting] of Object.entries(TOPIC_SETTINGS))
    renamed.set(TOPICS[key as keyof typeof TOPICS], settings[setting]!);
  const spec = loadTopicsSpec();
  const topics = spec.topics.flatMap((t) => {
    const base = t.name.endsWith('.dlq') ? t.name.slice(0, -4) : t.name;
    const to = renamed.get(base);
    return to ? [{ ...t, name: t.name.endsWith('.dlq') ? `${to}.dlq` : to }] : [];
  });
  await applyTopics(await clients.admin(), { ...spec, topics });
  const schemas = loadSchemas();
  for (const [contract, topic] of renamed) await clients.serde.register(topic, schemas[contract as TopicName].text);
  await migrate(clients.clickhouse, { database: clients.endpoints.clickhouseDatabase, dir: MIGRATIONS_DIR });
}

/** Runs the pipeline once over the tiny workload and the journey (see the module comment). */
export async function createBrowserRun(): Promise<BrowserRun> {
  const started = Date.now();
  const run = `${RUN_PREFIX}${started.toString(36)}`;
  const settings = runSettings(run);
  const clients = runClients(settings);
  const options = resolveOptions('tiny');
  const end = typeof options.end === 'number' ? options.end : Date.parse(options.end);
  const lastDay = dayOf(end);
  const firstDay = lastDay - options.days + 1;
  const endAt = endOfDay(lastDay);
  const journey = consoleJourney(firstDay);
  const events = byEventTime([...generateWorkload('tiny'), ...journey.events]);
  const procs: ServiceProcess[] = [];
  const logs: string[] = [];
  try {
    await bootstrapRun(clients, settings);
    const env = { ...settings, CLOCK_MODE: 'replay', HTTP_PORT: '0', LOG_LEVEL: 'warn', CUTPOINTS_EVERY_DAYS: '7' };
    for (const name of SERVICES)
      procs.push(
        startService(name, env, (n, line) => {
          logs.push(`${n}: ${line}`);
          if (logs.length > 100) logs.shift();
        }),
      );
    const producer = await clients.producer();
    await feedEvents(producer, clients.serde, events, { topics: clients.inputTopicNames });
    await sendWatermarks(await clients.admin(), producer, endAt, clients.inputTopics);
    await waitForPipeline(clients, endAt, {
      timeoutMs: 240_000,
      isAlive: () => {
        const dead = procs.find((p) => p.child.exitCode !== null);
        return dead ? `${dead.name} exited with ${dead.child.exitCode}\n${logs.slice(-30).join('\n')}` : null;
      },
    });
  } finally {
    await Promise.all(procs.map((p) => stopService(p)));
    await clients.close();
  }
  return {
    run,
    settings,
    endAt,
    firstDay,
    journeyCustomer: JOURNEY_CUSTOMER,
    journeyLifecycle: journey.lifecycle,
    seconds: Math.round((Date.now() - started) / 1000),
  };
}

/**
 * Drops what runs named `<RUN_PREFIX>…` left (topics, consumer groups, Redis keys, ClickHouse databases): `run` only,
 * or, without it, every such run that started more than `olderThanMs` ago (runs whose teardown never happened).
 */
export async function dropBrowserRuns(opts: { run?: string; olderThanMs?: number } = {}): Promise<void> {
  const base = runClients(runSettings(opts.run ?? `${RUN_PREFIX}0`));
  const cutoff = Date.now() - (opts.olderThanMs ?? 3_600_000);
  const ours = (name: string): string | null => {
    const m = new RegExp(`^(${RUN_PREFIX}[0-9a-z]+)`).exec(name);
    if (!m?.[1]) return null;
    if (opts.run) return m[1] === opts.run ? m[1] : null;
    return Number.parseInt(m[1].slice(RUN_PREFIX.length), 36) < cutoff ? m[1] : null;
  };
  try {
    const admin = await base.admin();
    const topics = (await admin.listTopics()).filter((t) => ours(t));
    const groups = (await admin.listGroups()).groups.map((g) => g.groupId).filter((g) => ours(g));
    if (groups.length > 0) await admin.deleteGroups(groups).catch(() => undefined);
    if (topics.length > 0) await admin.deleteTopics({ topics, timeout: 30_000 }).catch(() => undefined);
    const result = await base.clickhouse.query({ query: `SHOW DATABASES`, format: 'JSONEachRow' });
    const dbs = (await result.json<{ name: string }>()).map((r) => r.name).filter((d) => ours(d));
    for (const db of dbs) await base.clickhouse.command({ query: `DROP DATABASE IF EXISTS ${db}` });
    const runs = new Set<string>([...topics, ...dbs].map((n) => ours(n)!));
    if (opts.run) runs.add(opts.run);
    for (const run of runs) {
      const c = runClients(runSettings(run));
      try {
        await deleteRedisKeys(c);
      } finally {
        await c.close();
      }
    }
  } finally {
    await base.close();
  }
}
