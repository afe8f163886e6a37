import type { GeneratorOptions, ProfileName } from '@tierstream/generator';
import { describe, expect, it } from 'vitest';
import { seedFrom } from './harness';
import { type ChaosResult, runChaos } from './scenario';

/**
 * The full chaos suite (`npm run test:chaos`): more faults, a bigger workload, CHAOS_RUNS repetitions with seeds
 * seed, seed+1, ... Environment:
 *   CHAOS_SEED      first seed (default: random, printed)
 *   CHAOS_RUNS      repetitions (default 1)
 *   CHAOS_PROFILE   tiny | medium (600 customers, 180 days; default) | demo (2,000 customers, 365 days)
 * Each run must end exactly equal to the batch oracle (aggregates, tier state, transition ids, snapshot counts).
 */
const PROFILES: Record<string, ProfileName | GeneratorOptions> = {
  tiny: 'tiny',
  medium: { customers: 600, days: 180, seed: 11 },
  demo: 'demo',
};

const runs = Math.max(1, Number(process.env.CHAOS_RUNS ?? 1));
const firstSeed = seedFrom('CHAOS_SEED', 'chaos');
const profileName = process.env.CHAOS_PROFILE ?? 'medium';
const workload = PROFILES[profileName];
if (workload === undefined) throw new Error(`CHAOS_PROFILE must be one of ${Object.keys(PROFILES).join(', ')}`);

describe(`chaos (full, ${profileName}, ${runs} run(s))`, () => {
  const results: ChaosResult[] = [];
  for (let i = 0; i < runs; i++) {
    const seed = (firstSeed + i) >>> 0;
    it(`run ${i + 1}/${runs} (seed ${seed}) equals the oracle exactly`, async () => {
      const result = await runChaos({
        label: `chaos-${i + 1}`,
        seed,
        workload,
        killsPerService: 3,
        redisRestarts: 1,
        redisCrashes: 2,
        kafkaRestarts: 2,
        clickhouseOutages: 1,
        clickhouseOutageMs: 30_000,
        scaleOuts: 2,
        scaleHoldMs: [5_000, 20_000],
        gapMs: [500, 6_000],
      });
      results.push(result);
      const c = result.comparison;
      expect(c.customers).toBeGreaterThan(100);
      expect(c.aggregateMismatches).toEqual([]);
      expect(c.tierMismatches).toEqual([]);
      expect(c.missingTransitions).toEqual([]);
      expect(c.unexpectedTransitions).toEqual([]);
      expect(c.duplicateTransitionRows).toBe(0);
      expect(c.distributionMismatches).toEqual([]);
      expect(result.deadLetters).toBe(0);
      expect(Object.values(result.finalExitCodes).every((code) => code === 0)).toBe(true);
    });
  }
  it('summary', () => {
    for (const r of results) {
      console.log(
        `[chaos] seed ${r.seed}: ${r.events} events, ${r.faults.length} faults, ${Math.round(r.durationMs / 1000)} s, ` +
          `${r.incidents.length} supervisor incidents`,
      );
    }
    expect(results.length).toBe(runs);
  });
});
