/**
 * Decimal numbers as they appear in exports, parsed exactly (no floating point) into an integer mantissa and a
 * scale: "1,234.5" in locale {decimal ".", thousands ","} is { mantissa: 12345, scale: 1 } = 1234.5.
 */

/** How a file writes numbers: the decimal separator and the thousands separator ("" = none). */
export interface NumberLocale {
  decimal: '.' | ',';
  thousands: '' | ',' | '.' | ' ' | "'" | '\u00a0' | '\u202f' | '_';
}

export const DOT_LOCALE: NumberLocale = { decimal: '.', thousands: '' };

/** value = mantissa × 10^-scale; mantissa is a safe integer. */
export interface Decimal {
  mantissa: number;
  scale: number;
}

export type DecimalResult = { ok: true; value: Decimal } | { ok: false; tooLarge: boolean };

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const patterns = new Map<string, RegExp>();

function patternOf(locale: NumberLocale): RegExp {
  const key = `${locale.decimal}${locale.thousands}`;
  let re = patterns.get(key);
  if (re === undefined) {
    const t = escapeRe(locale.thousands);
    const int = locale.thousands === '' ? '(\\d*)' : `(\\d{1,3}(?:${t}\\d{3})+|\\d*)`;
    re = new RegExp(`^([+-]?)${int}(?:${escapeRe(locale.decimal)}(\\d+))?$`);
    patterns.set(key, re);
  }
  return re;
}

/**
 * Parses a decimal number written in `locale`. Accepts an optional sign, thousands separators only in groups of
 * three, and a fractional part; rejects anything else (a separator the locale does not declare, "1.2.3", "", "1e5").
 * `tooLarge` when the digits do not fit an exact safe integer (more than 15 significant digits).
 */
export function parseDecimal(text: string, locale: NumberLocale): DecimalResult {
  const m = patternOf(locale).exec(text);
  if (m === null) return { ok: false, tooLarge: false };
  const int = locale.thousands === '' ? m[2]! : m[2]!.split(locale.thousands).join('');
  const frac = m[3] ?? '';
  if (int === '' && frac === '') return { ok: false, tooLarge: false };
  const digits = (int + frac).replace(/^0+(?=\d)/, '');
  if (digits.length > 15) return { ok: false, tooLarge: true };
  const mantissa = Number(digits);
  return { ok: true, value: { mantissa: m[1] === '-' && mantissa !== 0 ? -mantissa : mantissa, scale: frac.length } };
}

/** a × b exactly; null when the product is not a safe integer. */
export function multiply(a: Decimal, b: Decimal): Decimal | null {
  const mantissa = a.mantissa * b.mantissa;
  return Number.isSafeInteger(mantissa) ? { mantissa, scale: a.scale + b.scale } : null;
}

/**
 * The value in minor units of a currency with `digits` minor digits (2 for USD: 12.345 → 1235), rounded half away
 * from zero when the value has more decimals than the currency; null when the result is not a safe integer.
 */
export function toMinorUnits(v: Decimal, digits: number): number | null {
  if (v.scale <= digits) {
    const out = v.mantissa * 10 ** (digits - v.scale);
    return Number.isSafeInteger(out) ? out : null;
  }
  const d = 10 ** (v.scale - digits);
  const abs = Math.abs(v.mantissa);
  let q = Math.floor(abs / d);
  if (2 * (abs - q * d) >= d) q += 1;
  return v.mantissa < 0 ? -q : q;
}

/** Integer value of a decimal when it has no fraction (2.0 is 2), else null. */
export function toInteger(v: Decimal): number | null {
  const d = 10 ** v.scale;
  return v.mantissa % d === 0 ? v.mantissa / d : null;
}

/**
 * Minor digits per currency, as the pipeline's fx table counts them (packages/aggregates config: "currencies with 0
 * minor digits carry the factor 100"): 0 for JPY, KRW, ISK, CLP, VND and IDR, 3 for KWD, 2 for every other code.
 */
const MINOR_DIGITS: Record<string, number> = { JPY: 0, KRW: 0, ISK: 0, CLP: 0, VND: 0, IDR: 0, KWD: 3 };

export function minorDigitsOf(currency: string): number {
  return MINOR_DIGITS[currency] ?? 2;
}
