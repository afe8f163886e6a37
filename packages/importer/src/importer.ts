import {
  type InputEvent,
  TICKET_CATEGORIES,
  TICKET_EVENT_TYPES,
  TICKET_PRIORITIES,
  WEB_BEHAVIOR_TYPES,
} from '@tierstream/contracts';
import { ticketRowConverter, webRowConverter } from './activity';
import { type ImportOptions, RowKit, RowRejected } from './common';
import { Columns, type Row } from './fields';
import { columnsOf, type ImportKind, type Mapping, MappingError } from './mapping';
import { type ImportedOrderEvent, OrderRows, type Produced } from './orders';
import { REJECT_REASONS, type Reject, type RejectReason } from './rejects';

export type ImportedEvent = { kind: 'order'; event: ImportedOrderEvent } | Exclude<InputEvent, { kind: 'order' }>;

export interface ImportSummary {
  /** Rows handed to the importer (data rows: a CSV header is not a row). */
  rowsRead: number;
  /** Events per event type (PLACED, REFUNDED, PAGE_VIEW, OPENED, …). */
  events: Record<string, number>;
  /** Rows rejected per reason (only reasons that occurred). */
  rejected: Partial<Record<RejectReason, number>>;
  /** Rows that went into at least one event: rowsRead = contributing + Σ rejected. */
  contributing: number;
}

export interface ImportResult {
  /** In event-time order (occurred_at; then PLACED before REFUNDED before CANCELLED; then event id). */
  events: ImportedEvent[];
  /** With `trackLines`: per event, the lines of the rows it was made from (parallel to `events`). */
  eventLines?: number[][];
  /** In line order. */
  rejects: Reject[];
  summary: ImportSummary;
}

const ORDER_RANK: Record<string, number> = { PLACED: 0, REFUNDED: 1, CANCELLED: 2 };

/**
 * Turns the rows of one export into input events, without I/O: feed it rows (`add`) in any order, then `finish`.
 * Pure in effect: the same rows in any order give the same events (ids from the file name and the rows' keys;
 * line numbers only for web and ticket rows without an event_id column). Memory: O(orders) for orders, O(rows)
 * for web and tickets (events are sorted by time before anything is produced).
 */
export class Importer {
  private readonly kit: RowKit;
  private readonly columns: Columns;
  private readonly orders: OrderRows | null = null;
  private convert: ((row: Row, line: number) => InputEvent['event']) | null = null;
  private readonly produced: Array<Produced<ImportedEvent>> = [];
  private readonly rejects: Reject[] = [];
  private rowsRead = 0;
  private bound = false;

  /** Throws MappingError when the mapping is for another kind. */
  constructor(
    readonly kind: ImportKind,
    readonly mapping: Mapping,
    readonly opts: ImportOptions,
  ) {
    if (mapping.kind !== kind)
      throw new MappingError([`${opts.source}: kind: the mapping is for ${mapping.kind}, the import is of ${kind}`]);
    this.kit = new RowKit(mapping, opts);
    this.columns = new Columns(opts.source);
    if (mapping.kind === 'orders') this.orders = new OrderRows(mapping, this.kit);
  }

  /** CSV: the column names (the header line, or the mapping's csv.columns). Throws MappingError for a missing column. */
  setHeader(names: readonly string[]): void {
    this.columns.setHeader(names, columnsOf(this.mapping));
    this.bind();
  }

  private bind(): void {
    this.bound = true;
    const m = this.mapping;
    if (m.kind === 'orders') this.orders!.bind(this.columns);
    else if (m.kind === 'web') this.convert = webRowConverter(m, this.kit, this.columns, WEB_BEHAVIOR_TYPES);
    else
      this.convert = ticketRowConverter(m, this.kit, this.columns, {
        type: TICKET_EVENT_TYPES,
        category: TICKET_CATEGORIES,
        priority: TICKET_PRIORITIES,
      });
  }

  /** One data row and its line number (1-based, in the file). */
  add(row: Row, line: number): void {
    if (!this.bound) this.bind();
    this.rowsRead += 1;
    try {
      if (this.orders) this.orders.add(row, line);
      else {
        const event = this.convert!(row, line);
        this.produced.push({
          event: { kind: this.kind === 'web' ? 'web' : 'ticket', event } as ImportedEvent,
          lines: [line],
        });
      }
    } catch (err) {
      if (!(err instanceof RowRejected)) throw err;
      this.rejects.push({ line, reason: err.reason, message: err.message });
    }
  }

  /**
   * A row the file parser could not read (counted as read, rejected as MALFORMED_ROW or the given reason). With the
   * row's cells as read (`row`), an orders import also rejects the rest of its order (PARTIAL_ORDER) when the order id
   * cell at its header position is not empty; without them (or with that cell empty) the row is rejected alone.
   */
  reject(line: number, reason: RejectReason, message: string, row?: Row): void {
    if (!this.bound) this.bind();
    this.rowsRead += 1;
    this.rejects.push({ line, reason, message });
    if (row !== undefined) this.orders?.taint(row, line);
  }

  /** The events in event-time order, the rejects in line order, and the summary. Call once. */
  finish(): ImportResult {
    if (this.orders) {
      const eventId = (key: string) => this.kit.eventId(key);
      const reject = (lines: number[], reason: RejectReason, message: string) => {
        for (const line of lines) this.rejects.push({ line, reason, message });
      };
      for (const p of this.orders.finish(eventId, reject))
        this.produced.push({ event: { kind: 'order', event: p.event }, lines: p.lines });
    }
    const produced = this.produced;
    produced.sort((a, b) => {
      const x = a.event.event;
      const y = b.event.event;
      return (
        x.occurred_at - y.occurred_at ||
        (ORDER_RANK[x.type] ?? 0) - (ORDER_RANK[y.type] ?? 0) ||
        (x.event_id < y.event_id ? -1 : x.event_id > y.event_id ? 1 : 0)
      );
    });
    this.rejects.sort((a, b) => a.line - b.line);
    const events: Record<string, number> = {};
    for (const p of produced) events[p.event.event.type] = (events[p.event.event.type] ?? 0) + 1;
    const rejected: Partial<Record<RejectReason, number>> = {};
    for (const r of this.rejects) rejected[r.reason] = (rejected[r.reason] ?? 0) + 1;
    const ordered: Partial<Record<RejectReason, number>> = {};
    for (const reason of REJECT_REASONS) if (rejected[reason]) ordered[reason] = rejected[reason];
    return {
      events: produced.map((p) => p.event),
      ...(this.opts.trackLines ? { eventLines: produced.map((p) => p.lines) } : {}),
      rejects: this.rejects,
      summary: {
        rowsRead: this.rowsRead,
        events,
        rejected: ordered,
        contributing: this.rowsRead - this.rejects.length,
      },
    };
  }
}

/** Convenience for tests and small inputs: all rows at once (`header` for CSV-shaped rows, lines numbered from 2). */
export function importRows(
  kind: ImportKind,
  mapping: Mapping,
  rows: ReadonlyArray<{ row: Row; line: number }>,
  opts: ImportOptions & { header?: readonly string[] },
): ImportResult {
  const importer = new Importer(kind, mapping, opts);
  if (opts.header) importer.setHeader(opts.header);
  for (const { row, line } of rows) importer.add(row, line);
  return importer.finish();
}
