import { describe, expect, it } from 'vitest';
import { consumerHealthChecks, DependencyWaits, waitForDependency } from '../src/index';

const quiet = { warn: () => undefined, info: () => undefined };

describe('waitForDependency', () => {
  it('retries until the attempt succeeds, naming the latest error meanwhile, and clears the wait', async () => {
    const waits = new DependencyWaits();
    const seen: string[][] = [];
    let calls = 0;
    const result = await waitForDependency(
      waits,
      'kafka',
      async () => {
        seen.push(waits.problems());
        calls++;
        if (calls < 3) throw new Error(`connect ECONNREFUSED (attempt ${calls})`);
        return 'metadata';
      },
      { logger: quiet, initialDelayMs: 1, maxDelayMs: 2 },
    );
    expect(result).toBe('metadata');
    expect(seen).toEqual([
      ['waiting for kafka: connecting'],
      ['waiting for kafka: connect ECONNREFUSED (attempt 1)'],
      ['waiting for kafka: connect ECONNREFUSED (attempt 2)'],
    ]);
    expect(waits.problems()).toEqual([]);
  });

  it('logs one warning per distinct error (not one per attempt)', async () => {
    const warnings: string[] = [];
    let calls = 0;
    await waitForDependency(
      new DependencyWaits(),
      'schema registry',
      async () => {
        if (++calls < 5) throw new Error('unreachable');
      },
      {
        logger: { warn: (_o: object, msg: string) => warnings.push(msg), info: () => undefined },
        initialDelayMs: 1,
        maxDelayMs: 1,
      },
    );
    expect(warnings).toEqual(['waiting for schema registry: retrying']);
  });
});

describe('consumerHealthChecks with waits', () => {
  it('reports what the start waits for instead of the group membership, then the membership again', async () => {
    const waits = new DependencyWaits();
    waits.set('kafka', 'connect ECONNREFUSED 127.0.0.1:1');
    waits.set('schema registry', 'unreachable');
    const checks = consumerHealthChecks(() => undefined, [async () => 'redis: not connected'], waits);
    expect(await checks.ready()).toEqual([
      'waiting for kafka: connect ECONNREFUSED 127.0.0.1:1',
      'waiting for schema registry: unreachable',
      'redis: not connected',
    ]);
    waits.clear('kafka');
    waits.clear('schema registry');
    expect(await checks.ready()).toEqual(['kafka: not a member of the consumer group', 'redis: not connected']);
  });
});
