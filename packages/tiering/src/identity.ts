/**
 * Tier states across identity merges (docs/design-decisions.md §22), pure. When customer A is merged into B:
 * - A's state ends: one transition on the `identity` dimension, reason MERGED_INTO, naming B
 *   (`related_customer_id`), and a final state whose only tier is identity = MERGED (A leaves every other dimension
 *   without a transition per dimension, so no consumer sees A "leave" GOLD and B "enter" it); A is never evaluated
 *   again;
 * - B is re-evaluated once: one transition on the `identity` dimension, reason MERGED, naming A, per merge into B; B's
 *   tier moves of that evaluation are ordinary transitions (UP/DOWN/LATERAL with their rule's reason). A B without a
 *   state of its own starts from A's tiers, so it does not ENTER tiers A already entered.
 * Transition ids hash (customer, identity, reason, merge event id): the same merge gives the same ids on every
 * re-evaluation, crash or replay.
 */
import { createHash } from 'node:crypto';
import type { TierState, TransitionDraft } from './types';

export const IDENTITY_DIMENSION = 'identity';
export const MERGED_INTO = 'MERGED_INTO';
export const MERGED = 'MERGED';
/** The tiers of the identity dimension: a live customer id, and one merged into another. */
export const IDENTITY_ACTIVE = 'ACTIVE';
export const IDENTITY_MERGED = 'MERGED';

/** What the identity graph says about one customer id (the fields the engine needs of it). */
export interface IdentityFacts {
  /** Set when this id was merged: the survivor the merge named and the merge's event id. */
  mergedInto: { customerId: string; mergeId: string } | null;
  /** Ids merged into this one, with the merge event ids. */
  merges: ReadonlyArray<{ customerId: string; mergeId: string }>;
}

/** Deterministic id of an identity transition: sha256 over (customer, identity, reason, merge event id). */
export function identityTransitionId(customerId: string, reason: string, mergeId: string): string {
  return createHash('sha256')
    .update(JSON.stringify([customerId, IDENTITY_DIMENSION, reason, mergeId]))
    .digest('hex');
}

/** The merges into this customer not announced yet (their MERGED transition not produced), in the facts' order. */
export function unannouncedMerges(
  previous: TierState | null,
  facts: IdentityFacts | undefined,
): Array<{ customerId: string; mergeId: string }> {
  if (!facts) return [];
  const done = new Set(previous?.merges ?? []);
  return facts.merges.filter((m) => !done.has(m.mergeId));
}

interface MarkerContext {
  customerId: string;
  /** Instant stamped on the transitions (the evaluation's). */
  at: number;
  rulesVersion: string;
  cutpointsVersion: string;
}

/** One MERGED transition per merge (B's side). */
export function mergedTransitions(
  ctx: MarkerContext,
  merges: ReadonlyArray<{ customerId: string; mergeId: string }>,
): TransitionDraft[] {
  return merges.map((m) => marker(ctx, MERGED, IDENTITY_ACTIVE, IDENTITY_ACTIVE, m.customerId, m.mergeId));
}

/**
 * The starting state of a survivor without a state of its own: the state of the first (by id) merged customer that
 * has one, under the survivor's id (its tiers before the merge, pending demotions and rule ids kept; version 0, no
 * identity fields).
 * Null when none has a state.
 */
export function inheritedState(
  customerId: string,
  merged: ReadonlyArray<{ customerId: string }>,
  states: ReadonlyMap<string, TierState>,
): TierState | null {
  const from = [...merged]
    .map((m) => m.customerId)
    .sort()
    .map((id) => states.get(id))
    .find((s) => s !== undefined);
  if (!from) return null;
  const tiers = { ...(from.merged_tiers ?? from.tiers) };
  const decidedBy = { ...from.decided_by };
  delete tiers[IDENTITY_DIMENSION];
  delete decidedBy[IDENTITY_DIMENSION];
  return {
    customer_id: customerId,
    version: 0,
    rules_version: from.rules_version,
    cutpoints_version: from.cutpoints_version,
    last_eval_day: from.last_eval_day,
    tiers,
    pending: { ...from.pending },
    decided_by: decidedBy,
  };
}

/**
 * A merged customer's final state and transitions (A's side): the MERGED transitions of merges into A not announced
 * yet (a chain: A absorbed C, then was merged itself before its next evaluation), then MERGED_INTO naming the
 * survivor; the state keeps nothing but identity = MERGED. A state already final gives nothing (and stays as is).
 */
export function finalMergedState(
  ctx: MarkerContext & { day: number },
  previous: TierState | null,
  facts: IdentityFacts & { mergedInto: NonNullable<IdentityFacts['mergedInto']> },
): { state: TierState; transitions: TransitionDraft[]; changed: boolean } {
  if (previous?.merged_into !== undefined) return { state: previous, transitions: [], changed: false };
  const fresh = unannouncedMerges(previous, facts);
  const transitions = mergedTransitions(ctx, fresh);
  const survivor = facts.mergedInto;
  transitions.push(marker(ctx, MERGED_INTO, IDENTITY_ACTIVE, IDENTITY_MERGED, survivor.customerId, survivor.mergeId));
  const state: TierState = {
    customer_id: ctx.customerId,
    version: (previous?.version ?? 0) + 1,
    rules_version: ctx.rulesVersion,
    cutpoints_version: ctx.cutpointsVersion,
    last_eval_day: Math.max(ctx.day, previous?.last_eval_day ?? ctx.day),
    tiers: { [IDENTITY_DIMENSION]: IDENTITY_MERGED },
    pending: {},
    decided_by: { [IDENTITY_DIMENSION]: `merge:${survivor.mergeId}` },
    merged_into: survivor.customerId,
    merges: [...(previous?.merges ?? []), ...fresh.map((m) => m.mergeId)],
    merged_tiers: { ...(previous?.tiers ?? {}) },
  };
  return { state, transitions, changed: true };
}

function marker(
  ctx: MarkerContext,
  reason: string,
  from: string,
  to: string,
  related: string,
  mergeId: string,
): TransitionDraft {
  return {
    transition_id: identityTransitionId(ctx.customerId, reason, mergeId),
    customer_id: ctx.customerId,
    dimension: IDENTITY_DIMENSION,
    from_tier: from,
    to_tier: to,
    direction: 'LATERAL',
    reason,
    rule_id: `merge:${mergeId}`,
    rules_version: ctx.rulesVersion,
    cutpoints_version: ctx.cutpointsVersion,
    metrics: {},
    occurred_at: ctx.at,
    related_customer_id: related,
  };
}
