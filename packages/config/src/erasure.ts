/**
 * Erasure and audit (docs/security.md "Erasure", "Audit"), the parts every service shares: the suppression key of an
 * erased customer (hash-tagged like all of its keys, so a Lua script can check it atomically with its write), the key
 * of an executed request, the keyed digest that stands for a customer id in logs, the settings and the actor name.
 * Pure: no I/O except reading the OS user name.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { userInfo } from 'node:os';
import { z } from 'zod';
import { env } from './env';
import { customerHashTag } from './redis';

/**
 * The suppression marker of an erased customer: `<prefix>:{<id>}:erased`, a string holding the request id, with an
 * expiry (PEXPIREAT). While it exists the aggregator's apply script and the tier engine drop the customer's events,
 * and the warehouse writer drops its rows. It is the only key of the customer an erasure keeps.
 */
export function suppressionKey(prefix: string, customerId: string): string {
  return `${prefix}:${customerHashTag(customerId)}:erased`;
}

/**
 * Exists while any customer is suppressed (expiring with the latest suppression): a consumer checks it once per batch
 * and looks up its batch's customers only when it exists.
 */
export function anySuppressionKey(prefix: string): string {
  return `${prefix}:erasure:suppressing`;
}

/**
 * The record of an executed erasure request: `<prefix>:erasure:request:<request id>` → `running` or `done`, kept
 * ERASURE_REQUEST_KEEP_DAYS; a request id is executed once (a redelivered or repeated request finds `done`).
 */
export function erasureRequestKey(prefix: string, requestId: string): string {
  return `${prefix}:erasure:request:${requestId}`;
}

/** How long the record of an executed request is kept (days): longer than any retention a request is read from. */
export const ERASURE_REQUEST_KEEP_DAYS = 400;

/**
 * A customer id as the erasure log and the audit table show it: HMAC-SHA256 (hex) under `secret`, so that only a
 * holder of the secret can tell whether a given id was erased (a plain or salted hash of a short id is reversed by
 * trying every id). Without a secret: an HMAC under a random one-time key, linkable to nothing (`unlinkable`).
 */
export function customerDigest(
  customerId: string,
  secret: string,
): { digest: string; kind: 'hmac-sha256' | 'unlinkable' } {
  const key = secret === '' ? randomBytes(32) : secret;
  return {
    digest: createHmac('sha256', key).update(customerId, 'utf8').digest('hex'),
    kind: secret === '' ? 'unlinkable' : 'hmac-sha256',
  };
}

/**
 * Settings of erasure and audit, in tierctl and in the warehouse writer (which executes erasure-requests.v1):
 * - ERASURE_SUPPRESS_DAYS (default 30): how long events of an erased customer are dropped unless the request says
 *   otherwise; longer than the input topics' retention (7 days), so nothing left in Kafka can bring it back.
 * - ERASURE_SETTLE_MS (default 5000): the wait between the two sweeps of an erasure; longer than any service's
 *   read-to-write time of one batch (work in flight during the first sweep is caught by the second).
 * - ERASURE_DIGEST_SECRET (default empty, or from ERASURE_DIGEST_SECRET_FILE): the key of customerDigest.
 * - OPERATOR_NAME (default empty: the OS user name): who the audit table names for actions of this process.
 */
export const erasureSettings = {
  ERASURE_SUPPRESS_DAYS: env.int(30, 0, 3650),
  ERASURE_SETTLE_MS: env.int(5_000, 0, 600_000),
  ERASURE_DIGEST_SECRET: z.string().default(''),
  OPERATOR_NAME: z.string().default(''),
};

/** The actor of this process's audit rows: OPERATOR_NAME, else the OS user name, else `unknown`. */
export function operatorName(configured: string | undefined): string {
  if (configured) return configured;
  try {
    return userInfo().username || 'unknown';
  } catch {
    return 'unknown';
  }
}

/** `suppress_days` of a request (null: the default) as the marker's expiry instant (epoch ms) from `now`. */
export function suppressedUntil(now: number, requestDays: number | null, defaultDays: number): number {
  return now + (requestDays ?? defaultDays) * 86_400_000;
}
