import { DLQ_HEADERS } from '@tierstream/kafka';
import { formatTable } from '@tierstream/warehouse';
import type { Command } from 'commander';
import type { Clients } from '../clients';
import { parsePositiveInt, print, printJson } from './args';

/** Reads up to `limit` records of a dead-letter topic (`<topic>.dlq`, or the topic itself when it ends in .dlq). */
export async function readDlq(
  clients: Clients,
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

/** `dlq inspect` and `dlq replay`. */
export function registerDlqCommands(program: Command, clients: Clients): void {
  const dlq = program.command('dlq').description('dead letters: look at them, re-drive them after a fix');
  dlq
    .command('inspect')
    .argument('<topic>', 'input topic (orders.v1, ...) or its .dlq topic')
    .option('--limit <n>', 'at most this many records', parsePositiveInt, 20)
    .option('--json', 'print JSON')
    .description('print dead letters with their reason, error and source position')
    .action(async (topic: string, o: { limit: number; json?: boolean }) => {
      const rows = (await readDlq(clients, topic, o.limit)).map((r) => ({
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
      const rows = await readDlq(clients, topic, o.limit);
      const byTopic = new Map<string, Array<{ key: string | null; value: Buffer; headers: Record<string, string> }>>();
      for (const r of rows) {
        const source = r.headers[DLQ_HEADERS.sourceTopic] ?? topic.replace(/\.dlq$/, '');
        const headers = { [DLQ_HEADERS.firstSeenAt]: r.headers[DLQ_HEADERS.firstSeenAt] ?? new Date().toISOString() };
        const list = byTopic.get(source) ?? [];
        list.push({ key: r.key, value: r.value ?? Buffer.alloc(0), headers });
        byTopic.set(source, list);
      }
      await clients.requireTopics([...byTopic.keys()]);
      await (await clients.producer()).sendMany([...byTopic].map(([t, records]) => ({ topic: t, records })));
      const result = Object.fromEntries([...byTopic].map(([t, l]) => [t, l.length]));
      if (o.json) printJson(result);
      else print(`re-driven: ${JSON.stringify(result)}`);
    });
}
