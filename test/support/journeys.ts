import {
  type Clients,
  deleteRedisKeys,
  feedEvents,
  GROUPS,
  groupLag,
  SERVICES,
  type ServiceName,
  type ServiceProcess,
  sendWatermarks,
  startService,
  stopService,
  waitForPipeline,
} from '@tierstream/cli';
import type {
  InputEvent,
  OrderEvent,
  TicketEvent,
  TierTransition,
  WebBehaviorEvent,
  WebBehaviorType,
} from '@tierstream/contracts';
import { CONTROL_HEADER } from '@tierstream/kafka';
import { DAY_MS, dayOf, isoDay } from '@tierstream/tierstate';

/**
 * Helpers for scripted customer journeys through the real services: hand-built input events on chosen days,
 * a pipeline run (services as processes, replay mode), and readers for what comes out of Kafka.
 */

/** Noon UTC of an epoch day, plus `minutes`: events of one day stay inside that day whatever their order. */
export const at = (day: number, minutes = 0): number => day * DAY_MS + 12 * 3_600_000 + minutes * 60_000;

let seq = 0;
const nextId = (kind: string, customerId: string) => `e2e-${kind}-${customerId}-${++seq}`;

export function placed(
  customerId: string,
  day: number,
  amountMinor: number,
  minutes = 0,
  ids: { orderId?: string; eventId?: string } = {},
): InputEvent {
  const id = ids.eventId ?? nextId('order', customerId);
  const event: OrderEvent = {
    event_id: id,
    customer_id: customerId,
    order_id: ids.orderId ?? id,
    type: 'PLACED',
    amount_minor: amountMinor,
    currency: 'USD',
    margin_minor: null,
    channel: 'web',
    items: 1,
    occurred_at: at(day, minutes),
    original_placed_at: null,
    attributes: null,
  };
  return { kind: 'order', event };
}

/**
 * A refund (REFUNDED) or cancellation (CANCELLED) on `day` of order `orderId`, placed on `placedDay` at noon + `placedMinutes`
 * (original_placed_at); `refundId` gives a refund its own identity.
 */
export function reversal(
  type: 'REFUNDED' | 'CANCELLED',
  customerId: string,
  orderId: string,
  day: number,
  amountMinor: number,
  placedDay: number,
  opts: { minutes?: number; placedMinutes?: number; refundId?: string } = {},
): InputEvent {
  const event: OrderEvent = {
    event_id: nextId(type.toLowerCase(), customerId),
    customer_id: customerId,
    order_id: orderId,
    type,
    amount_minor: amountMinor,
    currency: 'USD',
    margin_minor: null,
    channel: 'web',
    items: 1,
    occurred_at: at(day, opts.minutes ?? 0),
    original_placed_at: at(placedDay, opts.placedMinutes ?? 0),
    refund_id: opts.refundId ?? null,
    attributes: null,
  };
  return { kind: 'order', event };
}

export function web(customerId: string, day: number, type: WebBehaviorType, minutes = 0): InputEvent {
  const event: WebBehaviorEvent = {
    event_id: nextId('web', customerId),
    customer_id: customerId,
    anonymous_id: null,
    type,
    url: 'https://shop.example/p/1',
    content_id: null,
    occurred_at: at(day, minutes),
  };
  return { kind: 'web', event };
}

/** A complaint: a ticket OPENED in category COMPLAINT (no escalation, no rating). */
export function complaint(customerId: string, day: number, ticketId: string, minutes = 0): InputEvent {
  const event: TicketEvent = {
    event_id: nextId('ticket', customerId),
    customer_id: customerId,
    ticket_id: ticketId,
    type: 'OPENED',
    category: 'COMPLAINT',
    priority: 'NORMAL',
    csat: null,
    occurred_at: at(day, minutes),
  };
  return { kind: 'ticket', event };
}

/** Event-time order (stable): the replay clock assumes inputs in event-time order per partition. */
export function byEventTime(events: InputEvent[]): InputEvent[] {
  return [...events].sort((a, b) => a.event.occurred_at - b.event.occurred_at);
}

export interface RunningPipeline {
  procs: Map<ServiceName, ServiceProcess>;
  /** Last lines of each service's output, for failure messages. */
  logs: string[];
  isAlive: () => string | null;
  stop: () => Promise<void>;
}

/** Starts the three services as processes (replay mode unless `env` says otherwise). */
export function startPipeline(env: Record<string, string>): RunningPipeline {
  const procs = new Map<ServiceName, ServiceProcess>();
  const logs: string[] = [];
  for (const name of SERVICES) {
    procs.set(
      name,
      startService(name, { CLOCK_MODE: 'replay', HTTP_PORT: '0', LOG_LEVEL: 'warn', ...env }, (n, line) => {
        logs.push(`${n}: ${line}`);
        if (logs.length > 200) logs.shift();
      }),
    );
  }
  return {
    procs,
    logs,
    isAlive: () => {
      const dead = [...procs.values()].find((p) => p.child.exitCode !== null);
      return dead ? `${dead.name} exited with ${dead.child.exitCode}\n${logs.slice(-30).join('\n')}` : null;
    },
    stop: async () => {
      await Promise.all([...procs.values()].map((p) => stopService(p)));
    },
  };
}

/** Feeds the events (in event-time order), closes the replay at `endAt`, waits until every service is done. */
export async function feedAndClose(
  clients: Clients,
  pipeline: RunningPipeline,
  events: InputEvent[],
  endAt: number,
  timeoutMs = 150_000,
): Promise<void> {
  const producer = await clients.producer();
  await feedEvents(producer, clients.serde, byEventTime(events));
  await sendWatermarks(await clients.admin(), producer, endAt);
  await waitForPipeline(clients, endAt, { timeoutMs, isAlive: pipeline.isAlive });
}

/**
 * Forgets all processing state but keeps the topics: deletes the services' consumer groups and every Redis key
 * under the prefix (aggregates, dedupe, tier state, due index, watermarks, cut points, active rules).
 * The services must be stopped.
 */
export async function resetGroupsAndRedis(clients: Clients): Promise<void> {
  const admin = await clients.admin();
  await admin.deleteGroups(Object.values(GROUPS)).catch(() => undefined);
  await deleteRedisKeys(clients);
}

export interface TopicRecord {
  partition: number;
  offset: bigint;
  key: string | null;
  value: Buffer | null;
  control: boolean;
}

/** Every record of a topic (from the low to the high watermark at call time), read with a throw-away group. */
export async function readTopic(clients: Clients, topic: string): Promise<TopicRecord[]> {
  const admin = await clients.admin();
  const ends = await admin.fetchTopicOffsets(topic);
  const pending = new Map<number, bigint>();
  for (const p of ends) if (BigInt(p.high) > BigInt(p.low)) pending.set(p.partition, BigInt(p.high));
  const out: TopicRecord[] = [];
  if (pending.size === 0) return out;
  const groupId = `e2e-reader-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;
  const consumer = clients.kafka.consumer({ groupId, allowAutoTopicCreation: false });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out reading ${topic}`)), 60_000);
      consumer
        .run({
          autoCommit: false,
          eachBatch: async ({ batch }) => {
            const high = pending.get(batch.partition);
            for (const m of batch.messages) {
              const offset = BigInt(m.offset);
              if (high === undefined || offset >= high) continue;
              out.push({
                partition: batch.partition,
                offset,
                key: m.key?.toString('utf8') ?? null,
                value: m.value,
                control: m.headers?.[CONTROL_HEADER] !== undefined,
              });
              if (offset + 1n >= high) pending.delete(batch.partition);
            }
            if (pending.size === 0) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
    await admin.deleteGroups([groupId]).catch(() => undefined);
  }
  return out.sort((a, b) => a.partition - b.partition || Number(a.offset - b.offset));
}

export interface DecodedTransition extends TierTransition {
  partition: number;
  offset: bigint;
}

/** Every transition on customer-tier-transitions.v1, decoded with the serde. */
export async function readTransitions(clients: Clients): Promise<DecodedTransition[]> {
  const records = await readTopic(clients, 'customer-tier-transitions.v1');
  const out: DecodedTransition[] = [];
  for (const r of records) {
    const { value } = await clients.serde.decode(r.value ?? Buffer.alloc(0));
    out.push({ ...(value as TierTransition), partition: r.partition, offset: r.offset });
  }
  return out;
}

/** The end offset of every partition of a topic: a boundary between what came before and what comes next. */
export async function endOffsets(clients: Clients, topic: string): Promise<Map<number, bigint>> {
  const ends = await (await clients.admin()).fetchTopicOffsets(topic);
  return new Map(ends.map((p) => [p.partition, BigInt(p.high)]));
}

export const isAfter = (boundary: Map<number, bigint>) => (t: { partition: number; offset: bigint }) =>
  t.offset >= (boundary.get(t.partition) ?? 0n);

/** The comparable part of a transition: what changed, why, and on which UTC day. */
export interface Step {
  dimension: string;
  from: string | null;
  to: string;
  reason: string;
  day: string;
}

export const step = (dimension: string, from: string | null, to: string, reason: string, day: number): Step => ({
  dimension,
  from,
  to,
  reason,
  day: isoDay(day),
});

/** A customer's transitions in one dimension, in the order they happened. */
export function journey(transitions: TierTransition[], customerId: string, dimension: string): Step[] {
  return transitions
    .filter((t) => t.customer_id === customerId && t.dimension === dimension)
    .sort((a, b) => a.occurred_at - b.occurred_at)
    .map((t) => step(t.dimension, t.from_tier, t.to_tier, t.reason, dayOf(t.occurred_at)));
}

export { type CliResult, tierctl } from './run-node';

/** Runs async jobs with at most `limit` at a time (the box has 2 cores), results in input order. */
export async function limited<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** Waits until a consumer group has consumed every record of `topics` (retrying transient broker errors). */
export async function waitForGroupLag(
  clients: Clients,
  groupId: string,
  topics: readonly string[],
  opts: { timeoutMs?: number; isAlive?: () => string | null } = {},
): Promise<void> {
  const deadline = Date.now() + (opts.timeoutMs ?? 120_000);
  let last: unknown = null;
  for (;;) {
    const dead = opts.isAlive?.();
    if (dead) throw new Error(dead);
    try {
      last = await groupLag(await clients.admin(), groupId, topics);
      if (last === 0) return;
    } catch (err) {
      if (!(err as { retriable?: boolean }).retriable) throw err;
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`group ${groupId} still lags on ${topics.join(', ')}: ${String(last)}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}
