import type { TierChange } from '@tierstream/contracts';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { chunks, crmRecordOf, latestPerCustomer } from '../src/crm';
import { hubspotContacts, zohoCrm } from '../src/templates';

const change = (customer_id: string, state_version: number, tiers: Record<string, string>): TierChange => ({
  customer_id,
  kind: 'CHANGE',
  state_version,
  snapshot_day: null,
  tiers,
  metrics: {},
  rules_version: 'r1',
  cutpoints_version: 'cp1',
  as_of: 0,
  emitted_at: 0,
});
const mapping = {
  fields: { value: 'Value_Tier', engagement: 'Engagement_Tier' },
  picklists: { value: { PLATINUM: 'Platinum' } },
};
const target = { base_url: 'http://127.0.0.1:9/', token: 'tok', module: 'Contacts', id_field: 'Tierstream_Id' };

describe('CRM mapping', () => {
  it('maps dimensions to fields and tiers to picklist values; an unmapped dimension is left out, a missing tier clears', () => {
    expect(crmRecordOf(mapping, change('c1', 4, { value: 'PLATINUM', rfm: '555' }))).toEqual({
      customer_id: 'c1',
      state_version: 4,
      fields: { Value_Tier: 'Platinum', Engagement_Tier: null },
    });
    expect(crmRecordOf(mapping, change('c1', 4, { value: 'GOLD', engagement: 'ACTIVE' })).fields).toEqual({
      Value_Tier: 'GOLD',
      Engagement_Tier: 'ACTIVE',
    });
  });

  it('keeps the highest state_version per customer, and chunks keep every record once in order', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom('a', 'b', 'c', 'd'), fc.integer({ min: 0, max: 20 })), { maxLength: 60 }),
        fc.integer({ min: 1, max: 7 }),
        (rows, size) => {
          const records = rows.map(([c, v]) => ({ customer_id: c, state_version: v, fields: { f: `${c}${v}` } }));
          const latest = latestPerCustomer(records);
          expect(new Set(latest.map((r) => r.customer_id)).size).toBe(latest.length);
          for (const r of latest) {
            const max = Math.max(...records.filter((x) => x.customer_id === r.customer_id).map((x) => x.state_version));
            expect(r.state_version).toBe(max);
          }
          const cs = chunks(latest, size);
          expect(cs.flat()).toEqual(latest);
          for (const c of cs) expect(c.length).toBeLessThanOrEqual(size);
        },
      ),
    );
  });
});

describe('CRM templates', () => {
  const records = [
    { customer_id: 'c1', state_version: 1, fields: { Value_Tier: 'Platinum', Engagement_Tier: null } },
    { customer_id: 'c2', state_version: 1, fields: { Value_Tier: 'GOLD', Engagement_Tier: 'ACTIVE' } },
  ];

  it('zoho-crm: upsert request with duplicate check on the id field; per-record errors from data[]', () => {
    const req = zohoCrm.request(target, records);
    expect(req.url).toBe('http://127.0.0.1:9/crm/v7/Contacts/upsert');
    expect(req.headers.authorization).toBe('Zoho-oauthtoken tok');
    expect(JSON.parse(req.body)).toEqual({
      data: [
        { Tierstream_Id: 'c1', Value_Tier: 'Platinum', Engagement_Tier: null },
        { Tierstream_Id: 'c2', Value_Tier: 'GOLD', Engagement_Tier: 'ACTIVE' },
      ],
      duplicate_check_fields: ['Tierstream_Id'],
    });
    const body = JSON.stringify({
      data: [
        { code: 'SUCCESS', status: 'success', action: 'update', details: { id: '1' }, message: 'record updated' },
        { code: 'INVALID_DATA', status: 'error', details: { api_name: 'Value_Tier' }, message: 'invalid data' },
      ],
    });
    expect(zohoCrm.outcomes(body, records)).toEqual([
      { ok: true },
      { ok: false, code: 'INVALID_DATA', message: 'invalid data' },
    ]);
    expect(() => zohoCrm.outcomes('{"data":[]}', records)).toThrow(/2 entries/);
  });

  it('hubspot-contacts: batch update by idProperty; errors[].context.ids name the failed inputs', () => {
    const req = hubspotContacts.request(target, records);
    expect(req.url).toBe('http://127.0.0.1:9/crm/v3/objects/contacts/batch/update');
    expect(req.headers.authorization).toBe('Bearer tok');
    expect(JSON.parse(req.body)).toEqual({
      inputs: [
        { id: 'c1', idProperty: 'Tierstream_Id', properties: { Value_Tier: 'Platinum', Engagement_Tier: '' } },
        { id: 'c2', idProperty: 'Tierstream_Id', properties: { Value_Tier: 'GOLD', Engagement_Tier: 'ACTIVE' } },
      ],
    });
    const body = JSON.stringify({
      status: 'COMPLETE',
      results: [{ id: '101', properties: {} }],
      numErrors: 1,
      errors: [{ status: 'error', category: 'OBJECT_NOT_FOUND', message: 'not found', context: { ids: ['c2'] } }],
    });
    expect(hubspotContacts.outcomes(body, records)).toEqual([
      { ok: true },
      { ok: false, code: 'OBJECT_NOT_FOUND', message: 'not found' },
    ]);
  });
});
