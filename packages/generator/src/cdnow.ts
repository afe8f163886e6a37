import path from 'node:path';
import type { OrderEvent } from '@tierstream/contracts';

/**
 * Parses a CDNOW transaction file (see data/cdnow/README.md) into PLACED order events.
 *
 * - Master format: `customer_id date number_of_cds dollar_value`, after one header line.
 * - Sample format: no header, an extra second column (the id within the sample) before the date.
 * Every data row is one order: rows are not unique in the data (same customer, day and value), so the event id
 * comes from the file name and the line number (`cdnow:CDNOW_master.txt:2`), which keeps identical rows distinct.
 * customer_id is kept exactly as written (zero-padded), amounts are exact cents in USD, occurred_at is 12:00:00 UTC
 * of the row's date, order_id = event_id. The result is sorted by occurred_at, stable (file order within a day).
 */
export function parseCdnow(text: string, file: string): OrderEvent[] {
  const name = path.basename(file);
  const rows: OrderEvent[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    const lineNo = i + 1;
    const cols = line.split(/\s+/);
    if (i === 0 && !/^\d+$/.test(cols[0]!)) continue; // header line (master format)
    let customer: string;
    let date: string;
    let cds: string;
    let dollars: string;
    if (cols.length === 4) [customer, date, cds, dollars] = cols as [string, string, string, string];
    else if (cols.length === 5) [customer, , date, cds, dollars] = cols as [string, string, string, string, string];
    else throw new Error(`${name}:${lineNo}: expected 4 or 5 columns, got ${cols.length}`);
    if (!/^\d+$/.test(customer)) throw new Error(`${name}:${lineNo}: bad customer id ${customer}`);
    const m = /^(\d{4})(\d{2})(\d{2})$/.exec(date);
    if (!m) throw new Error(`${name}:${lineNo}: bad date ${date}`);
    const occurredAt = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), 12, 0, 0);
    if (new Date(occurredAt).getUTCDate() !== Number(m[3])) throw new Error(`${name}:${lineNo}: bad date ${date}`);
    if (!/^\d+$/.test(cds)) throw new Error(`${name}:${lineNo}: bad number of CDs ${cds}`);
    const eventId = `cdnow:${name}:${lineNo}`;
    rows.push({
      event_id: eventId,
      customer_id: customer,
      order_id: eventId,
      type: 'PLACED',
      amount_minor: dollarsToCents(dollars, `${name}:${lineNo}`),
      currency: 'USD',
      margin_minor: null,
      channel: null,
      items: Number(cds),
      occurred_at: occurredAt,
      original_placed_at: null,
      refund_id: null,
      attributes: null,
    });
  }
  // Array.prototype.sort is stable (ES2019), so rows of one day keep file order.
  return rows.sort((a, b) => a.occurred_at - b.occurred_at);
}

/** "11.77" → 1177, exactly (no floating point). */
export function dollarsToCents(s: string, where = 'value'): number {
  const m = /^(\d+)(?:\.(\d{1,2}))?$/.exec(s);
  if (!m) throw new Error(`${where}: bad dollar value ${s}`);
  return Number(m[1]) * 100 + Number((m[2] ?? '').padEnd(2, '0'));
}
