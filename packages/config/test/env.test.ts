import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigError, env, httpServiceSettings, kafkaServiceSettings, loadConfig, redactSecret } from '../src';

const schema = z.object({
  PORT: env.int(9400, 0, 65_535),
  REDIS_URL: env.url('redis://127.0.0.1:6379', ['redis', 'rediss']),
  TOPICS: env.list('a,b'),
  ENABLED: env.bool(true),
  MODE: z.enum(['live', 'replay'], { error: 'expected live or replay' }).default('live'),
});

describe('loadConfig', () => {
  it('applies defaults and coerces environment strings', () => {
    expect(loadConfig(schema, {})).toEqual({
      PORT: 9400,
      REDIS_URL: 'redis://127.0.0.1:6379',
      TOPICS: ['a', 'b'],
      ENABLED: true,
      MODE: 'live',
    });
    expect(loadConfig(schema, { PORT: '81', TOPICS: ' x , y ', ENABLED: 'no', MODE: 'replay' })).toMatchObject({
      PORT: 81,
      TOPICS: ['x', 'y'],
      ENABLED: false,
      MODE: 'replay',
    });
  });

  it('names the variable, what was expected and what it got', () => {
    expect(() => loadConfig(schema, { PORT: '70000' })).toThrow(
      'invalid configuration: PORT: expected an integer <= 65535 (got "70000")',
    );
    expect(() => loadConfig(schema, { REDIS_URL: 'http://x' })).toThrow(
      'invalid configuration: REDIS_URL: expected a URL with scheme redis or rediss (got "http://x")',
    );
    expect(() => loadConfig(schema, { MODE: 'fast' })).toThrow(
      'invalid configuration: MODE: expected live or replay (got "fast")',
    );
  });

  it('reports every invalid variable at once', () => {
    try {
      loadConfig(schema, { PORT: 'x', ENABLED: 'maybe' });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).issues.map((i) => i.split(':')[0])).toEqual(['PORT', 'ENABLED']);
    }
  });

  it('reads a YAML file named by CONFIG_FILE, environment wins', async () => {
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(path.join(tmpdir(), 'cfg-'));
    const file = path.join(dir, 'c.yaml');
    writeFileSync(file, 'PORT: 1234\nMODE: replay\n');
    expect(loadConfig(schema, { CONFIG_FILE: file, MODE: 'live' })).toMatchObject({ PORT: 1234, MODE: 'live' });
    expect(() => loadConfig(schema, { CONFIG_FILE: path.join(dir, 'missing.yaml') })).toThrow(
      /CONFIG_FILE: cannot read/,
    );
  });
});

describe('CONFIG_FILE and secrets', () => {
  const secretSchema = z.object({
    REDIS_URL: env.redisUrl('redis://127.0.0.1:6379'),
    REDIS_PREFIX: z
      .string()
      .regex(/^[a-z]+$/, { error: 'expected letters' })
      .default('ts'),
    DB_PASSWORD: z.string().min(12, { error: 'expected at least 12 characters' }).default('x'.repeat(12)),
  });
  const fileWith = async (text: string) => {
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'cfg-')), 'c.yaml');
    writeFileSync(file, text);
    return file;
  };

  it('a YAML syntax error is a ConfigError giving the position, not the line (which may hold a password)', async () => {
    const file = await fileWith('REDIS_PREFIX: ts\nDB_PASSWORD: s3cret: x\n');
    try {
      loadConfig(secretSchema, { CONFIG_FILE: file });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as Error).message).toBe(
        `invalid configuration: CONFIG_FILE: ${file} is not valid YAML at line 2, column 14`,
      );
      expect((err as Error).message).not.toContain('s3cret');
    }
  });

  it('a key without a value is unset (the default applies), not the string "null"', async () => {
    const file = await fileWith('REDIS_PREFIX:\nDB_PASSWORD: ~\n');
    expect(loadConfig(secretSchema, { CONFIG_FILE: file })).toMatchObject({
      REDIS_PREFIX: 'ts',
      DB_PASSWORD: 'x'.repeat(12),
    });
  });

  it('takes numbers as written: a password 0123 or 12345678901234567890 and a prefix 007 are not changed by YAML', async () => {
    const schema = z.object({
      P: z.string().default(''),
      Q: z.string().default(''),
      X: z.string().default(''),
      PREFIX: z.string().default('ts'),
      LIST: env.list(''),
      PORT: env.int(1),
      ON: env.bool(false),
    });
    const file = await fileWith(
      'P: 0123\nQ: 12345678901234567890\nX: 0x1F\nPREFIX: 007\nLIST: [h1:9092, 9093]\nPORT: 9401\nON: true\n',
    );
    expect(loadConfig(schema, { CONFIG_FILE: file })).toEqual({
      P: '0123',
      Q: '12345678901234567890',
      X: '0x1F',
      PREFIX: '007',
      LIST: ['h1:9092', '9093'],
      PORT: 9401,
      ON: true,
    });
    const nested = await fileWith('PREFIX:\n  a: 1\n');
    expect(() => loadConfig(schema, { CONFIG_FILE: nested })).toThrow(
      /PREFIX: expected a value or a list in CONFIG_FILE .*, got a mapping/,
    );
  });

  it('never prints a password: not of a password setting, not in a URL', () => {
    expect(() => loadConfig(secretSchema, { DB_PASSWORD: 'hunter2' })).toThrow(
      'invalid configuration: DB_PASSWORD: expected at least 12 characters (got "***")',
    );
    expect(() => loadConfig(secretSchema, { REDIS_URL: 'redis-cluster://admin:hunter2@h1:7000,h2:7000' })).toThrow(
      /REDIS_URL: expected .* \(got "redis-cluster:\/\/admin:\*\*\*@h1:7000,h2:7000"\)$/,
    );
    expect(redactSecret('SCHEMA_REGISTRY_URL', 'http://u:p%40ss@registry:8081/x y')).toBe(
      'http://u:***@registry:8081/x y',
    );
    expect(redactSecret('REDIS_URL', 'redis://:pw@h:1')).toBe('redis://:***@h:1');
    expect(redactSecret('REDIS_URL', 'redis://user@h:1')).toBe('redis://user@h:1');
  });
});

describe('SCHEMA_REGISTRY_URL', () => {
  it('refuses credentials in the URL (the registry calls cannot send them; a service would wait forever), hiding the password', () => {
    const schema = z.object(kafkaServiceSettings);
    expect(() =>
      loadConfig(schema, { SCHEMA_REGISTRY_URL: 'https://key:s3cr3t@registry.internal/apis/ccompat/v7' }),
    ).toThrow(
      'invalid configuration: SCHEMA_REGISTRY_URL: expected a URL without user:password@ (set SCHEMA_REGISTRY_USERNAME and SCHEMA_REGISTRY_PASSWORD instead) (got "https://key:***@registry.internal/apis/ccompat/v7")',
    );
    expect(
      loadConfig(schema, { SCHEMA_REGISTRY_URL: 'https://registry.internal/apis/ccompat/v7' }).SCHEMA_REGISTRY_URL,
    ).toBe('https://registry.internal/apis/ccompat/v7');
  });
});

describe('a service with invalid configuration', () => {
  it.each(['aggregator', 'tier-engine', 'warehouse-writer'])(
    '%s exits 2 with one line naming the variable',
    (service) => {
      const entry = path.resolve(__dirname, '../../../services', service, 'src/main.ts');
      const result = spawnSync(process.execPath, ['--import', 'tsx', entry], {
        env: { ...process.env, KAFKA_BROKERS: '127.0.0.1:19092', HTTP_PORT: 'not-a-port' },
        encoding: 'utf8',
        timeout: 60_000,
      });
      expect(result.status).toBe(2);
      expect(result.stderr.trim()).toBe(
        `${service}: invalid configuration: HTTP_PORT: expected an integer (got "not-a-port")`,
      );
    },
  );
});

describe('httpServiceSettings', () => {
  const http = z.object(httpServiceSettings(9401));

  it('serves on 127.0.0.1 by default; HTTP_HOST takes an address or a host name', () => {
    expect(loadConfig(http, {})).toEqual({ HTTP_HOST: '127.0.0.1', HTTP_PORT: 9401 });
    expect(loadConfig(http, { HTTP_HOST: '0.0.0.0', HTTP_PORT: '0' })).toEqual({ HTTP_HOST: '0.0.0.0', HTTP_PORT: 0 });
    expect(loadConfig(http, { HTTP_HOST: '::' }).HTTP_HOST).toBe('::');
    expect(loadConfig(http, { HTTP_HOST: 'aggregator.internal' }).HTTP_HOST).toBe('aggregator.internal');
  });

  it('refuses a URL or a host with a port, naming the setting', () => {
    expect(() => loadConfig(http, { HTTP_HOST: 'http://0.0.0.0' })).toThrow(
      'invalid configuration: HTTP_HOST: expected an IP address or host name, e.g. 0.0.0.0 (got "http://0.0.0.0")',
    );
    expect(() => loadConfig(http, { HTTP_HOST: '0.0.0.0:9401' })).toThrow('HTTP_HOST');
    // Empty means unset, as for every setting.
    expect(loadConfig(http, { HTTP_HOST: '' }).HTTP_HOST).toBe('127.0.0.1');
  });
});
