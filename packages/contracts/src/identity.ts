/**
 * Validation of identity events (identities.v1, docs/design-decisions.md §22), pure. What can be decided from the
 * event alone is decided here (bad fields, self-merge); what needs the identity graph (cycles, a second merge of one
 * id, an alias to a second customer, an erased id) is decided by the graph store, with the same DLQ reasons.
 */
import { z } from 'zod';
import { type AvroSerde, UndecodableMessageError, UnknownSchemaIdError } from './serde';
import { IDENTITY_EVENT_TYPES, type IdentityEvent, TOPICS } from './types';
import { DEFAULT_MAX_FUTURE_SKEW_MS, DEFAULT_MAX_ID_LENGTH, type DlqReason, type ValidateOptions } from './validation';

export type IdentityValidationResult =
  | { ok: true; event: IdentityEvent }
  | { ok: false; reason: DlqReason; message: string };

const identitySchema = z.object({
  event_id: z.string(),
  type: z.enum(IDENTITY_EVENT_TYPES),
  customer_id: z.string(),
  anonymous_id: z.string().nullable().default(null),
  merged_customer_id: z.string().nullable().default(null),
  source: z.string().nullable().default(null),
  occurred_at: z.number(),
});

const fail = (reason: DlqReason, message: string) => ({ ok: false, reason, message }) as const;

/**
 * Validates a decoded identity event: ids present, non-blank and at most `maxIdLength` (EMPTY_ID, ID_TOO_LONG,
 * MISSING_CUSTOMER_ID for a blank customer_id); ALIAS carries anonymous_id and no merged_customer_id, MERGE the
 * reverse (INVALID_VALUE); a MERGE of an id into itself is SELF_MERGE; occurred_at is epoch ms and not more than
 * `maxFutureSkewMs` after `now` (INVALID_VALUE, FUTURE_TIMESTAMP). Never throws.
 */
export function validateIdentityEvent(value: unknown, opts: ValidateOptions): IdentityValidationResult {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return fail('INVALID_VALUE', `expected a record, got ${value === null ? 'null' : typeof value}`);
  const raw = value as Record<string, unknown>;
  if (typeof raw.customer_id !== 'string' || raw.customer_id.trim() === '')
    return fail('MISSING_CUSTOMER_ID', 'identity event has no customer_id');
  const maxIdLength = opts.maxIdLength ?? DEFAULT_MAX_ID_LENGTH;
  for (const f of ['event_id', 'customer_id', 'anonymous_id', 'merged_customer_id']) {
    const id = raw[f];
    if (typeof id !== 'string') continue;
    if (id.trim() === '') return fail('EMPTY_ID', `${f} is empty`);
    if (id.length > maxIdLength) return fail('ID_TOO_LONG', `${f} has ${id.length} characters (max ${maxIdLength})`);
  }
  const parsed = identitySchema.safeParse(value);
  if (!parsed.success) return fail('INVALID_VALUE', z.prettifyError(parsed.error).replace(/\s*\n\s*/g, '; '));
  const e: IdentityEvent = parsed.data;
  if (!Number.isSafeInteger(e.occurred_at) || e.occurred_at < 0)
    return fail('INVALID_VALUE', `occurred_at ${e.occurred_at} is not epoch milliseconds`);
  const skew = opts.maxFutureSkewMs ?? DEFAULT_MAX_FUTURE_SKEW_MS;
  if (e.occurred_at > opts.now + skew)
    return fail('FUTURE_TIMESTAMP', `occurred_at ${e.occurred_at} is more than ${skew} ms after now (${opts.now})`);
  if (e.type === 'ALIAS') {
    if (e.anonymous_id === null) return fail('INVALID_VALUE', 'ALIAS without anonymous_id');
    if (e.merged_customer_id !== null) return fail('INVALID_VALUE', 'ALIAS with a merged_customer_id');
  } else {
    if (e.merged_customer_id === null) return fail('INVALID_VALUE', 'MERGE without merged_customer_id');
    if (e.anonymous_id !== null) return fail('INVALID_VALUE', 'MERGE with an anonymous_id');
    if (e.merged_customer_id === e.customer_id) return fail('SELF_MERGE', `MERGE of ${e.customer_id} into itself`);
  }
  return { ok: true, event: e };
}

/**
 * Decodes one identities.v1 message (Confluent framing, writer schema from the registry) and validates it; the
 * decode failures are UNDECODABLE / UNKNOWN_SCHEMA_ID / WRONG_SCHEMA as for the input topics. Registry outages are
 * rethrown (transient: retry, do not dead-letter).
 */
export async function decodeIdentityEvent(
  serde: Pick<AvroSerde, 'decode'>,
  buffer: Buffer | null,
  opts: ValidateOptions,
): Promise<IdentityValidationResult> {
  if (buffer === null) return fail('UNDECODABLE', 'message has no value (tombstone)');
  let decoded: Awaited<ReturnType<AvroSerde['decode']>>;
  try {
    decoded = await serde.decode(buffer);
  } catch (err) {
    if (err instanceof UnknownSchemaIdError) return fail('UNKNOWN_SCHEMA_ID', err.message);
    if (err instanceof UndecodableMessageError) return fail('UNDECODABLE', err.message);
    throw err;
  }
  if (decoded.schemaName !== 'io.tierstream.IdentityEvent')
    return fail(
      'WRONG_SCHEMA',
      `schema id ${decoded.schemaId} is ${decoded.schemaName}, topic ${TOPICS.identities} carries io.tierstream.IdentityEvent`,
    );
  return validateIdentityEvent(decoded.value, opts);
}
