/**
 * The identity oracle: the identity graph and the attribution of input events to customers, as a plain batch
 * computation written from the definitions in docs/design-decisions.md §22 (not from the Lua). With `oracleMetrics`
 * it gives every surviving customer's metrics over a history with aliases and merges; the property tests compare
 * the streaming store (graph scripts, folds) with it.
 *
 * Definitions (§22), in short:
 * - identity events apply in topic order (identities.v1 has one partition); a customer id's **root** is itself, or,
 *   once merged, the root of the customer it was merged into;
 * - MERGE(A into B) is rejected as SELF_MERGE (A = B), ERASED_ID (either id erased), MERGE_CYCLE (root(B) = A: B was
 *   merged, directly or through a chain, into A), ALREADY_MERGED (A was merged into a customer whose root is not
 *   root(B)); when A is already merged and root(A) = root(B) it is a duplicate with no effect; otherwise A's root
 *   becomes root(B) (a chain is followed to its end);
 * - ALIAS(X → C) is rejected as ERASED_ID (C erased) or ALIAS_CONFLICT (X already aliased to a customer whose root is
 *   not root(C)); a second alias to the same root is a duplicate with no effect; otherwise X is C from the alias's
 *   `occurred_at` T on, and its anonymous web events count for root(C) when their `occurred_at` ≥ T − the anonymous
 *   retention horizon (before or after the alias, whichever arrives first);
 * - an input event counts for root(customer_id); an anonymous web event (customer_id null) for the root of its
 *   anonymous id's alias as above, else for nobody. A merged customer's events are the union of its ids' events:
 *   one event_id counts once, one order_id is one order (money semantics §15 over the union), one ticket_id one
 *   ticket.
 */
import type { IdentityEvent, InputEvent } from '@tierstream/contracts';
import type { AggregateConfig } from './config';
import type { Metrics } from './metrics';
import { oracleMetrics } from './oracle';

/** Why the graph refused an identity event (a subset of contracts' DlqReason). */
export type IdentityRejection = 'SELF_MERGE' | 'MERGE_CYCLE' | 'ALREADY_MERGED' | 'ALIAS_CONFLICT' | 'ERASED_ID';

/** What one identity event did to the graph. */
export type IdentityOutcome =
  | { kind: 'merged'; merged: string; into: string }
  | { kind: 'aliased'; anonymousId: string; customerId: string }
  | { kind: 'duplicate' }
  | { kind: 'rejected'; reason: IdentityRejection };

export interface IdentityGraph {
  /** Merged customer id → the customer it was merged into (its root: `rootOf` follows chains). */
  mergedInto: Map<string, string>;
  /** Anonymous id → the customer it was aliased to (as named by the alias) and the alias's occurred_at. */
  aliases: Map<string, { customerId: string; at: number }>;
  /** Per identity event (topic order), what it did. */
  outcomes: Array<{ event: IdentityEvent; outcome: IdentityOutcome }>;
}

/** A customer id's root: itself, or the root of the customer it was merged into. */
export function rootOf(graph: Pick<IdentityGraph, 'mergedInto'>, customerId: string): string {
  let id = customerId;
  for (let guard = 0; guard <= graph.mergedInto.size; guard++) {
    const next = graph.mergedInto.get(id);
    if (next === undefined) return id;
    id = next;
  }
  throw new Error(`identity graph has a cycle through ${customerId}`);
}

/**
 * Applies identity events in topic order (the definitions above). `isErased`: ids on the erasure suppression list
 * (none by default). Events with an event_id already applied are skipped (not listed again in `outcomes`).
 */
export function buildIdentityGraph(
  events: readonly IdentityEvent[],
  isErased: (id: string) => boolean = () => false,
): IdentityGraph {
  const graph: IdentityGraph = { mergedInto: new Map(), aliases: new Map(), outcomes: [] };
  const seen = new Set<string>();
  for (const event of events) {
    if (seen.has(event.event_id)) continue;
    seen.add(event.event_id);
    graph.outcomes.push({ event, outcome: applyOne(graph, event, isErased) });
  }
  return graph;
}

function applyOne(graph: IdentityGraph, e: IdentityEvent, isErased: (id: string) => boolean): IdentityOutcome {
  const reject = (reason: IdentityRejection): IdentityOutcome => ({ kind: 'rejected', reason });
  if (e.type === 'MERGE') {
    const a = e.merged_customer_id!;
    const b = e.customer_id;
    if (a === b) return reject('SELF_MERGE');
    if (isErased(a) || isErased(b)) return reject('ERASED_ID');
    const rb = rootOf(graph, b);
    if (graph.mergedInto.has(a)) return rootOf(graph, a) === rb ? { kind: 'duplicate' } : reject('ALREADY_MERGED');
    if (rb === a) return reject('MERGE_CYCLE');
    graph.mergedInto.set(a, rb);
    return { kind: 'merged', merged: a, into: rb };
  }
  const x = e.anonymous_id!;
  const c = e.customer_id;
  if (isErased(c)) return reject('ERASED_ID');
  const existing = graph.aliases.get(x);
  if (existing)
    return rootOf(graph, existing.customerId) === rootOf(graph, c) ? { kind: 'duplicate' } : reject('ALIAS_CONFLICT');
  graph.aliases.set(x, { customerId: c, at: e.occurred_at });
  return { kind: 'aliased', anonymousId: x, customerId: c };
}

/**
 * The customer an input event counts for under the final graph, or null (an anonymous event whose id has no alias,
 * or that lies more than `anonRetentionMs` before its alias).
 */
export function attributedCustomer(graph: IdentityGraph, input: InputEvent, anonRetentionMs: number): string | null {
  const cid = input.event.customer_id;
  if (cid !== null) return rootOf(graph, cid);
  if (input.kind !== 'web' || input.event.anonymous_id === null) return null;
  const alias = graph.aliases.get(input.event.anonymous_id);
  if (!alias || input.event.occurred_at < alias.at - anonRetentionMs) return null;
  return rootOf(graph, alias.customerId);
}

/**
 * Input events per surviving customer, in arrival order, each with customer_id set to the customer it counts for
 * (an anonymous web event keeps its event_id and anonymous_id). Merged ids have no entry.
 */
export function attributeEvents(
  inputs: readonly InputEvent[],
  graph: IdentityGraph,
  anonRetentionMs: number,
): Map<string, InputEvent[]> {
  const out = new Map<string, InputEvent[]>();
  for (const input of inputs) {
    const customer = attributedCustomer(graph, input, anonRetentionMs);
    if (customer === null) continue;
    const moved =
      input.event.customer_id === customer
        ? input
        : ({ ...input, event: { ...input.event, customer_id: customer } } as InputEvent);
    let list = out.get(customer);
    if (!list) {
      list = [];
      out.set(customer, list);
    }
    list.push(moved);
  }
  return out;
}

/**
 * Every surviving customer's metrics as of `asOfMs` (oracleMetrics over its attributed events) for a history of input
 * events (arrival order) and identity events (topic order).
 */
export function oracleIdentityMetrics(
  inputs: readonly InputEvent[],
  identities: readonly IdentityEvent[],
  asOfMs: number,
  config: AggregateConfig,
  opts: { dedupeHorizonMs: number; anonRetentionMs: number; isErased?: (id: string) => boolean },
): Map<string, Metrics> {
  const graph = buildIdentityGraph(identities, opts.isErased);
  const out = new Map<string, Metrics>();
  for (const [customer, events] of attributeEvents(inputs, graph, opts.anonRetentionMs)) {
    out.set(customer, oracleMetrics(events, asOfMs, config, opts.dedupeHorizonMs));
  }
  return out;
}
