import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { KNOWN_CURRENCIES, validateInput } from '@tierstream/contracts';
import { describe, expect, it } from 'vitest';
import { dollarsToCents, parseCdnow } from '../src/index';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const cdnowDir = path.join(repoRoot, 'data', 'cdnow');

// Totals from data/cdnow/README.md.
const FILES = [
  { file: 'CDNOW_master.txt', rows: 69_659, customers: 23_570, cents: 250_031_563 },
  { file: 'CDNOW_sample.txt', rows: 6_919, customers: 2_357, cents: 24_409_194 },
] as const;

describe('parseCdnow', () => {
  for (const spec of FILES) {
    it(`${spec.file}: rows, distinct customers, total dollars, dates as in the README`, () => {
      const file = path.join(cdnowDir, spec.file);
      const orders = [...parseCdnow(readFileSync(file, 'utf8'), file)];
      expect(orders).toHaveLength(spec.rows);
      expect(new Set(orders.map((o) => o.customer_id)).size).toBe(spec.customers);
      expect(orders.reduce((s, o) => s + o.amount_minor, 0)).toBe(spec.cents);
      expect(new Set(orders.map((o) => o.event_id)).size).toBe(spec.rows); // identical rows stay distinct
      expect(orders[0]!.occurred_at).toBe(Date.UTC(1997, 0, 1, 12));
      expect(orders.at(-1)!.occurred_at).toBe(Date.UTC(1998, 5, 30, 12));
      for (let i = 1; i < orders.length; i++) expect(orders[i]!.occurred_at >= orders[i - 1]!.occurred_at).toBe(true);
      for (const o of orders) {
        expect(o.type).toBe('PLACED');
        expect(o.currency).toBe('USD');
        expect(o.order_id).toBe(o.event_id);
        expect(o.customer_id).toMatch(/^\d{5}$/);
        expect(validateInput('orders.v1', o, { now: Date.now(), knownCurrencies: KNOWN_CURRENCIES }).ok).toBe(true);
      }
    });
  }

  it('maps a master row and a sample row exactly, keeps file order within a day, ids from file and line', () => {
    const master =
      ' customer_id  date number_of_cds  dollar_value\r\n 00002 19970112  1   12.00\r\n 00001 19970101  1   11.77\r\n 00002 19970112  1   12.00\r\n';
    const orders = [...parseCdnow(master, '/x/CDNOW_master.txt')];
    expect(orders).toEqual([
      {
        event_id: 'cdnow:CDNOW_master.txt:3',
        customer_id: '00001',
        order_id: 'cdnow:CDNOW_master.txt:3',
        type: 'PLACED',
        amount_minor: 1177,
        currency: 'USD',
        margin_minor: null,
        channel: null,
        items: 1,
        occurred_at: Date.UTC(1997, 0, 1, 12, 0, 0),
        original_placed_at: null,
        refund_id: null,
        attributes: null,
      },
      expect.objectContaining({ event_id: 'cdnow:CDNOW_master.txt:2', customer_id: '00002', amount_minor: 1200 }),
      expect.objectContaining({ event_id: 'cdnow:CDNOW_master.txt:4', customer_id: '00002', amount_minor: 1200 }),
    ]);
    const sample = [...parseCdnow(' 00004 0001 19970118  2   29.73\r\n', 'CDNOW_sample.txt')];
    expect(sample[0]).toMatchObject({
      customer_id: '00004',
      items: 2,
      amount_minor: 2973,
      occurred_at: Date.UTC(1997, 0, 18, 12),
    });
  });

  it('rejects malformed rows with the file and line', () => {
    expect(() => parseCdnow('00001 19970101 1\n', 'f.txt')).toThrow(/f\.txt:1: expected 4 or 5 columns/);
    expect(() => parseCdnow('00001 19970231 1 1.00\n', 'f.txt')).toThrow(/bad date/);
    expect(() => parseCdnow('00001 19970101 1 1,00\n', 'f.txt')).toThrow(/bad dollar value/);
  });

  it('converts dollars to cents exactly', () => {
    expect(dollarsToCents('0.00')).toBe(0);
    expect(dollarsToCents('11.7')).toBe(1170);
    expect(dollarsToCents('1234.05')).toBe(123405);
    expect(dollarsToCents('7')).toBe(700);
  });
});
