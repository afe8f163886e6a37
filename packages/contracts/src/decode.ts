import { type AvroSerde, type DecodedMessage, UndecodableMessageError, UnknownSchemaIdError } from './serde';
import { TOPIC_SCHEMA_NAMES, type TopicName } from './types';
import { type ValidateOptions, type ValidationResult, validateInput } from './validation';

export const SCHEMA_NAMESPACE = 'io.tierstream';
/** Largest accepted message (bytes), like Kafka's default max.message.bytes of about 1 MiB. */
export const DEFAULT_MAX_MESSAGE_BYTES = 1024 * 1024;

export interface DecodeValidateOptions extends ValidateOptions {
  /** Messages larger than this go to the DLQ as OVERSIZED without being decoded. Default 1 MiB. */
  maxMessageBytes?: number;
}

const EXPECTED_SCHEMA_NAMES: ReadonlyMap<string, string> = new Map(
  Object.entries(TOPIC_SCHEMA_NAMES).map(([topic, name]) => [topic, `${SCHEMA_NAMESPACE}.${name}`]),
);

/** Full Avro name of the schema a topic's values must be written with. */
export function expectedSchemaName(topic: string): string | undefined {
  return EXPECTED_SCHEMA_NAMES.get(topic);
}

/**
 * Decodes one input-topic message and validates it: the single place that decides whether a message goes to the
 * DLQ and why. Registry outages are rethrown (transient: retry, don't dead-letter).
 */
export async function decodeAndValidate(
  serde: Pick<AvroSerde, 'decode'>,
  topic: string,
  buffer: Buffer | null,
  opts: DecodeValidateOptions,
): Promise<ValidationResult> {
  const early = checkSize(buffer, opts);
  if (early !== undefined) return early;
  let decoded: DecodedMessage;
  try {
    decoded = await serde.decode(buffer!);
  } catch (err) {
    return decodeFailure(err);
  }
  return validateDecoded(topic, decoded, opts);
}

/**
 * decodeAndValidate without a promise, for when the writer schema is already cached (the hot path of a consumer);
 * undefined when it is not (then call decodeAndValidate). Same results otherwise.
 */
export function decodeAndValidateIfCached(
  serde: Pick<AvroSerde, 'decodeIfCached'>,
  topic: string,
  buffer: Buffer | null,
  opts: DecodeValidateOptions,
): ValidationResult | undefined {
  const early = checkSize(buffer, opts);
  if (early !== undefined) return early;
  let decoded: DecodedMessage | undefined;
  try {
    decoded = serde.decodeIfCached(buffer!);
  } catch (err) {
    return decodeFailure(err);
  }
  return decoded === undefined ? undefined : validateDecoded(topic, decoded, opts);
}

function checkSize(buffer: Buffer | null, opts: DecodeValidateOptions): ValidationResult | undefined {
  const maxBytes = opts.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  if (buffer === null) return { ok: false, reason: 'UNDECODABLE', message: 'message has no value (tombstone)' };
  if (buffer.length > maxBytes) {
    return { ok: false, reason: 'OVERSIZED', message: `message of ${buffer.length} bytes exceeds ${maxBytes} bytes` };
  }
  return undefined;
}

/** Registry outages are rethrown (transient: retry, don't dead-letter). */
function decodeFailure(err: unknown): ValidationResult {
  if (err instanceof UnknownSchemaIdError) return { ok: false, reason: 'UNKNOWN_SCHEMA_ID', message: err.message };
  if (err instanceof UndecodableMessageError) return { ok: false, reason: 'UNDECODABLE', message: err.message };
  throw err;
}

function validateDecoded(topic: string, decoded: DecodedMessage, opts: DecodeValidateOptions): ValidationResult {
  const expected = expectedSchemaName(topic as TopicName);
  if (decoded.schemaName !== expected) {
    return {
      ok: false,
      reason: 'WRONG_SCHEMA',
      message: `schema id ${decoded.schemaId} is ${decoded.schemaName}, topic ${topic} carries ${expected ?? 'no known schema'}`,
    };
  }
  return validateInput(topic, decoded.value, opts);
}
