import type { TierTransition } from '@tierstream/contracts';

/** The `type` of a webhook body; a breaking change of the shape gets a new `payload_version`. */
export const WEBHOOK_EVENT_TYPE = 'tier.transition';
export const WEBHOOK_PAYLOAD_VERSION = 1;

/**
 * The JSON body a webhook receives (docs/destinations.md, "Payload"). Instants are ISO-8601 UTC strings; `metrics`
 * are the customer's metric values the rule was evaluated on; `id` equals `transition.transition_id` and the
 * `Idempotency-Key` header (deterministic: a redelivery or replay carries the same id).
 */
export interface WebhookPayloadV1 {
  type: typeof WEBHOOK_EVENT_TYPE;
  payload_version: typeof WEBHOOK_PAYLOAD_VERSION;
  id: string;
  destination: string;
  transition: {
    transition_id: string;
    customer_id: string;
    dimension: string;
    from_tier: string | null;
    to_tier: string;
    direction: TierTransition['direction'];
    reason: string;
    rule_id: string;
    rules_version: string;
    cutpoints_version: string;
    metrics: Record<string, number>;
    occurred_at: string;
    evaluated_at: string;
  };
}

/** Builds the payload of `t` for `destination`. Pure; key order is fixed, so the body is stable for a transition. */
export function webhookPayload(destination: string, t: TierTransition): WebhookPayloadV1 {
  return {
    type: WEBHOOK_EVENT_TYPE,
    payload_version: WEBHOOK_PAYLOAD_VERSION,
    id: t.transition_id,
    destination,
    transition: {
      transition_id: t.transition_id,
      customer_id: t.customer_id,
      dimension: t.dimension,
      from_tier: t.from_tier,
      to_tier: t.to_tier,
      direction: t.direction,
      reason: t.reason,
      rule_id: t.rule_id,
      rules_version: t.rules_version,
      cutpoints_version: t.cutpoints_version,
      metrics: Object.fromEntries(Object.entries(t.metrics).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
      occurred_at: new Date(t.occurred_at).toISOString(),
      evaluated_at: new Date(t.evaluated_at).toISOString(),
    },
  };
}
