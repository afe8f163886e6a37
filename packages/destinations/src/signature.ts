import { createHmac, timingSafeEqual } from 'node:crypto';

/** The request header carrying `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`. */
export const SIGNATURE_HEADER = 'tierstream-signature';
/** Receivers reject signatures older (or further in the future) than this: 5 minutes. */
export const SIGNATURE_TOLERANCE_SECONDS = 300;

/** The hex HMAC-SHA256 of `${timestamp}.${body}` under `secret`. */
export function signatureOf(secret: string, timestamp: number, body: string): string {
  return createHmac('sha256', secret).update(`${timestamp}.${body}`, 'utf8').digest('hex');
}

/** The `Tierstream-Signature` header value for `body` sent at `nowMs` (epoch ms). */
export function signHeader(secret: string, body: string, nowMs: number): string {
  const t = Math.floor(nowMs / 1000);
  return `t=${t},v1=${signatureOf(secret, t, body)}`;
}

export type VerifyResult = { ok: true; timestamp: number } | { ok: false; reason: 'malformed' | 'stale' | 'mismatch' };

/**
 * What a receiver does with a request: parses the header, rejects a timestamp more than `toleranceSeconds` away
 * from `nowMs` (a replayed request), and compares the HMAC of `${t}.${rawBody}` in constant time. Several `v1=`
 * values are accepted (key rotation: any may match). `rawBody` must be the exact bytes received, before any JSON
 * parsing. Never throws.
 */
export function verifySignature(
  secret: string,
  header: string | undefined,
  rawBody: string,
  nowMs: number,
  toleranceSeconds = SIGNATURE_TOLERANCE_SECONDS,
): VerifyResult {
  if (!header) return { ok: false, reason: 'malformed' };
  let t: number | undefined;
  const candidates: string[] = [];
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const k = part.slice(0, eq).trim();
    const v = part.slice(eq + 1).trim();
    if (k === 't' && /^\d{1,12}$/.test(v)) t = Number(v);
    else if (k === 'v1' && /^[0-9a-f]{64}$/.test(v)) candidates.push(v);
  }
  if (t === undefined || candidates.length === 0) return { ok: false, reason: 'malformed' };
  if (Math.abs(nowMs / 1000 - t) > toleranceSeconds) return { ok: false, reason: 'stale' };
  const expected = Buffer.from(signatureOf(secret, t, rawBody), 'hex');
  for (const c of candidates) if (timingSafeEqual(expected, Buffer.from(c, 'hex'))) return { ok: true, timestamp: t };
  return { ok: false, reason: 'mismatch' };
}
