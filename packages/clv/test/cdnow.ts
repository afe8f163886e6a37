/**
 * Test helper: the CDNOW sample (data/cdnow/CDNOW_sample.txt, 2,357 customers) as customer histories keyed by the
 * sample's own id column (1–2357, the "customer 1, 2, …" of the published worked examples), and the FHL 2005 split.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseCdnow } from '@tierstream/generator';
import { type CustomerHistory, dayNumber, type PurchaseDay, type ValidationSplit } from '../src';

export const CDNOW_SAMPLE = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../../data/cdnow/CDNOW_sample.txt',
);

/** Weeks 1–39 calibration (1997-01-01 … 1997-09-30), weeks 40–78 holdout (… 1998-06-30), time in weeks. */
export const CDNOW_SPLIT: ValidationSplit = {
  startDay: dayNumber('1997-01-01'),
  calibrationEndDay: dayNumber('1997-09-30'),
  holdoutEndDay: dayNumber('1998-06-30'),
  daysPerUnit: 7,
};

/** Histories ordered by sample id (index 0 = sample customer 1); amounts in cents. */
export function loadCdnowSample(): CustomerHistory[] {
  const text = readFileSync(CDNOW_SAMPLE, 'utf8');
  const sampleId = new Map<string, number>();
  for (const line of text.split(/\r?\n/)) {
    const cols = line.trim().split(/\s+/);
    if (cols.length === 5) sampleId.set(cols[0]!, Number(cols[1]));
  }
  const byCustomer = new Map<string, PurchaseDay[]>();
  for (const e of parseCdnow(text, CDNOW_SAMPLE)) {
    const list = byCustomer.get(e.customer_id) ?? [];
    list.push({ day: dayNumber(e.occurred_at), amountMinor: e.amount_minor });
    byCustomer.set(e.customer_id, list);
  }
  return [...byCustomer.entries()]
    .map(([customer, purchases]) => ({ id: String(sampleId.get(customer)), purchases }))
    .sort((a, b) => Number(a.id) - Number(b.id));
}
