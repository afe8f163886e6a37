/**
 * Customer erasure from tierctl (`tierctl customer erase`): the ports of executeErasure (packages/tierstate
 * erasure.ts) over tierctl's connections, and the request sent to erasure-requests.v1 instead (`--via-topic`: the
 * warehouse writer executes it). docs/security.md "Erasure".
 */
import { randomUUID } from 'node:crypto';
import type { ErasureRequest } from '@tierstream/contracts';
import { loadTopicsSpec, TOPICS } from '@tierstream/contracts';
import { compactedTopics, type ErasureOutcome, erasurePortsOf, executeErasure } from '@tierstream/tierstate';
import type { Clients } from '../clients';
import { auditActor } from './audit';

export type ErasureClients = Pick<
  Clients,
  'redis' | 'redisPrefix' | 'clickhouse' | 'endpoints' | 'config' | 'producer' | 'serde' | 'requireTopics'
>;

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
