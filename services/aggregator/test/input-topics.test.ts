import { ConfigError, loadConfig } from '@tierstream/config';
import { describe, expect, it } from 'vitest';
import { aggregatorConfigSchema, consumedTopics, identityRouting, startTopics, subscribedTopics } from '../src/config';

// Only these settings: nothing from the environment of the test process.
const env = (vars: Record<string, string>) => ({ ...vars }) as NodeJS.ProcessEnv;

describe('input topic names in the aggregator configuration', () => {
  it('the aggregator consumes the configured topics, or AGGREGATOR_TOPICS among them', () => {
    expect(consumedTopics(loadConfig(aggregatorConfigSchema, env({ WEB_BEHAVIOR_TOPIC: 'site.events' })))).toEqual([
      'orders.v1',
      'site.events',
      'tickets.v1',
    ]);
    const one = loadConfig(
      aggregatorConfigSchema,
      env({ WEB_BEHAVIOR_TOPIC: 'site.events', AGGREGATOR_TOPICS: 'site.events' }),
    );
    expect(consumedTopics(one)).toEqual(['site.events']);
    let err: unknown;
    try {
      loadConfig(aggregatorConfigSchema, env({ ORDERS_TOPIC: 'bad name' }));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).issues).toEqual([
      'ORDERS_TOPIC: expected a Kafka topic name (letters, digits, . _ -) (got "bad name")',
    ]);
  });
});

describe('the topics the aggregator waits for at start', () => {
  it('are the signals topic, the consumed topics and their dead-letter topics', () => {
    const config = loadConfig(
      aggregatorConfigSchema,
      env({ ORDERS_TOPIC: 'shop.orders', AGGREGATOR_TOPICS: 'shop.orders' }),
    );
    expect(startTopics(config)).toEqual(['customer-signals.v1', 'shop.orders', 'shop.orders.dlq']);
  });

  it('include the identities topic and its dead letters where the web behaviour topic is consumed', () => {
    const all = loadConfig(aggregatorConfigSchema, env({ IDENTITIES_TOPIC: 'crm.identities' }));
    expect(subscribedTopics(all)).toEqual(['orders.v1', 'web-behavior.v1', 'tickets.v1', 'crm.identities']);
    expect(startTopics(all)).toContain('crm.identities.dlq');
    const web = loadConfig(aggregatorConfigSchema, env({ AGGREGATOR_TOPICS: 'web-behavior.v1' }));
    expect(subscribedTopics(web)).toEqual(['web-behavior.v1', 'identities.v1']);
    expect(web.ANON_RETENTION_DAYS).toBe(30);
    expect(() => loadConfig(aggregatorConfigSchema, env({ ANON_RETENTION_DAYS: '0' }))).toThrow(ConfigError);
  });
});

describe('IDENTITY_ROUTING', () => {
  it('is on by default: the web deployment subscribes to the identities topic', () => {
    const config = loadConfig(aggregatorConfigSchema, env({}));
    expect(config.IDENTITY_ROUTING).toBe('on');
    expect(identityRouting(config)).toBe(true);
    expect(subscribedTopics(config)).toContain('identities.v1');
  });

  it('off: no identity routing, the identities topic neither subscribed nor waited for; other values refused', () => {
    const off = loadConfig(aggregatorConfigSchema, env({ IDENTITY_ROUTING: 'off' }));
    expect(identityRouting(off)).toBe(false);
    expect(subscribedTopics(off)).toEqual(['orders.v1', 'web-behavior.v1', 'tickets.v1']);
    expect(startTopics(off).filter((t) => t.startsWith('identities'))).toEqual([]);
    let err: unknown;
    try {
      loadConfig(aggregatorConfigSchema, env({ IDENTITY_ROUTING: 'yes' }));
    } catch (e) {
      err = e;
    }
    expect((err as ConfigError).issues).toEqual(['IDENTITY_ROUTING: expected on or off (got "yes")']);
  });
});
