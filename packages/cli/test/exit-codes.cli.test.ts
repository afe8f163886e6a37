import { describe, expect, it } from 'vitest';
import { tierctl } from '../../../test/support/run-node';

// Usage errors are caught by argument parsing, before any connection: these runs never reach the stack.
describe('tierctl exit codes: 2 for usage errors, 0 for help', () => {
  it('an invalid argument value exits 2 with one line naming it', async () => {
    const r = await tierctl(['customer', 'C1', '--as-of', 'yesterday'], { timeoutMs: 60_000 });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("option '--as-of <instant>' argument 'yesterday' is invalid");
  });

  it('an unknown command and an unknown option exit 2', async () => {
    expect((await tierctl(['nosuch'], { timeoutMs: 60_000 })).code).toBe(2);
    expect((await tierctl(['status', '--nosuch'], { timeoutMs: 60_000 })).code).toBe(2);
  });

  it('--help exits 0', async () => {
    const r = await tierctl(['rules', '--help'], { timeoutMs: 60_000 });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Usage: tierctl rules');
  });
});
