import { readFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Importer, type ImportResult, MappingError, REJECT_REASONS, type RejectReason } from '../src/index';
import { exampleMapping, importCsv, NOW, REPO_ROOT, yamlMapping } from './helpers';

const sample = (name: string) => readFileSync(path.join(REPO_ROOT, 'examples', 'import', name), 'utf8');
const at = (iso: string) => Date.parse(iso);
const orders = (r: ImportResult) => r.events.map((e) => e.event as unknown as Record<string, unknown>);
const reasons = (r: ImportResult) => r.rejects.map((x) => [x.line, x.reason]);

describe('worked mapping: invoice lines with "C" credit invoices (online-retail)', () => {
  const r = importCsv(exampleMapping('online-retail'), sample('online-retail.sample.csv'), {
    source: 'examples/import/online-retail.sample.csv',
  });

  it('one PLACED per invoice, Σ quantity × unit price in pence, at the invoice time (London → UTC)', () => {
    const placed = orders(r).filter((e) => e.type === 'PLACED');
    expect(placed.map((e) => [e.order_id, e.customer_id, e.amount_minor, e.occurred_at, e.items])).toEqual([
      ['536365', '17850', 5764, at('2010-12-01T08:26:00Z'), 20],
      ['536366', '17850', 1110, at('2010-12-01T08:28:00Z'), 6],
      ['536367', '13047', 6668, at('2010-12-01T08:34:00Z'), 38],
      ['536378', '14527', 3900, at('2010-12-01T09:37:00Z'), 20],
      ['536370', '12583', 9000, at('2011-06-01T07:45:00Z'), 24], // BST
    ]);
    expect(placed[0]).toMatchObject({
      event_id: 'imp:online-retail.sample.csv:order:536365:PLACED',
      currency: 'GBP',
      channel: 'web',
      original_placed_at: null,
    });
  });

  it('a credit naming no invoice refunds the customer’s latest earlier invoice; credits without one are rejected', () => {
    expect(orders(r).filter((e) => e.type === 'REFUNDED')).toEqual([
      expect.objectContaining({
        order_id: '536378',
        refund_id: 'C536379',
        customer_id: '14527',
        amount_minor: 2750,
        occurred_at: at('2010-12-01T09:41:00Z'),
        original_placed_at: at('2010-12-01T09:37:00Z'),
      }),
    ]);
    expect(reasons(r)).toEqual([
      [11, 'ORIGINAL_ORDER_NOT_FOUND'],
      [12, 'MISSING_CUSTOMER_ID'],
      [13, 'ORIGINAL_ORDER_NOT_FOUND'],
    ]);
    expect(r.summary).toEqual({
      rowsRead: 13,
      events: { PLACED: 5, REFUNDED: 1 },
      rejected: { MISSING_CUSTOMER_ID: 1, ORIGINAL_ORDER_NOT_FOUND: 2 },
      contributing: 10,
    });
  });

  it('events are in event-time order', () => {
    const times = r.events.map((e) => e.event.occurred_at);
    expect(times).toEqual([...times].sort((a, b) => a - b));
  });
});

describe('worked mapping: order export with statuses (order-status)', () => {
  const r = importCsv(exampleMapping('order-status'), sample('order-status.sample.csv'), {
    source: 'order-status.sample.csv',
  });

  it('PLACED per order; returned → REFUNDED at the status time with the placed time; cancelled → CANCELLED', () => {
    expect(orders(r).map((e) => [e.type, e.order_id, e.amount_minor, e.occurred_at, e.original_placed_at])).toEqual([
      ['PLACED', 'A-1001', 123450, at('2024-01-03T09:15:00Z'), null],
      ['PLACED', 'A-1002', 8990, at('2024-02-14T17:40:00Z'), null],
      ['REFUNDED', 'A-1002', 8990, at('2024-02-20T11:00:00Z'), at('2024-02-14T17:40:00Z')],
      ['PLACED', 'A-1003', 4500, at('2024-03-01T07:05:00Z'), null],
      ['CANCELLED', 'A-1003', 4500, at('2024-03-01T07:30:00Z'), at('2024-03-01T07:05:00Z')],
      ['PLACED', 'A-1004', 12000, at('2024-03-15T10:00:00Z'), null],
      ['REFUNDED', 'A-1004', 4000, at('2024-03-18T15:20:00Z'), at('2024-03-15T10:00:00Z')],
      ['PLACED', 'A-1005', 5999, at('2024-03-31T00:30:00Z'), null],
    ]);
    expect(orders(r).find((e) => e.type === 'REFUNDED')).toMatchObject({
      refund_id: 'A-1002:returned:2024-02-20T11:00:00.000Z',
      currency: 'EUR',
    });
    expect(reasons(r)).toEqual([
      [7, 'MISSING_CUSTOMER_ID'],
      [8, 'UNPARSABLE_AMOUNT'],
    ]);
    expect(r.rejects[1]!.message).toBe(
      'amount.column (total) "1,000.00" is not a number with decimal "," and thousands "." (the mapping\'s locale)',
    );
  });

  it('a status history (several rows of one order) gives the same events as the current-status row', () => {
    const history = [
      'order_no;customer_no;placed_at;status_changed_at;status;total;refunded;currency',
      'A-1002;K-100;14.02.2024 18:40;14.02.2024 18:40;placed;89,90;;EUR',
      'A-1002;K-100;14.02.2024 18:40;15.02.2024 09:00;shipped;89,90;;EUR',
      'A-1002;K-100;14.02.2024 18:40;20.02.2024 12:00;returned;89,90;;EUR',
    ].join('\n');
    const h = importCsv(exampleMapping('order-status'), history, { source: 'order-status.sample.csv' });
    expect(h.events).toEqual(r.events.filter((e) => e.kind === 'order' && e.event.order_id === 'A-1002'));
    expect(h.rejects).toEqual([]);
  });
});

const LINES = `
kind: orders
time: { column: t, zone: UTC }
customer: c
order_id: o
amount: { quantity: q, unit_price: p }
currency: { column: cur }
`;
const HEAD = 'o,c,t,q,p,cur';

const STATUS = `
kind: orders
time: { column: t, zone: UTC }
customer: c
order_id: o
amount: { column: a }
currency: { constant: USD }
status: { column: s, values: { placed: placed, returned: returned }, time_column: st }
`;

const WEB = `
kind: web
time: { column: t, zone: UTC }
customer: c
type: { column: k, values: { PAGE_VIEW: view, ADD_TO_CART: [cart, basket] } }
`;

const TICKETS = `
kind: tickets
time: { column: t, zone: UTC }
customer: c
ticket_id: id
type: { column: k }
category: { constant: COMPLAINT }
csat: r
`;

describe('every reject reason, with its line and a message naming the value', () => {
  const H = HEAD.split(',');
  const ok = ['1', 'c1', '2024-01-01T10:00Z', '1', '1.00', 'USD'];
  const row = (i: number, v: string) => ok.map((c, j) => (j === i ? v : c));
  const cases: Array<[RejectReason, string, string[], string[][], RegExp]> = [
    ['MISSING_CUSTOMER_ID', LINES, H, [row(1, '')], /customer \(c\) is empty/],
    ['MISSING_ID', LINES, H, [row(0, '')], /order_id \(o\) is empty/],
    ['ID_TOO_LONG', LINES, H, [row(1, 'x'.repeat(300))], /300 characters/],
    [
      'UNPARSABLE_AMOUNT',
      LINES,
      H,
      [row(4, '1,000.00')],
      /unit_price \(p\) "1,000.00" is not a number with decimal "."/,
    ],
    ['AMOUNT_OUT_OF_RANGE', LINES, H, [row(3, '1000000').map((c, j) => (j === 4 ? '20000000.00' : c))], /exceeds/],
    ['NEGATIVE_AMOUNT', LINES, H, [row(3, '-2')], /sums to -200/],
    ['UNPARSABLE_TIME', LINES, H, [row(2, '2024-13-45 10:00')], /"2024-13-45 10:00" matches none/],
    ['TIME_OUT_OF_RANGE', LINES, H, [row(2, '2031-01-01T10:00Z')], /outside 1970/],
    ['UNKNOWN_CURRENCY', LINES, H, [row(5, 'XYZ')], /"XYZ"/],
    ['INCONSISTENT_ORDER', LINES, H, [ok, row(1, 'c2')], /c1\/USD vs c2\/USD/],
    ['PARTIAL_ORDER', LINES, H, [ok, row(4, 'x')], /order 1 lost a row \(line 3 was rejected\)/],
    [
      'UNKNOWN_STATUS',
      STATUS,
      ['o', 'c', 't', 'a', 's', 'st'],
      [['1', 'c1', '2024-01-01T10:00Z', '5.00', 'lost', '']],
      /"lost" is not in status.values/,
    ],
    [
      'REVERSAL_BEFORE_ORDER',
      STATUS,
      ['o', 'c', 't', 'a', 's', 'st'],
      [['1', 'c1', '2024-01-05T10:00Z', '5.00', 'returned', '2024-01-01T10:00Z']],
      /before the order time/,
    ],
    [
      'UNKNOWN_VALUE',
      WEB,
      ['c', 't', 'k'],
      [['c1', '2024-01-01T10:00Z', 'teleport']],
      /type \(k\) "teleport" is not mapped/,
    ],
    [
      'INVALID_CSAT',
      TICKETS,
      ['c', 'id', 't', 'k', 'r'],
      [['c1', 'T1', '2024-01-01T10:00Z', 'SATISFACTION_RATED', '7']],
      /"7" is not an integer in 1..5/,
    ],
  ];
  for (const [reason, mapping, header, rows, message] of cases)
    it(reason, () => {
      const m = yamlMapping(mapping);
      const importer = new Importer(m.kind, m, { source: 'x.csv', now: NOW });
      importer.setHeader(header);
      rows.forEach((cells, i) => {
        importer.add(cells, i + 2);
      });
      const r = importer.finish();
      const hits = r.rejects.filter((x) => x.reason === reason);
      expect(hits.length, JSON.stringify(r.rejects)).toBeGreaterThan(0);
      expect(hits[0]!.line).toBe(2);
      expect(hits[0]!.message).toMatch(message);
      expect(r.summary.rowsRead).toBe(r.summary.contributing + r.rejects.length);
    });

  it('ORIGINAL_ORDER_NOT_FOUND: an unnamed credit with credits.unnamed reject, a named one not in the file; REFUND_EXCEEDS_ORDER: one too large', () => {
    const base = `${LINES}credits: { invoice_prefix: C, original_order_column: orig }\n`;
    const head = `${HEAD},orig`;
    const r = importCsv(
      yamlMapping(base),
      [
        head,
        '1,c1,2024-01-01T10:00Z,1,10.00,USD,',
        'C2,c1,2024-01-02T10:00Z,-1,4.00,USD,',
        'C3,c1,2024-01-02T10:00Z,-1,4.00,USD,99',
        'C4,c1,2024-01-03T10:00Z,-1,4.00,USD,1',
      ].join('\n'),
    );
    expect(reasons(r)).toEqual([
      [3, 'ORIGINAL_ORDER_NOT_FOUND'],
      [4, 'ORIGINAL_ORDER_NOT_FOUND'],
    ]);
    expect(orders(r).map((e) => [e.type, e.order_id, e.refund_id ?? null, e.amount_minor])).toEqual([
      ['PLACED', '1', null, 1000],
      ['REFUNDED', '1', 'C4', 400],
    ]);
    const latest = importCsv(
      yamlMapping(`${LINES}credits: { negative_quantity: true, unnamed: latest_order }\n`),
      [HEAD, '1,c1,2024-01-01T10:00Z,1,10.00,USD', '2,c1,2024-01-02T10:00Z,-1,12.00,USD'].join('\n'),
    );
    expect(reasons(latest)).toEqual([[3, 'REFUND_EXCEEDS_ORDER']]);
    expect(latest.rejects[0]!.message).toMatch(/of 1200 minor units exceeds what is left \(1000\)/);
  });

  it('MALFORMED_ROW: rows the file parser could not read are counted and rejected', () => {
    const importer = new Importer('orders', yamlMapping(LINES), { source: 'x.csv', now: NOW });
    importer.setHeader(HEAD.split(','));
    importer.add(['1', 'c1', '2024-01-01T10:00Z', '1', '1.00', 'USD'], 2);
    importer.reject(3, 'MALFORMED_ROW', 'Invalid Record Length: expect 6, got 2');
    const r = importer.finish();
    expect(r.summary).toMatchObject({ rowsRead: 2, rejected: { MALFORMED_ROW: 1 }, contributing: 1 });
  });

  it('covers every reason', () => {
    const tested = new Set<string>([
      ...cases.map((c) => c[0]),
      'ORIGINAL_ORDER_NOT_FOUND',
      'REFUND_EXCEEDS_ORDER',
      'MALFORMED_ROW',
    ]);
    expect(REJECT_REASONS.filter((r) => !tested.has(r))).toEqual([]);
  });
});

describe('web and tickets', () => {
  it('web: mapped types, anonymous rows need an anonymous id, ids from the line without an event_id column', () => {
    const r = importCsv(yamlMapping(WEB), 'c,t,k\nc1,2024-01-01T10:00Z,basket\n,2024-01-01T11:00Z,view');
    expect(r.events.map((e) => e.event)).toEqual([
      {
        event_id: 'imp:test.csv:web:L2',
        customer_id: 'c1',
        anonymous_id: null,
        type: 'ADD_TO_CART',
        url: null,
        content_id: null,
        occurred_at: at('2024-01-01T10:00:00Z'),
      },
    ]);
    expect(reasons(r)).toEqual([[3, 'MISSING_CUSTOMER_ID']]);
  });

  it('tickets: symbols read case-insensitively, csat parsed, constants applied', () => {
    const r = importCsv(
      yamlMapping(TICKETS),
      'c,id,t,k,r\nc1,T1,2024-01-01T10:00Z,opened,\nc1,T1,2024-01-02T10:00Z,satisfaction_rated,4',
    );
    expect(r.events.map((e) => e.event)).toEqual([
      expect.objectContaining({ type: 'OPENED', category: 'COMPLAINT', priority: 'NORMAL', csat: null }),
      expect.objectContaining({ type: 'SATISFACTION_RATED', csat: 4, event_id: 'imp:test.csv:ticket:L3' }),
    ]);
  });
});

describe('mapping validation: one line per problem, naming the setting', () => {
  const issues = (text: string) => {
    try {
      yamlMapping(text);
    } catch (err) {
      expect(err).toBeInstanceOf(MappingError);
      return (err as MappingError).issues;
    }
    throw new Error('expected a MappingError');
  };

  it('names unknown settings, missing ones, bad zones, formats, locales and exclusive choices', () => {
    expect(issues(LINES.replace('zone: UTC', 'zone: Europe/Lodnon'))).toEqual([
      'test.mapping.yaml: time.zone: unknown time zone "Europe/Lodnon" (an IANA name such as Europe/London, UTC or an offset such as +02:00)',
    ]);
    expect(issues(LINES.replace('customer: c', 'customr: c')).sort()).toEqual([
      'test.mapping.yaml: customer: required',
      'test.mapping.yaml: customr: unknown setting',
    ]);
    expect(issues(LINES.replace('zone: UTC', 'zone: UTC, formats: ["HH:mm"]'))).toEqual([
      'test.mapping.yaml: time.formats[0]: format "HH:mm" has no year (YYYY, MM or M, DD or D)',
    ]);
    expect(issues(`${LINES}locale: { decimal: ",", thousands: "," }\n`)).toEqual([
      'test.mapping.yaml: locale.thousands: must differ from locale.decimal (",")',
    ]);
    expect(issues(LINES.replace('amount: { quantity: q, unit_price: p }', 'amount: { quantity: q }'))).toEqual([
      'test.mapping.yaml: amount: needs column, or quantity and unit_price',
    ]);
    expect(issues(LINES.replace('currency: { column: cur }', 'currency: { column: cur, constant: USD }'))).toEqual([
      'test.mapping.yaml: currency: needs exactly one of column or constant',
    ]);
    expect(issues(LINES.replace('kind: orders', 'kind: invoices'))[0]).toMatch(/^test\.mapping\.yaml: kind: /);
    expect(issues('time: [')[0]).toMatch(/^test\.mapping\.yaml: YAML: /);
    for (const line of issues(LINES.replace('customer: c', 'customr: c'))) expect(line).not.toContain('\n');
  });

  it('a mapped column missing from the header is named with its setting', () => {
    const importer = new Importer('orders', yamlMapping(LINES), { source: 'x.csv', now: NOW });
    expect(() => importer.setHeader(['o', 'c', 't', 'q', 'price', 'cur'])).toThrow(
      /amount\.unit_price: column "p" is not in the file's header \(o, c, t, q, price, cur\)/,
    );
    expect(() => new Importer('web', yamlMapping(LINES), { source: 'x.csv', now: NOW })).toThrow(
      /the mapping is for orders, the import is of web/,
    );
  });
});

describe('review fixes', () => {
  it('a malformed row marks its order (read from its order id cell) as partial; with that cell empty it stands alone', () => {
    const importer = new Importer('orders', yamlMapping(LINES), { source: 'x.csv', now: NOW });
    importer.setHeader(HEAD.split(','));
    importer.add(['1', 'c1', '2024-01-01T10:00Z', '1', '10.00', 'USD'], 2);
    importer.reject(3, 'MALFORMED_ROW', 'expected 6 cells, got 7', [
      '1',
      'c1',
      'TWO',
      ' WITH COMMA',
      '1',
      '20.00',
      'USD',
    ]);
    importer.add(['1', 'c1', '2024-01-01T10:00Z', '1', '30.00', 'USD'], 4);
    importer.add(['2', 'c1', '2024-01-01T10:00Z', '1', '5.00', 'USD'], 5);
    importer.reject(6, 'MALFORMED_ROW', 'expected 6 cells, got 2', ['', 'x']);
    const r = importer.finish();
    expect(reasons(r)).toEqual([
      [2, 'PARTIAL_ORDER'],
      [3, 'MALFORMED_ROW'],
      [4, 'PARTIAL_ORDER'],
      [6, 'MALFORMED_ROW'],
    ]);
    expect(r.rejects[0]!.message).toMatch(/order 1 lost a row \(line 3 was rejected\)/);
    expect(orders(r).map((e) => [e.order_id, e.amount_minor])).toEqual([['2', 500]]);
    expect(r.summary).toMatchObject({ rowsRead: 5, contributing: 1 });
  });

  it('a mapped column named twice in the header is a mapping error naming it (unmapped duplicates are fine)', () => {
    const importer = new Importer('orders', yamlMapping(LINES), { source: 'x.csv', now: NOW });
    expect(() => importer.setHeader(['o', 'c', 't', 'q', 'p', 'cur', 'c'])).toThrow(MappingError);
    try {
      importer.setHeader(['o', 'c', 't', 'q', 'p', 'cur', 'c']);
    } catch (err) {
      expect((err as MappingError).issues).toEqual([
        'x.csv: column "c" appears 2 times in the file\'s header; the mapping uses it, so it must be unique',
      ]);
    }
    expect(() =>
      new Importer('orders', yamlMapping(LINES), { source: 'x.csv', now: NOW }).setHeader([
        ...HEAD.split(','),
        'x',
        'x',
      ]),
    ).not.toThrow();
  });

  it('REFUND_EXCEEDS_ORDER: a status refund above the order total, credits above their orders', () => {
    const status = yamlMapping(STATUS.replace('time_column: st', 'time_column: st, refund_amount_column: r'));
    const importer = new Importer('orders', status, { source: 'x.csv', now: NOW });
    importer.setHeader(['o', 'c', 't', 'a', 's', 'st', 'r']);
    importer.add(['S-2', 'c1', '2024-01-01T10:00Z', '10.00', 'returned', '2024-01-02T10:00Z', '50.00'], 2);
    importer.add(['S-3', 'c1', '2024-01-01T10:00Z', '10.00', 'returned', '2024-01-02T10:00Z', '4.00'], 3);
    const s = importer.finish();
    expect(reasons(s)).toEqual([[2, 'REFUND_EXCEEDS_ORDER']]);
    expect(s.rejects[0]!.message).toMatch(/"50.00" \(5000 minor units\) exceeds the order total of 1000/);
    expect(orders(s).map((e) => [e.type, e.order_id, e.amount_minor])).toEqual([
      ['PLACED', 'S-3', 1000],
      ['REFUNDED', 'S-3', 400],
    ]);

    const named = importCsv(
      yamlMapping(`${LINES}credits: { invoice_prefix: C, original_order_column: orig }\n`),
      [`${HEAD},orig`, '1,c1,2024-01-01T10:00Z,1,10.00,USD,', 'C2,c1,2024-01-02T10:00Z,-1,12.00,USD,1'].join('\n'),
    );
    expect(reasons(named)).toEqual([[3, 'REFUND_EXCEEDS_ORDER']]);
    expect(named.rejects[0]!.message).toMatch(/credit C2 of 1200 minor units exceeds what is left \(1000\) of order 1/);

    const latest = yamlMapping(`${LINES}credits: { negative_quantity: true, unnamed: latest_order }\n`);
    const over = importCsv(
      latest,
      [HEAD, '1,c1,2024-01-01T10:00Z,1,10.00,USD', '2,c1,2024-01-02T10:00Z,-1,12.00,USD'].join('\n'),
    );
    expect(reasons(over)).toEqual([[3, 'REFUND_EXCEEDS_ORDER']]);
    expect(over.rejects[0]!.message).toMatch(/of 1200 minor units exceeds what is left \(1000\)/);
    const none = importCsv(
      latest,
      [HEAD, '1,c1,2024-01-03T10:00Z,1,10.00,USD', '2,c1,2024-01-02T10:00Z,-1,12.00,USD'].join('\n'),
    );
    expect(reasons(none)).toEqual([[3, 'ORIGINAL_ORDER_NOT_FOUND']]);
    expect(none.rejects[0]!.message).toMatch(/customer c1 has no earlier USD order in the file/);
  });
});

// ------------------------------------------------------------------------------------------------ properties

const LINE_MAPPING = yamlMapping(
  `${LINES}credits: { invoice_prefix: C, negative_quantity: true, unnamed: latest_order }\n`,
);

const lineArb = fc.record({
  customer: fc.constantFrom('c1', 'c2', 'c3', ''),
  invoice: fc.integer({ min: 1, max: 25 }),
  credit: fc.boolean(),
  qty: fc.integer({ min: 1, max: 20 }),
  cents: fc.integer({ min: 0, max: 5000 }),
  day: fc.integer({ min: 1, max: 28 }),
  bad: fc.constantFrom(null, null, null, null, null, 'time', 'amount', 'currency'),
});
type LineSpec = typeof lineArb extends fc.Arbitrary<infer T> ? T : never;

function lineCells(s: LineSpec): string[] {
  const price = `${Math.floor(s.cents / 100)}.${String(s.cents % 100).padStart(2, '0')}`;
  return [
    `${s.credit ? 'C' : ''}${s.invoice}`,
    s.customer,
    s.bad === 'time' ? '2024-02-30T10:00Z' : `2024-02-${String(s.day).padStart(2, '0')}T10:00Z`,
    String(s.credit ? -s.qty : s.qty),
    s.bad === 'amount' ? price.replace('.', ',') : price,
    s.bad === 'currency' ? 'usd!' : 'USD',
  ];
}

function run(cells: string[][], lines: number[]): ImportResult {
  const importer = new Importer('orders', LINE_MAPPING, { source: 'prop.csv', now: NOW, trackLines: true });
  importer.setHeader(HEAD.split(','));
  cells.forEach((c, i) => {
    importer.add(c, lines[i]!);
  });
  return importer.finish();
}

describe('properties', () => {
  it('a shuffled file gives the same events and the same rejects', () => {
    fc.assert(
      fc.property(fc.array(lineArb, { maxLength: 60 }), fc.infiniteStream(fc.nat()), (specs, rand) => {
        const cells = specs.map(lineCells);
        const lines = cells.map((_, i) => i + 2);
        const order = lines.map((_, i) => [rand.next().value, i] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
        const a = run(cells, lines);
        const b = run(
          order.map(([, i]) => cells[i]!),
          order.map(([, i]) => lines[i]!),
        );
        expect(b.events).toEqual(a.events);
        expect(b.rejects).toEqual(a.rejects);
        expect(b.summary).toEqual(a.summary);
      }),
      { numRuns: 200 },
    );
  });

  it('every row is part of an event or one reject, never both; refunds never exceed their order', () => {
    fc.assert(
      fc.property(fc.array(lineArb, { maxLength: 60 }), (specs) => {
        const cells = specs.map(lineCells);
        const lines = cells.map((_, i) => i + 2);
        const r = run(cells, lines);
        const inEvents = new Set(r.eventLines!.flat());
        const rejected = r.rejects.map((x) => x.line);
        expect(new Set(rejected).size).toBe(rejected.length);
        for (const l of rejected) expect(inEvents.has(l)).toBe(false);
        expect(new Set([...inEvents, ...rejected])).toEqual(new Set(lines));
        expect(r.summary.rowsRead).toBe(lines.length);
        const left = new Map<string, number>();
        for (const { event: e } of r.events) {
          if (e.type === 'PLACED') left.set(e.order_id, e.amount_minor);
          else if (e.type === 'REFUNDED') {
            const l = (left.get(e.order_id) ?? 0) - e.amount_minor;
            expect(l).toBeGreaterThanOrEqual(0); // the order precedes its refund in the sorted output, too
            left.set(e.order_id, l);
          }
        }
        const times = r.events.map((e) => e.event.occurred_at);
        expect(times).toEqual([...times].sort((x, y) => x - y));
      }),
      { numRuns: 200 },
    );
  });
});
