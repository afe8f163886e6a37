import { readFileSync, writeFileSync } from 'node:fs';
import { type InputEvent, TOPICS } from '@tierstream/contracts';
import {
  generateWorkload,
  PROFILES,
  type ProfileName,
  parseCdnow,
  resolveOptions,
  summarize,
} from '@tierstream/generator';
import { dayOf, endOfDay } from '@tierstream/tierstate';
import { formatTable } from '@tierstream/warehouse';
import cliProgress from 'cli-progress';
import { type Command, Option } from 'commander';
import type { Admin } from 'kafkajs';
import type { Clients } from '../clients';
import { feedEvents, sendWatermarks } from '../feed';
import { GROUPS } from '../pipeline';
import { collectTargets, feedActions, guardWipe, I_KNOW_HELP } from '../wipe-guard';
import { parseInstant, parsePositiveInt, print, printJson } from './args';

/** Feeds events to Kafka with a progress bar, then (optionally) closes the replay with watermark control records. */
async function feedWithProgress(
  clients: Clients,
  events: InputEvent[],
  opts: { ratePerSec?: number; endAt?: number },
): Promise<Record<string, number>> {
  const bar = new cliProgress.SingleBar(
    { format: '{bar} {percentage}% {value}/{total} events', hideCursor: true },
    cliProgress.Presets.shades_classic,
  );
  const kinds = new Set(events.map((e) => e.kind));
  const topicOf = { order: TOPICS.orders, web: TOPICS.web, ticket: TOPICS.tickets } as const;
  await clients.requireTopics(
    opts.endAt !== undefined
      ? clients.inputTopics
      : [...kinds].map((k) => clients.inputTopicNames[topicOf[k as keyof typeof topicOf]]),
  );
  if (process.stderr.isTTY) bar.start(events.length, 0);
  const progress = await feedEvents(await clients.producer(), clients.serde, events, {
    ratePerSec: opts.ratePerSec,
    onProgress: (p) => process.stderr.isTTY && bar.update(p.sent),
    topics: clients.inputTopicNames,
  });
  if (process.stderr.isTTY) bar.stop();
  if (opts.endAt !== undefined)
    await sendWatermarks(await clients.admin(), await clients.producer(), opts.endAt, clients.inputTopics);
  return progress.byTopic;
}

/** `gen` (synthetic workloads) and `replay cdnow` / `replay offsets` (history). */
export function registerWorkloadCommands(program: Command, clients: Clients): void {
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
    .option('--i-know-this-wipes <endpoint>', I_KNOW_HELP, collectTargets, [])
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
        iKnowThisWipes: string[];
      }) => {
        if (o.to === 'kafka')
          guardWipe(
            'tierctl gen',
            clients.endpoints,
            feedActions(clients.inputTopics, o.endAt !== undefined),
            o.iKnowThisWipes,
          );
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
        else produced = await feedWithProgress(clients, events, { ratePerSec: o.rate, endAt: o.endAt });
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
    .option('--i-know-this-wipes <endpoint>', I_KNOW_HELP, collectTargets, [])
    .action(
      async (
        file: string,
        o: { endAt?: number; end: boolean; rate?: number; json?: boolean; iKnowThisWipes: string[] },
      ) => {
        guardWipe(
          'tierctl replay cdnow',
          clients.endpoints,
          feedActions([clients.inputTopicNames[TOPICS.orders]], o.end),
          o.iKnowThisWipes,
        );
        const events: InputEvent[] = parseCdnow(readFileSync(file, 'utf8'), file).map((event) => ({
          kind: 'order',
          event,
        }));
        const last = events.reduce((m, e) => Math.max(m, e.event.occurred_at), 0);
        const endAt = o.end ? (o.endAt ?? endOfDay(dayOf(last))) : undefined;
        const produced = await feedWithProgress(clients, events, { ratePerSec: o.rate, endAt });
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
      },
    );
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
}

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
