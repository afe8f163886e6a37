import { describe, expect, it } from 'vitest';
import { decideWipe, isLocalStackEndpoint, isLoopbackHost, STACK_DEFAULTS, stackEndpoints } from '../src';

const local = stackEndpoints({});
const reset = [
  { part: 'kafka', what: 'delete topics' },
  { part: 'redis', what: 'delete keys under "ts:"' },
  { part: 'clickhouse', what: 'drop database tierstream' },
] as const;

describe('isLoopbackHost', () => {
  it('localhost, 127/8 and ::1 are loopback; other addresses and names are not', () => {
    for (const h of ['localhost', 'LOCALHOST', '127.0.0.1', '127.1.2.3', '::1', '[::1]'])
      expect(isLoopbackHost(h), h).toBe(true);
    for (const h of ['10.0.0.1', '0.0.0.0', 'kafka', '128.0.0.1', '127.0.0.1.nip', 'localhost.example', '::'])
      expect(isLoopbackHost(h), h).toBe(false);
  });
});

describe('isLocalStackEndpoint: a loopback host on the local stack port', () => {
  it('accepts the stack defaults and localhost at the same ports', () => {
    expect(isLocalStackEndpoint('kafka', STACK_DEFAULTS.KAFKA_BROKERS)).toBe(true);
    expect(isLocalStackEndpoint('kafka', 'localhost:19092,127.0.0.2:19092')).toBe(true);
    expect(isLocalStackEndpoint('redis', STACK_DEFAULTS.REDIS_URL)).toBe(true);
    expect(isLocalStackEndpoint('redis', 'redis://localhost:16379/0')).toBe(true);
    expect(isLocalStackEndpoint('clickhouse', STACK_DEFAULTS.CLICKHOUSE_URL)).toBe(true);
  });

  it('refuses remote hosts, a port-forward on the native port, and a list with one remote broker', () => {
    expect(isLocalStackEndpoint('kafka', '10.0.0.1:9092')).toBe(false);
    expect(isLocalStackEndpoint('kafka', '127.0.0.1:9092')).toBe(false);
    expect(isLocalStackEndpoint('kafka', '127.0.0.1:19092,10.0.0.1:19092')).toBe(false);
    expect(isLocalStackEndpoint('kafka', '')).toBe(false);
    expect(isLocalStackEndpoint('redis', 'redis://127.0.0.1:6379')).toBe(false);
    expect(isLocalStackEndpoint('redis', 'redis://10.0.0.1:16379')).toBe(false);
    expect(isLocalStackEndpoint('redis', 'redis-cluster://127.0.0.1:7001,127.0.0.1:7002')).toBe(false);
    expect(isLocalStackEndpoint('redis', 'redis-cluster://127.0.0.1:16379')).toBe(true);
    expect(isLocalStackEndpoint('clickhouse', 'http://127.0.0.1:8123')).toBe(false);
    expect(isLocalStackEndpoint('clickhouse', 'https://ch.internal:18123')).toBe(false);
  });
});

describe('decideWipe', () => {
  it('the local stack: no refusal, one plan line per store naming the setting and what happens there', () => {
    const d = decideWipe('npm run demo', local, reset);
    expect(d.refusal).toBeNull();
    expect(d.plan).toEqual([
      `KAFKA_BROKERS=${STACK_DEFAULTS.KAFKA_BROKERS}: delete topics`,
      `REDIS_URL=${STACK_DEFAULTS.REDIS_URL}: delete keys under "ts:"`,
      `CLICKHOUSE_URL=${STACK_DEFAULTS.CLICKHOUSE_URL}: drop database tierstream`,
    ]);
  });

  it('a remote store: one line naming the setting, what would happen and the flag with the exact value', () => {
    const remote = stackEndpoints({ REDIS_URL: 'redis://10.0.0.5:6379' });
    const d = decideWipe('npm run demo', remote, reset);
    expect(d.refusal).toBe(
      'REDIS_URL=redis://10.0.0.5:6379 is not the local stack (a loopback host on port 16379) and npm run demo would ' +
        'delete keys under "ts:" there; to run it anyway give --i-know-this-wipes redis://10.0.0.5:6379',
    );
    expect(d.refusal).not.toContain('\n');
  });

  it('--i-know-this-wipes must name the exact endpoint, and every remote one', () => {
    const remote = stackEndpoints({ KAFKA_BROKERS: '10.0.0.1:9092', CLICKHOUSE_URL: 'http://10.0.0.2:8123' });
    expect(decideWipe('x', remote, reset, ['10.0.0.1']).refusal).toContain('KAFKA_BROKERS=10.0.0.1:9092');
    expect(decideWipe('x', remote, reset, ['10.0.0.1:9092']).refusal).toContain('CLICKHOUSE_URL=http://10.0.0.2:8123');
    expect(decideWipe('x', remote, reset, ['10.0.0.1:9092', 'http://10.0.0.2:8123']).refusal).toBeNull();
  });

  it('only the stores the command touches count', () => {
    const remote = stackEndpoints({ REDIS_URL: 'redis://10.0.0.5:6379' });
    expect(decideWipe('tierctl gen', remote, [reset[0]]).refusal).toBeNull();
  });
});

describe('decideWipe never prints a password', () => {
  it('shows REDIS_URL and CLICKHOUSE_URL with the password as ***, and takes that form as the confirmation', () => {
    const endpoints = {
      ...local,
      redisUrl: 'redis://admin:hunter2@10.0.0.5:6379',
      clickhouseUrl: 'https://writer:pa55@ch.internal:8443',
    };
    const actions = [
      { part: 'redis' as const, what: 'delete keys' },
      { part: 'clickhouse' as const, what: 'drop database' },
    ];
    const refused = decideWipe('demo', endpoints, actions);
    expect(refused.refusal).toBe(
      'REDIS_URL=redis://admin:***@10.0.0.5:6379 is not the local stack (a loopback host on port 16379) and demo would ' +
        'delete keys there; to run it anyway give --i-know-this-wipes redis://admin:***@10.0.0.5:6379',
    );
    expect(refused.plan.join('\n')).not.toMatch(/hunter2|pa55/);
    const confirmed = decideWipe('demo', endpoints, actions, [
      'redis://admin:***@10.0.0.5:6379',
      'https://writer:pa55@ch.internal:8443',
    ]);
    expect(confirmed.refusal).toBeNull();
    expect(confirmed.plan).toEqual([
      'REDIS_URL=redis://admin:***@10.0.0.5:6379: delete keys',
      'CLICKHOUSE_URL=https://writer:***@ch.internal:8443: drop database',
    ]);
  });
});
