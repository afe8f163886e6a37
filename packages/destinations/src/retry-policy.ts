/**
 * Whether and when to retry an HTTP delivery. 2xx is delivered; 408, 429 and 5xx are retriable (a 429's or 503's
 * Retry-After is honoured); network errors and timeouts are retriable; every other status (3xx, 4xx) is not: the item
 * is dead-lettered with its status at once.
 */

/** A failed delivery attempt, saying whether another attempt may succeed. */
export class DeliveryError extends Error {
  constructor(
    message: string,
    readonly retriable: boolean,
    /** HTTP status, or undefined for a network error or timeout. */
    readonly status?: number,
    /** The first bytes of the response body (for the dead letter). */
    readonly bodyExcerpt = '',
    /** A Retry-After the server asked for (ms), if any. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'DeliveryError';
  }
}

/** Response bodies are cut to this many characters in dead letters and logs. */
export const BODY_EXCERPT_CHARS = 512;

/** True for the statuses that may succeed on a later attempt: 408, 429 and 5xx. */
export function isRetriableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/**
 * Parses a Retry-After header (delay seconds or an HTTP date) into ms from `nowMs`; undefined when absent or
 * unparsable; 0 for a date in the past.
 */
export function parseRetryAfter(value: string | undefined | null, nowMs: number): number | undefined {
  if (value === undefined || value === null) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

/**
 * The DeliveryError of a non-2xx response (null for 2xx). `retryAfter` is the raw header value.
 */
export function errorOfResponse(
  status: number,
  body: string,
  retryAfter: string | undefined,
  nowMs: number,
): DeliveryError | null {
  if (status >= 200 && status < 300) return null;
  const retriable = isRetriableStatus(status);
  return new DeliveryError(
    `HTTP ${status}`,
    retriable,
    status,
    body.slice(0, BODY_EXCERPT_CHARS),
    retriable ? parseRetryAfter(retryAfter, nowMs) : undefined,
  );
}

export interface BackoffPolicy {
  initialMs: number;
  maxMs: number;
}

/**
 * The pause before attempt `attempt + 1` after `attempt` failures (attempt ≥ 1): exponential (initial·2^(attempt-1))
 * capped at maxMs, with "equal jitter" (half fixed, half uniform from `random()` in [0,1)), so pauses never fall below
 * half the exponential step and retries of many items spread out. A server's Retry-After wins when longer (capped at
 * maxMs as well: a hostile or broken header cannot park the queue for hours).
 */
export function backoffMs(attempt: number, policy: BackoffPolicy, random: () => number, retryAfterMs?: number): number {
  const step = Math.min(policy.maxMs, policy.initialMs * 2 ** Math.min(30, Math.max(0, attempt - 1)));
  const jittered = Math.round(step / 2 + random() * (step / 2));
  if (retryAfterMs === undefined) return jittered;
  return Math.max(jittered, Math.min(policy.maxMs, retryAfterMs));
}

/** Why an item was dead-lettered. */
export type DeadLetterReason = 'NON_RETRIABLE_STATUS' | 'ATTEMPTS_EXHAUSTED' | 'REJECTED_RECORD';

/** What to do after an attempt: done, try again after `delayMs`, or dead-letter. */
export type NextStep =
  | { kind: 'delivered' }
  | { kind: 'retry'; delayMs: number }
  | { kind: 'dead-letter'; reason: DeadLetterReason; status?: number; bodyExcerpt: string; message: string };

/**
 * The decision after attempt number `attempts` (1 = the first) ended with `error` (null = delivered).
 * Non-retriable errors dead-letter at once; retriable ones retry until `maxAttempts` attempts were made.
 */
export function nextStep(
  error: DeliveryError | null,
  attempts: number,
  policy: BackoffPolicy & { maxAttempts: number },
  random: () => number,
): NextStep {
  if (error === null) return { kind: 'delivered' };
  if (!error.retriable) {
    return {
      kind: 'dead-letter',
      reason: 'NON_RETRIABLE_STATUS',
      status: error.status,
      bodyExcerpt: error.bodyExcerpt,
      message: error.message,
    };
  }
  if (attempts >= policy.maxAttempts) {
    return {
      kind: 'dead-letter',
      reason: 'ATTEMPTS_EXHAUSTED',
      status: error.status,
      bodyExcerpt: error.bodyExcerpt,
      message: error.message,
    };
  }
  return { kind: 'retry', delayMs: backoffMs(attempts, policy, random, error.retryAfterMs) };
}
