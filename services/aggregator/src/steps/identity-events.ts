/**
 * Step: the records of one identities.v1 batch, in offset order (the topic has one partition: one total order,
 * docs/design-decisions.md §22), decoded, validated and applied to the identity graph in that order (runs of aliases
 * together: IdentityStore.applyMany gives the results one after the other would). Each
 * record gives a typed result: a dead letter with its DlqReason (bad bytes, bad fields, self-merge, or the graph's
 * refusal: MERGE_CYCLE, ALREADY_MERGED, ALIAS_CONFLICT, ERASED_ID), or what the graph did (the fold to run next:
 * an alias's held anonymous events into the customer, a merged customer's aggregates into the survivor; a duplicate
 * needs nothing). A redelivered record is applied again without effect (`redo`) and yields its fold again: folds are
 * idempotent by the identity event id.
 */
import type { HeldEvent, IdentityApplied } from '@tierstream/aggregates';
import {
  type AvroSerde,
  type DlqReason,
  decodeIdentityEvent,
  type IdentityEvent,
  type ValidateOptions,
} from '@tierstream/contracts';
import type { ConsumedRecord } from '@tierstream/kafka';

export type IdentityStepResult =
  | { kind: 'dead'; record: ConsumedRecord; reason: DlqReason; message: string }
  | { kind: 'duplicate'; record: ConsumedRecord; event: IdentityEvent }
  | {
      kind: 'alias';
      record: ConsumedRecord;
      event: IdentityEvent;
      customerId: string;
      held: HeldEvent[];
      redo: boolean;
    }
  | { kind: 'merge'; record: ConsumedRecord; event: IdentityEvent; merged: string; into: string; redo: boolean };

export interface IdentityStepDeps {
  serde: Pick<AvroSerde, 'decode'>;
  /** Applies events in order with the results one after the other would give (IdentityStore.applyMany). */
  identity: { applyMany(events: readonly IdentityEvent[]): Promise<IdentityApplied[]> };
  validation: ValidateOptions;
}

/**
 * Decodes the records, then applies the valid ones in offset order (one applyMany call: runs of aliases together);
 * never throws for bad data (registry and Redis outages are rethrown: retry).
 */
export async function applyIdentityRecords(
  records: readonly ConsumedRecord[],
  deps: IdentityStepDeps,
): Promise<IdentityStepResult[]> {
  const out: IdentityStepResult[] = new Array(records.length);
  const valid: Array<{ at: number; record: ConsumedRecord; event: IdentityEvent }> = [];
  for (const [at, record] of records.entries()) {
    const decoded = await decodeIdentityEvent(deps.serde, record.value, deps.validation);
    if (decoded.ok) valid.push({ at, record, event: decoded.event });
    else out[at] = { kind: 'dead', record, reason: decoded.reason, message: decoded.message };
  }
  const results = await deps.identity.applyMany(valid.map((v) => v.event));
  valid.forEach(({ at, record, event }, i) => {
    const applied = results[i]!;
    const o = applied.outcome;
    switch (o.kind) {
      case 'rejected':
        out[at] = { kind: 'dead', record, reason: o.reason, message: rejection(event, o.reason) };
        break;
      case 'duplicate':
        out[at] = { kind: 'duplicate', record, event };
        break;
      case 'aliased':
        out[at] = {
          kind: 'alias',
          record,
          event,
          customerId: o.customerId,
          held: applied.held ?? [],
          redo: applied.redo,
        };
        break;
      case 'merged':
        out[at] = { kind: 'merge', record, event, merged: o.merged, into: o.into, redo: applied.redo };
        break;
    }
  });
  return out;
}

function rejection(e: IdentityEvent, reason: DlqReason): string {
  const what =
    e.type === 'MERGE'
      ? `MERGE of ${e.merged_customer_id} into ${e.customer_id}`
      : `ALIAS of ${e.anonymous_id} to ${e.customer_id}`;
  switch (reason) {
    case 'MERGE_CYCLE':
      return `${what}: ${e.customer_id} was merged into ${e.merged_customer_id} before (directly or through a chain)`;
    case 'ALREADY_MERGED':
      return `${what}: ${e.merged_customer_id} was merged into another customer before (a merge cannot be split)`;
    case 'ALIAS_CONFLICT':
      return `${what}: ${e.anonymous_id} is aliased to another customer`;
    case 'ERASED_ID':
      return `${what}: an id is erased (suppressed)`;
    default:
      return `${what}: ${reason}`;
  }
}
