import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DayProgress } from '../src/progress';
import { readReports, waveDay } from '../src/rules-change';

// The rules-change rendezvous (design-decisions §20): when every partition has reported one day, and how far a
// partition behind may catch up.

const D = 20_000;

describe('readReports', () => {
  it('decides only when every partition reported the same day', () => {
    expect(readReports({ 'day:0': String(D), 'day:1': String(D) }, 3)).toEqual({
      reported: 2,
      latest: D,
      decidable: false,
      measured: null,
    });
    expect(readReports({ 'day:0': String(D), 'day:1': String(D - 2), 'day:2': String(D) }, 3)).toMatchObject({
      latest: D,
      decidable: false,
    });
    expect(readReports({ 'day:0': String(D), 'day:1': String(D), 'day:2': String(D), decided: '{}' }, 3)).toEqual({
      reported: 3,
      latest: D,
      decidable: true,
      measured: D,
    });
  });

  it('no partition started: decided with no day; some started: wait for the others to start', () => {
    expect(readReports({ 'day:0': 'none', 'day:1': 'none' }, 2)).toEqual({
      reported: 2,
      latest: null,
      decidable: true,
      measured: null,
    });
    expect(readReports({ 'day:0': 'none', 'day:1': String(D) }, 2)).toMatchObject({ decidable: false, latest: D });
  });

  it('property: decidable iff all N reported one value; latest is the largest day reported', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }).chain((n) =>
          fc.tuple(
            fc.constant(n),
            fc.array(fc.option(fc.integer({ min: D - 3, max: D }), { nil: undefined }), {
              minLength: n,
              maxLength: n,
            }),
          ),
        ),
        ([n, days]) => {
          const fields: Record<string, string> = {};
          days.forEach((d, q) => {
            if (d !== undefined) fields[`day:${q}`] = String(d);
          });
          const r = readReports(fields, n);
          const reported = days.filter((d) => d !== undefined) as number[];
          expect(r.reported).toBe(reported.length);
          expect(r.latest).toBe(reported.length === 0 ? null : Math.max(...reported));
          const decidable = reported.length === n && new Set(reported).size === 1;
          expect(r.decidable).toBe(decidable);
          if (decidable) expect(r.measured).toBe(reported[0]);
        },
      ),
    );
  });
});

describe('waveDay', () => {
  it('replay: the closed day; live: today, at least the day after the closed one', () => {
    expect(waveDay('replay', D, D + 40)).toBe(D);
    expect(waveDay('live', D, D + 1)).toBe(D + 1);
    expect(waveDay('live', D, D + 3)).toBe(D + 3);
    expect(waveDay('live', D, D)).toBe(D + 1);
  });
});

describe('a partition held by a rules change (DayProgress)', () => {
  it('is a readiness problem past the limit, naming the change and the partitions it waits for', () => {
    let now = 1_000_000;
    const progress = new DayProgress({ limitMs: 10_000, numPartitions: 3, now: () => now });
    progress.closedUpTo(0, D);
    progress.blocked(0, D + 1, { kind: 'rules-change', apply: 4, version: 'v2', waitingFor: [2] });
    now += 12_000;
    expect(progress.problems()).toEqual([
      'tier-engine: partition 0 has not closed 2024-10-05 for 12 s (limit 10 s): the rules change to v2 (apply 4) holds it until partitions 2 report the same closed day (is every signals partition owned by a running engine?)',
    ]);
  });
});
