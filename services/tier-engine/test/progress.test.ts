import { createMetrics } from '@tierstream/observability';
import { describe, expect, it } from 'vitest';
import { DayProgress } from '../src/progress';

const D = 20_500; // a day number (2026-02-16)

function setup(limitMs = 10_000) {
  let now = 1_000_000;
  const metrics = createMetrics('tier-engine');
  const progress = new DayProgress({ limitMs, numPartitions: 3, metrics, now: () => now });
  return { progress, metrics, advance: (ms: number) => (now += ms) };
}

const value = async (metrics: ReturnType<typeof createMetrics>, name: string, partition: string) =>
  (await metrics.registry.getSingleMetric(name)?.get())?.values.find((v) => v.labels.partition === partition)?.value;

describe('DayProgress', () => {
  it('is not a problem while blocked within the limit; names partition, day and missing partitions past it', async () => {
    const { progress, metrics, advance } = setup();
    progress.closedUpTo(0, D);
    progress.blocked(0, D + 2, { kind: 'barrier', day: D + 1, missing: [1, 2] });
    advance(10_000);
    expect(progress.problems()).toEqual([]);
    advance(2_000);
    expect(progress.problems()).toEqual([
      `tier-engine: partition 0 has not closed 2026-02-18 for 12 s (limit 10 s): the cut-point barrier of 2026-02-17 waits for partitions 1, 2 (no live engine instance has contributed their population: is every signals partition owned by a running engine?)`,
    ]);
    expect(await value(metrics, 'tierstream_engine_stuck_seconds', '0')).toBe(12);
    expect(await value(metrics, 'tierstream_cutpoint_barrier_waiting', '0')).toBe(1);
    expect(await value(metrics, 'tierstream_cutpoint_barrier_day_seconds', '0')).toBe(((D + 1) * 86_400_000) / 1000);
    expect(await value(metrics, 'tierstream_cutpoint_barrier_missing', '0')).toBe(0);
    expect(await value(metrics, 'tierstream_cutpoint_barrier_missing', '2')).toBe(1);
    expect(await value(metrics, 'tierstream_last_closed_day_seconds', '0')).toBe((D * 86_400_000) / 1000);
  });

  it('a closed day clears the block (the wait starts again from the next block)', () => {
    const { progress, advance } = setup();
    progress.blocked(1, D + 1, { kind: 'lease' });
    advance(8_000);
    progress.blocked(1, D + 1, { kind: 'lease' }); // still blocked: the wait keeps its start
    advance(8_000);
    expect(progress.problems()).toHaveLength(1);
    expect(progress.problems()[0]).toContain('its lease is held by another instance');
    progress.closedUpTo(1, D + 1);
    expect(progress.problems()).toEqual([]);
    progress.blocked(1, D + 2, { kind: 'lease' });
    advance(5_000);
    expect(progress.problems()).toEqual([]);
  });

  it('caught up or no longer owned: no problem, gauges of lost partitions removed', async () => {
    const { progress, metrics, advance } = setup();
    progress.blocked(0, D, { kind: 'barrier', day: D - 1, missing: [2] });
    progress.blocked(2, D, { kind: 'lease' });
    advance(60_000);
    expect(progress.problems()).toHaveLength(2);
    progress.caughtUp(0);
    progress.retain(new Set([0, 1]));
    expect(progress.problems()).toEqual([]);
    expect(await value(metrics, 'tierstream_engine_stuck_seconds', '2')).toBeUndefined();
    expect(await value(metrics, 'tierstream_cutpoint_barrier_missing', '2')).toBe(0);
  });
});
