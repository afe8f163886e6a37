import { createHmac } from 'node:crypto';
import type { TierTransition } from '@tierstream/contracts';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { webhookPayload } from '../src/payload';
import { signHeader, verifySignature } from '../src/signature';

const NOW = 1_780_000_000_000;

describe('webhook signature', () => {
  it('is the hex HMAC-SHA256 of "<t>.<body>" (what docs/destinations.md tells receivers to compute)', () => {
    const header = signHeader('k', '{"a":1}', NOW);
    const t = Math.floor(NOW / 1000);
    expect(header).toBe(`t=${t},v1=${createHmac('sha256', 'k').update(`${t}.{"a":1}`).digest('hex')}`);
  });

  it('verifies with the shared secret; a tampered body, another secret or a replay older than 5 minutes fail', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1 }), fc.string(), fc.string({ minLength: 1 }), (secret, body, extra) => {
        const header = signHeader(secret, body, NOW);
        expect(verifySignature(secret, header, body, NOW + 299_000)).toEqual({ ok: true, timestamp: NOW / 1000 });
        expect(verifySignature(secret, header, body + extra, NOW)).toEqual({ ok: false, reason: 'mismatch' });
        expect(verifySignature(`${secret}x`, header, body, NOW)).toEqual({ ok: false, reason: 'mismatch' });
        expect(verifySignature(secret, header, body, NOW + 301_000)).toEqual({ ok: false, reason: 'stale' });
        expect(verifySignature(secret, header, body, NOW - 301_000)).toEqual({ ok: false, reason: 'stale' });
      }),
      { numRuns: 200 },
    );
  });

  it('rejects malformed headers and accepts any of several v1 values (key rotation)', () => {
    expect(verifySignature('k', undefined, 'b', NOW)).toEqual({ ok: false, reason: 'malformed' });
    expect(verifySignature('k', 'v1=abc', 'b', NOW)).toEqual({ ok: false, reason: 'malformed' });
    const good = signHeader('k', 'b', NOW);
    const old = signHeader('old', 'b', NOW).split(',')[1];
    expect(verifySignature('k', `${good},${old}`, 'b', NOW).ok).toBe(true);
  });
});

describe('webhookPayload', () => {
  it('is version 1 with the transition, ISO instants and the id used as Idempotency-Key', () => {
    const t: TierTransition = {
      transition_id: 'tx-1',
      customer_id: 'c1',
      dimension: 'value',
      from_tier: null,
      to_tier: 'GOLD',
      direction: 'ENTER',
      reason: 'METRIC_CROSSED',
      rule_id: 'value.gold',
      rules_version: 'r2',
      cutpoints_version: 'cp-2026-11-29',
      metrics: { revenue_365d: 1200, orders_365d: 3 },
      occurred_at: Date.UTC(2026, 10, 29, 12),
      evaluated_at: Date.UTC(2026, 10, 29, 12, 0, 1),
    };
    const p = webhookPayload('hook', t);
    expect(p).toEqual({
      type: 'tier.transition',
      payload_version: 1,
      id: 'tx-1',
      destination: 'hook',
      transition: {
        ...t,
        metrics: { orders_365d: 3, revenue_365d: 1200 },
        occurred_at: '2026-11-29T12:00:00.000Z',
        evaluated_at: '2026-11-29T12:00:01.000Z',
      },
    });
    expect(Object.keys(p.transition.metrics)).toEqual(['orders_365d', 'revenue_365d']);
  });
});
