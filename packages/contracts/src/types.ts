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

export const TICKET_EVENT_TYPES = ['OPENED', 'ESCALATED', 'RESOLVED', 'REOPENED', 'CLOSED', 'SATISFACTION_RATED'] as const;
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
}

export type TierChangeKind = 'CHANGE' | 'SNAPSHOT';

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
}

/** The input topics, their contracts, and the outputs. Topic names are versioned with the contract. */
export const TOPICS = {
  orders: 'orders.v1',
  web: 'web-behavior.v1',
  tickets: 'tickets.v1',
  signals: 'customer-signals.v1',
  transitions: 'customer-tier-transitions.v1',
  changes: 'customer-tier-changes.v1',
} as const;

export type InputEvent =
  | { kind: 'order'; event: OrderEvent }
  | { kind: 'web'; event: WebBehaviorEvent }
  | { kind: 'ticket'; event: TicketEvent };
