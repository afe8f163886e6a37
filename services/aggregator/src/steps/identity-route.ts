/**
 * Step: which customer each event of an input batch counts for (docs/design-decisions.md §22). An event with a
 * customer id goes to that id's root (one pipelined HGET per distinct customer: almost always the id itself); an
 * anonymous web event goes through routeAnonymous (held, or routed to its alias's customer, then to that customer's
 * root). A record of a merged customer that its own aggregates applied before the merge is dropped (it was folded
 * into the survivor). The result groups the events per customer in their delivery order, as the apply path wants.
 */
import { createHash } from 'node:crypto';
import type { IdentityStore } from '@tierstream/aggregates';
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
 * Groups `records` (delivery order) by the customer they count for. `anonymous`: the batch's anonymous web events;
 * `identityWatermark`: the identities partition's watermark (−∞ when none), the floor of held events.
 */
export async function routeByIdentity<R extends AnonymousRecord>(
  records: readonly R[],
  anonymous: readonly R[],
  identityWatermark: number,
  deps: IdentityRouteDeps,
): Promise<{ byCustomer: Map<string, R[]>; via: Map<R, string>; anonymous: AnonymousRouting<R>['counts'] }> {
  const routed = await routeAnonymous(anonymous, identityWatermark, deps);
  const named = new Map<R, string>();
  for (const r of records) if (r.event.event.customer_id !== null) named.set(r, r.event.event.customer_id);
  for (const { customerId, record } of routed.routed) named.set(record, customerId);
  const roots = await deps.identity.resolveMany([...new Set(named.values())]);
  const moved = [...named].filter(([, id]) => (roots.get(id) ?? id) !== id);
  const done = await deps.appliedBeforeMerge(moved.map(([r, customerId]) => ({ ...r, customerId })));
  moved.forEach(([r], i) => {
    if (done[i]) named.delete(r);
  });
  const byCustomer = new Map<string, R[]>();
  const via = new Map<R, string>();
  // Delivery order: the batch's records in order, anonymous ones where they were.
  for (const r of [...records, ...anonymous].sort(byOffset)) {
    const id = named.get(r);
    if (id === undefined) continue;
    const root = roots.get(id) ?? id;
    if (root !== id) via.set(r, id);
    const list = byCustomer.get(root);
    if (list) list.push(r);
    else byCustomer.set(root, [r]);
  }
  return { byCustomer, via, anonymous: routed.counts };
}

/** Offsets of one partition are decimal strings: shorter is smaller, then byte order. */
function byOffset(a: AnonymousRecord, b: AnonymousRecord): number {
  if (a.offset.length !== b.offset.length) return a.offset.length - b.offset.length;
  return a.offset < b.offset ? -1 : a.offset > b.offset ? 1 : 0;
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
 * The records of customers the apply script found merged (ApplyResult.moved: merged between this batch's routing and
 * its write, docs/design-decisions.md §22), grouped by their customer's root now; those the merged customer had
 * applied before its merge (a redelivery: folded into the survivor already) are dropped. `moved`: per customer the
 * records routed to it, in delivery order.
 */
export async function rerouteMoved<R extends AnonymousRecord>(
  moved: ReadonlyMap<string, readonly R[]>,
  deps: Pick<IdentityRouteDeps, 'appliedBeforeMerge'> & { identity: Pick<IdentityStore, 'resolveMany'> },
  via: Map<R, string> = new Map(),
): Promise<Map<string, R[]>> {
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
