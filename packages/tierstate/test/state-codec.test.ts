import type { TierState } from '@tierstream/tiering';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeTierState, encodeTierState, tierStateStrings, UnknownCodeError } from '../src/state-codec';

/** A code table built from the strings of the states encoded with it, as TierStateStore keeps one. */
function table() {
  const codes = new Map<string, number>();
  const texts = new Map<number, string>();
  return {
    add(state: TierState) {
      for (const s of tierStateStrings(state)) {
        if (codes.has(s)) continue;
        codes.set(s, codes.size);
        texts.set(codes.size - 1, s);
      }
    },
    codeOf: (s: string) => codes.get(s)!,
    textOf: (c: number) => texts.get(c),
  };
}

const roundTrip = (state: TierState) => {
  const t = table();
  t.add(state);
  const raw = encodeTierState(state, t.codeOf);
  return { raw, back: decodeTierState(raw, state.customer_id, t.textOf) };
};

// Ids and free strings with the layout's separators, JSON's specials and non-ASCII characters.
const text = fc.string({
  unit: fc.constantFrom('a', 'Z', '0', '|', ',', ':', '"', '\\', '[', ']', '{', '-', 'é', '😀'),
});
const id = fc.oneof(text, fc.constantFrom('value_tier', 'rfm_segment', 'lifecycle', 'GOLD', 'rfm:HLL', 'share:GOLD'));
const day = fc.integer({ min: -1_000, max: 100_000 });
const record = (value: fc.Arbitrary<string>) => fc.dictionary(id, value, { maxKeys: 6 });
const tierState: fc.Arbitrary<TierState> = fc
  .record(
    {
      customer_id: text,
      version: fc.integer({ min: 0, max: 2 ** 40 }),
      rules_version: text,
      cutpoints_version: text,
      last_eval_day: day,
      tiers: record(id),
      pending: fc.dictionary(id, fc.record({ tier: id, since_day: day }), { maxKeys: 4 }),
      decided_by: record(id),
      merged_into: text,
      merges: fc.array(text, { maxLength: 4 }),
      merged_tiers: record(id),
    },
    { requiredKeys: ['customer_id', 'version', 'rules_version', 'cutpoints_version', 'last_eval_day', 'tiers'] },
  )
  .map((s) => ({ pending: {}, decided_by: {}, ...s }) as TierState);

describe('compact tier state (state-codec)', () => {
  it('decodes what it encodes: every field, empty and absent identity fields told apart, any characters', () => {
    fc.assert(
      fc.property(tierState, (state) => {
        const { back } = roundTrip(state);
        expect(back).toEqual(state);
        for (const k of ['merged_into', 'merges', 'merged_tiers'] as const) expect(k in back).toBe(k in state);
      }),
      { numRuns: 500 },
    );
  });

  it('keeps one state of the default rules under 44 bytes (a Redis embedded string), about a tenth of its JSON', () => {
    const state: TierState = {
      customer_id: 'C000382',
      version: 12,
      rules_version: '2026-11.1',
      cutpoints_version: 'cp-2026-06-29',
      last_eval_day: 20634,
      tiers: {
        value_tier: 'GOLD',
        rfm_segment: 'BIG_SPENDER_LOST',
        lifecycle: 'AT_RISK',
        value_potential: 'CASH_COW',
        service_flag: 'OK',
      },
      pending: { value_tier: { tier: 'SILVER', since_day: 20630 } },
      decided_by: {
        value_tier: 'share:GOLD',
        rfm_segment: 'rfm:LLH',
        lifecycle: 'at_risk_quiet_91_180',
        value_potential: 'cash_cow_high_value',
        service_flag: 'service_ok',
      },
    };
    const { raw, back } = roundTrip(state);
    expect(back).toEqual(state);
    expect(raw).toBe('1|c|fx6|0|1|2,3,4,5,6|7:fx2');
    expect(raw.length).toBeLessThanOrEqual(44);
    expect(JSON.stringify(state).length).toBeGreaterThan(10 * raw.length);
  });

  it('reads the previous layout (JSON) as it was written', () => {
    const state: TierState = {
      customer_id: 'C1',
      version: 3,
      rules_version: 'v1',
      cutpoints_version: 'initial',
      last_eval_day: 20000,
      tiers: { d: 'A' },
      pending: {},
      decided_by: { d: 'r' },
      merged_into: 'C2',
      merges: [],
      merged_tiers: { d: 'A' },
    };
    expect(decodeTierState(JSON.stringify(state), 'C1', () => undefined)).toEqual(state);
  });

  it('refuses an unknown code (so the store reloads its table) and malformed values', () => {
    const state: TierState = {
      customer_id: 'C1',
      version: 1,
      rules_version: 'v1',
      cutpoints_version: 'initial',
      last_eval_day: 1,
      tiers: { d: 'A' },
      pending: {},
      decided_by: {},
      merged_into: 'C2|x',
    };
    const t = table();
    t.add(state);
    const raw = encodeTierState(state, t.codeOf);
    expect(() => decodeTierState(raw, 'C1', () => undefined)).toThrow(UnknownCodeError);
    expect(() => decodeTierState(raw.slice(0, -2), 'C1', t.textOf)).toThrow(/truncated/);
    expect(() => decodeTierState('2|1', 'C1', t.textOf)).toThrow(/unknown layout/);
    expect(() => decodeTierState('1|1|1|0|0||', 'C1', (c) => (c === 0 ? 'v' : undefined))).not.toThrow();
    expect(() => encodeTierState({ ...state, version: 1.5 }, t.codeOf)).toThrow(/not an integer/);
  });
});
