/**
 * What the identity graph says about one id (docs/design-decisions.md §22), as `tierctl identity show` and the console
 * show it: for a customer id its survivor (root), the merge that ended it, every id merged into the survivor (through
 * chains too) and every anonymous id aliased to any of them; for an anonymous id its alias and its held events.
 */
import type { IdentityStore } from '@tierstream/aggregates';

export interface IdentityView {
  id: string;
  kind: 'customer' | 'anonymous';
  /** The customer the id counts for now (the root); null for an anonymous id without alias. */
  survivor: string | null;
  /** A customer id merged into another: the survivor the merge named, the merge's event id and time (ISO). */
  merged_into: { customer_id: string; merge_id: string; at: string } | null;
  /** Ids merged into the survivor, directly or through chains: each with the customer it was merged into. */
  merged_ids: Array<{ customer_id: string; into: string; merge_id: string }>;
  /** Anonymous ids aliased to the survivor or to an id merged into it. */
  aliases: Array<{ anonymous_id: string; customer_id: string; at: string }>;
  /** Anonymous id: its alias (null: none yet) and how many of its events are held. */
  alias?: { customer_id: string; event_id: string; at: string } | null;
  held_events?: number;
}

const iso = (ms: number) => new Date(ms).toISOString();

/** Reads the view of `id` (a customer id, or with `anonymous` an anonymous id). O(size of the merged tree). */
export async function identityView(
  store: Pick<IdentityStore, 'rootOf' | 'readMany' | 'aliasOf' | 'heldCount'>,
  id: string,
  opts: { anonymous?: boolean } = {},
): Promise<IdentityView> {
  if (opts.anonymous) {
    const alias = await store.aliasOf(id);
    return {
      id,
      kind: 'anonymous',
      survivor: alias ? await store.rootOf(alias.customerId) : null,
      merged_into: null,
      merged_ids: [],
      aliases: [],
      alias: alias && { customer_id: alias.customerId, event_id: alias.eventId, at: iso(alias.at) },
      held_events: await store.heldCount(id),
    };
  }
  const own = (await store.readMany([id])).get(id);
  const survivor = await store.rootOf(id);
  const view: IdentityView = {
    id,
    kind: 'customer',
    survivor,
    merged_into: own?.mergedInto
      ? { customer_id: own.mergedInto.customerId, merge_id: own.mergedInto.mergeId, at: iso(own.mergedInto.at) }
      : null,
    merged_ids: [],
    aliases: [],
  };
  // The tree under the survivor, level by level (one pipelined read per level).
  const seen = new Set<string>([survivor]);
  let level = [survivor];
  while (level.length > 0) {
    const records = await store.readMany(level);
    const next: string[] = [];
    for (const cid of level) {
      const r = records.get(cid);
      if (!r) continue;
      for (const a of r.aliases) view.aliases.push({ anonymous_id: a.anonymousId, customer_id: cid, at: iso(a.at) });
      for (const m of r.merges) {
        if (seen.has(m.customerId)) continue;
        seen.add(m.customerId);
        view.merged_ids.push({ customer_id: m.customerId, into: cid, merge_id: m.mergeId });
        next.push(m.customerId);
      }
    }
    level = next;
  }
  return view;
}
