import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DEFAULT_AGGREGATE_CONFIG, toReportingMinor } from '@tierstream/aggregates';
import {
  bootstrapPipeline,
  Clients,
  GROUPS,
  REPO_ROOT,
  resetPipelineData,
  type ServiceProcess,
  startService,
  stopService,
} from '@tierstream/cli';
import { INPUT_TOPICS, TOPICS } from '@tierstream/contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readTopic, tierctl, waitForGroupLag } from '../support/journeys';

/**
 * `tierctl import` as a user runs it, on two small exports written here, read with the two shipped mappings
 * (examples/import): rows → Avro events on orders.v1 → the aggregator → the customers' aggregates in Redis, read back
 * with `tierctl customer`. Expected values are worked out from the files by hand (minor units; GBP converted to the
 * reporting currency per event as the aggregator does).
 */

const RETAIL_MAPPING = path.join(REPO_ROOT, 'examples', 'import', 'online-retail.mapping.yaml');
const STATUS_MAPPING = path.join(REPO_ROOT, 'examples', 'import', 'order-status.mapping.yaml');

// Online-Retail shape: several lines per invoice, credits "C…" with negative quantities and no original invoice.
// Each customer's events lie within 48 h, so even the event-id dedupe alone makes a re-import idempotent.
const RETAIL = [
  'InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country',
  '700001,A1,MUG,2,3/1/2011 10:00,5.00,20001,United Kingdom', // line 2
  '700001,A2,TEAPOT,1,3/1/2011 10:00,12.50,20001,United Kingdom', // 700001 = 22.50
  '700002,A3,SPOON,3,3/1/2011 15:30,1.10,20001,United Kingdom', // 700002 = 3.30
  'C700003,A1,MUG,-1,3/2/2011 9:00,5.00,20001,United Kingdom', // credit 5.00: 3.30 of 700002 + 1.70 of 700001
  '700004,B1,BAG,10,3/1/2011 11:00,0.85,20002,United Kingdom', // line 6
  '700004,B2,LAMP,1,3/1/2011 11:00,"1,000.00",20002,United Kingdom', // line 7: not a number in the mapping's locale
  '700005,B3,CARD,4,3/1/2011 12:00,2.50,20002,United Kingdom', // 700005 = 10.00
  'C700006,B1,BAG,-2,3/3/2011 12:00,0.85,20003,United Kingdom', // line 9: a credit of a customer with no order
  '700007,B4,BOX,1,3/3/2011 13:00,4.00,,United Kingdom', // line 10: no customer
].join('\n');

// Status export (German shop: ";" cells, decimal ",", Berlin time), one row per order with its current status.
const STATUS = [
  'order_no;customer_no;placed_at;status_changed_at;status;total;refunded;currency',
  'A-1;S-1;01.03.2011 10:00;03.03.2011 10:00;completed;100,00;;USD',
  'A-2;S-1;10.03.2011 10:00;12.03.2011 10:00;returned;50,00;20,00;USD', // partial return of 20.00
  'A-3;S-2;05.03.2011 10:00;05.03.2011 12:00;cancelled;1.250,00;;USD',
  'A-4;S-2;06.03.2011 09:00;08.03.2011 09:00;shipped;30,00;;USD',
].join('\n');

const gbp = (pence: number) => toReportingMinor(pence, 'GBP', DEFAULT_AGGREGATE_CONFIG);
const EXPECTED: Record<string, { orders_lifetime: number; revenue_lifetime: number; first: string; last: string }> = {
  // PLACED 2250 + 330, REFUNDED 330 (of 700002) + 170 (of 700001): each converted on its own.
  '20001': {
    orders_lifetime: 2,
    revenue_lifetime: gbp(2250) + gbp(330) - gbp(330) - gbp(170),
    first: '2011-03-01T10:00:00.000Z',
    last: '2011-03-01T15:30:00.000Z',
  },
  // 700004 lost its line 7: only 700005 is produced.
  '20002': {
    orders_lifetime: 1,
    revenue_lifetime: gbp(1000),
    first: '2011-03-01T12:00:00.000Z',
    last: '2011-03-01T12:00:00.000Z',
  },
  // A-1 10000 + A-2 5000 − the return of 2000 (on A-2's day).
  'S-1': {
    orders_lifetime: 2,
    revenue_lifetime: 13_000,
    first: '2011-03-01T09:00:00.000Z',
    last: '2011-03-10T09:00:00.000Z',
  },
  // A-3 placed and cancelled (counts nothing, not even its purchase time: design-decisions §15), A-4 3000.
  'S-2': {
    orders_lifetime: 1,
    revenue_lifetime: 3_000,
    first: '2011-03-06T08:00:00.000Z',
    last: '2011-03-06T08:00:00.000Z',
  },
};

interface ImportJson {
  summary: { rowsRead: number; events: Record<string, number>; rejected: Record<string, number>; contributing: number };
  produced: Record<string, number>;
  rejectFile: string | null;
}

describe('tierctl import end to end', () => {
  const clients = new Clients();
  let tmp = '';
  let aggregator: ServiceProcess | null = null;
  const retail = () => path.join(tmp, 'retail.csv');
  const status = () => path.join(tmp, 'status.csv');

  beforeAll(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'tierstream-import-'));
    writeFileSync(retail(), `${RETAIL}\n`);
    writeFileSync(status(), `${STATUS}\n`);
    await resetPipelineData(clients);
    await bootstrapPipeline(clients);
  });

  afterAll(async () => {
    if (aggregator) await stopService(aggregator);
    await clients.close();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('an invalid mapping or argument exits 2 with one line naming the setting, and produces nothing', async () => {
    const broken = path.join(tmp, 'broken.yaml');
    writeFileSync(broken, readFileSync(RETAIL_MAPPING, 'utf8').replace('zone: Europe/London', 'zone: Europe/Lodnon'));
    const bad = await tierctl(['import', 'orders', retail(), '--mapping', broken]);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim().split('\n')).toEqual([
      `tierctl import: ${broken}: time.zone: unknown time zone "Europe/Lodnon" (an IANA name such as Europe/London, UTC or an offset such as +02:00)`,
    ]);
    const [kind, noMapping, wrongKind] = await Promise.all([
      tierctl(['import', 'invoices', retail(), '--mapping', RETAIL_MAPPING]),
      tierctl(['import', 'orders', retail()]),
      tierctl(['import', 'web', retail(), '--mapping', RETAIL_MAPPING]),
    ]);
    expect([kind.code, noMapping.code, wrongKind.code]).toEqual([2, 2, 2]);
    expect(wrongKind.stderr).toContain('kind: the mapping is for orders, the import is of web');
    // Several problems: a one-line summary, then one line each.
    const typos = path.join(tmp, 'typos.yaml');
    writeFileSync(
      typos,
      readFileSync(RETAIL_MAPPING, 'utf8').replace('customer:', 'custmer:').replace('zone: Europe/London', 'zone: X/Y'),
    );
    const several = await tierctl(['import', 'orders', retail(), '--mapping', typos]);
    expect(several.code).toBe(2);
    const lines = several.stderr.trim().split('\n');
    expect(lines[0]).toBe(`tierctl import: mapping ${typos}: ${lines.length - 1} problems`);
    expect(lines.length).toBeGreaterThan(2);
    // A mapped column named twice in the header: exit 2, one line naming it.
    const dup = path.join(tmp, 'dup.csv');
    writeFileSync(
      dup,
      `${RETAIL.split('\n')[0]!.replace('Country', 'CustomerID')}\n700001,A1,MUG,2,3/1/2011 10:00,5.00,,20001\n`,
    );
    const dupped = await tierctl(['import', 'orders', dup, '--mapping', RETAIL_MAPPING]);
    expect(dupped.code).toBe(2);
    expect(dupped.stderr.trim().split('\n')).toEqual([
      `tierctl import: ${dup}: column "CustomerID" appears 2 times in the file's header; the mapping uses it, so it must be unique`,
    ]);
    // A quote never closed: the rest of the file cannot be read; exit 1, one line, nothing produced, no reject file.
    const unclosed = path.join(tmp, 'unclosed.csv');
    const rows = RETAIL.split('\n');
    rows[9] = rows[9]!.replace('BOX', '"BOX'); // line 10: no quote after it to close it
    writeFileSync(unclosed, `${rows.join('\n')}\n`);
    const open = await tierctl(['import', 'orders', unclosed, '--mapping', RETAIL_MAPPING]);
    expect(open.code).toBe(1);
    expect(open.stderr.trim().split('\n')).toEqual([
      `tierctl import: ${unclosed}: line 10: a quoted field starting on this line is never closed, so the rest of the file from line 10 on could not be read; nothing was imported`,
    ]);
    expect(existsSync(`${unclosed}.rejects.csv`)).toBe(false);
    expect((await readTopic(clients, TOPICS.orders)).length).toBe(0);
  });

  it('invoice lines: exit 1 with a reject file when rows were rejected; the good orders are produced in event-time order', async () => {
    const r = await tierctl(['import', 'orders', retail(), '--mapping', RETAIL_MAPPING, '--json']);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain('4 row(s) rejected');
    const out = JSON.parse(r.stdout) as ImportJson;
    expect(out.summary).toEqual({
      rowsRead: 9,
      events: { PLACED: 3, REFUNDED: 2 },
      rejected: { UNPARSABLE_AMOUNT: 1, MISSING_CUSTOMER_ID: 1, PARTIAL_ORDER: 1, ORIGINAL_ORDER_NOT_FOUND: 1 },
      contributing: 5,
    });
    expect(out.produced).toEqual({ [TOPICS.orders]: 5 });
    const rejects = readFileSync(out.rejectFile!, 'utf8').trim().split('\n');
    expect(rejects[0]).toBe('line,reason,message');
    expect(rejects.slice(1).map((l) => l.split(',').slice(0, 2).join(','))).toEqual([
      '6,PARTIAL_ORDER',
      '7,UNPARSABLE_AMOUNT',
      '9,ORIGINAL_ORDER_NOT_FOUND',
      '10,MISSING_CUSTOMER_ID',
    ]);
    expect(rejects[2]).toContain('"1,000.00"');

    const records = (await readTopic(clients, TOPICS.orders)).filter((x) => !x.control);
    expect(records).toHaveLength(5);
  });

  it('status export: PLACED, REFUNDED for the return, CANCELLED; exit 0', async () => {
    const r = await tierctl(['import', 'orders', status(), '--mapping', STATUS_MAPPING, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as ImportJson;
    expect(out.summary.events).toEqual({ PLACED: 4, REFUNDED: 1, CANCELLED: 1 });
    expect(out.summary.rejected).toEqual({});
    expect(out.rejectFile).toBeNull();
  });

  it('re-importing the same file gives the same event ids (--allow-rejects: exit 0)', async () => {
    const r = await tierctl(['import', 'orders', retail(), '--mapping', RETAIL_MAPPING, '--allow-rejects', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as ImportJson).produced).toEqual({ [TOPICS.orders]: 5 });
  });

  it('the aggregator turns the imports into the customers’ aggregates (re-import counted once)', async () => {
    aggregator = startService('aggregator', { HTTP_PORT: '0', LOG_LEVEL: 'warn' }, () => undefined);
    const a = aggregator;
    await waitForGroupLag(clients, GROUPS.aggregator, INPUT_TOPICS, {
      timeoutMs: 120_000,
      isAlive: () => (a.child.exitCode !== null ? `aggregator exited with ${a.child.exitCode}` : null),
    });
    for (const [id, want] of Object.entries(EXPECTED)) {
      const r = await tierctl(['customer', id, '--as-of', '2011-03-31T23:59:59Z', '--json']);
      expect(r.code, r.stderr).toBe(0);
      const m = (JSON.parse(r.stdout) as { metrics: Record<string, number | null> }).metrics;
      expect(
        {
          orders_lifetime: m.orders_lifetime,
          revenue_lifetime: m.revenue_lifetime,
          first: new Date(m.first_order_at!).toISOString(),
          last: new Date(m.last_order_at!).toISOString(),
        },
        id,
      ).toEqual(want);
    }
    const none = await tierctl(['customer', '20003', '--json']);
    expect(none.code).toBe(1); // its only row was a rejected credit
  });
});
