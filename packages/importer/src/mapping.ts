import { TICKET_CATEGORIES, TICKET_EVENT_TYPES, TICKET_PRIORITIES, WEB_BEHAVIOR_TYPES } from '@tierstream/contracts';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { compileFormat, zoneResolver } from './time';

/**
 * The mapping file of `tierctl import`: how the columns of one export become input events. YAML, validated here;
 * every problem is one line naming the setting (`time.zone: unknown time zone "Europe/Lodnon" …`).
 */

export const IMPORT_KINDS = ['orders', 'web', 'tickets'] as const;
export type ImportKind = (typeof IMPORT_KINDS)[number];

/** Statuses an order export can say; each maps to what the import produces (README "Bring your own history"). */
export const ORDER_STATUSES = ['placed', 'shipped', 'completed', 'returned', 'cancelled'] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

export class MappingError extends Error {
  readonly issues: string[];
  constructor(issues: string[]) {
    super(`invalid mapping:\n  ${issues.join('\n  ')}`);
    this.name = 'MappingError';
    this.issues = issues;
  }
}

const column = z.string().trim().min(1, 'a column name');
/** Source values for one target symbol: one value or a list (compared trimmed, case-insensitively). */
const sourceValues = z.union([z.string(), z.array(z.string()).min(1)]);

const common = {
  /** csv or ndjson; default: from the file's extension (.csv, .tsv, .txt → csv; .ndjson, .jsonl, .json → ndjson). */
  format: z.enum(['csv', 'ndjson']).optional(),
  csv: z
    .object({
      delimiter: z.string().length(1).default(','),
      quote: z.string().length(1).default('"'),
      /** The first line names the columns; false: `columns` names them. */
      header: z.boolean().default(true),
      columns: z.array(column).min(1).optional(),
    })
    .strict()
    .default({ delimiter: ',', quote: '"', header: true }),
  /** How numbers are written. A number using a separator the locale does not declare is rejected. */
  locale: z
    .object({
      decimal: z.enum(['.', ',']).default('.'),
      thousands: z.enum(['', ',', '.', ' ', "'", '\u00a0', '\u202f', '_']).default(''),
    })
    .strict()
    .default({ decimal: '.', thousands: '' }),
  time: z
    .object({
      column,
      /** Tried in order (tokens: see time.ts); default ["iso"]. */
      formats: z.array(z.string().min(1)).min(1).default(['iso']),
      /** Zone of timestamps without an offset: an IANA name, UTC or a fixed offset. Required: no silent UTC. */
      zone: z.string().min(1),
    })
    .strict(),
  customer: column,
};

const enumField = <T extends readonly [string, ...string[]]>(symbols: T) =>
  z
    .object({
      column: column.optional(),
      /** Target symbol → source value(s); without it the column holds the symbols themselves. */
      values: z.partialRecord(z.enum(symbols), sourceValues).optional(),
      constant: z.enum(symbols).optional(),
    })
    .strict();

const ordersMapping = z
  .object({
    kind: z.literal('orders'),
    ...common,
    /** Order id (invoice number). Rows with the same id are lines of one order (or, with `status`, its states). */
    order_id: column,
    /** The order (line) amount: one `column`, or `quantity` × `unit_price`. */
    amount: z
      .object({ column: column.optional(), quantity: column.optional(), unit_price: column.optional() })
      .strict(),
    /** ISO 4217 code: a `column` or a `constant`. */
    currency: z.object({ column: column.optional(), constant: z.string().optional() }).strict(),
    channel: z.object({ column: column.optional(), constant: z.string().optional() }).strict().optional(),
    /** Invoice-line exports: how credit invoices (returns, cancellations) are recognised and matched to orders. */
    credits: z
      .object({
        /** Invoice ids starting with this are credits ("C" in the Online Retail export). */
        invoice_prefix: z.string().min(1).optional(),
        /** Lines with a negative quantity (or amount) are credits. */
        negative_quantity: z.boolean().default(false),
        /** A column naming the credited (original) invoice, when the export has one. */
        original_order_column: column.optional(),
        /** A credit naming no original: `latest_order` (the customer's latest earlier orders) or `reject`. */
        unnamed: z.enum(['latest_order', 'reject']).default('reject'),
      })
      .strict()
      .optional(),
    /** Order exports with a status per row. */
    status: z
      .object({
        column,
        values: z.partialRecord(z.enum(ORDER_STATUSES), sourceValues),
        /** When the status happened (the return or cancellation time); default: the order's `time.column`. */
        time_column: column.optional(),
        /** Amount returned on a `returned` row, when it differs from the order amount (partial returns). */
        refund_amount_column: column.optional(),
      })
      .strict()
      .optional(),
  })
  .strict()
  .superRefine((m, ctx) => {
    const a = m.amount;
    if (a.column !== undefined && (a.quantity !== undefined || a.unit_price !== undefined))
      ctx.addIssue({ code: 'custom', path: ['amount'], message: 'either column or quantity and unit_price, not both' });
    else if (a.column === undefined && (a.quantity === undefined || a.unit_price === undefined))
      ctx.addIssue({ code: 'custom', path: ['amount'], message: 'needs column, or quantity and unit_price' });
    for (const key of ['currency', 'channel'] as const) {
      const f = m[key];
      if (f !== undefined && (f.column === undefined) === (f.constant === undefined))
        ctx.addIssue({ code: 'custom', path: [key], message: 'needs exactly one of column or constant' });
    }
    if (m.credits && m.status)
      ctx.addIssue({ code: 'custom', path: ['status'], message: 'credits and status exclude each other' });
    if (m.credits && !m.credits.invoice_prefix && !m.credits.negative_quantity)
      ctx.addIssue({
        code: 'custom',
        path: ['credits'],
        message: 'recognises nothing: set invoice_prefix or negative_quantity: true',
      });
  });

const webMapping = z
  .object({
    kind: z.literal('web'),
    ...common,
    customer: column.optional(),
    anonymous_id: column.optional(),
    /** A column with a unique key per row (stable event ids); default: the line number. */
    event_id: column.optional(),
    type: enumField(WEB_BEHAVIOR_TYPES),
    url: column.optional(),
    content_id: column.optional(),
  })
  .strict()
  .superRefine((m, ctx) => {
    if (m.customer === undefined && m.anonymous_id === undefined)
      ctx.addIssue({ code: 'custom', path: ['customer'], message: 'needs customer or anonymous_id (or both)' });
  });

const ticketsMapping = z
  .object({
    kind: z.literal('tickets'),
    ...common,
    ticket_id: column,
    event_id: column.optional(),
    type: enumField(TICKET_EVENT_TYPES),
    category: enumField(TICKET_CATEGORIES).default({ constant: 'GENERAL' }),
    priority: enumField(TICKET_PRIORITIES).default({ constant: 'NORMAL' }),
    csat: column.optional(),
  })
  .strict();

const mappingSchema = z.discriminatedUnion('kind', [ordersMapping, webMapping, ticketsMapping]);

export type OrdersMapping = z.infer<typeof ordersMapping>;
export type WebMapping = z.infer<typeof webMapping>;
export type TicketsMapping = z.infer<typeof ticketsMapping>;
export type Mapping = z.infer<typeof mappingSchema>;
export type EnumMapping = { column?: string; values?: Partial<Record<string, string | string[]>>; constant?: string };

function formatPath(path: PropertyKey[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`)).join('');
}

/**
 * Parses and validates a mapping (YAML text). Throws MappingError with one line per problem, each naming the
 * setting: `<source>: <path>: <what is wrong>`. Checks the time formats compile and the zone is known.
 */
export function parseMapping(text: string, source: string): Mapping {
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0)
    throw new MappingError(doc.errors.map((e) => `${source}: YAML: ${e.message.split('\n')[0]}`));
  const raw: unknown = doc.toJS();
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
    throw new MappingError([`${source}: expected a YAML mapping with kind: orders | web | tickets`]);
  const parsed = mappingSchema.safeParse(raw);
  const issues: string[] = [];
  if (!parsed.success) {
    for (const iss of parsed.error.issues) {
      if (iss.code === 'unrecognized_keys') {
        for (const key of iss.keys) issues.push(`${source}: ${formatPath([...iss.path, key])}: unknown setting`);
        continue;
      }
      if (iss.path.length === 0 || (iss.path.length === 1 && iss.path[0] === 'kind')) {
        issues.push(`${source}: kind: expected one of ${IMPORT_KINDS.join(', ')}`);
        continue;
      }
      const at = formatPath(iss.path);
      const missing = iss.code === 'invalid_type' && /received undefined/.test(iss.message);
      issues.push(`${source}: ${at}: ${missing ? 'required' : iss.message}`);
    }
    throw new MappingError(issues);
  }
  const m = parsed.data;
  m.time.formats.forEach((f, i) => {
    try {
      compileFormat(f);
    } catch (err) {
      issues.push(`${source}: time.formats[${i}]: ${(err as Error).message}`);
    }
  });
  try {
    zoneResolver(m.time.zone);
  } catch (err) {
    issues.push(`${source}: time.zone: ${(err as Error).message}`);
  }
  if (m.locale.decimal === m.locale.thousands)
    issues.push(`${source}: locale.thousands: must differ from locale.decimal ("${m.locale.decimal}")`);
  if (!m.csv.header && m.csv.columns === undefined)
    issues.push(`${source}: csv.columns: required when csv.header is false`);
  if (m.kind !== 'orders') {
    for (const key of m.kind === 'web' ? (['type'] as const) : (['type', 'category', 'priority'] as const)) {
      const f = (m as unknown as Record<string, EnumMapping>)[key]!;
      if ((f.column === undefined) === (f.constant === undefined))
        issues.push(`${source}: ${key}: needs exactly one of column or constant`);
      if (f.values !== undefined && f.column === undefined) issues.push(`${source}: ${key}.values: only with a column`);
    }
  }
  if (issues.length > 0) throw new MappingError(issues);
  return m;
}

/** Every column a mapping reads (to check them against a CSV header before reading rows). */
export function columnsOf(m: Mapping): Array<{ setting: string; column: string }> {
  const out: Array<{ setting: string; column: string }> = [{ setting: 'time.column', column: m.time.column }];
  const add = (setting: string, c: string | undefined) => {
    if (c !== undefined) out.push({ setting, column: c });
  };
  if (m.kind === 'orders') {
    add('customer', m.customer);
    add('order_id', m.order_id);
    add('amount.column', m.amount.column);
    add('amount.quantity', m.amount.quantity);
    add('amount.unit_price', m.amount.unit_price);
    add('currency.column', m.currency.column);
    add('channel.column', m.channel?.column);
    add('credits.original_order_column', m.credits?.original_order_column);
    add('status.column', m.status?.column);
    add('status.time_column', m.status?.time_column);
    add('status.refund_amount_column', m.status?.refund_amount_column);
  } else if (m.kind === 'web') {
    add('customer', m.customer);
    add('anonymous_id', m.anonymous_id);
    add('event_id', m.event_id);
    add('type.column', m.type.column);
    add('url', m.url);
    add('content_id', m.content_id);
  } else {
    add('customer', m.customer);
    add('ticket_id', m.ticket_id);
    add('event_id', m.event_id);
    add('type.column', m.type.column);
    add('category.column', m.category.column);
    add('priority.column', m.priority.column);
    add('csat', m.csat);
  }
  return out;
}
