import { createHash } from 'node:crypto';
import { DEFAULT_MAX_FUTURE_SKEW_MS, DEFAULT_MAX_ID_LENGTH } from '@tierstream/contracts';
import type { Mapping } from './mapping';
import { type Decimal, DOT_LOCALE, type NumberLocale, parseDecimal } from './numbers';
import type { Reject, RejectReason } from './rejects';
import { createTimeParser, type TimeParser } from './time';

/** A row-level failure: the row becomes a reject with this reason and message. */
export class RowRejected {
  constructor(
    readonly reason: RejectReason,
    readonly message: string,
  ) {}
}

export interface ImportOptions {
  /** The file's name: its base name goes into every event id (`imp:<name>:…`), so a re-import gives the same ids. */
  source: string;
  /** Reference instant (epoch ms, UTC): event times later than now + 1 h are rejected (TIME_OUT_OF_RANGE). */
  now: number;
  /** Keep, per event, the line numbers of the rows it was made from (tests; costs memory). */
  trackLines?: boolean;
}

/** Row helpers shared by the converters: time and number parsing with the mapping's formats, zone and locale. */
export class RowKit {
  readonly parseTime: TimeParser;
  readonly locale: NumberLocale;
  private readonly latest: number;
  private readonly formats: string;
  private readonly idPrefix: string;

  constructor(
    mapping: Mapping,
    readonly opts: ImportOptions,
  ) {
    this.parseTime = createTimeParser(mapping.time.formats, mapping.time.zone);
    this.formats = JSON.stringify(mapping.time.formats);
    this.locale = mapping.locale;
    this.latest = opts.now + DEFAULT_MAX_FUTURE_SKEW_MS;
    this.idPrefix = `imp:${opts.source.split(/[\\/]/).pop()}:`;
  }

  /** Epoch ms (UTC) of a time cell; throws RowRejected (UNPARSABLE_TIME, TIME_OUT_OF_RANGE). */
  time(value: string, setting: string): number {
    if (value === '') throw new RowRejected('UNPARSABLE_TIME', `${setting} is empty`);
    const t = this.parseTime(value);
    if (t === null)
      throw new RowRejected('UNPARSABLE_TIME', `${setting} "${value}" matches none of the formats ${this.formats}`);
    if (t < 0 || t > this.latest)
      throw new RowRejected(
        'TIME_OUT_OF_RANGE',
        `${setting} "${value}" is ${new Date(t).toISOString()}, outside 1970 … now (${new Date(this.opts.now).toISOString()})`,
      );
    return t;
  }

  /** A decimal cell in the mapping's locale (JSON numbers in NDJSON are always read with "."). */
  decimal(value: string, raw: unknown, setting: string): Decimal {
    const locale = typeof raw === 'number' ? DOT_LOCALE : this.locale;
    const r = parseDecimal(value, locale);
    if (r.ok) return r.value;
    if (r.tooLarge) throw new RowRejected('AMOUNT_OUT_OF_RANGE', `${setting} "${value}" has more than 15 digits`);
    const sep = locale.thousands === '' ? 'no thousands separator' : `thousands "${locale.thousands}"`;
    throw new RowRejected(
      'UNPARSABLE_AMOUNT',
      `${setting} "${value}" is not a number with decimal "${locale.decimal}" and ${sep} (the mapping's locale)`,
    );
  }

  /** A required id (customer, order, ticket); throws RowRejected when empty or too long. */
  id(value: string, setting: string, reason: RejectReason = 'MISSING_ID'): string {
    if (value === '') throw new RowRejected(reason, `${setting} is empty`);
    if (value.length > DEFAULT_MAX_ID_LENGTH)
      throw new RowRejected('ID_TOO_LONG', `${setting} has ${value.length} characters (max ${DEFAULT_MAX_ID_LENGTH})`);
    return value;
  }

  /** A stable event id: `imp:<file name>:<key>` (a SHA-1 of it when longer than the contracts accept). */
  eventId(key: string): string {
    const id = this.idPrefix + key;
    return id.length <= DEFAULT_MAX_ID_LENGTH ? id : `imp:sha1:${createHash('sha1').update(id).digest('hex')}`;
  }
}

export function rejectOf(line: number, r: RowRejected): Reject {
  return { line, reason: r.reason, message: r.message };
}
