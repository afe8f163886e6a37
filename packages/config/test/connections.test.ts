import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  anyCredentialFailure,
  ConfigError,
  clickhouseServiceSettings,
  credentialFailure,
  kafkaServiceSettings,
  knownSecrets,
  loadConfig,
  redisSecurity,
  redisServiceSettings,
} from '../src';

const schema = z.object({ ...kafkaServiceSettings, ...redisServiceSettings, ...clickhouseServiceSettings });
const dir = mkdtempSync(path.join(tmpdir(), 'tierstream-connections-'));
const file = (name: string, text: string) => {
  const p = path.join(dir, name);
  writeFileSync(p, text);
  return p;
};
const issuesOf = (env: NodeJS.ProcessEnv): string[] => {
  try {
    loadConfig(schema, env);
  } catch (err) {
    if (err instanceof ConfigError) return err.issues;
    throw err;
  }
  return [];
};

describe('secured connection settings (loadConfig)', () => {
  it('reads every secret from its <NAME>_FILE, without the trailing newline, and remembers it for the loggers', () => {
    const config = loadConfig(schema, {
      KAFKA_SASL_MECHANISM: 'scram-sha-512',
      KAFKA_SASL_USERNAME: 'svc',
      KAFKA_SASL_PASSWORD_FILE: file('kafka', 'kafka-secret-1\n'),
      SCHEMA_REGISTRY_USERNAME: 'svc',
      SCHEMA_REGISTRY_PASSWORD_FILE: file('registry', 'registry-secret-1'),
      REDIS_USERNAME: 'svc',
      REDIS_PASSWORD_FILE: file('redis', 'redis-secret-1\r\n'),
      CLICKHOUSE_PASSWORD_FILE: file('ch', 'ch-secret-1\n'),
    });
    expect(config.KAFKA_SASL_PASSWORD).toBe('kafka-secret-1');
    expect(config.SCHEMA_REGISTRY_PASSWORD).toBe('registry-secret-1');
    expect(config.REDIS_PASSWORD).toBe('redis-secret-1');
    expect(config.CLICKHOUSE_PASSWORD).toBe('ch-secret-1');
    expect(knownSecrets()).toEqual(
      expect.arrayContaining(['kafka-secret-1', 'registry-secret-1', 'redis-secret-1', 'ch-secret-1']),
    );
  });

  it('refuses a secret given both ways and an unreadable secret file, naming the setting and not the value', () => {
    const issues = issuesOf({ REDIS_PASSWORD: 'inline-secret', REDIS_PASSWORD_FILE: file('r2', 'x') });
    expect(issues).toEqual(['REDIS_PASSWORD: set either REDIS_PASSWORD or REDIS_PASSWORD_FILE, not both']);
    expect(issuesOf({ CLICKHOUSE_PASSWORD_FILE: path.join(dir, 'missing') })).toEqual([
      `CLICKHOUSE_PASSWORD_FILE: cannot read ${path.join(dir, 'missing')}: ENOENT`,
    ]);
  });

  it('checks the settings across fields: SASL user and password, registry pair, certificate with key', () => {
    expect(issuesOf({ KAFKA_SASL_MECHANISM: 'plain' })).toEqual([
      'KAFKA_SASL_USERNAME: required with KAFKA_SASL_MECHANISM plain',
      'KAFKA_SASL_PASSWORD: required with KAFKA_SASL_MECHANISM plain (or KAFKA_SASL_PASSWORD_FILE)',
    ]);
    expect(issuesOf({ KAFKA_SASL_USERNAME: 'svc' })[0]).toMatch(/^KAFKA_SASL_MECHANISM: a SASL user or password/);
    expect(issuesOf({ KAFKA_SASL_MECHANISM: 'kerberos' })[0]).toMatch(/^KAFKA_SASL_MECHANISM: expected none, plain/);
    expect(issuesOf({ SCHEMA_REGISTRY_USERNAME: 'svc' })[0]).toMatch(/^SCHEMA_REGISTRY_PASSWORD: required/);
    const cert = file('cert.pem', 'PEM');
    expect(issuesOf({ REDIS_TLS_CERT_FILE: cert })).toEqual([
      'REDIS_TLS_KEY_FILE: required with REDIS_TLS_CERT_FILE (mutual TLS)',
    ]);
    expect(issuesOf({ KAFKA_TLS_CA_FILE: path.join(dir, 'no-ca.pem') })[0]).toMatch(
      /^KAFKA_TLS_CA_FILE: cannot read .*no-ca\.pem: ENOENT$/,
    );
  });

  it('never shows a password in an error line', () => {
    const issues = issuesOf({ KAFKA_SASL_MECHANISM: 'scram', KAFKA_SASL_PASSWORD: 'hunter2-secret' });
    expect(issues.join(' ')).not.toContain('hunter2-secret');
  });
});

describe('redisSecurity', () => {
  const base = loadConfig(z.object(redisServiceSettings), {});
  it('passes the ACL user and password and turns TLS on for rediss:// with the CA read', () => {
    const ca = file('ca.pem', 'THE-CA');
    const options = redisSecurity({
      ...base,
      REDIS_URL: 'rediss://127.0.0.1:26380',
      REDIS_USERNAME: 'svc',
      REDIS_PASSWORD: 'pw',
      REDIS_TLS_CA_FILE: ca,
    });
    expect(options.username).toBe('svc');
    expect(options.password).toBe('pw');
    expect(String((options.tls as { ca: Buffer }).ca)).toBe('THE-CA');
  });
  it('adds nothing for a plain redis:// URL without credentials, and TLS for a Cluster with REDIS_TLS', () => {
    expect(redisSecurity(base)).toEqual({});
    expect(
      redisSecurity({ ...base, REDIS_URL: 'redis-cluster://127.0.0.1:1,127.0.0.1:2', REDIS_TLS: true }).tls,
    ).toEqual({});
  });
});

describe('credentialFailure: refused credentials are told from outages', () => {
  it.each([
    [
      'kafka',
      Object.assign(new Error('SASL SCRAM SHA512 authentication failed: credentials'), {
        name: 'KafkaJSSASLAuthenticationError',
      }),
    ],
    [
      'redis',
      new Error('redis: not connected (reconnecting: WRONGPASS invalid username-password pair or user is disabled.)'),
    ],
    ['redis', new Error('NOAUTH Authentication required.')],
    ['clickhouse', new Error('Wrong password for user tierstream')],
    ['clickhouse', new Error('Code: 516. DB::Exception: tierstream: Authentication failed (AUTHENTICATION_FAILED)')],
    ['schema registry', new Error('http://127.0.0.1:28081/subjects answered HTTP 401')],
  ])('%s: %s', (dependency, err) => {
    expect(credentialFailure(dependency, err)).toMatch(new RegExp(`^${dependency} authentication failed: `));
    expect(anyCredentialFailure(err)).toMatch(new RegExp(`^${dependency} authentication failed: `));
  });
  it('a warehouse call with an untrusted ClickHouse certificate (tierctl warehouse migrate) is a clickhouse TLS failure', () => {
    const err = Object.assign(
      new Error(
        'creating database tierstream failed: UNABLE_TO_VERIFY_LEAF_SIGNATURE: unable to verify the first certificate',
      ),
      { name: 'WarehouseError' },
    );
    expect(anyCredentialFailure(err)).toBe(
      'clickhouse TLS handshake failed: creating database tierstream failed: UNABLE_TO_VERIFY_LEAF_SIGNATURE: unable to verify the first certificate',
    );
  });
  it('does not repeat the prefix of an error that already says it', () => {
    expect(credentialFailure('redis', new Error('redis authentication failed: WRONGPASS invalid'))).toBe(
      'redis authentication failed: WRONGPASS invalid',
    );
  });
  it('a TLS trust failure, and not an unreachable service', () => {
    const tls = Object.assign(new Error('self-signed certificate in certificate chain'), {
      code: 'SELF_SIGNED_CERT_IN_CHAIN',
    });
    expect(credentialFailure('kafka', tls)).toMatch(/^kafka TLS handshake failed: /);
    expect(credentialFailure('kafka', new Error('connect ECONNREFUSED 127.0.0.1:1'))).toBeNull();
    expect(credentialFailure('redis', new Error('redis: not connected (connecting)'))).toBeNull();
    expect(credentialFailure('schema registry', new Error('answered HTTP 503'))).toBeNull();
  });
});
