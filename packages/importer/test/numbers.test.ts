import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { minorDigitsOf, multiply, parseDecimal, toMinorUnits } from '../src/index';

const EN = { decimal: '.', thousands: ',' } as const;
const DE = { decimal: ',', thousands: '.' } as const;
const PLAIN = { decimal: '.', thousands: '' } as const;

describe('parseDecimal', () => {
  it('reads numbers in the declared locale exactly', () => {
    expect(parseDecimal('1,234.50', EN)).toEqual({ ok: true, value: { mantissa: 123450, scale: 2 } });
    expect(parseDecimal('1.234,50', DE)).toEqual({ ok: true, value: { mantissa: 123450, scale: 2 } });
    expect(parseDecimal('-3', PLAIN)).toEqual({ ok: true, value: { mantissa: -3, scale: 0 } });
    expect(parseDecimal('.5', PLAIN)).toEqual({ ok: true, value: { mantissa: 5, scale: 1 } });
    expect(parseDecimal('1234.5', EN)).toEqual({ ok: true, value: { mantissa: 12345, scale: 1 } });
  });

  it('rejects separators the locale does not declare, bad grouping, and non-numbers', () => {
    for (const [s, locale] of [
      ['1,000.00', PLAIN],
      ['1,000.00', DE],
      ['1.5', DE],
      ['12,34.5', EN],
      ['1.2.3', PLAIN],
      ['', PLAIN],
      ['-', PLAIN],
      ['1e5', PLAIN],
      ['abc', PLAIN],
      ['£12', PLAIN],
    ] as const)
      expect(parseDecimal(s, locale), `${s}`).toEqual({ ok: false, tooLarge: false });
    expect(parseDecimal('1234567890123456', PLAIN)).toEqual({ ok: false, tooLarge: true });
  });

  it('property: a formatted integer amount of cents reads back to itself in every locale', () => {
    fc.assert(
      fc.property(fc.integer({ min: -1e12, max: 1e12 }), fc.constantFrom(EN, DE), (cents, locale) => {
        const abs = Math.abs(cents);
        const int = String(Math.floor(abs / 100)).replace(/\B(?=(\d{3})+(?!\d))/g, locale.thousands);
        const text = `${cents < 0 ? '-' : ''}${int}${locale.decimal}${String(abs % 100).padStart(2, '0')}`;
        const r = parseDecimal(text, locale);
        expect(r.ok && toMinorUnits(r.value, 2)).toBe(cents === 0 ? 0 : cents);
      }),
    );
  });
});

describe('minor units', () => {
  it('rounds half away from zero and scales by the currency', () => {
    expect(toMinorUnits({ mantissa: 12345, scale: 3 }, 2)).toBe(1235);
    expect(toMinorUnits({ mantissa: -12345, scale: 3 }, 2)).toBe(-1235);
    expect(toMinorUnits({ mantissa: 12344, scale: 3 }, 2)).toBe(1234);
    expect(toMinorUnits({ mantissa: 5, scale: 0 }, 2)).toBe(500);
    expect(toMinorUnits({ mantissa: 1500, scale: 0 }, minorDigitsOf('JPY'))).toBe(1500);
    expect(toMinorUnits({ mantissa: 1234, scale: 3 }, minorDigitsOf('KWD'))).toBe(1234);
    expect(multiply({ mantissa: 6, scale: 0 }, { mantissa: 255, scale: 2 })).toEqual({ mantissa: 1530, scale: 2 });
    expect(multiply({ mantissa: 2 ** 40, scale: 0 }, { mantissa: 2 ** 20, scale: 0 })).toBeNull();
  });
});
