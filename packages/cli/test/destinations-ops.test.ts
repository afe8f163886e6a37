import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { verifySignature } from '@tierstream/destinations';
import { afterEach, describe, expect, it } from 'vitest';
import { startReceiver } from '../../../test/support/webhook-receiver';
import { destinationNamed, listDestinations, readDestinationFiles, testDestination } from '../src/ops/destinations';

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
});

function dirWith(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'tierctl-destinations-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  return dir;
}

describe('tierctl destinations (ops)', () => {
  it('validate/list: every file parsed like the service, errors naming file and key, secrets never listed', () => {
    process.env.TIERCTL_TEST_HOOK_SECRET = 'very-secret';
    const dir = dirWith({
      'good.yaml': 'kind: webhook\nurl: http://127.0.0.1:9/h\nsecret: { env: TIERCTL_TEST_HOOK_SECRET }\n',
      'bad.yaml': 'kind: webhook\nurl: http://127.0.0.1:9/h\nsecret: { env: TIERCTL_TEST_HOOK_SECRET }\nretries: 2\n',
    });
    const entries = readDestinationFiles(dir);
    expect(entries.map((e) => ('error' in e ? e.error : 'ok'))).toEqual([
      `${path.join(dir, 'bad.yaml')}: retries: unknown key`,
      'ok',
    ]);
    const listed = JSON.stringify(listDestinations(dir));
    expect(listed).toContain('http://127.0.0.1:9/h');
    expect(listed).not.toContain('very-secret');
    expect(() => destinationNamed(dir, 'bad')).toThrow(/retries: unknown key/);
    expect(() => destinationNamed(dir, 'nope')).toThrow(/no destination nope .*bad, good/);
  });

  it('test: one signed POST to the webhook; a failing receiver is reported with its status', async () => {
    process.env.TIERCTL_TEST_HOOK_SECRET = 'very-secret';
    let fail = false;
    const receiver = await startReceiver(() => (fail ? { status: 503, body: 'maintenance' } : undefined));
    closers.push(receiver.close);
    const dir = dirWith({
      'hook.yaml': `kind: webhook\nurl: ${receiver.url}\nsecret: { env: TIERCTL_TEST_HOOK_SECRET }\n`,
    });
    const ok = await testDestination(destinationNamed(dir, 'hook'));
    expect(ok).toMatchObject({ ok: true });
    const got = receiver.received[0]!;
    expect(got.idempotencyKey).toBe(ok.idempotencyKey);
    expect(verifySignature('very-secret', got.signature, got.body, Date.now())).toMatchObject({ ok: true });
    expect(JSON.parse(got.body)).toMatchObject({ transition: { customer_id: 'tierctl-test', reason: 'TEST' } });
    fail = true;
    const bad = await testDestination(destinationNamed(dir, 'hook'));
    expect(bad).toMatchObject({ ok: false, status: 503, error: 'HTTP 503 maintenance' });
    expect(receiver.received).toHaveLength(2);
  });
});
