import { KNOWN_CURRENCIES, MAX_AMOUNT_MINOR, MAX_ITEMS, type OrderEvent } from '@tierstream/contracts';
import { type RowKit, RowRejected } from './common';
import type { Columns, Getter, Row } from './fields';
import type { OrderStatus, OrdersMapping } from './mapping';
import { type Decimal, minorDigitsOf, multiply, toInteger, toMinorUnits } from './numbers';
import type { RejectReason } from './rejects';

/** OrderEvent plus the optional `refund_id` the contract is gaining (BACKWARD-compatible; ignored where absent). */
export type ImportedOrderEvent = OrderEvent & { refund_id?: string | null };

/** An order event and the lines of the rows it was made from. */
export interface Produced<E> {
  event: E;
  lines: number[];
}

/** One order (or one credit invoice) as its rows add up: amounts in minor units of `currency`, times epoch ms UTC. */
interface Group {
  id: string;
  customer: string;
  currency: string;
  channel: string | null;
  /** Earliest row time. */
  at: number;
  /** Σ row amounts (minor units; credits: Σ of the negated line amounts). */
  amount: number;
  /** Σ integer quantities of positive lines; null when unknown or not integral. */
  items: number | null;
  lines: number[];
  /** The distinct customer/currency pairs of its rows, when they disagree. */
  conflict: Set<string> | null;
}

interface CreditGroup extends Group {
  original: string | null;
}

interface StatusOrder extends Group {
  /** Rank of the status row the amount came from (placed < shipped < completed < returned < cancelled). */
  amountRank: number;
  returns: Map<number, { at: number; amount: number; lines: number[] }>;
  cancel: { at: number; lines: number[] } | null;
}

const STATUS_RANK: Record<OrderStatus, number> = { placed: 0, shipped: 1, completed: 2, returned: 3, cancelled: 4 };

interface ParsedRow {
  customer: string;
  orderId: string;
  at: number;
  currency: string;
  channel: string | null;
  /** Signed amount in minor units. */
  amount: number;
  quantity: Decimal | null;
}

/**
 * Orders from rows. Two shapes:
 * - invoice lines (no `status`): rows with one order id are the lines of that order; PLACED amount = Σ quantity ×
 *   unit price (each line rounded to minor units, half away from zero), at the earliest line's time. Lines the
 *   mapping's `credits` recognise (invoice prefix, negative quantity) form credit invoices, which become REFUNDED of
 *   the named original (`original_order_column`) or, with `unnamed: latest_order`, of the customer's latest earlier
 *   orders in the file (same currency, latest first, each up to what is left of it after earlier credits).
 * - status rows (`status`): each row is an order with a status; every order gets one PLACED (at the order time, the
 *   amount of its lowest status row), a `returned` row adds a REFUNDED (at `status.time_column`, the refund amount
 *   column or the order amount), a `cancelled` row a CANCELLED of the order amount.
 */
export class OrderRows {
  private readonly sales = new Map<string, Group>();
  private readonly credits = new Map<string, CreditGroup>();
  private readonly statusOrders = new Map<string, StatusOrder>();
  private readonly statusOf = new Map<string, OrderStatus>();
  /** Order (or credit invoice) ids with a rejected row → the first such line. */
  private readonly tainted = new Map<string, number>();
  private get!: {
    customer: Getter;
    orderId: Getter;
    time: Getter;
    amount?: Getter;
    quantity?: Getter;
    unitPrice?: Getter;
    currency?: Getter;
    channel?: Getter;
    original?: Getter;
    status?: Getter;
    statusTime?: Getter;
    refundAmount?: Getter;
  };
  private rawOf!: (row: Row, column: string) => unknown;

  constructor(
    private readonly m: OrdersMapping,
    private readonly kit: RowKit,
  ) {
    for (const [status, values] of Object.entries(m.status?.values ?? {}))
      for (const v of typeof values === 'string' ? [values] : (values ?? []))
        this.statusOf.set(v.trim().toLowerCase(), status as OrderStatus);
  }

  bind(columns: Columns): void {
    const m = this.m;
    const g = (c: string | undefined) => (c === undefined ? undefined : columns.getter(c));
    this.get = {
      customer: columns.getter(m.customer),
      orderId: columns.getter(m.order_id),
      time: columns.getter(m.time.column),
      amount: g(m.amount.column),
      quantity: g(m.amount.quantity),
      unitPrice: g(m.amount.unit_price),
      currency: g(m.currency.column),
      channel: g(m.channel?.column),
      original: g(m.credits?.original_order_column),
      status: g(m.status?.column),
      statusTime: g(m.status?.time_column),
      refundAmount: g(m.status?.refund_amount_column),
    };
    this.rawOf = (row, column) => (Array.isArray(row) ? undefined : (row as Record<string, unknown>)[column]);
  }

  private parse(row: Row): ParsedRow {
    const { m, kit, get } = this;
    const customer = kit.id(get.customer(row), `customer (${m.customer})`, 'MISSING_CUSTOMER_ID');
    const orderId = kit.id(get.orderId(row), `order_id (${m.order_id})`);
    const at = kit.time(get.time(row), `time (${m.time.column})`);
    const currency = (m.currency.constant ?? get.currency!(row)).toUpperCase();
    if (!KNOWN_CURRENCIES.has(currency))
      throw new RowRejected('UNKNOWN_CURRENCY', `currency "${currency}" is not an ISO 4217 code the pipeline knows`);
    const digits = minorDigitsOf(currency);
    let value: Decimal;
    let quantity: Decimal | null = null;
    if (get.amount) {
      const c = m.amount.column!;
      value = kit.decimal(get.amount(row), this.rawOf(row, c), `amount.column (${c})`);
    } else {
      const qc = m.amount.quantity!;
      const pc = m.amount.unit_price!;
      quantity = kit.decimal(get.quantity!(row), this.rawOf(row, qc), `amount.quantity (${qc})`);
      const price = kit.decimal(get.unitPrice!(row), this.rawOf(row, pc), `amount.unit_price (${pc})`);
      const product = multiply(quantity, price);
      if (product === null)
        throw new RowRejected('AMOUNT_OUT_OF_RANGE', `quantity × unit price is too large for exact arithmetic`);
      value = product;
    }
    const amount = toMinorUnits(value, digits);
    if (amount === null || Math.abs(amount) > MAX_AMOUNT_MINOR)
      throw new RowRejected('AMOUNT_OUT_OF_RANGE', `amount exceeds ${MAX_AMOUNT_MINOR} minor units`);
    const channel = m.channel ? (m.channel.constant ?? get.channel!(row)) || null : null;
    return { customer, orderId, at, currency, channel, amount: amount || 0, quantity };
  }

  /** Adds one row; throws RowRejected for a row-level problem (and remembers its order as partial). */
  add(row: Row, line: number): void {
    try {
      const p = this.parse(row);
      if (this.m.status) this.addStatusRow(row, line, p);
      else this.addLine(row, line, p);
    } catch (err) {
      if (err instanceof RowRejected) this.taint(row, line);
      throw err;
    }
  }

  /** Remembers the order of a rejected row (read from its order id cell; nothing when that is empty) as partial. */
  taint(row: Row, line: number): void {
    const id = this.get.orderId(row);
    if (id === '') return;
    const first = this.tainted.get(id);
    if (first === undefined || line < first) this.tainted.set(id, line);
  }

  /** Rejects the accepted rows of orders that lost a row, as PARTIAL_ORDER; true when `g` was rejected. */
  private partial(g: Group, reject: (lines: number[], reason: RejectReason, message: string) => void): boolean {
    const first = this.tainted.get(g.id);
    if (first === undefined) return false;
    reject(
      g.lines,
      'PARTIAL_ORDER',
      `order ${g.id} lost a row (line ${first} was rejected): the order is not produced`,
    );
    return true;
  }

  private addLine(row: Row, line: number, p: ParsedRow): void {
    const credits = this.m.credits;
    const negative = p.quantity !== null ? p.quantity.mantissa < 0 : p.amount < 0;
    const isCredit =
      credits !== undefined &&
      ((credits.invoice_prefix !== undefined && p.orderId.startsWith(credits.invoice_prefix)) ||
        (credits.negative_quantity && negative));
    if (!isCredit) {
      const group = this.group(this.sales, p.orderId, p, () => ({}));
      group.amount += p.amount;
      addItems(group, p.quantity);
      group.lines.push(line);
      return;
    }
    const original = this.get.original ? this.get.original(row) || null : null;
    const key = `${p.orderId}\u0000${original ?? ''}`;
    const group = this.group(this.credits, key, p, () => ({ original }));
    group.id = p.orderId;
    group.amount -= p.amount;
    group.lines.push(line);
  }

  private addStatusRow(row: Row, line: number, p: ParsedRow): void {
    const s = this.m.status!;
    const value = this.get.status!(row);
    const status = this.statusOf.get(value.toLowerCase());
    if (status === undefined)
      throw new RowRejected(
        'UNKNOWN_STATUS',
        `status.column (${s.column}) "${value}" is not in status.values (${[...this.statusOf.keys()].join(', ')})`,
      );
    let statusAt = p.at;
    if ((status === 'returned' || status === 'cancelled') && this.get.statusTime) {
      statusAt = this.kit.time(this.get.statusTime(row), `status.time_column (${s.time_column})`);
      if (statusAt < p.at)
        throw new RowRejected(
          'REVERSAL_BEFORE_ORDER',
          `${status} at ${new Date(statusAt).toISOString()} before the order time ${new Date(p.at).toISOString()}`,
        );
    }
    let refund = p.amount;
    if (status === 'returned' && this.get.refundAmount) {
      const c = s.refund_amount_column!;
      const v = this.get.refundAmount(row);
      if (v !== '') {
        const r = toMinorUnits(
          this.kit.decimal(v, this.rawOf(row, c), `status.refund_amount_column (${c})`),
          minorDigitsOf(p.currency),
        );
        if (r === null || Math.abs(r) > MAX_AMOUNT_MINOR)
          throw new RowRejected('AMOUNT_OUT_OF_RANGE', `refund amount exceeds ${MAX_AMOUNT_MINOR} minor units`);
        refund = r;
        if (refund > p.amount)
          throw new RowRejected(
            'REFUND_EXCEEDS_ORDER',
            `status.refund_amount_column (${c}) "${v}" (${refund} minor units) exceeds the order total of ${p.amount}`,
          );
      }
    }
    if (p.amount < 0 || refund < 0)
      throw new RowRejected(
        'NEGATIVE_AMOUNT',
        `a status row's amount must be ≥ 0, got ${Math.min(p.amount, refund)} (minor units)`,
      );
    const rank = STATUS_RANK[status];
    const order = this.group(this.statusOrders, p.orderId, p, () => ({
      amountRank: rank,
      returns: new Map(),
      cancel: null,
    }));
    // The amount of the lowest status row (the order as placed); ties: the larger amount (order-independent).
    if (rank < order.amountRank || (rank === order.amountRank && p.amount > order.amount) || order.lines.length === 0) {
      order.amountRank = rank;
      order.amount = p.amount;
      order.items = p.quantity ? (toInteger(p.quantity) ?? null) : null;
    }
    order.lines.push(line);
    if (status === 'returned') {
      const ret = order.returns.get(statusAt);
      if (ret) {
        ret.amount = Math.max(ret.amount, refund);
        ret.lines.push(line);
      } else order.returns.set(statusAt, { at: statusAt, amount: refund, lines: [line] });
    } else if (status === 'cancelled') {
      if (order.cancel === null) order.cancel = { at: statusAt, lines: [line] };
      else {
        order.cancel.at = Math.min(order.cancel.at, statusAt);
        order.cancel.lines.push(line);
      }
    }
  }

  private group<G extends Group>(map: Map<string, G>, key: string, p: ParsedRow, extra: () => Omit<G, keyof Group>): G {
    let g = map.get(key);
    if (g === undefined) {
      g = {
        id: p.orderId,
        customer: p.customer,
        currency: p.currency,
        channel: p.channel,
        at: p.at,
        amount: 0,
        items: 0,
        lines: [],
        conflict: null,
        ...extra(),
      } as unknown as G;
      map.set(key, g);
      return g;
    }
    if (p.at < g.at) g.at = p.at;
    // Order-independent choice of the channel when lines disagree: the smallest.
    if (p.channel !== null && (g.channel === null || p.channel < g.channel)) g.channel = p.channel;
    if (g.conflict !== null) g.conflict.add(`${p.customer}/${p.currency}`);
    else if (g.customer !== p.customer || g.currency !== p.currency)
      g.conflict = new Set([`${g.customer}/${g.currency}`, `${p.customer}/${p.currency}`]);
    return g;
  }

  /** The events (unsorted) and the rejects of whole orders; call once, after the last row. */
  finish(
    eventId: (key: string) => string,
    reject: (lines: number[], reason: RejectReason, message: string) => void,
  ): Array<Produced<ImportedOrderEvent>> {
    return this.m.status ? this.finishStatus(eventId, reject) : this.finishLines(eventId, reject);
  }

  private finishLines(
    eventId: (key: string) => string,
    reject: (lines: number[], reason: RejectReason, message: string) => void,
  ): Array<Produced<ImportedOrderEvent>> {
    const out: Array<Produced<ImportedOrderEvent>> = [];
    const placed = new Map<string, { g: Group; left: number }>();
    const byCustomer = new Map<string, Array<{ g: Group; left: number }>>();
    for (const g of this.sales.values()) {
      if (this.partial(g, reject)) continue;
      if (g.conflict !== null) reject(g.lines, 'INCONSISTENT_ORDER', conflictMessage(g));
      else if (g.amount < 0)
        reject(g.lines, 'NEGATIVE_AMOUNT', `order ${g.id} sums to ${g.amount} minor units (credits not recognised)`);
      else if (g.amount > MAX_AMOUNT_MINOR)
        reject(g.lines, 'AMOUNT_OUT_OF_RANGE', `order ${g.id} sums to more than ${MAX_AMOUNT_MINOR} minor units`);
      else {
        out.push({
          event: orderEvent(eventId(`order:${g.id}:PLACED`), g, 'PLACED', g.amount, g.at, null),
          lines: g.lines,
        });
        const entry = { g, left: g.amount };
        placed.set(g.id, entry);
        const list = byCustomer.get(g.customer) ?? [];
        list.push(entry);
        byCustomer.set(g.customer, list);
      }
    }
    for (const list of byCustomer.values()) list.sort((a, b) => a.g.at - b.g.at || cmp(a.g.id, b.g.id));
    const credits = [...this.credits.values()].sort(
      (a, b) => a.at - b.at || cmp(a.id, b.id) || cmp(a.original ?? '', b.original ?? ''),
    );
    const unnamed = this.m.credits?.unnamed ?? 'reject';
    for (const c of credits) {
      if (this.partial(c, reject)) continue;
      if (c.conflict !== null) {
        reject(c.lines, 'INCONSISTENT_ORDER', conflictMessage(c));
        continue;
      }
      if (c.amount < 0) {
        reject(c.lines, 'NEGATIVE_AMOUNT', `credit ${c.id} sums to a charge of ${-c.amount} minor units`);
        continue;
      }
      if (c.original !== null) {
        const o = placed.get(c.original);
        if (o === undefined)
          reject(
            c.lines,
            'ORIGINAL_ORDER_NOT_FOUND',
            `credit ${c.id} names order ${c.original}, which is not in the file (or was rejected)`,
          );
        else if (o.g.customer !== c.customer || o.g.currency !== c.currency)
          reject(
            c.lines,
            'INCONSISTENT_ORDER',
            `credit ${c.id} (${c.customer}/${c.currency}) names order ${c.original} of ${o.g.customer}/${o.g.currency}`,
          );
        else if (o.g.at > c.at)
          reject(c.lines, 'REVERSAL_BEFORE_ORDER', `credit ${c.id} is earlier than its order ${c.original}`);
        else if (c.amount > o.left)
          reject(
            c.lines,
            'REFUND_EXCEEDS_ORDER',
            `credit ${c.id} of ${c.amount} minor units exceeds what is left (${o.left}) of order ${c.original}`,
          );
        else {
          o.left -= c.amount;
          out.push({ event: refund(eventId(`refund:${c.id}:${o.g.id}`), o.g, c, c.amount, c.id), lines: c.lines });
        }
        continue;
      }
      if (unnamed === 'reject') {
        reject(c.lines, 'ORIGINAL_ORDER_NOT_FOUND', `credit ${c.id} names no original order (credits.unnamed: reject)`);
        continue;
      }
      // Latest earlier orders of the customer in the credit's currency, each up to what is left of it.
      const list = byCustomer.get(c.customer) ?? [];
      let i = upperBound(list, c.at) - 1;
      const pieces: Array<{ o: { g: Group; left: number }; amount: number }> = [];
      let need = c.amount;
      for (; i >= 0 && need > 0; i--) {
        const o = list[i]!;
        if (o.left === 0 || o.g.currency !== c.currency) continue;
        const take = Math.min(o.left, need);
        pieces.push({ o, amount: take });
        need -= take;
      }
      if (need > 0) {
        const left = c.amount - need;
        const any = list.some((e) => e.g.at <= c.at && e.g.currency === c.currency);
        reject(
          c.lines,
          any ? 'REFUND_EXCEEDS_ORDER' : 'ORIGINAL_ORDER_NOT_FOUND',
          any
            ? `credit ${c.id} of ${c.amount} minor units exceeds what is left (${left}) of customer ${c.customer}'s earlier ${c.currency} orders in the file`
            : `credit ${c.id}: customer ${c.customer} has no earlier ${c.currency} order in the file`,
        );
        continue;
      }
      if (pieces.length === 0) {
        // A zero credit with no earlier order left to name: still one event, so its rows are accounted for.
        const o = list.filter((e) => e.g.at <= c.at && e.g.currency === c.currency).at(-1);
        if (o === undefined) {
          reject(
            c.lines,
            'ORIGINAL_ORDER_NOT_FOUND',
            `credit ${c.id}: customer ${c.customer} has no earlier ${c.currency} order in the file`,
          );
          continue;
        }
        pieces.push({ o, amount: 0 });
      }
      for (const { o, amount } of pieces) {
        o.left -= amount;
        const refundId = pieces.length === 1 ? c.id : `${c.id}/${o.g.id}`;
        out.push({ event: refund(eventId(`refund:${c.id}:${o.g.id}`), o.g, c, amount, refundId), lines: c.lines });
      }
    }
    return out;
  }

  private finishStatus(
    eventId: (key: string) => string,
    reject: (lines: number[], reason: RejectReason, message: string) => void,
  ): Array<Produced<ImportedOrderEvent>> {
    const out: Array<Produced<ImportedOrderEvent>> = [];
    for (const o of this.statusOrders.values()) {
      if (this.partial(o, reject)) continue;
      if (o.conflict !== null) {
        reject(o.lines, 'INCONSISTENT_ORDER', conflictMessage(o));
        continue;
      }
      const refunded = [...o.returns.values()].reduce((a, r) => a + r.amount, 0);
      if (refunded > o.amount) {
        reject(
          o.lines,
          'REFUND_EXCEEDS_ORDER',
          `the returns of order ${o.id} refund ${refunded} minor units, more than its amount ${o.amount}`,
        );
        continue;
      }
      out.push({
        event: orderEvent(eventId(`order:${o.id}:PLACED`), o, 'PLACED', o.amount, o.at, null),
        lines: o.lines,
      });
      for (const r of o.returns.values()) {
        const refundId = `${o.id}:returned:${new Date(r.at).toISOString()}`;
        out.push({
          event: {
            ...orderEvent(eventId(`refund:${refundId}`), o, 'REFUNDED', r.amount, r.at, o.at),
            refund_id: refundId,
          },
          lines: r.lines,
        });
      }
      if (o.cancel)
        out.push({
          event: orderEvent(eventId(`order:${o.id}:CANCELLED`), o, 'CANCELLED', o.amount, o.cancel.at, o.at),
          lines: o.cancel.lines,
        });
    }
    return out;
  }
}

function conflictMessage(g: Group): string {
  return `rows of order ${g.id} disagree on customer/currency (${[...g.conflict!].sort().join(' vs ')})`;
}

function addItems(g: Group, quantity: Decimal | null): void {
  if (g.items === null) return;
  const q = quantity === null ? null : toInteger(quantity);
  if (q === null) g.items = null;
  else if (q > 0) g.items = g.items + q > MAX_ITEMS ? null : g.items + q;
}

function orderEvent(
  event_id: string,
  g: Group,
  type: OrderEvent['type'],
  amount: number,
  at: number,
  originalPlacedAt: number | null,
): ImportedOrderEvent {
  return {
    event_id,
    customer_id: g.customer,
    order_id: g.id,
    type,
    amount_minor: amount,
    currency: g.currency,
    margin_minor: null,
    channel: g.channel,
    items: type === 'PLACED' ? g.items : null,
    occurred_at: at,
    original_placed_at: originalPlacedAt,
    attributes: null,
  };
}

function refund(event_id: string, order: Group, credit: Group, amount: number, refundId: string): ImportedOrderEvent {
  return {
    ...orderEvent(event_id, order, 'REFUNDED', amount, credit.at, order.at),
    channel: credit.channel ?? order.channel,
    refund_id: refundId,
  };
}

/** First index whose order time is after `at` (the list is sorted by time). */
function upperBound(list: Array<{ g: Group }>, at: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (list[mid]!.g.at <= at) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
