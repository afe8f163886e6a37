import { z } from 'zod';
import {
  type CustomerAttributes,
  INPUT_TOPICS,
  type InputEvent,
  type InputTopic,
  ORDER_EVENT_TYPES,
  type OrderEvent,
  TICKET_CATEGORIES,
  TICKET_EVENT_TYPES,
  TICKET_PRIORITIES,
  type TicketEvent,
  TOPICS,
  WEB_BEHAVIOR_TYPES,
  type WebBehaviorEvent,
} from './types';

/**
 * Why a message went to the dead-letter topic. Validation reasons come from validateInput; the decode-side ones
 * (UNDECODABLE, UNKNOWN_SCHEMA_ID, WRONG_SCHEMA, OVERSIZED) from decodeAndValidate.
 */
export const DLQ_REASONS = [
  'MISSING_CUSTOMER_ID',
  'EMPTY_ID',
  'NEGATIVE_AMOUNT',
  'UNKNOWN_CURRENCY',
  'FUTURE_TIMESTAMP',
  'INVALID_CSAT',
  'MISSING_ORIGINAL_PLACED_AT',
  'ID_TOO_LONG',
  'INVALID_VALUE',
  'UNDECODABLE',
  'UNKNOWN_SCHEMA_ID',
  'WRONG_SCHEMA',
  'OVERSIZED',
  // Identity events (identities.v1, design-decisions §22): the first from validateIdentityEvent, the others from the
  // identity graph (packages/aggregates identity store) when the event contradicts what it already holds.
  'SELF_MERGE',
  'MERGE_CYCLE',
  'ALREADY_MERGED',
  'ALIAS_CONFLICT',
  'ERASED_ID',
] as const;
export type DlqReason = (typeof DLQ_REASONS)[number];

export type ValidationResult = { ok: true; event: InputEvent } | { ok: false; reason: DlqReason; message: string };

export interface ValidateOptions {
  /** Reference instant (epoch ms) for the future-timestamp check: wall time live, the watermark in replay. */
  now: number;
  /** How far past `now` an event time may be before it is rejected. Default 1 h. */
  maxFutureSkewMs?: number;
  /** Accepted currency codes. Default KNOWN_CURRENCIES. */
  knownCurrencies?: ReadonlySet<string>;
  /** Longest accepted id (event, customer, order, ticket, anonymous). Default 256. */
  maxIdLength?: number;
}

export const DEFAULT_MAX_FUTURE_SKEW_MS = 60 * 60 * 1000;
export const DEFAULT_MAX_ID_LENGTH = 256;
/**
 * Largest accepted amount or margin in minor units (10^12 = 10 billion in major units). Anything larger is almost
 * certainly a unit bug, and keeping single amounts this small leaves room to sum millions of them in safe integers.
 */
export const MAX_AMOUNT_MINOR = 1_000_000_000_000;
/** Largest accepted `items` per order. */
export const MAX_ITEMS = 1_000_000;

/**
 * Common ISO 4217 codes. A plain list on purpose: conversion rates live with the aggregates; this only says which
 * codes are real currencies, so a typo ("USS", "usd") goes to the DLQ instead of becoming revenue in no currency.
 */
// biome-ignore format: a table reads better than one code per line
export const KNOWN_CURRENCIES: ReadonlySet<string> = new Set([
  'USD', 'EUR', 'GBP', 'JPY', 'CNY', 'CHF', 'CAD', 'AUD', 'NZD', 'SEK', 'NOK', 'DKK', 'ISK', 'PLN', 'CZK', 'HUF',
  'RON', 'BGN', 'TRY', 'RUB', 'UAH', 'ILS', 'AED', 'SAR', 'QAR', 'KWD', 'EGP', 'ZAR', 'NGN', 'KES', 'MAD', 'INR',
  'PKR', 'BDT', 'LKR', 'HKD', 'TWD', 'SGD', 'KRW', 'THB', 'MYR', 'IDR', 'PHP', 'VND', 'BRL', 'MXN', 'ARS', 'CLP',
  'COP', 'PEN', 'UYU',
]);

// Structural schemas (zod): types and enums. Domain checks with their own DLQ reasons run afterwards, in
// validateInput, so that e.g. a negative amount is reported as NEGATIVE_AMOUNT rather than a generic type error.
const nullableString = z.string().nullable().default(null);
const nullableNumber = z.number().nullable().default(null);

const attributesSchema = z
  .object({ industry: nullableString, company_size: nullableNumber, region: nullableString })
  .nullable()
  .default(null);

const orderSchema = z.object({
  event_id: z.string(),
  customer_id: z.string(),
  order_id: z.string(),
  type: z.enum(ORDER_EVENT_TYPES),
  amount_minor: z.number(),
  currency: z.string(),
  margin_minor: nullableNumber,
  channel: nullableString,
  items: nullableNumber,
  occurred_at: z.number(),
  original_placed_at: nullableNumber,
  refund_id: nullableString,
  attributes: attributesSchema,
});

const webSchema = z.object({
  event_id: z.string(),
  customer_id: nullableString,
  anonymous_id: nullableString,
  type: z.enum(WEB_BEHAVIOR_TYPES),
  url: nullableString,
  content_id: nullableString,
  occurred_at: z.number(),
});

const ticketSchema = z.object({
  event_id: z.string(),
  customer_id: z.string(),
  ticket_id: z.string(),
  type: z.enum(TICKET_EVENT_TYPES),
  category: z.enum(TICKET_CATEGORIES),
  priority: z.enum(TICKET_PRIORITIES),
  csat: nullableNumber,
  occurred_at: z.number(),
});

const ORDER_IDS = ['event_id', 'customer_id', 'order_id'];
const TICKET_IDS = ['event_id', 'customer_id', 'ticket_id'];
const WEB_IDS = ['event_id', 'customer_id', 'anonymous_id'];

type OrderShape = z.infer<typeof orderSchema>;
type WebShape = z.infer<typeof webSchema>;
type TicketShape = z.infer<typeof ticketSchema>;

const ORDER_TYPES: ReadonlySet<unknown> = new Set(ORDER_EVENT_TYPES);
const WEB_TYPES: ReadonlySet<unknown> = new Set(WEB_BEHAVIOR_TYPES);
const TICKET_TYPES: ReadonlySet<unknown> = new Set(TICKET_EVENT_TYPES);
const CATEGORIES: ReadonlySet<unknown> = new Set(TICKET_CATEGORIES);
const PRIORITIES: ReadonlySet<unknown> = new Set(TICKET_PRIORITIES);

/** z.number(): a finite number. */
const isNum = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);
/** nullableString / nullableNumber: absent (undefined) reads as null. */
const isOptStr = (x: unknown): x is string | null | undefined => x === undefined || x === null || typeof x === 'string';
const isOptNum = (x: unknown): x is number | null | undefined => x === undefined || x === null || isNum(x);

/**
 * What the topic's zod schema outputs for `value` when it accepts it (a new object with the schema's fields in its
 * order, absent nullable fields null, other fields dropped), built without zod; undefined when any field does not fit
 * (then zod runs and says why). The fast path of every record: zod's parse was a measurable share of the aggregator's
 * CPU and garbage.
 */
function structureOf(
  topic: InputTopic,
  value: Record<string, unknown>,
): OrderShape | WebShape | TicketShape | undefined {
  if (topic === TOPICS.web) {
    const { event_id, customer_id, anonymous_id, type, url, content_id, occurred_at } = value;
    if (
      typeof event_id !== 'string' ||
      !isOptStr(customer_id) ||
      !isOptStr(anonymous_id) ||
      !WEB_TYPES.has(type) ||
      !isOptStr(url) ||
      !isOptStr(content_id) ||
      !isNum(occurred_at)
    )
      return undefined;
    return {
      event_id,
      customer_id: customer_id ?? null,
      anonymous_id: anonymous_id ?? null,
      type: type as WebShape['type'],
      url: url ?? null,
      content_id: content_id ?? null,
      occurred_at,
    };
  }
  if (topic === TOPICS.orders) {
    const v = value;
    const a = v.attributes;
    let attributes: OrderShape['attributes'] = null;
    if (a !== undefined && a !== null) {
      if (typeof a !== 'object' || Array.isArray(a)) return undefined;
      const { industry, company_size, region } = a as Record<string, unknown>;
      if (!isOptStr(industry) || !isOptNum(company_size) || !isOptStr(region)) return undefined;
      attributes = { industry: industry ?? null, company_size: company_size ?? null, region: region ?? null };
    }
    if (
      typeof v.event_id !== 'string' ||
      typeof v.customer_id !== 'string' ||
      typeof v.order_id !== 'string' ||
      !ORDER_TYPES.has(v.type) ||
      !isNum(v.amount_minor) ||
      typeof v.currency !== 'string' ||
      !isOptNum(v.margin_minor) ||
      !isOptStr(v.channel) ||
      !isOptNum(v.items) ||
      !isNum(v.occurred_at) ||
      !isOptNum(v.original_placed_at) ||
      !isOptStr(v.refund_id)
    )
      return undefined;
    return {
      event_id: v.event_id,
      customer_id: v.customer_id,
      order_id: v.order_id,
      type: v.type as OrderShape['type'],
      amount_minor: v.amount_minor,
      currency: v.currency,
      margin_minor: v.margin_minor ?? null,
      channel: v.channel ?? null,
      items: v.items ?? null,
      occurred_at: v.occurred_at,
      original_placed_at: v.original_placed_at ?? null,
      refund_id: v.refund_id ?? null,
      attributes,
    };
  }
  const v = value;
  if (
    typeof v.event_id !== 'string' ||
    typeof v.customer_id !== 'string' ||
    typeof v.ticket_id !== 'string' ||
    !TICKET_TYPES.has(v.type) ||
    !CATEGORIES.has(v.category) ||
    !PRIORITIES.has(v.priority) ||
    !isOptNum(v.csat) ||
    !isNum(v.occurred_at)
  )
    return undefined;
  return {
    event_id: v.event_id,
    customer_id: v.customer_id,
    ticket_id: v.ticket_id,
    type: v.type as TicketShape['type'],
    category: v.category as TicketShape['category'],
    priority: v.priority as TicketShape['priority'],
    csat: v.csat ?? null,
    occurred_at: v.occurred_at,
  };
}

type Failure = { ok: false; reason: DlqReason; message: string };
const fail = (reason: DlqReason, message: string): Failure => ({ ok: false, reason, message });

const isBlank = (s: string): boolean => s.trim() === '';
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function isInputTopic(topic: string): topic is InputTopic {
  return (INPUT_TOPICS as readonly string[]).includes(topic);
}

/** The customer an input event belongs to; null for anonymous web traffic (valid, but not attributed). */
export function customerIdOf(input: InputEvent): string | null {
  return input.event.customer_id;
}

/**
 * Validates a decoded input event beyond what Avro guarantees. Pure. Throws only for a topic that is not an input
 * topic (a programming error, not bad data).
 *
 * Missing customer: for orders and tickets a null, absent or blank customer_id is MISSING_CUSTOMER_ID (Avro
 * cannot say null there, so blank is how "missing" arrives). Web events may have customer_id null when
 * anonymous_id is set (valid, customerIdOf returns null); a customer_id that is an empty string is EMPTY_ID there,
 * since null is the way to say "anonymous".
 */
export function validateInput(topic: string, value: unknown, opts: ValidateOptions): ValidationResult {
  if (!isInputTopic(topic))
    throw new Error(`validateInput: ${topic} is not an input topic (${INPUT_TOPICS.join(', ')})`);
  const maxFutureSkewMs = opts.maxFutureSkewMs ?? DEFAULT_MAX_FUTURE_SKEW_MS;
  const knownCurrencies = opts.knownCurrencies ?? KNOWN_CURRENCIES;
  const maxIdLength = opts.maxIdLength ?? DEFAULT_MAX_ID_LENGTH;

  if (!isObject(value))
    return fail('INVALID_VALUE', `expected a record, got ${value === null ? 'null' : typeof value}`);

  // 1. Customer id presence.
  const cid = value.customer_id;
  if (topic === TOPICS.web) {
    const anon = value.anonymous_id;
    if ((cid === null || cid === undefined) && (typeof anon !== 'string' || isBlank(anon))) {
      return fail('MISSING_CUSTOMER_ID', 'web event has neither customer_id nor anonymous_id');
    }
  } else if (cid === null || cid === undefined || (typeof cid === 'string' && isBlank(cid))) {
    return fail('MISSING_CUSTOMER_ID', `${topic} event has no customer_id`);
  }

  // 2. Ids: non-empty and bounded.
  const idFields = topic === TOPICS.orders ? ORDER_IDS : topic === TOPICS.tickets ? TICKET_IDS : WEB_IDS;
  for (const f of idFields) {
    const id = value[f];
    if (typeof id !== 'string') continue; // absent/null/wrong type: the structural check below reports it
    if (isBlank(id)) return fail('EMPTY_ID', `${f} is empty`);
    if (id.length > maxIdLength) return fail('ID_TOO_LONG', `${f} has ${id.length} characters (max ${maxIdLength})`);
  }

  // 3. Structure (types, enums). Without zod when the value fits (structureOf: zod's output, none of its garbage);
  // zod says what does not.
  let v = structureOf(topic, value);
  if (v === undefined) {
    const schema = topic === TOPICS.orders ? orderSchema : topic === TOPICS.web ? webSchema : ticketSchema;
    const parsed = schema.safeParse(value);
    if (!parsed.success) return fail('INVALID_VALUE', z.prettifyError(parsed.error).replace(/\s*\n\s*/g, '; '));
    v = parsed.data;
  }

  // 4. Event time.
  const timeCheck = checkTimestamp('occurred_at', v.occurred_at);
  if (timeCheck) return timeCheck;
  if (v.occurred_at > opts.now + maxFutureSkewMs) {
    return fail(
      'FUTURE_TIMESTAMP',
      `occurred_at ${iso(v.occurred_at)} is more than ${maxFutureSkewMs} ms after now (${iso(opts.now)})`,
    );
  }

  if (topic === TOPICS.orders) return validateOrder(v as z.infer<typeof orderSchema>, knownCurrencies);
  if (topic === TOPICS.web) return { ok: true, event: { kind: 'web', event: v as z.infer<typeof webSchema> } };
  return validateTicket(v as z.infer<typeof ticketSchema>);
}

function validateOrder(v: z.infer<typeof orderSchema>, knownCurrencies: ReadonlySet<string>): ValidationResult {
  if (v.amount_minor < 0) return fail('NEGATIVE_AMOUNT', `amount_minor is ${v.amount_minor}`);
  const amountCheck = checkMinor('amount_minor', v.amount_minor);
  if (amountCheck) return amountCheck;
  if (v.margin_minor !== null) {
    // A margin may be negative (an order sold at a loss), but must be a bounded integer.
    const marginCheck = checkMinor('margin_minor', Math.abs(v.margin_minor));
    if (marginCheck) return marginCheck;
  }
  if (!knownCurrencies.has(v.currency))
    return fail('UNKNOWN_CURRENCY', `currency ${JSON.stringify(v.currency)} is not known`);
  if (v.items !== null && !(Number.isSafeInteger(v.items) && v.items >= 0 && v.items <= MAX_ITEMS)) {
    return fail('INVALID_VALUE', `items ${v.items} is not an integer in 0..${MAX_ITEMS}`);
  }
  if (v.type !== 'PLACED') {
    if (v.original_placed_at === null) {
      return fail('MISSING_ORIGINAL_PLACED_AT', `${v.type} order event needs original_placed_at`);
    }
  }
  if (v.original_placed_at !== null) {
    const t = checkTimestamp('original_placed_at', v.original_placed_at);
    if (t) return t;
    if (v.original_placed_at > v.occurred_at) {
      return fail(
        'INVALID_VALUE',
        `original_placed_at ${iso(v.original_placed_at)} is after occurred_at ${iso(v.occurred_at)}`,
      );
    }
  }
  if (v.refund_id !== null && isBlank(v.refund_id)) {
    return fail('INVALID_VALUE', 'refund_id is empty (null when the source has no refund id)');
  }
  let attributes: CustomerAttributes | null = null;
  if (v.attributes !== null) {
    const size = v.attributes.company_size;
    if (size !== null && !(Number.isSafeInteger(size) && size >= 0)) {
      return fail('INVALID_VALUE', `attributes.company_size ${size} is not a non-negative integer`);
    }
    attributes = { industry: v.attributes.industry, company_size: size, region: v.attributes.region };
  }
  const event: OrderEvent = { ...v, attributes };
  return { ok: true, event: { kind: 'order', event } };
}

function validateTicket(v: z.infer<typeof ticketSchema>): ValidationResult {
  if (v.csat !== null && !(Number.isInteger(v.csat) && v.csat >= 1 && v.csat <= 5)) {
    return fail('INVALID_CSAT', `csat ${v.csat} is not an integer in 1..5`);
  }
  if (v.type === 'SATISFACTION_RATED' && v.csat === null) {
    return fail('INVALID_CSAT', 'SATISFACTION_RATED ticket event without csat');
  }
  const event: TicketEvent = v;
  return { ok: true, event: { kind: 'ticket', event } };
}

function checkMinor(field: string, n: number): Failure | null {
  if (!Number.isSafeInteger(n)) return fail('INVALID_VALUE', `${field} ${n} is not a safe integer`);
  if (n > MAX_AMOUNT_MINOR) return fail('INVALID_VALUE', `${field} ${n} exceeds ${MAX_AMOUNT_MINOR}`);
  return null;
}

function checkTimestamp(field: string, t: number): Failure | null {
  if (!Number.isSafeInteger(t) || t < 0) return fail('INVALID_VALUE', `${field} ${t} is not epoch milliseconds`);
  return null;
}

function iso(t: number): string {
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? String(t) : d.toISOString();
}

// Compile-time check that the structural schemas produce the contract types.
type _WebMatches = z.infer<typeof webSchema> extends WebBehaviorEvent ? true : never;
const _webMatches: _WebMatches = true;
void _webMatches;
