import type { TierChange } from '@tierstream/contracts';
import type { CrmDestination } from './spec';

/** One CRM record's desired tier fields: `fields` maps CRM field name → picklist value (null clears the field). */
export interface CrmRecord {
  customer_id: string;
  state_version: number;
  fields: Record<string, string | null>;
}

/**
 * The record `change` asks for under `dest`'s mapping: each mapped dimension's current tier, translated through the
 * dimension's picklist (a tier not listed keeps its name); a mapped dimension the customer has no tier in clears
 * the field (null). Dimensions the mapping does not name are left out.
 */
export function crmRecordOf(dest: Pick<CrmDestination, 'fields' | 'picklists'>, change: TierChange): CrmRecord {
  const fields: Record<string, string | null> = {};
  for (const [dimension, field] of Object.entries(dest.fields)) {
    const tier = change.tiers[dimension];
    fields[field] = tier === undefined ? null : (dest.picklists[dimension]?.[tier] ?? tier);
  }
  return { customer_id: change.customer_id, state_version: change.state_version, fields };
}

/**
 * Keeps one record per customer: the one of the highest `state_version` (the later one on a tie), in the order the
 * customers first appear. An upsert of the latest state makes earlier states of the same batch redundant.
 */
export function latestPerCustomer(records: readonly CrmRecord[]): CrmRecord[] {
  const latest = new Map<string, CrmRecord>();
  for (const r of records) {
    const seen = latest.get(r.customer_id);
    if (!seen || r.state_version >= seen.state_version) latest.set(r.customer_id, r);
  }
  return [...latest.values()];
}

/** Splits `items` into consecutive chunks of at most `size` (≥ 1). */
export function chunks<T>(items: readonly T[], size: number): T[][] {
  if (size < 1) throw new Error(`chunk size must be >= 1 (got ${size})`);
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
