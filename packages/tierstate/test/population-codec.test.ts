import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodePopulationEntry, encodePopulationEntry, populationEntryOf } from '../src/population-codec';
import { UnknownCodeError } from '../src/state-codec';

const codes = new Map<string, number>();
const codeOf = (s: string) => {
  if (!codes.has(s)) codes.set(s, codes.size);
  return codes.get(s)!;
};
const textOf = (c: number) => [...codes].find(([, code]) => code === c)?.[0];

const value = fc.oneof(fc.constant(null), fc.maxSafeInteger(), fc.integer({ min: -1_000_000, max: 1_000_000 }));
const entry = fc.record({
  e: fc.integer({ min: 0, max: 100_000 }),
  v: fc.string(),
  d: fc.oneof(fc.constant(null), fc.integer({ min: 0, max: 100_000 })),
  u: fc.oneof(fc.constant(null), fc.integer({ min: 0, max: 100_000 })),
  p: fc.array(
    fc.tuple(fc.integer({ min: 0, max: 100_000 }), fc.array(value, { maxLength: 5 })).map(([d, vs]) => [d, ...vs]),
    { maxLength: 4 },
  ),
});

describe('compact population cache entry (population-codec)', () => {
  it('gives back the JSON it was given (as data), for any integers and nulls', () => {
    fc.assert(
      fc.property(entry, (e) => {
        const json = JSON.stringify(e);
        const parsed = populationEntryOf(json);
        expect(parsed).not.toBeNull();
        const raw = encodePopulationEntry(parsed!, codeOf);
        expect(JSON.parse(decodePopulationEntry(raw, textOf))).toEqual(e);
      }),
      { numRuns: 300 },
    );
  });

  it('is under half the JSON of a typical entry of the default rules', () => {
    const json = JSON.stringify({
      e: 20634,
      v: 'cp-2026-06-29',
      d: 20700,
      u: null,
      p: [
        [20634, 5, 12, 345_00, 1_200_00],
        [20650, 5, 28, 300_00, 1_200_00],
      ],
    });
    const raw = encodePopulationEntry(populationEntryOf(json)!, codeOf);
    expect(raw.length * 2).toBeLessThan(json.length);
    expect(decodePopulationEntry(raw, textOf)).toBe(json);
  });

  it('leaves what it cannot hold exactly as JSON, reads JSON as is, refuses unknown codes', () => {
    expect(populationEntryOf(JSON.stringify({ e: 1, v: 'x', d: null, u: null, p: [[1, 0.5]] }))).toBeNull();
    expect(populationEntryOf(JSON.stringify({ e: 1, v: 'x', d: null, u: null, p: [], extra: 1 }))).toBeNull();
    expect(populationEntryOf('not json')).toBeNull();
    const json = '{"e":1,"v":"x","d":null,"u":null,"p":[[1,0.5]]}';
    expect(decodePopulationEntry(json, textOf)).toBe(json);
    expect(() => decodePopulationEntry('1|1|zz|||', () => undefined)).toThrow(UnknownCodeError);
    expect(() => decodePopulationEntry('1|1|0|', textOf)).toThrow(/unknown layout/);
  });
});
