import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ClickHouseLogLevel, createClient } from '@clickhouse/client';
import { loadCliConfig } from '@tierstream/cli';
import { createRedisFrom } from '@tierstream/config';
import { kafkaSecurity } from '@tierstream/kafka';
import calculateSlot from 'cluster-key-slot';
import { type Cluster, Redis } from 'ioredis';
import { Kafka, logLevel } from 'kafkajs';
import { Agent, fetch } from 'undici';
import { describe, expect, it } from 'vitest';
import { freePort } from '../support/free-port';
import { runEntry } from '../support/run-node';
import { leaks, secureSecrets } from '../support/secure-stack';

/**
 * The secured stack refuses anonymous clients (each component), and a wrong password gives the documented one-line
 * failure within 30 s (docs/security.md "Failures"): a service exits 2 with `<service>: <component> authentication
 * failed: …` on stderr after its /health/ready said so while it retried; tierctl exits 2 with
 * `tierctl: <component> authentication failed: …`. Everything these runs print is searched for secrets.
 */
const REPO_ROOT = path.resolve(import.meta.dirname, '../..');
const env = process.env as Record<string, string>;
const ca = () => readFileSync(env.KAFKA_TLS_CA_FILE!);
const output: Array<{ label: string; text: string }> = [];
const wrongPasswords: string[] = [];
const wrong = () => {
  const pw = `wrong-${randomBytes(8).toString('hex')}`;
  wrongPasswords.push(pw);
  return pw;
};
const [kafkaHost, kafkaPort] = env.KAFKA_BROKERS!.split(',')[0]!.split(':');

describe('anonymous connections are refused by each secured component', () => {
  const quickKafka = (extra: object) =>
    new Kafka({
      clientId: 'anonymous-probe',
      brokers: [`${kafkaHost}:${kafkaPort}`],
      logLevel: logLevel.NOTHING,
      retry: { retries: 0 },
      connectionTimeout: 3_000,
      requestTimeout: 5_000,
      ...extra,
    });
  const listTopics = async (kafka: Kafka) => {
    const admin = kafka.admin({ retry: { retries: 0 } });
    try {
      await admin.connect();
      return await admin.listTopics();
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  };

  it('kafka: without SASL (TLS only), in plain text, and with a wrong SCRAM password; the configured client lists topics', async () => {
    await expect(listTopics(quickKafka({ ssl: { ca: ca() } }))).rejects.toThrow();
    await expect(listTopics(quickKafka({}))).rejects.toThrow();
    await expect(
      listTopics(
        quickKafka({
          ssl: { ca: ca() },
          sasl: { mechanism: 'scram-sha-512', username: env.KAFKA_SASL_USERNAME!, password: wrong() },
        }),
      ),
    ).rejects.toThrow(/SASL SCRAM SHA512 authentication failed/);
    const config = loadCliConfig(env);
    expect(Array.isArray(await listTopics(quickKafka(kafkaSecurity(config))))).toBe(true);
    // PLAIN over TLS works too (the broker enables SCRAM-SHA-512, SCRAM-SHA-256 and PLAIN).
    const plain = kafkaSecurity({ ...config, KAFKA_SASL_MECHANISM: 'plain' });
    expect(Array.isArray(await listTopics(quickKafka(plain)))).toBe(true);
  });

  it('redis: without a password (NOAUTH), with a wrong one (WRONGPASS), and without TLS', async () => {
    const url = new URL(env.REDIS_URL!);
    const probe = (opts: object) =>
      new Redis({
        host: url.hostname,
        port: Number(url.port),
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
        // No INFO before the first command: the PING itself gets the server's NOAUTH / WRONGPASS answer.
        enableReadyCheck: false,
        lazyConnect: true,
        ...opts,
      });
    // The server's answer, as ioredis reports it: an AUTH refused at connect is an 'error' event, then a closed link.
    const ping = async (client: Redis) => {
      const errors: string[] = [];
      client.on('error', (err: Error) => errors.push(err.message));
      try {
        await client.connect();
        return await client.ping();
      } catch (err) {
        throw new Error([...errors, (err as Error).message].join(' | '));
      } finally {
        client.disconnect();
      }
    };
    await expect(ping(probe({ tls: { ca: ca() } }))).rejects.toThrow(/NOAUTH/);
    await expect(ping(probe({ tls: { ca: ca() }, username: env.REDIS_USERNAME, password: wrong() }))).rejects.toThrow(
      /WRONGPASS/,
    );
    await expect(ping(probe({}))).rejects.toThrow();
    const password = readFileSync(env.REDIS_PASSWORD_FILE!, 'utf8').trim();
    expect(await ping(probe({ tls: { ca: ca() }, username: env.REDIS_USERNAME, password }))).toBe('PONG');
  });

  it('redis cluster: every master refuses a client without a password; the configured client (TLS, ACL user) works on each', async () => {
    const seeds = env.REDIS_CLUSTER_URL!.slice('redis-cluster://'.length).split(',');
    expect(seeds.length).toBeGreaterThanOrEqual(3);
    for (const seed of seeds) {
      const [host, port] = seed.split(':');
      const anonymous = new Redis({
        host,
        port: Number(port),
        tls: { ca: ca() },
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
        enableReadyCheck: false,
      });
      anonymous.on('error', () => undefined);
      await expect(anonymous.ping(), seed).rejects.toThrow(/NOAUTH/);
      anonymous.disconnect();
    }
    const config = loadCliConfig({ ...env, REDIS_URL: env.REDIS_CLUSTER_URL!, REDIS_TLS: 'true' });
    const cluster = createRedisFrom(config, { maxRetriesPerRequest: 3 });
    try {
      // Keys of several customers: they land on different masters, each reached over TLS as the ACL user.
      const keys = Array.from({ length: 12 }, (_, i) => `secure-e2e:{c${i}}:k`);
      for (const key of keys) await cluster.set(key, key, 'EX', 60);
      for (const key of keys) expect(await cluster.get(key)).toBe(key);
      const slots = (cluster as Cluster).slots;
      const masters = new Set(keys.map((k) => slots[calculateSlot(k)]?.[0]));
      expect(masters.size).toBeGreaterThan(1);
    } finally {
      cluster.disconnect();
    }
  });

  it('clickhouse: without a user (no default user), with a wrong password, and over plain HTTP', async () => {
    const query = async (opts: object) => {
      const client = createClient({ log: { level: ClickHouseLogLevel.OFF }, request_timeout: 5_000, ...opts });
      try {
        return await (await client.query({ query: 'SELECT 1 AS one', format: 'JSONEachRow' })).json();
      } finally {
        await client.close();
      }
    };
    const tls = { ca_cert: ca() };
    await expect(query({ url: env.CLICKHOUSE_URL, tls })).rejects.toThrow(/Unknown user default/);
    await expect(
      query({ url: env.CLICKHOUSE_URL, tls, username: env.CLICKHOUSE_USER, password: wrong() }),
    ).rejects.toThrow(/Wrong password|Authentication failed/);
    await expect(query({ url: env.CLICKHOUSE_URL!.replace('https:', 'http:') })).rejects.toThrow();
    const password = readFileSync(env.CLICKHOUSE_PASSWORD_FILE!, 'utf8').trim();
    expect(await query({ url: env.CLICKHOUSE_URL, tls, username: env.CLICKHOUSE_USER, password })).toEqual([
      { one: 1 },
    ]);
  });

  it('schema registry: 401 without credentials and with a wrong password, 200 with the configured ones', async () => {
    const dispatcher = new Agent({ connect: { ca: ca() } });
    const get = async (auth?: string) => {
      const res = await fetch(`${env.SCHEMA_REGISTRY_URL}/subjects`, {
        dispatcher,
        headers: auth ? { authorization: `Basic ${Buffer.from(auth).toString('base64')}` } : {},
      });
      await res.text();
      return res.status;
    };
    expect(await get()).toBe(401);
    expect(await get(`${env.SCHEMA_REGISTRY_USERNAME}:${wrong()}`)).toBe(401);
    const password = readFileSync(env.SCHEMA_REGISTRY_PASSWORD_FILE!, 'utf8').trim();
    expect(await get(`${env.SCHEMA_REGISTRY_USERNAME}:${password}`)).toBe(200);
    await dispatcher.close();
  });
});

interface Refusal {
  component: string;
  service: string;
  /** The secret setting given wrong (its _FILE variant is cleared). */
  setting: 'KAFKA_SASL_PASSWORD' | 'REDIS_PASSWORD' | 'CLICKHOUSE_PASSWORD' | 'SCHEMA_REGISTRY_PASSWORD';
  /** A tierctl command that needs the component (none: the service run only). */
  tierctl?: string[];
  /** More settings of the run (e.g. a Redis Cluster URL). */
  env?: Record<string, string>;
}

const REFUSALS: Refusal[] = [
  { component: 'kafka', service: 'aggregator', setting: 'KAFKA_SASL_PASSWORD', tierctl: ['topics', 'apply'] },
  {
    component: 'schema registry',
    service: 'aggregator',
    setting: 'SCHEMA_REGISTRY_PASSWORD',
    tierctl: ['schemas', 'register'],
  },
  { component: 'redis', service: 'tier-engine', setting: 'REDIS_PASSWORD', tierctl: ['cutpoints'] },
  // The writer uses Redis for erasures and suppression: it was ready while every batch failed on WRONGPASS.
  { component: 'redis', service: 'warehouse-writer', setting: 'REDIS_PASSWORD' },
  // A Redis Cluster reports refused credentials only as its nodes' errors: the start waited and tierctl hung forever.
  {
    component: 'redis',
    service: 'tier-engine',
    setting: 'REDIS_PASSWORD',
    tierctl: ['cutpoints'],
    env: { REDIS_URL: env.REDIS_CLUSTER_URL!, REDIS_TLS: 'true' },
  },
  {
    component: 'clickhouse',
    service: 'warehouse-writer',
    setting: 'CLICKHOUSE_PASSWORD',
    tierctl: ['warehouse', 'migrate'],
  },
];

/** Runs a service with one wrong password: its exit code, stderr, time to exit, and what /health/ready said meanwhile. */
async function runRefused(r: Refusal): Promise<{ code: number | null; stderr: string; ms: number; ready: string[] }> {
  const port = await freePort();
  const started = Date.now();
  const child = spawn(process.execPath, ['--import', 'tsx', path.join('services', r.service, 'src', 'main.ts')], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...r.env, HTTP_PORT: String(port), [r.setting]: wrong(), [`${r.setting}_FILE`]: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => {
    stdout += c.toString('utf8');
  });
  child.stderr.on('data', (c: Buffer) => {
    stderr += c.toString('utf8');
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const ready: string[] = [];
  const killer = setTimeout(() => child.kill('SIGKILL'), 45_000);
  let done = false;
  void exited.then(() => {
    done = true;
  });
  while (!done) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/health/ready`);
      ready.push(await res.text());
      const metrics = await fetch(`http://127.0.0.1:${port}/metrics`);
      output.push({ label: `${r.service} /metrics`, text: await metrics.text() });
    } catch {
      // not listening yet, or gone
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  const code = await exited;
  clearTimeout(killer);
  output.push({ label: `${r.service} (${r.setting} wrong)`, text: stdout + stderr });
  output.push(...ready.map((text) => ({ label: `${r.service} /health/ready`, text })));
  return { code, stderr, ms: Date.now() - started, ready };
}

describe('a wrong password fails fast with one line naming the component', () => {
  it('each service: /health/ready says "<component> authentication failed" while it retries, then exit 2 with one line within 30 s', async () => {
    const results = await Promise.all(REFUSALS.map(async (r) => ({ r, ...(await runRefused(r)) })));
    for (const { r, code, stderr, ms, ready } of results) {
      const what = `${r.service} with a wrong ${r.setting}: ${stderr}`;
      expect(code, what).toBe(2);
      expect(ms, what).toBeLessThan(30_000);
      const lines = stderr.trim().split('\n');
      expect(lines, what).toHaveLength(1);
      expect(lines[0], what).toMatch(new RegExp(`^${r.service}: ${r.component} authentication failed: `));
      expect(
        ready.some((body) =>
          JSON.parse(body).failing?.some((f: string) => f.startsWith(`${r.component} authentication failed`)),
        ),
        `${r.service} /health/ready: ${ready.join(' | ')}`,
      ).toBe(true);
    }
  });

  it('tierctl: exit 2 with one line naming the component, within 30 s', async () => {
    await Promise.all(
      REFUSALS.flatMap((r) => (r.tierctl ? [{ ...r, tierctl: r.tierctl }] : [])).map(async (r) => {
        const started = Date.now();
        const run = await runEntry('packages/cli/src/tierctl.ts', r.tierctl, {
          env: { ...r.env, [r.setting]: wrong(), [`${r.setting}_FILE`]: '' },
          timeoutMs: 60_000,
        });
        output.push({ label: `tierctl ${r.tierctl.join(' ')} (${r.setting} wrong)`, text: run.stdout + run.stderr });
        const what = `tierctl ${r.tierctl.join(' ')} with a wrong ${r.setting}: ${run.stderr}`;
        expect(run.code, what).toBe(2);
        expect(Date.now() - started, what).toBeLessThan(30_000);
        expect(run.stderr.trim().split('\n'), what).toEqual([
          expect.stringMatching(new RegExp(`^tierctl: ${r.component} authentication failed: `)),
        ]);
      }),
    );
  });

  it('tierctl: an untrusted server certificate (no CA file) exits 2 with "<component> TLS handshake failed" at once', async () => {
    // Before: Kafka took ~24 s (the client's retries), Redis, ClickHouse and the registry exited 1 with ioredis' "max
    // retries" line, a message without the component, or "fetch failed".
    const untrusted = [
      { component: 'kafka', setting: 'KAFKA_TLS_CA_FILE', tierctl: ['topics', 'apply'] },
      { component: 'redis', setting: 'REDIS_TLS_CA_FILE', tierctl: ['cutpoints'] },
      { component: 'clickhouse', setting: 'CLICKHOUSE_TLS_CA_FILE', tierctl: ['warehouse', 'migrate'] },
      { component: 'schema registry', setting: 'SCHEMA_REGISTRY_TLS_CA_FILE', tierctl: ['schemas', 'register'] },
    ];
    await Promise.all(
      untrusted.map(async (u) => {
        const started = Date.now();
        const run = await runEntry('packages/cli/src/tierctl.ts', u.tierctl, {
          env: { [u.setting]: '' },
          timeoutMs: 60_000,
        });
        output.push({ label: `tierctl ${u.tierctl.join(' ')} (no ${u.setting})`, text: run.stdout + run.stderr });
        const what = `tierctl ${u.tierctl.join(' ')} without ${u.setting}: ${run.stderr}`;
        expect(run.code, what).toBe(2);
        expect(Date.now() - started, what).toBeLessThan(15_000);
        expect(run.stderr.trim().split('\n'), what).toEqual([
          expect.stringMatching(new RegExp(`^tierctl: ${u.component} TLS handshake failed: `)),
        ]);
      }),
    );
  });

  it('a secret set both ways, or a mechanism without its password, is a configuration error (exit 2, one line)', async () => {
    const both = await runEntry('packages/cli/src/tierctl.ts', ['status'], {
      env: { REDIS_PASSWORD: wrong() },
    });
    output.push({ label: 'tierctl status (REDIS_PASSWORD twice)', text: both.stdout + both.stderr });
    expect(both.code).toBe(2);
    expect(both.stderr.trim()).toBe(
      'tierctl: invalid configuration: REDIS_PASSWORD: set either REDIS_PASSWORD or REDIS_PASSWORD_FILE, not both',
    );
    const missing = await runEntry('packages/cli/src/tierctl.ts', ['status'], {
      env: { KAFKA_SASL_PASSWORD_FILE: '' },
    });
    output.push({ label: 'tierctl status (no Kafka password)', text: missing.stdout + missing.stderr });
    expect(missing.code).toBe(2);
    expect(missing.stderr.trim()).toBe(
      'tierctl: invalid configuration: KAFKA_SASL_PASSWORD: required with KAFKA_SASL_MECHANISM scram-sha-512 (or KAFKA_SASL_PASSWORD_FILE)',
    );
  });
});

describe('the outputs of the refused runs', () => {
  // Runs last (tests run in file order): every line the runs above printed (stdout, stderr, /health/ready, /metrics),
  // searched for each secret of the stack and each wrong password they were given.
  it('hold no secret, not even the wrong passwords', () => {
    expect(wrongPasswords.length).toBeGreaterThan(8);
    expect(output.length).toBeGreaterThan(8);
    expect(leaks(output, [...secureSecrets(), ...wrongPasswords])).toEqual([]);
  });
});
