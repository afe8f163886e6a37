import { loadConfig } from '@tierstream/config';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { engineConfigSchema } from '../src/config';
import type { EvaluationRequest } from '../src/engine';
import { evaluateLive } from '../src/live';

// Live latency (issue 18): a backlog's signals batch is evaluated and emitted in chunks, so its first customers do
// not wait for the evaluation of its last.

const DAY = 86_400_000;

/** A fake engine: records each call's customers and the lock state, resolving each call when `release` is called. */
function fakeDeps(opts: { fail?: number; clock?: () => number } = {}) {
  const calls: EvaluationRequest[][] = [];
  const events: string[] = [];
  let locked = false;
  return {
    calls,
    events,
    deps: {
      now: opts.clock,
      reevaluating: (p: number) => p === 7,
      withLock: async <T>(p: number, fn: () => Promise<T>) => {
        expect(locked).toBe(false);
        locked = true;
        events.push(`lock ${p}`);
        try {
          return await fn();
        } finally {
          locked = false;
          events.push(`unlock ${p}`);
        }
      },
      evaluate: async (p: number, requests: EvaluationRequest[]) => {
        expect(locked).toBe(true);
        calls.push(requests);
        events.push(`evaluate ${p} ${requests.map((r) => r.customerId).join(',')}`);
        await new Promise((r) => setTimeout(r, 1));
        if (opts.fail === calls.length) throw new Error('redis down');
        events.push(`emitted ${p} ${requests.length}`);
        return requests.length;
      },
    },
  };
}

describe('evaluateLive (LIVE_EVALUATION_CHUNK)', () => {
  it('evaluates a batch in chunks, one after the other, each emitted before the next starts', async () => {
    const { deps, events } = fakeDeps();
    await evaluateLive(deps, 2, ['a', 'b', 'c', 'd', 'e'], 2);
    expect(events).toEqual([
      'lock 2',
      'evaluate 2 a,b',
      'emitted 2 2',
      'unlock 2',
      'lock 2',
      'evaluate 2 c,d',
      'emitted 2 2',
      'unlock 2',
      'lock 2',
      'evaluate 2 e',
      'emitted 2 1',
      'unlock 2',
    ]);
  });

  it('property: every customer once, in order, no chunk over the limit, each stamped with its start (live request)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fc.string({ minLength: 1, maxLength: 4 }), { maxLength: 60 }),
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 0, max: 9 }),
        async (ids, chunk, partition) => {
          let t = 20_300 * DAY - 3;
          const { deps, calls } = fakeDeps({ clock: () => t++ });
          await evaluateLive(deps, partition, ids, chunk);
          expect(calls.flat().map((r) => r.customerId)).toEqual(ids);
          expect(calls.length).toBe(Math.ceil(ids.length / chunk));
          calls.forEach((call, i) => {
            expect(call.length).toBeLessThanOrEqual(chunk);
            for (const r of call) {
              expect(r.at).toBe(20_300 * DAY - 3 + i);
              expect(r.day).toBe(Math.floor(r.at / DAY));
              expect(r).toMatchObject({ processedDueAt: null, touch: '0', rulesChanged: partition === 7 });
            }
          });
        },
      ),
    );
  });

  it('stops at a failed chunk and rejects with its error (the runner redelivers the batch)', async () => {
    const { deps, calls } = fakeDeps({ fail: 2 });
    await expect(evaluateLive(deps, 0, ['a', 'b', 'c', 'd', 'e'], 2)).rejects.toThrow('redis down');
    expect(calls.map((c) => c.map((r) => r.customerId))).toEqual([
      ['a', 'b'],
      ['c', 'd'],
    ]);
  });

  it('stamps a chunk once it holds the lock: a rules wave queued during the previous chunk ends before it', async () => {
    // Sweeper.withLock's chaining: work queued on the partition's lock runs in order, after the current holder.
    let lock: Promise<unknown> = Promise.resolve();
    const withLock = <T>(_p: number, fn: () => Promise<T>): Promise<T> => {
      const next = lock.then(fn, fn);
      lock = next.catch(() => undefined);
      return next;
    };
    let pending = true; // the partition's rules wave has not run yet
    let t = 1_000;
    const calls: EvaluationRequest[][] = [];
    const deps = {
      now: () => t,
      reevaluating: () => pending,
      withLock,
      evaluate: async (p: number, requests: EvaluationRequest[]) => {
        calls.push(requests);
        if (calls.length === 1) {
          // The sweeper's wave step for this partition queues while the first chunk holds the lock.
          void withLock(p, async () => {
            t += 60_000;
            pending = false;
          });
        }
        await new Promise((r) => setTimeout(r, 1));
        return requests.length;
      },
    };
    await evaluateLive(deps, 3, ['a', 'b', 'c', 'd'], 2);
    expect(calls.map((c) => c.map((r) => [r.customerId, r.rulesChanged, r.at]))).toEqual([
      [
        ['a', true, 1_000],
        ['b', true, 1_000],
      ],
      [
        ['c', false, 61_000],
        ['d', false, 61_000],
      ],
    ]);
  });

  it('heartbeats between chunks and evaluates no further chunk once the partition is revoked', async () => {
    const { deps, calls } = fakeDeps();
    let beats = 0;
    const batch = { isStale: () => calls.length >= 2, heartbeat: async () => void beats++ };
    await evaluateLive(deps, 0, ['a', 'b', 'c', 'd', 'e', 'f'], 2, batch);
    expect(calls.map((c) => c.map((r) => r.customerId))).toEqual([
      ['a', 'b'],
      ['c', 'd'],
    ]);
    expect(beats).toBe(1);
  });

  it('defaults to 64 customers per chunk; 0 is refused naming the setting', () => {
    expect(loadConfig(engineConfigSchema, {} as NodeJS.ProcessEnv).LIVE_EVALUATION_CHUNK).toBe(64);
    expect(() => loadConfig(engineConfigSchema, { LIVE_EVALUATION_CHUNK: '0' } as NodeJS.ProcessEnv)).toThrow(
      /LIVE_EVALUATION_CHUNK/,
    );
  });
});
