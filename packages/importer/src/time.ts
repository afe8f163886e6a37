/**
 * Timestamps as exports write them, to epoch milliseconds (UTC). A mapping lists one or more formats, tried in
 * order; a timestamp without an offset is read in the mapping's time zone (around DST changes: see zoneResolver).
 *
 * Format tokens: YYYY (4-digit year), MM / M (month, 2 or 1–2 digits), DD / D (day), HH / H (hour 0–23), mm (minute),
 * ss (second), SSS (a fraction of a second, 1–9 digits; milliseconds kept), Z (an offset: Z, ±HH:mm, ±HHmm or ±HH).
 * Any other character stands for itself. Named formats: `iso` (ISO 8601: a date, or a date and time with "T" or a
 * space, optional seconds, fraction and offset), `epoch_ms`, `epoch_s`.
 */

export type TimeParser = (text: string) => number | null;

const TOKENS: Array<[string, string, string]> = [
  ['YYYY', '(\\d{4})', 'year'],
  ['MM', '(\\d{2})', 'month'],
  ['M', '(\\d{1,2})', 'month'],
  ['DD', '(\\d{2})', 'day'],
  ['D', '(\\d{1,2})', 'day'],
  ['HH', '(\\d{2})', 'hour'],
  ['H', '(\\d{1,2})', 'hour'],
  ['mm', '(\\d{2})', 'minute'],
  ['ss', '(\\d{2})', 'second'],
  ['SSS', '(\\d{1,9})', 'fraction'],
  ['Z', '(Z|[+-]\\d{2}(?::?\\d{2})?)', 'offset'],
];

type Part = 'year' | 'month' | 'day' | 'hour' | 'minute' | 'second' | 'fraction' | 'offset';

interface Compiled {
  re: RegExp;
  parts: Part[];
}

const ISO: Compiled = {
  re: /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/,
  parts: ['year', 'month', 'day', 'hour', 'minute', 'second', 'fraction', 'offset'],
};

/** Compiles a format; throws an Error naming the problem when it has no year, month and day. */
export function compileFormat(format: string): Compiled | 'epoch_ms' | 'epoch_s' {
  if (format === 'iso') return ISO;
  if (format === 'epoch_ms' || format === 'epoch_s') return format;
  let re = '^';
  const parts: Part[] = [];
  let i = 0;
  while (i < format.length) {
    const token = TOKENS.find(([t]) => format.startsWith(t, i));
    if (token) {
      re += token[1];
      parts.push(token[2] as Part);
      i += token[0].length;
    } else {
      re += format[i]!.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      i += 1;
    }
  }
  for (const need of ['year', 'month', 'day'] as const)
    if (!parts.includes(need)) throw new Error(`format "${format}" has no ${need} (YYYY, MM or M, DD or D)`);
  return { re: new RegExp(`${re}$`), parts };
}

/**
 * How a zone turns a wall-clock time (as epoch ms read as if UTC) into an instant. "UTC", "Z", a fixed offset
 * ("+02:00", "-0530") or an IANA name ("Europe/London"). Throws an Error when the zone is not known.
 */
export function zoneResolver(zone: string): (wallMs: number) => number {
  const fixed = parseOffset(zone === 'UTC' || zone === 'Etc/UTC' ? 'Z' : zone);
  if (fixed !== null) return (wall) => wall - fixed;
  let dtf: Intl.DateTimeFormat;
  try {
    dtf = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
  } catch {
    throw new Error(
      `unknown time zone "${zone}" (an IANA name such as Europe/London, UTC or an offset such as +02:00)`,
    );
  }
  const offsetAt = (instant: number): number => {
    const p: Record<string, number> = {};
    for (const { type, value } of dtf.formatToParts(new Date(instant))) p[type] = Number(value);
    const wall = Date.UTC(p.year!, p.month! - 1, p.day!, p.hour!, p.minute!, p.second!);
    return wall - Math.floor(instant / 1000) * 1000;
  };
  // Offsets change on whole local hours in practice: one lookup per local hour of the file.
  // The rule (Temporal's "compatible"): a wall time is read with the offset in force before the nearest change when
  // that offset reproduces it, else with the offset after it. So in the autumn overlap (a wall time that occurs
  // twice) the earlier occurrence is taken (Berlin 2024-10-27 02:30 → 00:30Z, +02:00), and a wall time in the spring
  // gap (one that never occurs) is read with the earlier offset (Berlin 2024-03-31 02:30 → 01:30Z, +01:00, i.e.
  // 03:30 local).
  const DAY = 86_400_000;
  const byHour = new Map<number, number>();
  return (wall) => {
    const hour = Math.floor(wall / 3_600_000);
    let offset = byHour.get(hour);
    if (offset === undefined) {
      const before = offsetAt(wall - DAY);
      const after = offsetAt(wall + DAY);
      if (offsetAt(wall - before) === before) offset = before;
      else if (offsetAt(wall - after) === after) offset = after;
      else offset = before; // in a gap: no offset reproduces the wall time
      byHour.set(hour, offset);
    }
    return wall - offset;
  };
}

/** "Z" → 0, "+02:00" / "+0200" / "+02" → 7,200,000; null when not an offset. */
export function parseOffset(s: string): number | null {
  if (s === 'Z') return 0;
  const m = /^([+-])(\d{2})(?::?(\d{2}))?$/.exec(s);
  if (m === null) return null;
  const minutes = Number(m[2]) * 60 + Number(m[3] ?? 0);
  if (Number(m[2]) > 23 || Number(m[3] ?? 0) > 59) return null;
  return (m[1] === '-' ? -1 : 1) * minutes * 60_000;
}

/**
 * A parser for the given formats (tried in order) and zone. Returns epoch milliseconds (UTC), or null when no format
 * matches or the date does not exist (2023-02-29, 24:00, minute 60). Throws (at compile time) for a bad format or zone.
 */
export function createTimeParser(formats: readonly string[], zone: string): TimeParser {
  const compiled = formats.map(compileFormat);
  const toInstant = zoneResolver(zone);
  return (text) => {
    for (const c of compiled) {
      if (c === 'epoch_ms' || c === 'epoch_s') {
        if (!/^\d{1,16}$/.test(text)) continue;
        const n = Number(text) * (c === 'epoch_s' ? 1000 : 1);
        if (Number.isSafeInteger(n)) return n;
        continue;
      }
      const m = c.re.exec(text);
      if (m === null) continue;
      let year = 0;
      let month = 1;
      let day = 1;
      let hour = 0;
      let minute = 0;
      let second = 0;
      let ms = 0;
      let offset: number | null = null;
      for (let i = 0; i < c.parts.length; i++) {
        const v = m[i + 1];
        if (v === undefined) continue;
        switch (c.parts[i]) {
          case 'year':
            year = Number(v);
            break;
          case 'month':
            month = Number(v);
            break;
          case 'day':
            day = Number(v);
            break;
          case 'hour':
            hour = Number(v);
            break;
          case 'minute':
            minute = Number(v);
            break;
          case 'second':
            second = Number(v);
            break;
          case 'fraction':
            ms = Number(v.padEnd(3, '0').slice(0, 3));
            break;
          case 'offset':
            offset = parseOffset(v);
            if (offset === null) return null;
            break;
        }
      }
      if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return null;
      const wall = Date.UTC(year, month - 1, day, hour, minute, second, ms);
      if (new Date(wall).getUTCDate() !== day) return null; // 2023-02-29, 2024-04-31
      return offset !== null ? wall - offset : toInstant(wall);
    }
    return null;
  };
}
