import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Clients, deleteRedisKeys, loadCliConfig } from '@tierstream/cli';
import { TierStateStore } from '@tierstream/tierstate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tierctl } from '../support/journeys';

/**
 * tierctl reads the services' configuration: CONFIG_FILE (YAML, environment wins), validated by the same kind of
 * schema, exit 2 with one line naming the setting when invalid; ClickHouse credentials, the Redis prefix, group ids
 * and topic names come from it.
 */
describe('tierctl configuration', () => {
  let tmp = '';
  const prefix = `cfg${process.pid}`;
  // The test's own clients on the same Redis, under the prefix the config file names.
  const clients = new Clients(loadCliConfig({ ...process.env, CONFIG_FILE: '', REDIS_PREFIX: prefix }));
  /** Environment of a tierctl run: only CONFIG_FILE, nothing of these settings from this process (env would win). */
  const withFile = (file: string) => ({
    CONFIG_FILE: file,
    REDIS_PREFIX: '',
    CLICKHOUSE_PASSWORD: '',
    CLICKHOUSE_USER: '',
  });
  const configFile = (name: string, settings: Record<string, string>) => {
    const file = path.join(tmp, name);
    writeFileSync(
      file,
      Object.entries(settings)
        .map(([k, v]) => `${k}: ${JSON.stringify(v)}\n`)
        .join(''),
    );
    return file;
  };

  beforeAll(() => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'tierstream-config-'));
  });

  afterAll(async () => {
    await deleteRedisKeys(clients).catch(() => undefined);
    await clients.close();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('an invalid value in CONFIG_FILE stops a stack command with exit 2 and one line naming the setting', async () => {
    const file = configFile('bad.yaml', { REDIS_PREFIX: 'has spaces', CLICKHOUSE_URL: 'ftp://x' });
    const r = await tierctl(['status', '--json'], { env: withFile(file) });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stdout).toBe('');
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^tierctl: invalid configuration: /);
    expect(lines[0]).toContain('REDIS_PREFIX: expected letters, digits');
    expect(lines[0]).toContain('CLICKHOUSE_URL: expected a URL with scheme http or https');
    // Commands that touch nothing still run: help and validating a rules file.
    expect((await tierctl(['--help'], { env: withFile(file) })).code).toBe(0);
    const validate = await tierctl(['rules', 'validate', 'rules/default.yaml'], { env: withFile(file) });
    expect(validate.code, validate.stderr).toBe(0);
  });

  it('passes CLICKHOUSE_USER and CLICKHOUSE_PASSWORD from CONFIG_FILE to ClickHouse', async () => {
    const wrong = configFile('password.yaml', { CLICKHOUSE_PASSWORD: 'not-the-password' });
    // Refused credentials are a configuration problem: exit 2, one line naming the component (docs/security.md).
    const r = await tierctl(['sql', 'high_value_at_risk', '--format', 'json'], { env: withFile(wrong) });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^tierctl: clickhouse authentication failed: /);
    expect(r.stderr).toMatch(/Wrong password for user default|Authentication failed|password is incorrect/i);
    const user = configFile('user.yaml', { CLICKHOUSE_USER: `nobody_${process.pid}` });
    const u = await tierctl(['sql', 'high_value_at_risk', '--format', 'json'], { env: withFile(user) });
    expect(u.code).toBe(2);
    expect(u.stderr).toMatch(new RegExp(`^tierctl: clickhouse authentication failed: .*nobody_${process.pid}`));
  });

  it('honours REDIS_PREFIX from CONFIG_FILE (and the environment over the file)', async () => {
    const version = `cfg-test-${process.pid}`;
    await new TierStateStore(clients.redis, prefix).setCutPoints({ version, computed_at: 0, cuts: { x: [3, 1] } });
    const file = configFile('prefix.yaml', { REDIS_PREFIX: prefix });
    const r = await tierctl(['cutpoints', '--json'], { env: withFile(file) });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ version, cuts: { x: [3, 1] } });
    // The environment wins over the file: another prefix has no cut points under this version.
    const other = await tierctl(['cutpoints', '--json'], { env: { ...withFile(file), REDIS_PREFIX: `${prefix}x` } });
    expect(other.code, other.stderr).toBe(0);
    expect(JSON.parse(other.stdout)?.version ?? null).not.toBe(version);
  });
});
