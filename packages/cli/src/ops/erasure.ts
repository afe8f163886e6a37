/**
 * Customer erasure from tierctl (`tierctl customer erase`): the ports of executeErasure (packages/tierstate
 * erasure.ts) over tierctl's connections, and the request sent to erasure-requests.v1 instead (`--via-topic`: the
 * warehouse writer executes it). docs/security.md "Erasure".
 */
import { randomUUID } from 'node:crypto';
import type { ErasureRequest, TopicsSpec } from '@tierstream/contracts';
import { loadTopicsSpec, TOPICS } from '@tierstream/contracts';
import type { RecordProducer } from '@tierstream/kafka';
import { type ErasureOutcome, type ErasurePorts, executeErasure } from '@tierstream/tierstate';
import { deleteCustomerRows, type ErasureClient, insertAudit, insertErasureLog } from '@tierstream/warehouse';
import type { Clients } from '../clients';
import { auditActor } from './audit';

export type ErasureClients = Pick<
  Clients,
  'redis' | 'redisPrefix' | 'clickhouse' | 'endpoints' | 'config' | 'producer' | 'serde' | 'requireTopics'
>;

/**
 * The compacted topics of `spec` (cleanup.policy with `compact`) under their configured names (`rename`: contract
 * name → configured name, e.g. customer-tier-changes.v1 → CHANGES_TOPIC): where an erased customer's key gets a
 * tombstone.
 */
export function compactedTopics(spec: TopicsSpec, rename: Record<string, string> = {}): string[] {
  return spec.topics
    .filter((t) => (t.config['cleanup.policy'] ?? '').includes('compact'))
    .map((t) => rename[t.name] ?? t.name);
}

/**
 * Sends a tombstone (key = the customer id, value null) to each topic; returns the topics. kafkajs sends a null value
 * as a tombstone; OutgoingRecord types the value as a Buffer for every other record, hence the cast.
 */
export async function sendTombstones(
  producer: RecordProducer,
  topics: string[],
  customerId: string,
): Promise<string[]> {
  for (const topic of topics) await producer.send(topic, [{ key: customerId, value: null as unknown as Buffer }]);
  return topics;
}

/** The ports of an erasure over ClickHouse `database`, Redis `prefix`, tombstones through `producer`. */
export function erasurePortsOf(deps: {
  redis: ErasurePorts['redis'];
  prefix: string;
  clickhouse: ErasureClient;
  database: string;
  producer: () => Promise<RecordProducer>;
  compacted: string[];
}): ErasurePorts {
  return {
    redis: deps.redis,
    prefix: deps.prefix,
    deleteWarehouseRows: async (id) => (await deleteCustomerRows(deps.clickhouse, deps.database, id)).tables,
    writeTombstones: async (id) => sendTombstones(await deps.producer(), deps.compacted, id),
    insertLog: (row) => insertErasureLog(deps.clickhouse, deps.database, [row]),
    insertAudit: (row) => insertAudit(deps.clickhouse, deps.database, [row]),
  };
}

export interface EraseOptions {
  reason: string;
  /** Default: a random UUID. */
  requestId?: string;
  /** Default true. */
  suppress?: boolean;
  /** Default: ERASURE_SUPPRESS_DAYS. */
  suppressDays?: number;
}

/** The request `tierctl customer erase` makes. */
export function erasureRequestOf(
  clients: Pick<Clients, 'config'>,
  customerId: string,
  o: EraseOptions,
): ErasureRequest {
  return {
    request_id: o.requestId ?? randomUUID(),
    customer_id: customerId,
    reason: o.reason,
    requested_by: auditActor(clients),
    requested_at: Date.now(),
    suppress: o.suppress ?? true,
    suppress_days: o.suppressDays ?? null,
  };
}

/** Erases `customerId` now, from this process (see executeErasure). Throws when a store fails. */
export async function eraseCustomer(
  clients: ErasureClients,
  customerId: string,
  o: EraseOptions,
): Promise<ErasureOutcome> {
  const c = clients.config;
  const ports = erasurePortsOf({
    redis: clients.redis,
    prefix: clients.redisPrefix,
    clickhouse: clients.clickhouse,
    database: clients.endpoints.clickhouseDatabase,
    producer: () => clients.producer(),
    compacted: compactedTopics(loadTopicsSpec(), { [TOPICS.changes]: c.CHANGES_TOPIC }),
  });
  return executeErasure(ports, erasureRequestOf(clients, customerId, o), {
    suppressDays: c.ERASURE_SUPPRESS_DAYS,
    settleMs: c.ERASURE_SETTLE_MS,
    digestSecret: c.ERASURE_DIGEST_SECRET,
    executedBy: auditActor(clients),
    source: 'tierctl',
  });
}

/** Sends the request to ERASURE_REQUESTS_TOPIC (keyed by the customer id) for the warehouse writer to execute. */
export async function requestErasure(
  clients: ErasureClients,
  customerId: string,
  o: EraseOptions,
): Promise<ErasureRequest> {
  const topic = clients.config.ERASURE_REQUESTS_TOPIC;
  await clients.requireTopics([topic]);
  const request = erasureRequestOf(clients, customerId, o);
  const value = await clients.serde.encode(TOPICS.erasureRequests, request);
  await (await clients.producer()).send(topic, [{ key: customerId, value }]);
  return request;
}
