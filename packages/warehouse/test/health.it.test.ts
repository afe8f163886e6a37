import { ClickHouseLogLevel, createClient } from '@clickhouse/client';
import { stackEndpoints } from '@tierstream/config';
import { afterAll, describe, expect, it } from 'vitest';
import { clickhouseProblem } from '../src/index';

const { clickhouseUrl } = stackEndpoints();
const log = { level: ClickHouseLogLevel.OFF };

describe(`clickhouseProblem on the stack's ClickHouse (${clickhouseUrl})`, () => {
  const good = createClient({ url: clickhouseUrl, log });
  const wrongPassword = createClient({ url: clickhouseUrl, username: 'default', password: 'not-the-password', log });
  const unknownUser = createClient({ url: clickhouseUrl, username: 'nobody_here', log });
  const closed = createClient({ url: 'http://127.0.0.1:9', log });
  afterAll(async () => {
    await Promise.all([good, wrongPassword, unknownUser, closed].map((c) => c.close()));
  });

  it('is null for a usable server and database; ping() would say yes to wrong credentials, this does not', async () => {
    expect(await clickhouseProblem(good, 'system')).toBeNull();
    expect((await wrongPassword.ping()).success).toBe(true); // why ping is not enough
    expect(await clickhouseProblem(wrongPassword, 'system')).toMatch(/password/i);
    expect(await clickhouseProblem(unknownUser, 'system')).toMatch(/nobody_here/);
  });

  it('names a missing database and an unreachable server in one line', async () => {
    expect(await clickhouseProblem(good, 'no_such_db_here')).toBe(
      'database no_such_db_here does not exist (run `tierctl warehouse migrate`)',
    );
    const down = await clickhouseProblem(closed, 'system');
    expect(down).toMatch(/ECONNREFUSED/);
    expect(down).not.toContain('\n');
  });
});
