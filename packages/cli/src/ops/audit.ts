/**
 * The audit trail (docs/security.md "Audit"): rules applies and rollbacks (tierctl and the console), cut-point
 * overrides (a view of migration 0005 over cutpoint_history) and erasures, in the warehouse table audit_log. Functions
 * that return data, for the CLI and the console.
 */
import { randomUUID } from 'node:crypto';
import { operatorName } from '@tierstream/config';
import { type AuditEntry, type AuditRow, insertAudit, readAudit } from '@tierstream/warehouse';
import type { Clients } from '../clients';

export type AuditClients = Pick<Clients, 'clickhouse' | 'endpoints' | 'config'>;

/** Who this process acts as in the audit trail: OPERATOR_NAME, else the OS user name. */
export function auditActor(clients: Pick<Clients, 'config'>): string {
  return operatorName(clients.config.OPERATOR_NAME);
}

/**
 * Records one action in audit_log (actor: auditActor unless given; a random audit id unless given). Throws a
 * WarehouseError when the insert fails (e.g. the warehouse is not migrated: `tierctl warehouse migrate`).
 */
export async function recordAudit(
  clients: AuditClients,
  entry: Omit<AuditRow, 'at' | 'audit_id' | 'actor'> & { actor?: string; audit_id?: string; at?: number },
): Promise<AuditRow> {
  const row: AuditRow = {
    ...entry,
    at: entry.at ?? Date.now(),
    audit_id: entry.audit_id ?? randomUUID(),
    actor: entry.actor ?? auditActor(clients),
  };
  await insertAudit(clients.clickhouse, clients.endpoints.clickhouseDatabase, [row]);
  return row;
}

/** The audit trail, newest first (`tierctl audit`): optionally one action, at most `limit` rows (default 100). */
export async function auditTrail(
  clients: AuditClients,
  opts: { action?: string; limit?: number } = {},
): Promise<AuditEntry[]> {
  return readAudit(clients.clickhouse, clients.endpoints.clickhouseDatabase, opts);
}
