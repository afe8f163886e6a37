import { IdentityStore } from '@tierstream/aggregates';
import type { IdentityEvent } from '@tierstream/contracts';
import { afterAll, describe, expect, it } from 'vitest';
import { createTestRedis } from '../../../test/support/stack';
import { renderIdentityView } from '../src/commands/identity';
import { identityView } from '../src/ops/identity';

// `tierctl identity show` (ops/identity.ts + the text form) over a real identity graph on the stack's Redis.

const T = Date.UTC(2026, 2, 1);
const ev = (o: Partial<IdentityEvent> & Pick<IdentityEvent, 'event_id' | 'type' | 'customer_id'>): IdentityEvent => ({
  anonymous_id: null,
  merged_customer_id: null,
  source: null,
  occurred_at: T,
  ...o,
});

describe('identity show', () => {
  const t = createTestRedis('identity-show');
  afterAll(() => t.cleanup());
  const store = new IdentityStore(t.redis, { prefix: 'ts' });

  it('shows the survivor, every id merged into it through a chain, and the aliases of all of them', async () => {
    await store.apply(ev({ event_id: 'm1', type: 'MERGE', customer_id: 'B', merged_customer_id: 'A' }));
    await store.apply(ev({ event_id: 'm2', type: 'MERGE', customer_id: 'C', merged_customer_id: 'B' }));
    await store.apply(ev({ event_id: 'a1', type: 'ALIAS', customer_id: 'A', anonymous_id: 'anon-1' }));
    await store.apply(ev({ event_id: 'a2', type: 'ALIAS', customer_id: 'C', anonymous_id: 'anon-2' }));
    await store.hold([{ anonymousId: 'anon-3', events: [{ eventId: 'w1', occurredAt: T, type: 'PAGE_VIEW' }] }], 0);

    const a = await identityView(store, 'A');
    expect(a).toEqual({
      id: 'A',
      kind: 'customer',
      survivor: 'C',
      merged_into: { customer_id: 'B', merge_id: 'm1', at: new Date(T).toISOString() },
      merged_ids: [
        { customer_id: 'B', into: 'C', merge_id: 'm2' },
        { customer_id: 'A', into: 'B', merge_id: 'm1' },
      ],
      aliases: [
        { anonymous_id: 'anon-2', customer_id: 'C', at: new Date(T).toISOString() },
        { anonymous_id: 'anon-1', customer_id: 'A', at: new Date(T).toISOString() },
      ],
    });
    const text = renderIdentityView(a);
    expect(text).toMatch(/^customer A: merged into B at .* \(event m1\); survivor C\n/);
    expect(text).toContain('anon-1');
    expect((await identityView(store, 'C')).merged_ids.map((m) => m.customer_id)).toEqual(['B', 'A']);

    const anon = await identityView(store, 'anon-1', { anonymous: true });
    expect(anon).toMatchObject({ kind: 'anonymous', survivor: 'C', alias: { customer_id: 'A', event_id: 'a1' } });
    expect(renderIdentityView(await identityView(store, 'anon-3', { anonymous: true }))).toBe(
      'anonymous id anon-3: no alias yet; 1 events held',
    );
    expect(renderIdentityView(await identityView(store, 'Z'))).toBe(
      'customer Z: survivor Z\nmerged ids: none\naliases: none',
    );
  });
});
