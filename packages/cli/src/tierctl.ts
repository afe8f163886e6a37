#!/usr/bin/env node
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { AggregateStore, DEFAULT_AGGREGATE_CONFIG, metricsAt } from '@tierstream/aggregates';
import { applyTopics, DLQ_TOPICS, INPUT_TOPICS, type InputEvent, loadTopicsSpec, TOPICS } from '@tierstream/contracts';
import {
  generateWorkload,
  PROFILES,
  type ProfileName,
  parseCdnow,
  resolveOptions,
  summarize,
} from '@tierstream/generator';
import { DLQ_HEADERS } from '@tierstream/kafka';
import { evaluateTiers, initialCutPoints, parseRules, RulesError } from '@tierstream/tiering';
import { dayOf, endOfDay, isoDay, TierStateStore } from '@tierstream/tierstate';
import { formatTable, listQueries, MIGRATIONS_DIR, migrate, QUERIES_DIR, runNamedQuery } from '@tierstream/warehouse';
import cliProgress from 'cli-progress';
import { Command, InvalidArgumentError, Option } from 'commander';
import type { Admin } from 'kafkajs';
import { Clients } from './clients';
import { registerImportCommand } from './commands/import';
import { feedEvents, sendWatermarks } from './feed';
import { GROUPS, groupLag, OUTPUT_TOPICS } from './pipeline';
import { REPO_ROOT } from './supervisor';

const clients = new Clients();
const print = (s: string) => process.stdout.write(`${s}\n`);
const printJson = (v: unknown) => print(JSON.stringify(v, null, 2));

function parseInstant(v: string): number {
  const t = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  if (!Number.isFinite(t))
    throw new InvalidArgumentError(
      `expected an ISO-8601 instant (e.g. 1998-06-30T23:59:59.999Z) or epoch millis, got "${v}"`,
    );
  return t;
}

function parsePositiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`expected a positive integer, got "${v}"`);
  return n;
}

function collectParam(v: string, acc: Record<string, string>): Record<string, string> {
  const i = v.indexOf('=');
  if (i <= 0) throw new InvalidArgumentError(`expected --param name=value, got "${v}"`);
  acc[v.slice(0, i)] = v.slice(i + 1);
  return acc;
}

/** Feeds events to Kafka with a progress bar, then (optionally) closes the replay with watermark control records. */
async function feedWithProgress(
  events: InputEvent[],
  opts: { ratePerSec?: number; endAt?: number },
): Promise<Record<string, number>> {
  const bar = new cliProgress.SingleBar(
    { format: '{bar} {percentage}% {value}/{total} events', hideCursor: true },
    cliProgress.Presets.shades_classic,
  );
  if (process.stderr.isTTY) bar.start(events.length, 0);
  const progress = await feedEvents(await clients.producer(), clients.serde, events, {
    ratePerSec: opts.ratePerSec,
    onProgress: (p) => process.stderr.isTTY && bar.update(p.sent),
  });
  if (process.stderr.isTTY) bar.stop();
  if (opts.endAt !== undefined) await sendWatermarks(await clients.admin(), await clients.producer(), opts.endAt);
  return progress.byTopic;
}

const program = new Command('tierctl')
  .description(
    'Operate tierstream: contracts, topics, warehouse, workloads, replays, dead letters, rules, customers, SQL.',
  )
  .showHelpAfterError()
  .configureOutput({ writeErr: (s) => process.stderr.write(s) });

// ---------------------------------------------------------------- bootstrap
program
  .command('schemas')
  .description('Avro contracts in the schema registry')
  .command('register')
  .description('register every schemas/*.avsc under <topic>-value with BACKWARD compatibility')
  .option('--json', 'print JSON')
  .action(async (o: { json?: boolean }) => {
    const ids = await clients.serde.registerAll();
    if (o.json) printJson(ids);
    else for (const [subject, id] of Object.entries(ids)) print(`${subject.padEnd(40)} id ${id}`);
  });

program
  .command('topics')
  .description('Kafka topics as code (infra/kafka/topics.yaml)')
  .command('apply')
  .description('create missing topics, raise partition counts, fix config drift (never deletes)')
  .option('--file <file>', 'topics file', path.join(REPO_ROOT, 'infra/kafka/topics.yaml'))
  .option('--json', 'print JSON')
  .action(async (o: { file: string; json?: boolean }) => {
    const result = await applyTopics(await clients.admin(), loadTopicsSpec(o.file));
    if (o.json) printJson(result);
    else
      print(
        `created: ${result.created.join(', ') || '-'}\nupdated: ${result.updated.join(', ') || '-'}\nunchanged: ${result.unchanged.length}`,
      );
  });

program
  .command('warehouse')
  .description('ClickHouse tables')
  .command('migrate')
  .description('apply infra/clickhouse/migrations in order (idempotent; refuses edited applied files)')
  .option('--json', 'print JSON')
  .action(async (o: { json?: boolean }) => {
    const result = await migrate(clients.clickhouse, {
      database: clients.endpoints.clickhouseDatabase,
      dir: MIGRATIONS_DIR,
    });
    if (o.json) printJson(result);
    else print(`applied: ${result.applied.join(', ') || '-'}\nalready applied: ${result.skipped.length}`);
  });

// ---------------------------------------------------------------- workloads
program
  .command('gen')
  .description('generate a seeded synthetic workload (orders, web behaviour, tickets) to Kafka or a file')
  .addOption(new Option('--profile <name>', 'tiny | demo | standard').choices(Object.keys(PROFILES)).default('tiny'))
  .option('--customers <n>', 'override the number of customers', parsePositiveInt)
  .option('--days <n>', 'override the number of days', parsePositiveInt)
  .option('--seed <n>', 'override the seed', parsePositiveInt)
  .addOption(new Option('--to <target>', 'kafka or file').choices(['kafka', 'file']).default('kafka'))
  .option('--out <file>', 'output file for --to file (JSON lines)', 'workload.jsonl')
  .option('--rate <eventsPerSec>', 'limit the produce rate', parsePositiveInt)
  .option('--end-at <instant>', 'close the replay at this instant (watermark records after the data)', parseInstant)
  .option('--json', 'print the summary as JSON')
  .action(
    async (o: {
      profile: ProfileName;
      customers?: number;
      days?: number;
      seed?: number;
      to: string;
      out: string;
      rate?: number;
      endAt?: number;
      json?: boolean;
    }) => {
      const base = PROFILES[o.profile];
      const options = {
        ...base,
        ...(o.customers ? { customers: o.customers } : {}),
        ...(o.days ? { days: o.days } : {}),
      };
      const events = [...generateWorkload(options, o.seed)];
      const summary = summarize(events);
      let produced: Record<string, number> = {};
      if (o.to === 'file') writeFileSync(o.out, `${events.map((e) => JSON.stringify(e)).join('\n')}\n`);
      else produced = await feedWithProgress(events, { ratePerSec: o.rate, endAt: o.endAt });
      const resolved = resolveOptions(options, o.seed);
      if (o.json) printJson({ options: resolved, summary, produced });
      else {
        print(`profile ${o.profile}: ${resolved.customers} customers, ${resolved.days} days, seed ${resolved.seed}`);
        print(
          formatTable(
            Object.entries(summary.byTopic).map(([topic, events]) => ({
              topic,
              events,
              produced: produced[topic] ?? (o.to === 'file' ? '-' : 0),
            })),
          ),
        );
        print(
          `customers ${summary.customers}, buyers ${summary.buyers}, anonymous web events ${summary.anonymousWebEvents}`,
        );
        if (o.to === 'file') print(`written to ${o.out}`);
      }
    },
  );

const replay = program
  .command('replay')
  .description('replay history: CDNOW, or re-process a consumer group from a point in time');
replay
  .command('cdnow')
  .description('replay a CDNOW file as PLACED order events in event-time order')
  .argument('<file>', 'CDNOW_master.txt or CDNOW_sample.txt')
  .option(
    '--end-at <instant>',
    'close the replay at this instant (default: the end of the last day in the file)',
    parseInstant,
  )
  .option('--no-end', 'do not close the replay')
  .option('--rate <eventsPerSec>', 'limit the produce rate', parsePositiveInt)
  .option('--json', 'print JSON')
  .action(async (file: string, o: { endAt?: number; end: boolean; rate?: number; json?: boolean }) => {
    const events: InputEvent[] = parseCdnow(readFileSync(file, 'utf8'), file).map((event) => ({
      kind: 'order',
      event,
    }));
    const last = events.reduce((m, e) => Math.max(m, e.event.occurred_at), 0);
    const endAt = o.end ? (o.endAt ?? endOfDay(dayOf(last))) : undefined;
    const produced = await feedWithProgress(events, { ratePerSec: o.rate, endAt });
    const result = {
      file,
      events: events.length,
      customers: new Set(events.map((e) => e.event.customer_id)).size,
      produced,
      endAt: endAt && new Date(endAt).toISOString(),
    };
    if (o.json) printJson(result);
    else
      print(
        `replayed ${result.events} orders of ${result.customers} customers from ${file}${endAt ? `, closed at ${result.endAt}` : ''}`,
      );
  });
replay
  .command('offsets')
  .description('reset a (stopped) consumer group to re-process history; safe because every effect is idempotent')
  .requiredOption('--group <id>', `consumer group, e.g. ${Object.values(GROUPS).join(', ')}`)
  .option('--topic <topic...>', 'topics (default: every topic the group has committed offsets on)')
  .option('--from <instant>', 'reset to the first offset at or after this time', parseInstant)
  .addOption(new Option('--from-offsets <where>', 'earliest or latest').choices(['earliest', 'latest']))
  .option('--json', 'print JSON')
  .action(
    async (o: {
      group: string;
      topic?: string[];
      from?: number;
      fromOffsets?: 'earliest' | 'latest';
      json?: boolean;
    }) => {
      if ((o.from === undefined) === (o.fromOffsets === undefined))
        throw new Error('give exactly one of --from <instant> or --from-offsets earliest|latest');
      const admin = await clients.admin();
      const topics = await replayTopics(admin, o.group, o.topic);
      const done: Array<{ topic: string; partition: number; offset: string }> = [];
      for (const topic of topics) {
        if (o.from !== undefined) {
          const offsets = await admin.fetchTopicOffsetsByTimestamp(topic, o.from);
          await admin.setOffsets({
            groupId: o.group,
            topic,
            partitions: offsets.map((p) => ({ partition: p.partition, offset: p.offset })),
          });
          done.push(...offsets.map((p) => ({ topic, partition: p.partition, offset: p.offset })));
        } else {
          await admin.resetOffsets({ groupId: o.group, topic, earliest: o.fromOffsets === 'earliest' });
          done.push({ topic, partition: -1, offset: o.fromOffsets! });
        }
      }
      if (o.json) printJson(done);
      else print(formatTable(done));
    },
  );

/**
 * The topics a replay of `group` resets: `requested`, each of which the group must have consumed (committed offsets
 * on it), or by default every topic it has committed offsets on. Throws (exit 1) when the group has consumed none
 * of them: resetting a topic the group never read would print success and re-drive nothing.
 */
async function replayTopics(admin: Admin, group: string, requested: string[] | undefined): Promise<string[]> {
  // Without topics the broker answers with every topic-partition the group has committed (an offset reset to
  // latest is stored as -1 and still counts: the group consumed that topic).
  const committed = (await admin.fetchOffsets({ groupId: group }))
    .filter((t) => t.partitions.length > 0)
    .map((t) => t.topic)
    .sort();
  if (committed.length === 0)
    throw new Error(`group ${group} has no committed offsets on any topic: nothing to replay (is the group id right?)`);
  if (requested === undefined) return committed;
  const never = requested.filter((t) => !committed.includes(t));
  if (never.length > 0)
    throw new Error(`group ${group} never consumed ${never.join(', ')} (its topics: ${committed.join(', ')})`);
  return requested;
}

registerImportCommand(program, clients);

// ---------------------------------------------------------------- dead letters
async function readDlq(
  topic: string,
  limit: number,
): Promise<
  Array<{
    partition: number;
    offset: string;
    key: string | null;
    value: Buffer | null;
    headers: Record<string, string>;
  }>
> {
  const dlq = topic.endsWith('.dlq') ? topic : `${topic}.dlq`;
  const admin = await clients.admin();
  const ends = await admin.fetchTopicOffsets(dlq);
  const total = ends.reduce((n, p) => n + Number(BigInt(p.high) - BigInt(p.low)), 0);
  const out: Array<{
    partition: number;
    offset: string;
    key: string | null;
    value: Buffer | null;
    headers: Record<string, string>;
  }> = [];
  if (total === 0) return out;
  const groupId = `tierctl-dlq-inspect-${process.pid}-${Date.now()}`;
  const consumer = clients.kafka.consumer({ groupId });
  await consumer.connect();
  await consumer.subscribe({ topic: dlq, fromBeginning: true });
  const want = Math.min(limit, total);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out reading ${dlq}`)), 60_000);
    consumer
      .run({
        eachMessage: async ({ partition, message }) => {
          if (out.length >= want) return;
          const headers: Record<string, string> = {};
          for (const [k, v] of Object.entries(message.headers ?? {})) if (v !== undefined) headers[k] = String(v);
          out.push({
            partition,
            offset: message.offset,
            key: message.key?.toString() ?? null,
            value: message.value,
            headers,
          });
          if (out.length >= want) {
            clearTimeout(timer);
            resolve();
          }
        },
      })
      .catch(reject);
  });
  await consumer.disconnect();
  await admin.deleteGroups([groupId]).catch(() => undefined);
  return out;
}

const dlq = program.command('dlq').description('dead letters: look at them, re-drive them after a fix');
dlq
  .command('inspect')
  .argument('<topic>', 'input topic (orders.v1, ...) or its .dlq topic')
  .option('--limit <n>', 'at most this many records', parsePositiveInt, 20)
  .option('--json', 'print JSON')
  .description('print dead letters with their reason, error and source position')
  .action(async (topic: string, o: { limit: number; json?: boolean }) => {
    const rows = (await readDlq(topic, o.limit)).map((r) => ({
      source: `${r.headers[DLQ_HEADERS.sourceTopic]}[${r.headers[DLQ_HEADERS.sourcePartition]}]@${r.headers[DLQ_HEADERS.sourceOffset]}`,
      reason: r.headers[DLQ_HEADERS.reason],
      error: (r.headers[DLQ_HEADERS.error] ?? '').slice(0, 100),
      first_seen: r.headers[DLQ_HEADERS.firstSeenAt],
      bytes: r.value?.length ?? 0,
    }));
    if (o.json) printJson(rows);
    else print(rows.length === 0 ? 'no dead letters' : formatTable(rows));
  });
dlq
  .command('replay')
  .argument('<topic>', 'input topic (orders.v1, ...) or its .dlq topic')
  .option('--limit <n>', 'at most this many records', parsePositiveInt, 1_000_000)
  .option('--json', 'print JSON')
  .description('produce dead letters back to their source topic (after a fix); the first-seen header is kept')
  .action(async (topic: string, o: { limit: number; json?: boolean }) => {
    const rows = await readDlq(topic, o.limit);
    const byTopic = new Map<string, Array<{ key: string | null; value: Buffer; headers: Record<string, string> }>>();
    for (const r of rows) {
      const source = r.headers[DLQ_HEADERS.sourceTopic] ?? topic.replace(/\.dlq$/, '');
      const headers = { [DLQ_HEADERS.firstSeenAt]: r.headers[DLQ_HEADERS.firstSeenAt] ?? new Date().toISOString() };
      const list = byTopic.get(source) ?? [];
      list.push({ key: r.key, value: r.value ?? Buffer.alloc(0), headers });
      byTopic.set(source, list);
    }
    await (await clients.producer()).sendMany([...byTopic].map(([t, records]) => ({ topic: t, records })));
    const result = Object.fromEntries([...byTopic].map(([t, l]) => [t, l.length]));
    if (o.json) printJson(result);
    else print(`re-driven: ${JSON.stringify(result)}`);
  });

// ---------------------------------------------------------------- customers
program
  .command('customer')
  .argument('<id>', 'customer id')
  .option(
    '--as-of <instant>',
    'metrics as of this instant (default: now, or the last event day if later)',
    parseInstant,
  )
  .option('--json', 'print JSON')
  .description("a customer's aggregates (RFM, engagement, service) and tiers")
  .action(async (id: string, o: { asOf?: number; json?: boolean }) => {
    const store = new AggregateStore(clients.redis, { prefix: clients.redisPrefix, config: DEFAULT_AGGREGATE_CONFIG });
    await store.init();
    const state = await store.readState(id);
    if (!state) throw new Error(`customer ${id} has no aggregates (prefix ${clients.redisPrefix})`);
    const asOf = o.asOf ?? Date.now();
    const metrics = metricsAt(state, asOf, DEFAULT_AGGREGATE_CONFIG);
    const tierState = (await new TierStateStore(clients.redis, clients.redisPrefix).readStates([id])).get(id) ?? null;
    const result = {
      customer_id: id,
      as_of: new Date(asOf).toISOString(),
      metrics,
      tiers: tierState?.tiers ?? null,
      tier_state: tierState,
    };
    if (o.json) printJson(result);
    else {
      print(`customer ${id} as of ${result.as_of}`);
      print(
        formatTable(
          Object.entries(metrics)
            .filter(([, v]) => v !== null && v !== 0)
            .map(([metric, value]) => ({ metric, value })),
        ),
      );
      print(
        tierState
          ? formatTable(
              Object.entries(tierState.tiers).map(([dimension, tier]) => ({
                dimension,
                tier,
                decided_by: tierState.decided_by[dimension] ?? '',
              })),
            )
          : 'no tiers yet',
      );
    }
  });

// ---------------------------------------------------------------- rules
function loadRulesFile(file: string) {
  return parseRules(readFileSync(file, 'utf8'), file);
}

const rules = program.command('rules').description('tier rules: validate, preview a change (dry run), apply it');
rules
  .command('validate')
  .argument('<file>', 'rules YAML')
  .option('--json', 'print JSON')
  .action((file: string, o: { json?: boolean }) => {
    const r = loadRulesFile(file);
    const summary = { file, version: r.version, dimensions: r.dimensions.map((d) => d.id) };
    if (o.json) printJson(summary);
    else print(`${file}: valid (version ${r.version}; dimensions ${summary.dimensions.join(', ')})`);
  });

/** Every known customer's current tiers against what `file` would decide now: a from → to count per dimension. */
async function diffRules(
  file: string,
): Promise<Array<{ dimension: string; from: string; to: string; customers: number }>> {
  const next = loadRulesFile(file);
  const tierState = new TierStateStore(clients.redis, clients.redisPrefix);
  const store = new AggregateStore(clients.redis, { prefix: clients.redisPrefix, config: DEFAULT_AGGREGATE_CONFIG });
  await store.init();
  const cutPoints = (await tierState.getCutPoints()) ?? initialCutPoints(next);
  const admin = await clients.admin();
  const meta = await admin.fetchTopicMetadata({ topics: [TOPICS.signals] });
  const partitions = meta.topics[0]?.partitions.length ?? 0;
  const counts = new Map<string, number>();
  for (let p = 0; p < partitions; p++) {
    // As of the day the engine's re-evaluation will use (the partition's last closed day, or a later last
    // evaluation): a customer last evaluated days ago may cross a new threshold in between.
    const closed = (await tierState.getPartitionMeta(p)).closed_day;
    const applyDay = closed === undefined ? Number.NEGATIVE_INFINITY : Number(closed);
    for await (const ids of tierState.customers(p, 1000)) {
      const [aggs, states, attrs] = await Promise.all([
        store.readMany(ids),
        tierState.readStates(ids),
        tierState.readAttributes(ids),
      ]);
      for (const id of ids) {
        const state = states.get(id);
        const agg = aggs.get(id);
        if (!state || !agg) continue;
        const day = Math.max(state.last_eval_day, applyDay);
        const result = evaluateTiers({
          rules: next,
          cutPoints,
          customerId: id,
          metrics: metricsAt(agg, endOfDay(day), DEFAULT_AGGREGATE_CONFIG),
          attributes: attrs.get(id) ?? null,
          previous: state,
          day,
          at: endOfDay(day),
          rulesChanged: true,
        });
        for (const t of result.transitions) {
          const k = `${t.dimension}\u0000${t.from_tier ?? '-'}\u0000${t.to_tier}`;
          counts.set(k, (counts.get(k) ?? 0) + 1);
        }
      }
    }
  }
  return [...counts]
    .map(([k, customers]) => {
      const [dimension, from, to] = k.split('\u0000') as [string, string, string];
      return { dimension, from, to, customers };
    })
    .sort((a, b) => a.dimension.localeCompare(b.dimension) || b.customers - a.customers);
}

rules
  .command('diff')
  .argument('<file>', 'the new rules YAML')
  .option('--json', 'print JSON')
  .description('dry run: how many customers would move from which tier to which, per dimension (changes nothing)')
  .action(async (file: string, o: { json?: boolean }) => {
    const moves = await diffRules(file);
    if (o.json) printJson(moves);
    else print(moves.length === 0 ? 'no customer would change tier' : formatTable(moves));
  });
rules
  .command('apply')
  .argument('<file>', 'the new rules YAML')
  .option('--json', 'print JSON')
  .description(
    'activate a rules version: the tier engine re-evaluates every customer at a bounded rate (reason RULES_CHANGED)',
  )
  .action(async (file: string, o: { json?: boolean }) => {
    const text = readFileSync(file, 'utf8');
    const parsed = parseRules(text, file);
    const tierState = new TierStateStore(clients.redis, clients.redisPrefix);
    const current = await tierState.getActiveRules();
    if (current && current.version === parsed.version && current.text !== text) {
      throw new Error(
        `rules version ${parsed.version} is already active with different content: give the new file a new version`,
      );
    }
    await tierState.setActiveRules(parsed.version, text, Date.now());
    const result = { applied: parsed.version, previous: current?.version ?? null };
    if (o.json) printJson(result);
    else
      print(
        `rules ${parsed.version} is active (was ${result.previous ?? 'the file the engine started with'}); the engine re-evaluates every customer`,
      );
  });

// ---------------------------------------------------------------- SQL pack
program
  .command('sql')
  .argument('[name]', 'query name (see --list)')
  .option('--list', 'list the queries and their parameters')
  .option('--param <k=v>', 'query parameter (repeatable)', collectParam, {})
  .addOption(new Option('--format <format>', 'table | csv | json').choices(['table', 'csv', 'json']).default('table'))
  .option('--json', 'same as --format json')
  .option('--show-sql', 'print the SQL that runs')
  .description('run a query of the analyst SQL pack (infra/clickhouse/queries) against ClickHouse')
  .action(
    async (
      name: string | undefined,
      o: {
        list?: boolean;
        param: Record<string, string>;
        format: 'table' | 'csv' | 'json';
        json?: boolean;
        showSql?: boolean;
      },
    ) => {
      if (o.list || !name) {
        const queries = await listQueries(QUERIES_DIR);
        const rows = queries.map((q) => ({
          name: q.name,
          title: q.title,
          params: q.params.map((p) => `${p.name}:${p.type}${p.default !== undefined ? `=${p.default}` : ''}`).join(' '),
        }));
        if (o.json) printJson(rows);
        else print(formatTable(rows));
        return;
      }
      const result = await runNamedQuery(clients.clickhouse, {
        dir: QUERIES_DIR,
        name,
        params: o.param,
        database: clients.endpoints.clickhouseDatabase,
        format: o.json ? 'json' : o.format,
      });
      if (o.showSql) process.stderr.write(`${result.sql}\n`);
      print(result.output);
    },
  );

// ---------------------------------------------------------------- status
program
  .command('status')
  .option('--json', 'print JSON')
  .description('stack health, consumer lag per group and partition, dead-letter counts')
  .action(async (o: { json?: boolean }) => {
    const health: Record<string, string> = {};
    const check = async (name: string, fn: () => Promise<unknown>) => {
      try {
        await fn();
        health[name] = 'ok';
      } catch (err) {
        health[name] = `down: ${(err as Error).message}`;
      }
    };
    await check('kafka', async () => (await clients.admin()).listTopics());
    await check('schema-registry', async () => {
      const res = await fetch(`${clients.endpoints.schemaRegistryUrl}/subjects`);
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
    });
    await check('redis', () => clients.redis.ping());
    await check('clickhouse', async () => {
      const ping = await clients.clickhouse.ping();
      if (!ping.success) throw ping.error;
    });
    const lag: Array<{ group: string; topic: string; lag: number }> = [];
    const dlqSizes: Record<string, number> = {};
    if (health.kafka === 'ok') {
      const admin = await clients.admin();
      const groupTopics: Record<string, string[]> = {
        [GROUPS.aggregator]: [...INPUT_TOPICS],
        [GROUPS.engine]: [TOPICS.signals],
        [GROUPS.writer]: [...OUTPUT_TOPICS],
      };
      const existing = new Set(await admin.listTopics());
      for (const [group, topics] of Object.entries(groupTopics)) {
        for (const topic of topics.filter((t) => existing.has(t)))
          lag.push({ group, topic, lag: await groupLag(admin, group, [topic]) });
      }
      for (const dlqTopic of DLQ_TOPICS) {
        if (!existing.has(dlqTopic)) continue;
        const offsets = await admin.fetchTopicOffsets(dlqTopic);
        dlqSizes[dlqTopic] = offsets.reduce((n, p) => n + Number(BigInt(p.high) - BigInt(p.low)), 0);
      }
    }
    const result = { health, lag, dlq: dlqSizes };
    if (o.json) printJson(result);
    else {
      print(formatTable(Object.entries(health).map(([service, state]) => ({ service, state }))));
      if (lag.length > 0) print(formatTable(lag));
      print(formatTable(Object.entries(dlqSizes).map(([topic, records]) => ({ topic, records }))));
    }
    if (Object.values(health).some((h) => h !== 'ok')) process.exitCode = 1;
  });

program
  .command('cutpoints')
  .option('--json', 'print JSON')
  .description('the population cut points in force (versioned)')
  .action(async (o: { json?: boolean }) => {
    const cp = await new TierStateStore(clients.redis, clients.redisPrefix).getCutPoints();
    if (o.json || !cp) printJson(cp);
    else
      print(
        `version ${cp.version} (computed ${new Date(cp.computed_at).toISOString()})\n${formatTable(
          Object.entries(cp.cuts).map(([k, v]) => {
            const anchor = cp.anchored?.[k];
            // Anchored cuts (day-linear metrics) as the days they mean, e.g. recency: last order on or after that day.
            const asDays =
              anchor === undefined ? '' : v.map((c) => (Math.abs(c) >= 1e15 ? '—' : isoDay(anchor - c))).join(', ');
            return { scoring: k, cuts: v.join(', '), 'as a day (anchored)': asDays };
          }),
        )}`,
      );
  });

program
  .parseAsync()
  .then(() => clients.close())
  .catch(async (err: unknown) => {
    const message = err instanceof RulesError ? err.issues.join('\n') : (err as Error).message;
    process.stderr.write(`tierctl: ${message}\n`);
    await clients.close().catch(() => undefined);
    process.exit(1);
  });
