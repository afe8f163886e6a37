/**
 * The tier engine's reads of the identity graph (docs/design-decisions.md §22): what it needs to end a merged
 * customer's state (MERGED_INTO) and to announce merges into a survivor (MERGED), and the states a survivor without
 * its own starts from. The decisions themselves are tiering's (identity.ts, pure).
 */
import type { IdentityRecord } from '@tierstream/aggregates';
import { type IdentityFacts, type TierState, unannouncedMerges } from '@tierstream/tiering';
import type { TierStateStore } from '@tierstream/tierstate';

/** Reads customer ids' identity records (IdentityStore.readMany); ids without one are absent. */
export interface IdentityReader {
  readMany(ids: readonly string[]): Promise<Map<string, IdentityRecord>>;
}

/** The facts of an identity record the engine decides on; undefined without a record. */
export function identityFacts(record: IdentityRecord | undefined): IdentityFacts | undefined {
  if (!record) return undefined;
  return {
    mergedInto: record.mergedInto && { customerId: record.mergedInto.customerId, mergeId: record.mergedInto.mergeId },
    merges: record.merges,
  };
}

/**
 * The tier states of the customers merged into survivors that have none yet and merges to announce (a second read,
 * only for those: rare). Keyed by the merged customer's id.
 */
export async function statesToInherit(
  tierState: Pick<TierStateStore, 'readStates'>,
  states: ReadonlyMap<string, TierState>,
  identities: ReadonlyMap<string, IdentityRecord>,
): Promise<Map<string, TierState>> {
  const wanted = new Set<string>();
  for (const [id, record] of identities) {
    if (states.has(id) || record.mergedInto) continue;
    for (const m of unannouncedMerges(null, identityFacts(record))) wanted.add(m.customerId);
  }
  return wanted.size === 0 ? new Map() : tierState.readStates([...wanted]);
}
