import { createWriteStream, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { type InputEvent, TOPICS } from '@tierstream/contracts';
import { generateWorkload, type ProfileName, parseCdnow, resolveOptions } from '@tierstream/generator';
import { dayOf, endOfDay, isoDay } from '@tierstream/tierstate';
import { formatTable, QUERIES_DIR, runNamedQuery } from '@tierstream/warehouse';
import cliProgress from 'cli-progress';
import { bootstrapPipeline, Clients } from './clients';
import { feedEvents, sendWatermarks } from './feed';
import { resetPipelineData, waitForPipeline } from './pipeline';
import { REPO_ROOT, SERVICES, type ServiceProcess, startService, stopService } from './supervisor';

export const CDNOW_DIR = path.resolve(REPO_ROOT, '../shared/data/cdnow');

export interface DemoOptions {
  source: 'generator' | 'cdnow';
  profile: ProfileName;
  cdnowFile: string;
  timeoutMs: number;
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
 * workload, close the replay at its last day, wait for ClickHouse to have everything, print a report.
 */
export async function runDemo(opts: DemoOptions): Promise<void> {
  const clients = new Clients();
  const services: ServiceProcess[] = [];
  const logDir = path.join(REPO_ROOT, '.stack', 'logs');
  try {
    say('resetting tierstream data (topics, Redis keys, ClickHouse database) for a clean run');
    await resetPipelineData(clients);
    const boot = await bootstrapPipeline(clients);
    say(
      `registered ${Object.keys(boot.schemas).length} schemas, topics created ${boot.topics.created.length}, migrations applied ${boot.migrations.applied.length}`,
    );
    const { events, endAt, label } = demoEvents(opts);
    mkdirSync(logDir, { recursive: true });
    for (const name of SERVICES) {
      const log = createWriteStream(path.join(logDir, `${name}.log`), { flags: 'w' });
      services.push(startService(name, { CLOCK_MODE: 'replay', HTTP_PORT: '0' }, (_n, line) => log.write(`${line}\n`)));
    }
    say(`started ${SERVICES.join(', ')} (replay mode; logs in .stack/logs/)`);
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
    await waitForPipeline(clients, endAt, {
      timeoutMs: opts.timeoutMs,
      isAlive: () => {
        const dead = services.find((s) => s.child.exitCode !== null);
        return dead ? `${dead.name} exited with code ${dead.child.exitCode} (see .stack/logs/${dead.name}.log)` : null;
      },
      onProgress: (p) => {
        const closed = p.closedDays.filter((d): d is number => d !== null);
        const minClosed = closed.length > 0 ? Math.min(...closed) : firstDay - 1;
        dayBar.update(Math.max(0, minClosed - firstDay + 1), {
          lag: p.aggregatorLag,
          wlag: Number.isNaN(p.writerLag) ? '-' : p.writerLag,
        });
      },
    });
    dayBar.stop();
    await printReport(clients, isoDay(lastDay));
  } finally {
    await Promise.all(services.map((s) => stopService(s)));
    await clients.close();
  }
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
  const counts = await clients.clickhouse.query({
    query: `SELECT (SELECT count() FROM ${database}.tier_transitions FINAL) AS transitions,
                   (SELECT count() FROM ${database}.tier_snapshots FINAL) AS snapshot_rows,
                   (SELECT count() FROM ${database}.tier_current FINAL) AS customers`,
    format: 'JSONEachRow',
  });
  out.push('\n-- totals in ClickHouse');
  out.push(formatTable(await counts.json<Record<string, unknown>>()));
  const offsets = await (await clients.admin()).fetchTopicOffsets(TOPICS.transitions);
  const onKafka = offsets.reduce((n, p) => n + Number(BigInt(p.high) - BigInt(p.low)), 0);
  out.push(
    `\n-- ${onKafka} transition events on ${TOPICS.transitions} (what marketing automation consumes, keyed by customer)`,
  );
  out.push(`
Where to look next:
  npm run tierctl -- sql --list                          the analyst SQL pack (infra/clickhouse/queries)
  npm run tierctl -- sql migration_matrix --param from=<day> --param to=${day}
  npm run tierctl -- customer <id>                        one customer's aggregates and tiers
  npm run tierctl -- status                               stack health, consumer lag, DLQ sizes
  clickhouse-client --port 19000 -d ${database}           ad-hoc SQL (tables: tier_current, tier_snapshots, tier_transitions)
  README.md "For analysts", docs/operations.md         the SQL pack explained; running tierstream as infrastructure
`);
  process.stdout.write(`${out.join('\n')}\n`);
}
