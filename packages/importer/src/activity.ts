import type { TicketEvent, WebBehaviorEvent } from '@tierstream/contracts';
import { type RowKit, RowRejected } from './common';
import type { Columns, Getter, Row } from './fields';
import type { EnumMapping, TicketsMapping, WebMapping } from './mapping';

/** Resolves an enum setting: a constant, or the column's value through `values` (trimmed, case-insensitive). */
function enumResolver<T extends string>(
  setting: string,
  f: EnumMapping,
  symbols: readonly T[],
  columns: Columns,
): (row: Row) => T {
  if (f.constant !== undefined) {
    const c = f.constant as T;
    return () => c;
  }
  const lookup = new Map<string, T>();
  if (f.values === undefined) for (const s of symbols) lookup.set(s.toLowerCase(), s);
  else
    for (const [symbol, values] of Object.entries(f.values))
      for (const v of typeof values === 'string' ? [values] : (values ?? []))
        lookup.set(v.trim().toLowerCase(), symbol as T);
  const get = columns.getter(f.column!);
  const known = [...lookup.keys()].slice(0, 12).join(', ');
  return (row) => {
    const v = get(row);
    const s = lookup.get(v.toLowerCase());
    if (s === undefined)
      throw new RowRejected('UNKNOWN_VALUE', `${setting} (${f.column}) "${v}" is not mapped (${known})`);
    return s;
  };
}

/** One WebBehaviorEvent per row; event id from the `event_id` column, else the line number. */
export function webRowConverter(
  m: WebMapping,
  kit: RowKit,
  columns: Columns,
  symbols: readonly WebBehaviorEvent['type'][],
): (row: Row, line: number) => WebBehaviorEvent {
  const customer: Getter = m.customer ? columns.getter(m.customer) : () => '';
  const anonymous: Getter = m.anonymous_id ? columns.getter(m.anonymous_id) : () => '';
  const key: Getter = m.event_id ? columns.getter(m.event_id) : () => '';
  const time = columns.getter(m.time.column);
  const type = enumResolver('type', m.type, symbols, columns);
  const url: Getter = m.url ? columns.getter(m.url) : () => '';
  const content: Getter = m.content_id ? columns.getter(m.content_id) : () => '';
  return (row, line) => {
    const c = customer(row);
    const a = anonymous(row);
    if (c === '' && a === '') throw new RowRejected('MISSING_CUSTOMER_ID', 'neither customer nor anonymous_id is set');
    const customer_id = c === '' ? null : kit.id(c, 'customer');
    const anonymous_id = a === '' ? null : kit.id(a, 'anonymous_id');
    const occurred_at = kit.time(time(row), `time (${m.time.column})`);
    const k = key(row);
    return {
      event_id: kit.eventId(`web:${k === '' ? `L${line}` : k}`),
      customer_id,
      anonymous_id,
      type: type(row),
      url: url(row) || null,
      content_id: content(row) || null,
      occurred_at,
    };
  };
}

/** One TicketEvent per row; event id from the `event_id` column, else the line number. */
export function ticketRowConverter(
  m: TicketsMapping,
  kit: RowKit,
  columns: Columns,
  symbols: {
    type: readonly TicketEvent['type'][];
    category: readonly TicketEvent['category'][];
    priority: readonly TicketEvent['priority'][];
  },
): (row: Row, line: number) => TicketEvent {
  const customer = columns.getter(m.customer);
  const ticket = columns.getter(m.ticket_id);
  const key: Getter = m.event_id ? columns.getter(m.event_id) : () => '';
  const time = columns.getter(m.time.column);
  const type = enumResolver('type', m.type, symbols.type, columns);
  const category = enumResolver('category', m.category, symbols.category, columns);
  const priority = enumResolver('priority', m.priority, symbols.priority, columns);
  const csat: Getter = m.csat ? columns.getter(m.csat) : () => '';
  return (row, line) => {
    const customer_id = kit.id(customer(row), `customer (${m.customer})`, 'MISSING_CUSTOMER_ID');
    const ticket_id = kit.id(ticket(row), `ticket_id (${m.ticket_id})`);
    const occurred_at = kit.time(time(row), `time (${m.time.column})`);
    const t = type(row);
    const cs = csat(row);
    let score: number | null = null;
    if (cs !== '') {
      score = Number(cs);
      if (!/^\d+$/.test(cs) || score < 1 || score > 5)
        throw new RowRejected('INVALID_CSAT', `csat (${m.csat}) "${cs}" is not an integer in 1..5`);
    }
    if (t === 'SATISFACTION_RATED' && score === null)
      throw new RowRejected('INVALID_CSAT', 'a SATISFACTION_RATED row without csat');
    const k = key(row);
    return {
      event_id: kit.eventId(`ticket:${k === '' ? `L${line}` : k}`),
      customer_id,
      ticket_id,
      type: t,
      category: category(row),
      priority: priority(row),
      csat: score,
      occurred_at,
    };
  };
}
