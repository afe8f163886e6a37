import { describe, expect, it } from 'vitest';
import { tierctl } from '../../../test/support/run-node';

/**
 * Commands that produce to the input topics, configured with topic names the cluster does not have (a renamed stream
 * nobody created): the idempotent producer would retry them forever; tierctl refuses at once naming them.
 */
describe('producing to input topics that do not exist', () => {
  const env = {
    ORDERS_TOPIC: `rv-absent-orders-${process.pid}`,
    WEB_BEHAVIOR_TOPIC: `rv-absent-web-${process.pid}`,
    TICKETS_TOPIC: `rv-absent-tickets-${process.pid}`,
  };

  it('tierctl gen exits 1 within seconds naming every missing topic and how to create them', async () => {
    const started = Date.now();
    const r = await tierctl(['gen', '--profile', 'tiny', '--customers', '2', '--days', '2', '--end-at', '2026-06-30'], {
      env,
      timeoutMs: 60_000,
    });
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain(
      `tierctl: topics ${env.ORDERS_TOPIC}, ${env.WEB_BEHAVIOR_TOPIC}, ${env.TICKETS_TOPIC} not found on`,
    );
    expect(r.stderr).toContain('tierctl topics apply');
    expect(Date.now() - started).toBeLessThan(30_000);
  });

  it('tierctl import (not a dry run) exits 1 naming the one topic it writes', async () => {
    const r = await tierctl(
      [
        'import',
        'orders',
        'examples/import/order-status.sample.csv',
        '--mapping',
        'examples/import/order-status.mapping.yaml',
      ],
      { env, timeoutMs: 60_000 },
    );
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain(`tierctl: topic ${env.ORDERS_TOPIC} not found on`);
  });
});
