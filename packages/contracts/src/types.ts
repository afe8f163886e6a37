/**
 * TypeScript shapes of the Avro contracts in schemas/*.avsc (the source of truth).
 * test/drift.test.ts fails when these and the .avsc files disagree.
 * Avro `long` timestamp-millis fields are epoch milliseconds (number) here.
 */

export const ORDER_EVENT_TYPES = ['PLACED', 'REFUNDED', 'CANCELLED'] as const;
export type OrderEventType = (typeof ORDER_EVENT_TYPES)[number];

export const WEB_BEHAVIOR_TYPES = [
  'PAGE_VIEW',
  'PRODUCT_VIEW',
  'SEARCH',
  'ADD_TO_CART',
  'CONTENT_DOWNLOAD',
  'WEBINAR_ATTENDED',
  'EMAIL_OPENED',
  'EMAIL_CLICKED',
  'DEMO_REQUESTED',
  'SALES_MEETING',
] as const;
export type WebBehaviorType = (typeof WEB_BEHAVIOR_TYPES)[number];

export const TICKET_EVENT_TYPES = [
  'OPENED',
  'ESCALATED',
  'RESOLVED',
  'REOPENED',
  'CLOSED',
  'SATISFACTION_RATED',
] as const;
export type TicketEventType = (typeof TICKET_EVENT_TYPES)[number];
export const TICKET_CATEGORIES = ['GENERAL', 'BILLING', 'TECHNICAL', 'SHIPPING', 'COMPLAINT'] as const;
export type TicketCategory = (typeof TICKET_CATEGORIES)[number];
export const TICKET_PRIORITIES = ['LOW', 'NORMAL', 'HIGH', 'URGENT'] as const;
export type TicketPriority = (typeof TICKET_PRIORITIES)[number];

export interface CustomerAttributes {
  industry: string | null;
  company_size: number | null;
  region: string | null;
}

export interface OrderEvent {
  event_id: string;
  customer_id: string;
  order_id: string;
  type: OrderEventType;
  amount_minor: number;
  currency: string;
  margin_minor: number | null;
  channel: string | null;
  items: number | null;
  occurred_at: number;
  original_placed_at: number | null;
  /**
   * REFUNDED: the refund's own id (refund identity = (order_id, refund_id); null: the event_id). Optional in TS:
   * added BACKWARD-compatibly (default null), so values written with the earlier schema decode without it.
   */
  refund_id?: string | null;
  attributes: CustomerAttributes | null;
}

export interface WebBehaviorEvent {
  event_id: string;
  customer_id: string | null;
  anonymous_id: string | null;
  type: WebBehaviorType;
  url: string | null;
  content_id: string | null;
  occurred_at: number;
}

export interface TicketEvent {
  event_id: string;
  customer_id: string;
  ticket_id: string;
  type: TicketEventType;
  category: TicketCategory;
  priority: TicketPriority;
  csat: number | null;
  occurred_at: number;
}

export interface CustomerSignal {
  customer_id: string;
  first_event_at: number;
  last_event_at: number;
  applied: number;
  sources: string[];
  emitted_at: number;
}

export const IDENTITY_EVENT_TYPES = ['ALIAS', 'MERGE'] as const;
export type IdentityEventType = (typeof IDENTITY_EVENT_TYPES)[number];

/**
 * A fact about who is who (schemas/IdentityEvent.avsc; docs/design-decisions.md §22), on `identities.v1`.
 * ALIAS: `anonymous_id` is `customer_id`. MERGE: `merged_customer_id` (A) is the same person as `customer_id` (B, the
 * survivor). The field of the other type is null.
 */
export interface IdentityEvent {
  event_id: string;
  type: IdentityEventType;
  customer_id: string;
  anonymous_id: string | null;
  merged_customer_id: string | null;
  source: string | null;
  occurred_at: number;
}

export const TRANSITION_DIRECTIONS = ['UP', 'DOWN', 'ENTER', 'LATERAL'] as const;
export type TransitionDirection = (typeof TRANSITION_DIRECTIONS)[number];

export interface TierTransition {
  transition_id: string;
  customer_id: string;
  dimension: string;
  from_tier: string | null;
  to_tier: string;
  direction: TransitionDirection;
  reason: string;
  rule_id: string;
  rules_version: string;
  cutpoints_version: string;
  metrics: Record<string, number>;
  occurred_at: number;
  evaluated_at: number;
  /** Hash of the aggregate configuration the metrics were computed with (see TierCutPoints); optional: added later. */
  aggregate_config?: string | null;
  /**
   * Identity transitions (dimension `identity`, design-decisions §22): MERGED_INTO names the survivor, MERGED the id
   * merged into this customer; null otherwise. Optional: added later.
   */
  related_customer_id?: string | null;
}

/**
 * CHANGE: the state after a change (on `changes`, compacted, and a copy on `snapshots` for the history);
 * SNAPSHOT: the optional periodic full snapshot; METRICS: a point of a customer's metric history (see TierChange).
 */
export const TIER_CHANGE_KINDS = ['CHANGE', 'SNAPSHOT', 'METRICS'] as const;
export type TierChangeKind = (typeof TIER_CHANGE_KINDS)[number];

export interface TierChange {
  customer_id: string;
  kind: TierChangeKind;
  state_version: number;
  snapshot_day: string | null;
  tiers: Record<string, string>;
  metrics: Record<string, number>;
  rules_version: string;
  cutpoints_version: string;
  as_of: number;
  emitted_at: number;
  /**
   * METRICS rows only: the UTC day (YYYY-MM-DD) of the evaluation whose metric path this row belongs to. The row gives
   * the metrics from `snapshot_day` (≥ basis_day) on, until a row of a later basis day or a later `snapshot_day`.
   */
  basis_day?: string | null;
  /** Hash of the aggregate configuration the metrics were computed with (see TierCutPoints); optional: added later. */
  aggregate_config?: string | null;
}

/** The cuts of one scoring key in a TierCutPoints version. */
export interface TierCutSet {
  /** Dimension id (shares) or `<dimension>.r|f|m` (RFM quintiles). */
  key: string;
  dimension: string;
  metric: string;
  better: 'higher' | 'lower' | string;
  /** Group names best first (tiers, or RFM scores '5'..'1'): one more than `values`. */
  groups: string[];
  /** Cut values best first; a value equal to a cut goes to the better group. */
  values: number[];
  /** YYYY-MM-DD the cuts of a day-linear metric are relative to (c + (d − anchor) on day d); null: fixed values. */
  anchor_day: string | null;
}

/**
 * One version of the population cut points, with what the metrics they rank were computed with (rules version,
 * aggregate configuration). Keyed by version on `customer-tier-cutpoints.v1`; written to ClickHouse cutpoint_history.
 */
/**
 * A request to erase one customer (schemas/ErasureRequest.avsc), keyed by customer_id on `erasure-requests.v1`;
 * executed once per request_id.
 */
export interface ErasureRequest {
  request_id: string;
  customer_id: string;
  reason: string;
  requested_by: string | null;
  /** Epoch ms. */
  requested_at: number;
  suppress: boolean;
  suppress_days: number | null;
}

export interface TierCutPoints {
  version: string;
  rules_version: string;
  computed_at: number;
  measured_day: string | null;
  population: number | null;
  /** First day in force (YYYY-MM-DD); null for `initial`. */
  effective_from: string | null;
  /** Rules-change versions: the apply number (a higher one supersedes versions measured the same day); else null. */
  rules_seq: number | null;
  cuts: TierCutSet[];
  aggregate_config: string;
  reporting_currency: string;
  fx_rates: Record<string, number>;
  /** The whole aggregate configuration (rates, engagement weights, half-life) as canonical JSON. */
  aggregate_config_json: string;
  emitted_at: number;
}

/** The input topics, their contracts, and the outputs. Topic names are versioned with the contract. */
export const TOPICS = {
  orders: 'orders.v1',
  web: 'web-behavior.v1',
  tickets: 'tickets.v1',
  signals: 'customer-signals.v1',
  transitions: 'customer-tier-transitions.v1',
  changes: 'customer-tier-changes.v1',
  /** History rows (TierChange: CHANGE copies, METRICS points, optional SNAPSHOTs): not compacted, unlike `changes`. */
  snapshots: 'customer-tier-snapshots.v1',
  /** Cut-point versions (TierCutPoints, keyed by version): the warehouse's cutpoint_history and aggregate_configs. */
  cutpoints: 'customer-tier-cutpoints.v1',
  /** Erasure requests (ErasureRequest, keyed by customer_id): executed by the warehouse writer (docs/security.md). */
  erasureRequests: 'erasure-requests.v1',
  /** Identity facts (IdentityEvent: ALIAS, MERGE), one partition (design-decisions §22). */
  identities: 'identities.v1',
} as const;

export type InputEvent =
  | { kind: 'order'; event: OrderEvent }
  | { kind: 'web'; event: WebBehaviorEvent }
  | { kind: 'ticket'; event: TicketEvent };

/**
 * Field-by-field mirror of each .avsc, checked by test/drift.test.ts against the parsed schema.
 * `satisfies Record<keyof T, FieldShape>` makes the typecheck fail when a field is added to or removed from the
 * interface without updating this list; the drift test fails when the list and the .avsc disagree.
 * Shapes: Avro primitive name, `enum`, `record`, `array<string>`, `map<string>`, `map<double>`; a trailing `?`
 * means the Avro type is a union with null (TS `| null`).
 */
export type FieldShape =
  | 'string'
  | 'string?'
  | 'int'
  | 'int?'
  | 'boolean'
  | 'long'
  | 'long?'
  | 'double'
  | 'enum'
  | 'record?'
  | 'array<string>'
  | 'array<double>'
  | 'array<record>'
  | 'map<string>'
  | 'map<double>';

export const CUSTOMER_ATTRIBUTES_FIELDS = {
  industry: 'string?',
  company_size: 'int?',
  region: 'string?',
} as const satisfies Record<keyof CustomerAttributes, FieldShape>;

export const ORDER_EVENT_FIELDS = {
  event_id: 'string',
  customer_id: 'string',
  order_id: 'string',
  type: 'enum',
  amount_minor: 'long',
  currency: 'string',
  margin_minor: 'long?',
  channel: 'string?',
  items: 'int?',
  occurred_at: 'long',
  original_placed_at: 'long?',
  refund_id: 'string?',
  attributes: 'record?',
} as const satisfies Record<keyof OrderEvent, FieldShape>;

export const WEB_BEHAVIOR_EVENT_FIELDS = {
  event_id: 'string',
  customer_id: 'string?',
  anonymous_id: 'string?',
  type: 'enum',
  url: 'string?',
  content_id: 'string?',
  occurred_at: 'long',
} as const satisfies Record<keyof WebBehaviorEvent, FieldShape>;

export const TICKET_EVENT_FIELDS = {
  event_id: 'string',
  customer_id: 'string',
  ticket_id: 'string',
  type: 'enum',
  category: 'enum',
  priority: 'enum',
  csat: 'int?',
  occurred_at: 'long',
} as const satisfies Record<keyof TicketEvent, FieldShape>;

export const CUSTOMER_SIGNAL_FIELDS = {
  customer_id: 'string',
  first_event_at: 'long',
  last_event_at: 'long',
  applied: 'int',
  sources: 'array<string>',
  emitted_at: 'long',
} as const satisfies Record<keyof CustomerSignal, FieldShape>;

export const TIER_TRANSITION_FIELDS = {
  transition_id: 'string',
  customer_id: 'string',
  dimension: 'string',
  from_tier: 'string?',
  to_tier: 'string',
  direction: 'enum',
  reason: 'string',
  rule_id: 'string',
  rules_version: 'string',
  cutpoints_version: 'string',
  metrics: 'map<double>',
  occurred_at: 'long',
  evaluated_at: 'long',
  aggregate_config: 'string?',
  related_customer_id: 'string?',
} as const satisfies Record<keyof TierTransition, FieldShape>;

export const TIER_CHANGE_FIELDS = {
  customer_id: 'string',
  kind: 'enum',
  state_version: 'long',
  snapshot_day: 'string?',
  tiers: 'map<string>',
  metrics: 'map<double>',
  rules_version: 'string',
  cutpoints_version: 'string',
  as_of: 'long',
  emitted_at: 'long',
  basis_day: 'string?',
  aggregate_config: 'string?',
} as const satisfies Record<keyof TierChange, FieldShape>;

export const TIER_CUT_SET_FIELDS = {
  key: 'string',
  dimension: 'string',
  metric: 'string',
  better: 'string',
  groups: 'array<string>',
  values: 'array<double>',
  anchor_day: 'string?',
} as const satisfies Record<keyof TierCutSet, FieldShape>;

export const TIER_CUT_POINTS_FIELDS = {
  version: 'string',
  rules_version: 'string',
  computed_at: 'long',
  measured_day: 'string?',
  population: 'long?',
  effective_from: 'string?',
  rules_seq: 'long?',
  cuts: 'array<record>',
  aggregate_config: 'string',
  reporting_currency: 'string',
  fx_rates: 'map<double>',
  aggregate_config_json: 'string',
  emitted_at: 'long',
} as const satisfies Record<keyof TierCutPoints, FieldShape>;

export const ERASURE_REQUEST_FIELDS = {
  request_id: 'string',
  customer_id: 'string',
  reason: 'string',
  requested_by: 'string?',
  requested_at: 'long',
  suppress: 'boolean',
  suppress_days: 'int?',
} as const satisfies Record<keyof ErasureRequest, FieldShape>;

export const IDENTITY_EVENT_FIELDS = {
  event_id: 'string',
  type: 'enum',
  customer_id: 'string',
  anonymous_id: 'string?',
  merged_customer_id: 'string?',
  source: 'string?',
  occurred_at: 'long',
} as const satisfies Record<keyof IdentityEvent, FieldShape>;

/** Enum symbols per `Record.field`, for the drift test (every Avro enum must be listed here). */
export const ENUM_SYMBOLS: Record<string, readonly string[]> = {
  'OrderEvent.type': ORDER_EVENT_TYPES,
  'WebBehaviorEvent.type': WEB_BEHAVIOR_TYPES,
  'TicketEvent.type': TICKET_EVENT_TYPES,
  'TicketEvent.category': TICKET_CATEGORIES,
  'TicketEvent.priority': TICKET_PRIORITIES,
  'TierTransition.direction': TRANSITION_DIRECTIONS,
  'TierChange.kind': TIER_CHANGE_KINDS,
  'IdentityEvent.type': IDENTITY_EVENT_TYPES,
};

export type TopicName = (typeof TOPICS)[keyof typeof TOPICS];
export const INPUT_TOPICS = [TOPICS.orders, TOPICS.web, TOPICS.tickets] as const;
/**
 * The dead-letter topic of every contract topic (`<topic>.dlq`): each is consumed by a service (aggregator: inputs,
 * tier engine: signals, warehouse writer: the outputs), and a consumer dead-letters what it cannot decode or store.
 */
export const DLQ_TOPICS: readonly string[] = Object.values(TOPICS).map((t) => `${t}.dlq`);
export type InputTopic = (typeof INPUT_TOPICS)[number];

/** Avro record name (without namespace) of each topic's value schema; the file is schemas/<name>.avsc. */
export const TOPIC_SCHEMA_NAMES = {
  'orders.v1': 'OrderEvent',
  'web-behavior.v1': 'WebBehaviorEvent',
  'tickets.v1': 'TicketEvent',
  'customer-signals.v1': 'CustomerSignal',
  'customer-tier-transitions.v1': 'TierTransition',
  'customer-tier-changes.v1': 'TierChange',
  'customer-tier-snapshots.v1': 'TierChange',
  'customer-tier-cutpoints.v1': 'TierCutPoints',
  'erasure-requests.v1': 'ErasureRequest',
  'identities.v1': 'IdentityEvent',
} as const satisfies Record<TopicName, string>;

/** Value type carried by each topic. */
export interface TopicValues {
  'orders.v1': OrderEvent;
  'web-behavior.v1': WebBehaviorEvent;
  'tickets.v1': TicketEvent;
  'customer-signals.v1': CustomerSignal;
  'customer-tier-transitions.v1': TierTransition;
  'customer-tier-changes.v1': TierChange;
  'customer-tier-snapshots.v1': TierChange;
  'customer-tier-cutpoints.v1': TierCutPoints;
  'erasure-requests.v1': ErasureRequest;
  'identities.v1': IdentityEvent;
}

export const INPUT_KIND_BY_TOPIC = {
  'orders.v1': 'order',
  'web-behavior.v1': 'web',
  'tickets.v1': 'ticket',
} as const satisfies Record<InputTopic, InputEvent['kind']>;

/** The topic an input event is published to. */
export function topicOf(input: InputEvent): InputTopic {
  switch (input.kind) {
    case 'order':
      return TOPICS.orders;
    case 'web':
      return TOPICS.web;
    case 'ticket':
      return TOPICS.tickets;
  }
}
