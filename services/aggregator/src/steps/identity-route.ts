/**
 * Step: which customer each event of an input batch counts for (docs/design-decisions.md §22). An event with a
 * customer id goes to that id's root; an anonymous web event goes through routeAnonymous (held, or routed to its
 * alias's customer, then to that customer's root). Roots are looked up (one pipelined HGET per distinct customer)
 * only for ids not in KnownRoots: ids found to be roots before. Such an id may have been merged since; the apply
 * script checks that atomically with its write (the customer's result is MOVED) and rerouteMoved routes its records
 * to the root then, so skipping the lookup never applies an event to a merged customer. A record of a merged customer
 * that its own aggregates applied before the merge is dropped (it was folded into the survivor). The result groups
 * the events per customer in their delivery order, as the apply path wants.
 */
import { createHash } from 'node:crypto';
import type { IdentityStore } from '@tierstream/aggregates';
import { compareOffsets } from '@tierstream/kafka';
import { type AnonymousRecord, type AnonymousRouting, type AnonymousStepDeps, routeAnonymous } from './anonymous';

export interface IdentityRouteDeps extends AnonymousStepDeps {
  identity: AnonymousStepDeps['identity'] & Pick<IdentityStore, 'resolveMany'>;
  /**
   * Of records of a merged customer, those its own aggregates applied before the merge (aggregates'
   * appliedBeforeMerge): folded into the survivor already, so a redelivery must not apply them to it again.
   */
  appliedBeforeMerge(
    records: ReadonlyArray<{ customerId: string; topic: string; partition: number; offset: string }>,
  ): Promise<boolean[]>;
}

/**
 * Customer ids found to be roots (no `to` in their identity hash) by an earlier lookup: routed to themselves without
 * a lookup (the apply script's MOVED answer catches a merge since, and rerouteMoved forgets the id). At most
 * `capacity` ids (default 200,000, about 15 MB); when full, the oldest quarter is forgotten (looked up again).
 */
export class KnownRoots {
  private readonly ids = new Set<string>();

  constructor(readonly capacity = 200_000) {}

  get size(): number {
    return this.ids.size;
  }

  has(id: string): boolean {
    return this.ids.has(id);
  }

  add(id: string): void {
    if (this.ids.size >= this.capacity) {
      let n = Math.max(1, Math.floor(this.capacity / 4));
      for (const old of this.ids) {
        if (n-- <= 0) break;
        this.ids.delete(old);
      }
    }
    this.ids.add(id);
  }

  delete(id: string): void {
    this.ids.delete(id);
  }
}

/**
 * Groups `records` (delivery order) by the customer they count for. `anonymous`: the batch's anonymous web events;
 * `identityWatermark`: the identities partition's watermark (−∞ when none), the floor of held events; `known`: ids
 * not looked up (KnownRoots; ids found to be roots are added to it).
 */
export async function routeByIdentity<R extends AnonymousRecord>(
  records: readonly R[],
  anonymous: readonly R[],
  identityWatermark: number,
  deps: IdentityRouteDeps,
  known?: KnownRoots,
): Promise<{ byCustomer: Map<string, R[]>; via: Map<R, string>; anonymous: AnonymousRouting<R>['counts'] }> {
  // The roots of the named customers are looked up beside the anonymous events' hold (two requests, one round trip);
  // the alias's customers of routed anonymous events after it, when not known or looked up already.
  const lookup = new Set<string>();
  for (const r of records) {
    const id = r.event.event.customer_id;
    if (id !== null && !known?.has(id)) lookup.add(id);
  }
  const [routed, roots] = await Promise.all([
    routeAnonymous(anonymous, identityWatermark, deps),
    lookup.size > 0 ? deps.identity.resolveMany([...lookup]) : new Map<string, string>(),
  ]);
  /** Anonymous records that count for a customer now: the alias's customer. */
  const aliased = new Map<R, string>();
  const more = new Set<string>();
  for (const { customerId, record } of routed.routed) {
    aliased.set(record, customerId);
    if (!known?.has(customerId) && !roots.has(customerId)) more.add(customerId);
  }
  if (more.size > 0) for (const [id, root] of await deps.identity.resolveMany([...more])) roots.set(id, root);
  if (known) for (const [id, root] of roots) if (root === id) known.add(id);
  const idOf = (r: R): string | undefined => r.event.event.customer_id ?? aliased.get(r);
  // Records of merged customers (root ≠ id): those the merged customer applied before its merge are dropped.
  const moved: Array<{ r: R; customerId: string }> = [];
  for (const list of [records, anonymous]) {
    for (const r of list) {
      const id = idOf(r);
      if (id === undefined) continue;
      const root = roots.get(id);
      if (root !== undefined && root !== id) moved.push({ r, customerId: id });
    }
  }
  const dropped = new Set<R>();
  if (moved.length > 0) {
    const done = await deps.appliedBeforeMerge(moved.map(({ r, customerId }) => ({ ...r, customerId })));
    moved.forEach(({ r }, i) => {
      if (done[i]) dropped.add(r);
    });
  }
  const byCustomer = new Map<string, R[]>();
  const via = new Map<R, string>();
  // Delivery order: the batch's records in order, anonymous ones where they were.
  for (const r of aliased.size > 0 ? mergeByOffset(records, anonymous) : records) {
    const id = idOf(r);
    if (id === undefined || dropped.has(r)) continue;
    const root = roots.get(id) ?? id;
    if (root !== id) via.set(r, id);
    const list = byCustomer.get(root);
    if (list) list.push(r);
    else byCustomer.set(root, [r]);
  }
  return { byCustomer, via, anonymous: routed.counts };
}

/** Two lists of records of one partition merged in offset order (each sorted first unless it is in order). */
function mergeByOffset<R extends AnonymousRecord>(a: readonly R[], b: readonly R[]): R[] {
  const x = inOrder(a);
  const y = inOrder(b);
  const out: R[] = [];
  let i = 0;
  let j = 0;
  while (i < x.length && j < y.length) out.push(byOffset(x[i]!, y[j]!) <= 0 ? x[i++]! : y[j++]!);
  while (i < x.length) out.push(x[i++]!);
  while (j < y.length) out.push(y[j++]!);
  return out;
}

function inOrder<R extends AnonymousRecord>(list: readonly R[]): readonly R[] {
  for (let i = 1; i < list.length; i++) if (byOffset(list[i - 1]!, list[i]!) > 0) return [...list].sort(byOffset);
  return list;
}

/** Records of one partition in offset order. */
function byOffset(a: AnonymousRecord, b: AnonymousRecord): number {
  return compareOffsets(a.offset, b.offset);
}

/**
 * A record as applied to the customer it was routed to: a record of another id (`via`: the customer id it names, or
 * the alias's customer of an anonymous one) gets the partition `<partition>/<tag of that id>`, so the customer's
 * high-water mark of those records is kept per routed id (`h:<topic code>:<partition>/<tag>`). The survivor's own
 * records of the same partition, or a re-route after a race with a merge, then never hide them as redeliveries.
 */
export function forApply<R extends AnonymousRecord>(r: R, via: string | undefined): R {
  if (via === undefined) return r;
  return { ...r, partition: `${r.partition}/${createHash('sha1').update(via).digest('hex').slice(0, 12)}` };
}

/**
 * The records of customers the apply script found merged (ApplyResult.moved: merged after this batch's routing or
 * its last lookup, docs/design-decisions.md §22), grouped by their customer's root now; those the merged customer had
 * applied before its merge (a redelivery: folded into the survivor already) are dropped. `moved`: per customer the
 * records routed to it, in delivery order; the moved customers are forgotten by `known`.
 */
export async function rerouteMoved<R extends AnonymousRecord>(
  moved: ReadonlyMap<string, readonly R[]>,
  deps: Pick<IdentityRouteDeps, 'appliedBeforeMerge'> & { identity: Pick<IdentityStore, 'resolveMany'> },
  via: Map<R, string> = new Map(),
  known?: KnownRoots,
): Promise<Map<string, R[]>> {
  if (known) for (const id of moved.keys()) known.delete(id);
  const roots = await deps.identity.resolveMany([...moved.keys()]);
  const all = [...moved].flatMap(([customerId, list]) => list.map((r) => ({ customerId, r })));
  const done = await deps.appliedBeforeMerge(all.map(({ customerId, r }) => ({ ...r, customerId })));
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
