import { CompressionTypes, Kafka, type KafkaConfig, logLevel, type Message, type Producer } from 'kafkajs';
import type { Logger } from 'pino';
import { keyPartitioner } from './partitioner';
import type { OutgoingRecord, RecordProducer } from './types';

/** The configuration each client of createKafka was made with (topicPartitions makes a probe client from it). */
const configs = new WeakMap<Kafka, KafkaConfig>();

/** A kafkajs client whose own logging goes through pino (warnings and errors only: kafkajs is chatty). */
export function createKafka(
  opts: { brokers: string[]; clientId: string; logger?: Logger } & Partial<KafkaConfig>,
): Kafka {
  const { logger, ...config } = opts;
  const kafka = new Kafka({
    ...config,
    retry: { retries: 8, initialRetryTime: 200, maxRetryTime: 5_000, ...(config.retry ?? {}) },
    logLevel: logLevel.WARN,
    logCreator: () => (entry) => {
      if (!logger) return;
      const { message, ...extra } = entry.log;
      const line = { kafkajs: entry.namespace, ...extra };
      if (entry.level <= logLevel.ERROR) logger.error(line, message);
      else logger.warn(line, message);
    },
  });
  configs.set(kafka, config);
  return kafka;
}

/**
 * The partitions of each of `topics`, from one metadata request made without kafkajs' own retries: the caller
 * retries with backoff and reports what it waits for (waitForDependency), so an unreachable broker shows its error
 * at once instead of after the client's retry budget. Throws the connection error, or `missing topics a, b` naming
 * the topics that do not exist.
 */
export async function topicPartitions(
  kafka: Kafka,
  topics: string[],
): Promise<Array<{ name: string; partitions: number[] }>> {
  // An admin's `retry` does not reach its connect (kafkajs connects with the client's retries: 8, about 25 s against
  // a closed port, logging an error line per attempt), so the probe is a client of its own without retries or logs.
  const config = configs.get(kafka);
  const probe = config ? new Kafka({ ...config, retry: { retries: 0 }, logLevel: logLevel.NOTHING }) : kafka;
  const admin = probe.admin({ retry: { retries: 0 } });
  try {
    await admin.connect();
    const existing = new Set(await admin.listTopics());
    const missing = [...new Set(topics)].filter((t) => !existing.has(t));
    if (missing.length > 0) throw new Error(`missing topic${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`);
    const meta = await admin.fetchTopicMetadata({ topics });
    return meta.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => p.partitionId).sort() }));
  } catch (err) {
    throw withKafkaHint(kafka, err);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/**
 * Why a broker may have closed the connection, when `err` (or a cause) is kafkajs' "Closed connection" and the client
 * has no SASL or no TLS: a SASL listener closes the connection of a client without SASL after its first request, and
 * a TLS listener the one of a plain-text client; kafkajs says only "Closed connection". Null otherwise. Pure.
 */
export function closedConnectionHint(config: Pick<KafkaConfig, 'ssl' | 'sasl'>, err: unknown): string | null {
  let closed = false;
  let cur = err as { name?: string; message?: string; cause?: unknown } | undefined;
  for (let depth = 0; cur && depth < 5 && !closed; depth++, cur = cur.cause as typeof cur)
    closed = cur.name === 'KafkaJSConnectionClosedError' || cur.message === 'Closed connection';
  if (!closed) return null;
  const missing = [...(config.sasl ? [] : ['SASL (KAFKA_SASL_MECHANISM)']), ...(config.ssl ? [] : ['TLS (KAFKA_TLS)'])];
  return missing.length === 0
    ? null
    : `the broker closed the connection: does its listener need ${missing.join(' or ')}?`;
}

/**
 * `err` of a connection attempt of `kafka`, with closedConnectionHint's question appended to the message when it
 * applies (an Error with `err` as its cause); else `err` itself.
 */
export function withKafkaHint(kafka: Kafka, err: unknown): unknown {
  const hint = closedConnectionHint(configs.get(kafka) ?? {}, err);
  return hint === null ? err : new Error(`${(err as Error).message} (${hint})`, { cause: err });
}

/**
 * Connects once to the brokers of `kafka` without kafkajs' retries or logs, then disconnects. Throws the connection
 * error (refused credentials, an untrusted certificate, an unreachable broker) after one attempt: a caller that
 * would otherwise spend the client's retry budget (8 retries, about 25 s) can first tell refused credentials
 * (credentialFailure) and stop at once.
 */
export async function probeKafka(kafka: Kafka): Promise<void> {
  const config = configs.get(kafka);
  const probe = config ? new Kafka({ ...config, retry: { retries: 0 }, logLevel: logLevel.NOTHING }) : kafka;
  const admin = probe.admin({ retry: { retries: 0 } });
  try {
    await admin.connect();
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/**
 * An idempotent producer (acks=all, one in-flight request, so per-key order survives retries).
 * Records are keyed by customer id by the callers, which gives per-customer order on the topic.
 *
 * Sends made while a request is in flight wait and then go together as the next request (no linger: an idle
 * producer sends at once), up to COALESCE_MAX_BYTES per request: with pipelined consumers several partitions' signals
 * would otherwise queue one request each behind the broker lock of the idempotent producer. Each send resolves when
 * the request carrying its records is acknowledged, and rejects with that request's error; records keep the order
 * of the sends.
 */
export async function createProducer(kafka: Kafka): Promise<RecordProducer> {
  const producer: Producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    // The Java client's murmur2 partitioner (kafkajs' DefaultPartitioner's partitions, in 32-bit arithmetic): the due
    // index is sharded with the same function (tierstate).
    createPartitioner: keyPartitioner,
    // An idempotent producer retries until it succeeds; a bounded count could reorder or drop under EoS rules.
    retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 200, maxRetryTime: 5_000 },
  });
  await producer.connect();
  const send = coalescingSender((topicMessages) =>
    producer.sendBatch({ acks: -1, compression: CompressionTypes.None, topicMessages }),
  );
  return {
    send: (topic, records) => send([{ topic, records }]),
    sendMany: (batches) => send(batches),
    disconnect: () => producer.disconnect(),
  };
}

/**
 * Upper bound of the records (keys, values, headers, plus 64 bytes each) of sends combined into one request: the
 * broker refuses a record batch above its max message size (1 MiB by default), and such a refusal is not retriable.
 * A send above it is cut into requests within it (a record above it alone).
 */
export const COALESCE_MAX_BYTES = 768 * 1024;
/**
 * Upper bound of the records of sends combined into one request: kafkajs groups a request's records per partition
 * in time quadratic in their number (it copies the partition's list for every record), while each request has a cost
 * of its own. kafkajs' CPU per 70-byte record over 3 partitions against the local broker, sendBatch after sendBatch:
 * 9.8–10.8 µs at 4,096 records a request, 7.5–8.5 µs at 1,024, 8.4–10.7 µs at 256; with the grouping made linear
 * (scripts/patch-kafkajs.mjs) 6.0–7.2, 7.0–7.1 and 8.7–8.8 µs. 1,024: as cheap within the noise when patched, the
 * cheapest when not, and a few ms a request.
 */
export const COALESCE_MAX_RECORDS = 1024;

type TopicMessages = Array<{ topic: string; messages: Message[] }>;

/**
 * `sendBatch` with coalescing (createProducer): one call at a time; calls made meanwhile are combined (in call order,
 * records of one topic concatenated) into the next call, up to COALESCE_MAX_BYTES and COALESCE_MAX_RECORDS; a send above
 * them is cut into several calls, in order (it resolves when all are acknowledged, and rejects when one fails).
 * Exported for tests.
 */
export function coalescingSender(
  sendBatch: (topicMessages: TopicMessages) => Promise<unknown>,
): (batches: Array<{ topic: string; records: OutgoingRecord[] }>) => Promise<void> {
  interface Waiting {
    batches: Array<{ topic: string; records: OutgoingRecord[] }>;
    bytes: number;
    count: number;
    resolve: () => void;
    reject: (err: unknown) => void;
  }
  let queue: Waiting[] = [];
  let busy = false;
  const run = async () => {
    busy = true;
    while (queue.length > 0) {
      let take = 1;
      let bytes = queue[0]!.bytes;
      let count = queue[0]!.count;
      while (
        take < queue.length &&
        bytes + queue[take]!.bytes <= COALESCE_MAX_BYTES &&
        count + queue[take]!.count <= COALESCE_MAX_RECORDS
      ) {
        bytes += queue[take]!.bytes;
        count += queue[take++]!.count;
      }
      const group = queue.slice(0, take);
      queue = queue.slice(take);
      const byTopic = new Map<string, Message[]>();
      for (const w of group)
        for (const b of w.batches) {
          let list = byTopic.get(b.topic);
          if (!list) {
            list = [];
            byTopic.set(b.topic, list);
          }
          // The records themselves (kafkajs reads key, value, headers and partition, and copies before it encodes).
          for (const r of b.records) list.push(r);
        }
      try {
        // One entry per topic: kafkajs keeps only the last entry of a topic listed twice.
        await sendBatch([...byTopic].map(([topic, messages]) => ({ topic, messages })));
        for (const w of group) w.resolve();
      } catch (err) {
        for (const w of group) w.reject(err);
      }
    }
    busy = false;
  };
  const enqueue = (piece: Omit<Waiting, 'resolve' | 'reject'>) =>
    new Promise<void>((resolve, reject) => {
      queue.push({ ...piece, resolve, reject });
      if (!busy) void run();
    });
  return (batches) => {
    // Cut into pieces within the request bounds (a record above them alone): a send of many records, such as the
    // signals of a batch of many customers, would otherwise go as one request the broker refuses, every time.
    const pieces: Array<Omit<Waiting, 'resolve' | 'reject'>> = [];
    let piece: Omit<Waiting, 'resolve' | 'reject'> = { batches: [], bytes: 0, count: 0 };
    for (const b of batches) {
      let records: OutgoingRecord[] | null = null;
      for (const r of b.records) {
        const size = recordBytes(r);
        if (piece.count > 0 && (piece.bytes + size > COALESCE_MAX_BYTES || piece.count >= COALESCE_MAX_RECORDS)) {
          pieces.push(piece);
          piece = { batches: [], bytes: 0, count: 0 };
          records = null;
        }
        if (records === null) {
          records = [];
          piece.batches.push({ topic: b.topic, records });
        }
        records.push(r);
        piece.bytes += size;
        piece.count++;
      }
    }
    if (piece.count > 0) pieces.push(piece);
    if (pieces.length === 0) return Promise.resolve();
    if (pieces.length === 1) return enqueue(pieces[0]!);
    return Promise.all(pieces.map(enqueue)).then(() => undefined);
  };
}

/** A record's size as counted against the request bounds: value, key and headers in bytes, plus 64. */
function recordBytes(r: OutgoingRecord): number {
  // A tombstone (erasure) has no value, whatever the type says.
  let bytes = ((r.value as Buffer | null)?.length ?? 0) + byteLength(r.key) + 64;
  if (r.headers) for (const k in r.headers) bytes += Buffer.byteLength(k) + byteLength(r.headers[k]);
  return bytes;
}

function byteLength(v: string | Buffer | null | undefined): number {
  if (v === null || v === undefined) return 0;
  return typeof v === 'string' ? Buffer.byteLength(v) : v.length;
}
