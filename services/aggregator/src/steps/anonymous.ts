/**
 * Step: the anonymous web events of a batch (customer_id null, anonymous_id set; docs/design-decisions.md §22). Per
 * anonymous id one script call (IdentityStore.hold, the id's own slot): while the id has no alias its events are held
 * under it (within the horizon of any alias still to come), once it has one they go to the customer it counts for,
 * like that customer's own events (same topic, partition and offset: the apply path's redelivery checks hold), unless
 * they lie more than the anonymous retention horizon before the alias, or were held before it (the alias folded those).
 */
import type { HeldEvent, HoldResult } from '@tierstream/aggregates';
import type { InputEvent } from '@tierstream/contracts';

export interface AnonymousRecord {
  event: InputEvent;
  topic: string;
  partition: number;
  offset: string;
}

export interface AnonymousRouting<R extends AnonymousRecord> {
  /** Events that count for a customer now (the alias's customer, before resolving merges). */
  routed: Array<{ customerId: string; record: R }>;
  /** How many were held, were older than any alias can fold, were dropped at the bound, were already folded. */
  counts: { held: number; old: number; dropped: number; folded: number; beforeHorizon: number };
}

export interface AnonymousStepDeps {
  identity: {
    hold(
      items: ReadonlyArray<{ anonymousId: string; events: readonly HeldEvent[] }>,
      floor: number,
    ): Promise<Map<string, HoldResult>>;
  };
  /** How far before its alias an anonymous event still counts (ms). */
  anonRetentionMs: number;
}

/**
 * Routes the anonymous web events of a batch. `identityWatermark`: the latest identity event time applied (the
 * identities partition's watermark; −∞ when none): events older than it − the horizon are not held.
 */
export async function routeAnonymous<R extends AnonymousRecord>(
  records: readonly R[],
  identityWatermark: number,
  deps: AnonymousStepDeps,
): Promise<AnonymousRouting<R>> {
  const byAnon = new Map<string, R[]>();
  for (const r of records) {
    const e = r.event;
    if (e.kind !== 'web' || e.event.customer_id !== null || e.event.anonymous_id === null) {
      throw new Error(`routeAnonymous: event ${e.event.event_id} is not an anonymous web event`);
    }
    const list = byAnon.get(e.event.anonymous_id) ?? [];
    list.push(r);
    byAnon.set(e.event.anonymous_id, list);
  }
  const out: AnonymousRouting<R> = {
    routed: [],
    counts: { held: 0, old: 0, dropped: 0, folded: 0, beforeHorizon: 0 },
  };
  if (byAnon.size === 0) return out;
  const items = [...byAnon].map(([anonymousId, list]) => ({
    anonymousId,
    events: list.map((r) => {
      const e = r.event.event as { event_id: string; occurred_at: number; type: HeldEvent['type'] };
      return { eventId: e.event_id, occurredAt: e.occurred_at, type: e.type };
    }),
  }));
  const floor = Number.isFinite(identityWatermark) ? identityWatermark - deps.anonRetentionMs : Number.MIN_SAFE_INTEGER;
  const results = await deps.identity.hold(items, floor);
  for (const [anonymousId, list] of byAnon) {
    const r = results.get(anonymousId)!;
    list.forEach((rec, i) => {
      switch (r.decisions[i]) {
        case 'H':
          out.counts.held++;
          break;
        case 'O':
          out.counts.old++;
          break;
        case 'D':
          out.counts.dropped++;
          break;
        case 'F':
          out.counts.folded++;
          break;
        case 'R':
          if (rec.event.event.occurred_at < r.aliasAt! - deps.anonRetentionMs) out.counts.beforeHorizon++;
          else out.routed.push({ customerId: r.customerId!, record: rec });
          break;
        default:
          throw new Error(`identity_hold returned ${r.decisions[i]} for ${anonymousId}`);
      }
    });
  }
  return out;
}
