import { createHash } from 'node:crypto';
import { WEB_BEHAVIOR_TYPES, type WebBehaviorType } from '@tierstream/contracts';
import { z } from 'zod';

/** How events become numbers: currency conversion and engagement weighting. Read-side only, except fx (write-side). */
export interface AggregateConfig {
  /** Currency all money metrics are reported in (integer minor units). */
  reportingCurrency: string;
  /** Minor units of the reporting currency per minor unit of the keyed currency: `round(amount_minor * rate)`. */
  fxRates: Record<string, number>;
  /** Engagement weight per web behaviour type. */
  weights: Record<WebBehaviorType, number>;
  /** Engagement half-life in days (a day's weighted events count half after this many days). */
  halfLifeDays: number;
}

/**
 * Static, illustrative rates (minor units of USD per minor unit of the currency). Currencies with 0 minor digits
 * (JPY, KRW, ...) carry the factor 100 because their minor unit is the whole unit. Replace with your treasury rates.
 */
// biome-ignore format: a table reads better than one code per line
const DEFAULT_FX_RATES: Record<string, number> = {
  USD: 1, EUR: 1.08, GBP: 1.27, JPY: 0.67, CNY: 0.138, CHF: 1.13, CAD: 0.73, AUD: 0.66, NZD: 0.6, SEK: 0.095,
  NOK: 0.093, DKK: 0.145, ISK: 0.72, PLN: 0.25, CZK: 0.043, HUF: 0.0028, RON: 0.217, BGN: 0.552, TRY: 0.031,
  RUB: 0.011, UAH: 0.024, ILS: 0.27, AED: 0.272, SAR: 0.267, QAR: 0.275, KWD: 0.325, EGP: 0.0205, ZAR: 0.055,
  NGN: 0.00065, KES: 0.0077, MAD: 0.1, INR: 0.012, PKR: 0.0036, BDT: 0.0083, LKR: 0.0033, HKD: 0.128, TWD: 0.031,
  SGD: 0.74, KRW: 0.072, THB: 0.028, MYR: 0.213, IDR: 0.0064, PHP: 0.0175, VND: 0.0039, BRL: 0.18, MXN: 0.055,
  ARS: 0.0011, CLP: 0.106, COP: 0.00025, PEN: 0.27, UYU: 0.025,
};

export const DEFAULT_AGGREGATE_CONFIG: AggregateConfig = {
  reportingCurrency: 'USD',
  fxRates: DEFAULT_FX_RATES,
  weights: {
    PAGE_VIEW: 1,
    PRODUCT_VIEW: 2,
    SEARCH: 1,
    ADD_TO_CART: 5,
    CONTENT_DOWNLOAD: 5,
    WEBINAR_ATTENDED: 10,
    EMAIL_OPENED: 1,
    EMAIL_CLICKED: 3,
    DEMO_REQUESTED: 20,
    SALES_MEETING: 25,
  },
  halfLifeDays: 14,
};

/** Currencies the default configuration can convert (a superset check for validators). */
export const KNOWN_CURRENCIES: readonly string[] = Object.freeze(Object.keys(DEFAULT_FX_RATES).sort());

const weightsSchema = z
  .object(
    Object.fromEntries(WEB_BEHAVIOR_TYPES.map((t) => [t, z.number().finite().min(0)])) as Record<
      WebBehaviorType,
      z.ZodNumber
    >,
  )
  .strict();

const aggregateConfigSchema = z
  .object({
    reportingCurrency: z.string().regex(/^[A-Z]{3}$/, 'reportingCurrency must be a 3-letter ISO 4217 code'),
    fxRates: z.record(z.string().regex(/^[A-Z]{3}$/), z.number().finite().positive()),
    weights: weightsSchema,
    halfLifeDays: z.number().finite().positive(),
  })
  .strict();

/**
 * Validates a configuration object; missing top-level keys take the defaults, `weights` may be partial (merged over
 * the default weights). The reporting currency must convert to itself at rate 1.
 */
export function parseAggregateConfig(obj: unknown): AggregateConfig {
  const input = (obj ?? {}) as Record<string, unknown>;
  const merged = {
    ...DEFAULT_AGGREGATE_CONFIG,
    ...input,
    weights: { ...DEFAULT_AGGREGATE_CONFIG.weights, ...((input.weights as object | undefined) ?? {}) },
  };
  const parsed = aggregateConfigSchema.parse(merged);
  const own = parsed.fxRates[parsed.reportingCurrency];
  if (own !== undefined && own !== 1) {
    throw new Error(`fxRates.${parsed.reportingCurrency} must be 1 (it is the reporting currency), got ${own}`);
  }
  return parsed as AggregateConfig;
}

/** `round(amountMinor * rate[currency])`; the reporting currency converts at 1 even when not listed. */
export function toReportingMinor(amountMinor: number, currency: string, config: AggregateConfig): number {
  const rate = currency === config.reportingCurrency ? 1 : config.fxRates[currency];
  if (rate === undefined) throw new Error(`no fx rate for currency ${currency}`);
  return Math.round(amountMinor * rate);
}

/** JSON of a value with object keys sorted at every level (equal configurations give equal text). */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * The configuration as canonical JSON (keys sorted) and its identity `ac-<first 12 hex of its sha256>`: the same
 * reporting currency, rates, weights and half-life always give the same hash, whatever the key order of the file.
 * Stored with every tier row (column aggregate_config) and, with the rates, in the warehouse's aggregate_configs.
 */
export function aggregateConfigIdentity(config: AggregateConfig): { hash: string; json: string } {
  const json = canonicalJson(config);
  return { hash: `ac-${createHash('sha256').update(json, 'utf8').digest('hex').slice(0, 12)}`, json };
}
