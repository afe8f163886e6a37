import { readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runEntry } from '../../../test/support/run-node';

const run = (entry: string, args: string[], env: Record<string, string>) =>
  runEntry(entry, args, { env, timeoutMs: 50_000 });

const TIERCTL = path.join('packages', 'cli', 'src', 'tierctl.ts');
const REMOTE = '10.0.0.1:9092';

// Nothing here reaches the network: the refusal comes before any connection (10.0.0.1 would time out, not refuse).
describe('commands that wipe or write refuse endpoints other than the local stack', () => {
  it('tierctl gen with KAFKA_BROKERS=10.0.0.1:9092 exits 2 with one line naming the setting', async () => {
    const r = await run(TIERCTL, ['gen', '--profile', 'tiny'], { KAFKA_BROKERS: REMOTE });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      `tierctl gen: KAFKA_BROKERS=${REMOTE} is not the local stack (a loopback host on port 19092) and tierctl gen ` +
        `would write events to orders.v1, web-behavior.v1, tickets.v1 there; to run it anyway give --i-know-this-wipes ${REMOTE}\n`,
    );
  });

  it('tierctl gen --to file writes no store and is not refused', async () => {
    const out = path.join(os.tmpdir(), `tierstream-wipe-guard-${process.pid}.jsonl`);
    const r = await run(
      TIERCTL,
      ['gen', '--profile', 'tiny', '--days', '2', '--customers', '3', '--to', 'file', '--out', out],
      {
        KAFKA_BROKERS: REMOTE,
      },
    );
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(out, 'utf8').length).toBeGreaterThan(0);
    rmSync(out, { force: true });
  });

  it('tierctl replay cdnow is refused the same way, and a wrong --i-know-this-wipes value does not help', async () => {
    const r = await run(
      TIERCTL,
      ['replay', 'cdnow', 'data/cdnow/CDNOW_sample.txt', '--i-know-this-wipes', '10.0.0.1'],
      {
        KAFKA_BROKERS: REMOTE,
      },
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`tierctl replay cdnow: KAFKA_BROKERS=${REMOTE} is not the local stack`);
  });

  it('the demo (tierstream demo) refuses a remote Redis before it resets anything', async () => {
    const r = await run(path.join('packages', 'cli', 'src', 'tierstream.ts'), ['demo'], {
      REDIS_URL: 'redis://10.0.0.5:6379',
    });
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([
      'npm run demo: REDIS_URL=redis://10.0.0.5:6379 is not the local stack (a loopback host on port 16379) and npm run demo would delete every key under "ts:" there; to run it anyway give --i-know-this-wipes redis://10.0.0.5:6379',
    ]);
    expect(r.stdout).not.toContain('resetting');
  });

  it('the bench refuses a remote ClickHouse', async () => {
    const r = await run(path.join('bench', 'run.ts'), ['--only', 'workload'], {
      CLICKHOUSE_URL: 'http://10.0.0.2:8123',
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      'npm run bench: CLICKHOUSE_URL=http://10.0.0.2:8123 is not the local stack (a loopback host on port 18123) and npm run bench would drop database',
    );
  });
});
