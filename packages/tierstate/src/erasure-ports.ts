/**
 * The ports of executeErasure (erasure.ts) over real stores: ClickHouse deletes and logs, tombstones through a Kafka
 * producer. Shared by tierctl (`customer erase`) and the warehouse writer (erasure-requests.v1).
 */
import type { TopicsSpec } from '@tierstream/contracts';
import type { RecordProducer } from '@tierstream/kafka';
import { deleteCustomerRows, type ErasureClient, insertAudit, insertErasureLog } from '@tierstream/warehouse';
import type { ErasurePorts } from './erasure';

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
