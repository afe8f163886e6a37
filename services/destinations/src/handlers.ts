import type { AvroSerde, TierChange, TierTransition } from '@tierstream/contracts';
import {
  CRM_TEMPLATE_BY_ID,
  type CrmDestination,
  type CrmRecord,
  chunks,
  crmRecordOf,
  type DestinationGate,
  type DispatchHooks,
  destinationDlqTopic,
  dispatch,
  latestPerCustomer,
  type ParkedItem,
  type ParkingStore,
  passesFilter,
  type WebhookDestination,
  webhookPayload,
} from '@tierstream/destinations';
import type { BatchHandler, ConsumedRecord, OutgoingRecord, PartitionBatch, RecordProducer } from '@tierstream/kafka';
import type { Logger } from '@tierstream/observability';
import type { Agent } from 'undici';
import { deadLetterRecord } from './dead-letter';
import { type CrmRejects, deliverCrmBatch, deliverWebhook } from './deliver';
import type { DeliveryMetrics } from './delivery-metrics';

export interface HandlerDeps {
  gate: DestinationGate;
  agent: Agent;
  serde: AvroSerde;
  producer: RecordProducer;
  metrics: DeliveryMetrics;
  logger: Logger;
  service: string;
  /** The destination's parking (webhooks): retries and an open breaker park items instead of holding the batch. */
  parking?: ParkingStore;
  /** True once the service is stopping: the batch in flight stops and is not committed (delivered again later). */
  stopping: () => boolean;
}

/** Thrown when a batch stopped before every item was done: the runner must not commit it. */
export class BatchInterrupted extends Error {
  constructor(destination: string) {
    super(`destination ${destination}: stopping before the batch was delivered; it is delivered again after restart`);
    this.name = 'BatchInterrupted';
  }
}

/** Step: decode a batch's values; undecodable records become dead letters of the destination. */
async function decodeBatch<T>(
  batch: PartitionBatch,
  serde: AvroSerde,
  destination: string,
  dead: OutgoingRecord[],
  service: string,
): Promise<Array<{ record: ConsumedRecord; value: T }>> {
  const out: Array<{ record: ConsumedRecord; value: T }> = [];
  for (const record of batch.records) {
    try {
      const { value } = await serde.decode(record.value ?? Buffer.alloc(0));
      out.push({ record, value: value as T });
    } catch (err) {
      dead.push(
        deadLetterRecord(
          {
            destination,
            reason: 'UNDECODABLE',
            message: (err as Error).message,
            status: null,
            body_excerpt: '',
            attempts: 0,
            customer_id: record.key?.toString('utf8') ?? null,
            idempotency_key: null,
            payload: null,
          },
          record,
          service,
        ),
      );
    }
  }
  return out;
}

/** Step: after the deliveries, dead letters are produced, then the runner may commit (or must not, if stopped). */
async function finish(
  batch: PartitionBatch,
  destination: string,
  deps: HandlerDeps,
  dead: OutgoingRecord[],
  stopped: boolean,
  stale: boolean,
): Promise<void> {
  if (stopped && !stale) throw new BatchInterrupted(destination);
  if (dead.length > 0) {
    await deps.producer.send(destinationDlqTopic(destination), dead);
    deps.logger.warn({ destination, count: dead.length }, 'sent items to the destination dead-letter topic');
  }
  const last = batch.records[batch.records.length - 1]!;
  deps.metrics.lag.set(
    { destination, partition: String(batch.partition) },
    Math.max(0, Number(BigInt(batch.highWatermark) - BigInt(last.offset) - 1n)),
  );
}

function commonHooks<T>(
  destination: string,
  deps: HandlerDeps,
  isStale: () => boolean,
  heartbeat: () => Promise<void>,
) {
  return {
    heartbeat,
    shouldStop: () => deps.stopping() || isStale(),
    onRetry: () => deps.metrics.retried.inc({ destination }),
  } satisfies Partial<DispatchHooks<T>>;
}

/**
 * The batch handler of a webhook destination: decode → filter → one POST per transition, per customer in offset
 * order (dispatch) → dead letters produced → return (the runner commits). Redelivered batches (after a crash or a
 * rebalance) carry the same Idempotency-Key per transition. With `deps.parking`, a retriable failure or an open
 * breaker parks the item (and the customer's later items) in Redis for the retry loop: the batch never waits.
 */
export function webhookHandler(dest: WebhookDestination, deps: HandlerDeps): BatchHandler {
  return async (batch, ctx) => {
    const dead: OutgoingRecord[] = [];
    const decoded = await decodeBatch<TierTransition>(batch, deps.serde, dest.name, dead, deps.service);
    const items = decoded
      .filter((d) => passesFilter(dest.filter, d.value))
      .map((d) => ({
        key: d.value.customer_id,
        item: { record: d.record, t: d.value, body: JSON.stringify(webhookPayload(dest.name, d.value)) },
      }));
    const parking = deps.parking;
    const parked = (it: (typeof items)[number]['item']): ParkedItem => ({
      id: it.t.transition_id,
      customer: it.t.customer_id,
      body: it.body,
      source: { topic: it.record.topic, partition: it.record.partition, offset: it.record.offset },
    });
    const result = await dispatch(items, deps.gate, {
      ...commonHooks(dest.name, deps, ctx.isStale, ctx.heartbeat),
      ...(parking && {
        parkIfParked: (_key, it) => parking.appendIfParked(parked(it)),
        park: (_key, it, attempts, dueAtMs) => parking.park(parked(it), attempts, dueAtMs),
      }),
      send: (it, attempt) => deliverWebhook(dest, deps.agent, it.t.transition_id, it.body, attempt),
      onDelivered: (_it, _attempts, ms) => {
        deps.metrics.delivered.inc({ destination: dest.name });
        deps.metrics.latency.observe({ destination: dest.name }, ms / 1000);
      },
      onDeadLetter: (it, info) => {
        deps.metrics.deadLettered.inc({ destination: dest.name, reason: info.reason });
        dead.push(
          deadLetterRecord(
            {
              destination: dest.name,
              reason: info.reason,
              message: info.message,
              status: info.status ?? null,
              body_excerpt: info.bodyExcerpt,
              attempts: info.attempts,
              customer_id: it.t.customer_id,
              idempotency_key: it.t.transition_id,
              payload: JSON.parse(it.body) as unknown,
            },
            it.record,
            deps.service,
          ),
        );
      },
    });
    await finish(batch, dest.name, deps, dead, result.stopped, ctx.isStale());
  };
}

/**
 * The batch handler of a crm-upsert destination: decode the tier states (`customer-tier-changes.v1`) → the latest
 * state per customer → records under the mapping → batches of the template's size, sent concurrently (each customer
 * is in one batch only) → records the CRM refused in a 2xx, and batches that failed for good, dead-lettered.
 */
export function crmHandler(dest: CrmDestination, deps: HandlerDeps): BatchHandler {
  const template = CRM_TEMPLATE_BY_ID[dest.template];
  const size = Math.min(dest.batch_size, template.maxBatch);
  return async (batch, ctx) => {
    const dead: OutgoingRecord[] = [];
    const decoded = await decodeBatch<TierChange>(batch, deps.serde, dest.name, dead, deps.service);
    const source = new Map<string, ConsumedRecord>();
    const records: CrmRecord[] = [];
    for (const d of decoded) {
      if (d.value.kind === 'METRICS') continue;
      source.set(d.value.customer_id, d.record);
      records.push(crmRecordOf(dest, d.value));
    }
    const letter = (
      r: CrmRecord,
      reason: 'REJECTED_RECORD' | 'NON_RETRIABLE_STATUS' | 'ATTEMPTS_EXHAUSTED',
      info: {
        message: string;
        status: number | null;
        body_excerpt: string;
        attempts: number;
      },
    ) => {
      deps.metrics.deadLettered.inc({ destination: dest.name, reason });
      dead.push(
        deadLetterRecord(
          { destination: dest.name, reason, ...info, customer_id: r.customer_id, idempotency_key: null, payload: r },
          source.get(r.customer_id)!,
          deps.service,
        ),
      );
    };
    const items = chunks(latestPerCustomer(records), size).map((rs, i) => ({
      key: `batch-${i}`,
      item: { records: rs, out: { rejected: [] } as CrmRejects },
    }));
    const result = await dispatch(items, deps.gate, {
      ...commonHooks(dest.name, deps, ctx.isStale, ctx.heartbeat),
      send: (it) => {
        it.out.rejected = [];
        return deliverCrmBatch(dest, deps.agent, it.records, it.out);
      },
      onDelivered: (it, attempts, ms) => {
        deps.metrics.delivered.inc({ destination: dest.name }, it.records.length - it.out.rejected.length);
        deps.metrics.latency.observe({ destination: dest.name }, ms / 1000);
        for (const r of it.out.rejected) {
          letter(r.record, 'REJECTED_RECORD', {
            message: `${r.code}: ${r.message}`,
            status: it.out.status ?? null,
            body_excerpt: '',
            attempts,
          });
        }
      },
      onDeadLetter: (it, info) => {
        for (const r of it.records) {
          letter(r, info.reason === 'REJECTED_RECORD' ? 'REJECTED_RECORD' : info.reason, {
            message: info.message,
            status: info.status ?? null,
            body_excerpt: info.bodyExcerpt,
            attempts: info.attempts,
          });
        }
      },
    });
    await finish(batch, dest.name, deps, dead, result.stopped, ctx.isStale());
  };
}
