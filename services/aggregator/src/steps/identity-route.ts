/**
 * Step: which customer each event of an input batch counts for (docs/design-decisions.md §22), in two parts so that
 * the anonymous events' hold overlaps the apply of the named ones:
 * - `now`: the named records of ids not known to be merged, grouped per id as they are, without a lookup. Such an id
 *   may have been merged: the apply script checks the customer's `to` atomically with its write (MOVED), and
 *   rerouteMoved routes its records to the root then (and remembers the id in MergedIds), so an event is never applied
 *   to a merged customer.
 * - `later` (one round trip, sent before the caller applies `now`): the anonymous web events held or routed to their
 *   alias's customer (routeAnonymous), and the named records of ids known to be merged, to their roots, minus those the
 *   merged id's own aggregates applied before its merge (folded into the survivor already).
 * Records of `later` never share a high-water mark with those of `now`: an anonymous record of X is applied to the
 * alias's customer with the partition `<partition>/<tag of anon:X>`, a merged id's record with `<partition>/<tag of
 * the id>` (forApply), while `now` holds the customers' own records. So applying `later` after `now` (not interleaved
 * by offset) hides nothing as a redelivery, and a redelivered batch finds each record below its own mark.
 */
import { createHash } from 'node:crypto';
import { BoundedMap, type IdentityStore } from '@tierstream/aggregates';
import { compareOffsets } from '@tierstream/kafka';
import { type AnonymousRecord, type AnonymousRouting, type AnonymousStepDeps, routeAnonymous } from './anonymous';

export interface IdentityRouteDeps extends AnonymousStepDeps {
  identity: AnonymousStepDeps['identity'] & Pick<IdentityStore, 'resolveMany'>;
  /**
   * Of records of a merged customer, those its own aggregates applied before the merge (aggregates'
   * appliedBeforeMerge; `partition` as the record was applied to it: tagged when routed from another id): folded into
   * the survivor already, so a redelivery must not apply them to it again.
   */
  appliedBeforeMerge(
    records: ReadonlyArray<{ customerId: string; topic: string; partition: number | string; offset: string }>,
  ): Promise<boolean[]>;
}

/**
 * Customer ids found merged (by the apply script's MOVED answer), with the root found then: their records go to the
 * root without a MOVED round each batch. A root merged since is caught the same way (MOVED on the root). At most
 * `capacity` ids (default 100,000); when full, the oldest quarter is forgotten (found again by MOVED).
 */
export class MergedIds {
  private readonly roots: BoundedMap<string, string>;

  constructor(readonly capacity = 100_000) {
    this.roots = new BoundedMap(capacity);
  }

  get size(): number {
    return this.roots.size;
  }

  /** The root known for `id` (following known links), or undefined when `id` is not known to be merged. */
  rootOf(id: string): string | undefined {
    let root = this.roots.get(id);
    if (root === undefined) return undefined;
    // Merges never form a cycle (MERGE_CYCLE); the guard only bounds a corrupted graph.
    for (let guard = 0; guard < 1_000; guard++) {
      const next = this.roots.get(root);
      if (next === undefined) return root;
      root = next;
    }
    return root;
  }

  /** Remembers `id`'s root; `root` = `id` (not merged) forgets it. */
  set(id: string, root: string): void {
    if (root === id) {
      this.roots.delete(id);
      return;
    }
    this.roots.set(id, root);
  }
}

/** What routeByIdentity gives the handler. */
export interface RoutedBatch<R extends AnonymousRecord> {
  /** Named records of ids not known to be merged, per id, in delivery order: to apply at once. */
  now: Map<string, R[]>;
  /**
   * Once the hold answers: the anonymous records that count for a customer now and the records of merged ids, per
   * root, in delivery order (each with a partition of its own: `via`); and the anonymous events' counts.
   */
  later: Promise<{ byCustomer: Map<string, R[]>; anonymous: AnonymousRouting<R>['counts'] }>;
  /** Records applied to a customer other than the one they name: `anon:<X>` for X's events, else the id they name. */
  via: Map<R, string>;
}

/**
 * Routes a batch (see the module comment). `records`: named records, `anonymous`: anonymous web events, both in
 * delivery order; `identityWatermark`: the identities partition's watermark (−∞ when none), the floor of held events;
 * `merged`: ids known merged (updated by rerouteMoved). The hold is sent before this returns.
 */
export function routeByIdentity<R extends AnonymousRecord>(
  records: readonly R[],
  anonymous: readonly R[],
  identityWatermark: number,
  deps: IdentityRouteDeps,
  merged: MergedIds = new MergedIds(),
): RoutedBatch<R> {
  const now = new Map<string, R[]>();
  const via = new Map<R, string>();
  /** Records of ids known merged: to their roots, minus those applied before the merge. */
  const ofMerged: Array<{ r: R; customerId: string; root: string }> = [];
  for (const r of records) {
    const id = r.event.event.customer_id!;
    const root = merged.size > 0 ? merged.rootOf(id) : undefined;
    if (root !== undefined) {
      ofMerged.push({ r, customerId: id, root });
      continue;
    }
    const list = now.get(id);
    if (list) list.push(r);
    else now.set(id, [r]);
  }
  const later = (async () => {
    const [routed, done] = await Promise.all([
      anonymous.length > 0 ? routeAnonymous(anonymous, identityWatermark, deps) : undefined,
      ofMerged.length > 0 ? deps.appliedBeforeMerge(ofMerged.map((m) => checked(m.r, m.customerId))) : [],
    ]);
    const out: Array<{ r: R; root: string }> = [];
    ofMerged.forEach(({ r, customerId, root }, i) => {
      if (done[i]) return;
      via.set(r, customerId);
      out.push({ r, root });
    });
    // Anonymous records routed to the alias's customer C (or C's root when C is known merged, minus those C applied
    // before its merge).
    const toMerged: Array<{ r: R; customerId: string; root: string }> = [];
    for (const { customerId, record } of routed?.routed ?? []) {
      via.set(record, `anon:${(record.event.event as { anonymous_id: string }).anonymous_id}`);
      const root = merged.size > 0 ? merged.rootOf(customerId) : undefined;
      if (root === undefined) out.push({ r: record, root: customerId });
      else toMerged.push({ r: record, customerId, root });
    }
    if (toMerged.length > 0) {
      const gone = await deps.appliedBeforeMerge(toMerged.map((m) => checked(m.r, m.customerId, via.get(m.r))));
      toMerged.forEach(({ r, root }, i) => {
        if (!gone[i]) out.push({ r, root });
      });
    }
    const byCustomer = new Map<string, R[]>();
    for (const { r, root } of out) {
      const list = byCustomer.get(root);
      if (list) list.push(r);
      else byCustomer.set(root, [r]);
    }
    for (const list of byCustomer.values()) if (!isInOrder(list)) list.sort(byOffset);
    return {
      byCustomer,
      anonymous: routed?.counts ?? { held: 0, old: 0, dropped: 0, folded: 0, beforeHorizon: 0 },
    };
  })();
  return { now, via, later };
}

/** A record as appliedBeforeMerge checks it on `customerId`: with the partition it was applied with there. */
function checked<R extends AnonymousRecord>(r: R, customerId: string, routedVia?: string) {
  return { customerId, topic: r.topic, partition: forApply(r, routedVia).partition, offset: r.offset };
}

function isInOrder<R extends AnonymousRecord>(list: readonly R[]): boolean {
  for (let i = 1; i < list.length; i++) if (byOffset(list[i - 1]!, list[i]!) > 0) return false;
  return true;
}

/** Records of one partition in offset order. */
function byOffset(a: AnonymousRecord, b: AnonymousRecord): number {
  return compareOffsets(a.offset, b.offset);
}

/**
 * A record as applied to the customer it was routed to: a record of another id (`via`: the customer id it names, or
 * `anon:<X>` for an anonymous event of X) gets the partition `<partition>/<tag of via>` (first 12 hex of SHA-1), so
 * the customer's high-water mark of those records is kept per routed id (`h:<topic code>:<partition>/<tag>`). The
 * customer's own records of the same partition, applied before or after them, then never hide them as redeliveries.
 */
export function forApply<R extends AnonymousRecord>(r: R, via: string | undefined): R {
  if (via === undefined) return r;
  return { ...r, partition: `${r.partition}/${createHash('sha1').update(via).digest('hex').slice(0, 12)}` };
}

/**
 * The records of customers the apply script found merged (ApplyResult.moved: merged since `merged` last knew, or
 * between routing and the write, docs/design-decisions.md §22), grouped by their customer's root now; those the
 * merged customer had applied before its merge (checked on the partition they were applied with there: tagged when
 * `via` names another id) are dropped (a redelivery: folded into the survivor already). `moved`: per customer the
 * records routed to it, in delivery order; the moved customers' roots are remembered in `merged`.
 */
export async function rerouteMoved<R extends AnonymousRecord>(
  moved: ReadonlyMap<string, readonly R[]>,
  deps: Pick<IdentityRouteDeps, 'appliedBeforeMerge'> & { identity: Pick<IdentityStore, 'resolveMany'> },
  via: Map<R, string> = new Map(),
  merged?: MergedIds,
): Promise<Map<string, R[]>> {
  const roots = await deps.identity.resolveMany([...moved.keys()]);
  if (merged) for (const [id, root] of roots) merged.set(id, root);
  const all = [...moved].flatMap(([customerId, list]) => list.map((r) => ({ customerId, r })));
  const done = await deps.appliedBeforeMerge(all.map(({ customerId, r }) => checked(r, customerId, via.get(r))));
  const out = new Map<string, R[]>();
  all.forEach(({ customerId, r }, i) => {
    if (done[i]) return;
    const root = roots.get(customerId) ?? customerId;
    // The id the record names (or its alias's customer): the moved customer unless it was routed to it already.
    if (!via.has(r)) via.set(r, customerId);
    const list = out.get(root);
    if (list) list.push(r);
    else out.set(root, [r]);
  });
  for (const list of out.values()) list.sort(byOffset);
  return out;
}
