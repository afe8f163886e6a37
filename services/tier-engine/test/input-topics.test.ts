import { loadConfig } from '@tierstream/config';
import { describe, expect, it } from 'vitest';
import { engineConfigSchema, replayClockTopics, startTopics } from '../src/config';

// Only these settings: nothing from the environment of the test process.
const env = (vars: Record<string, string>) => ({ ...vars }) as NodeJS.ProcessEnv;

describe('input topic names in the services configuration', () => {
  it('the engine replay clock follows ORDERS_TOPIC, WEB_BEHAVIOR_TOPIC, TICKETS_TOPIC', () => {
    expect(replayClockTopics(loadConfig(engineConfigSchema, env({})))).toEqual([
      'orders.v1',
      'web-behavior.v1',
      'tickets.v1',
    ]);
    const renamed = loadConfig(engineConfigSchema, env({ ORDERS_TOPIC: 'shop.orders', TICKETS_TOPIC: 'crm.tickets' }));
    expect(replayClockTopics(renamed)).toEqual(['shop.orders', 'web-behavior.v1', 'crm.tickets']);
    expect(replayClockTopics(loadConfig(engineConfigSchema, env({ ORDERS_TOPIC: 'o', INPUT_TOPICS: 'o' })))).toEqual([
      'o',
    ]);
  });

  it('the engine refuses INPUT_TOPICS that are no configured input topic', () => {
    expect(() => loadConfig(engineConfigSchema, env({ ORDERS_TOPIC: 'o', INPUT_TOPICS: 'orders.v1' }))).toThrow(
      /INPUT_TOPICS: orders\.v1 is not an input topic \(ORDERS_TOPIC=o, WEB_BEHAVIOR_TOPIC=web-behavior\.v1/,
    );
  });

  it('the engine waits at start for its dead-letter topic and its output topics too', () => {
    const topics = startTopics(loadConfig(engineConfigSchema, env({ SIGNALS_TOPIC: 'sig' })));
    expect(topics).toEqual(expect.arrayContaining(['sig', 'sig.dlq', 'orders.v1', 'customer-tier-transitions.v1']));
    expect(topics).toEqual(expect.arrayContaining(['customer-tier-changes.v1', 'customer-tier-cutpoints.v1']));
  });
});
