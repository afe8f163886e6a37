import type { CrmTemplate, RecordOutcome } from './types';
import { joinUrl } from './types';

/**
 * HubSpot contacts batch update (CRM objects API, `POST {base_url}/crm/v3/objects/contacts/batch/update`): at most
 * 100 inputs per call, `Authorization: Bearer <token>`, body `{"inputs":[{"id": customer, "idProperty": <id_field>,
 * "properties": {<field>: value…}}]}` (the contact is found by the unique property `id_field`; a cleared field is
 * sent as ""). The answer is 200 `{"status":"COMPLETE","results":[…]}` or 207 with `errors: [{"category":…,
 * "message":…,"context":{"ids":[…]}}]` naming the inputs that failed (e.g. OBJECT_NOT_FOUND, VALIDATION_ERROR).
 */
export const hubspotContacts: CrmTemplate = {
  id: 'hubspot-contacts',
  maxBatch: 100,
  request(target, records) {
    return {
      method: 'POST',
      url: joinUrl(target.base_url, '/crm/v3/objects/contacts/batch/update'),
      headers: { authorization: `Bearer ${target.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        inputs: records.map((r) => ({
          id: r.customer_id,
          idProperty: target.id_field,
          properties: Object.fromEntries(Object.entries(r.fields).map(([k, v]) => [k, v ?? ''])),
        })),
      }),
    };
  },
  outcomes(body, records) {
    const parsed = JSON.parse(body) as {
      status?: string;
      errors?: Array<{ category?: string; message?: string; context?: { ids?: string[] } }>;
    };
    if (typeof parsed.status !== 'string') throw new Error('hubspot-contacts: expected a batch response with status');
    const failed = new Map<string, { code: string; message: string }>();
    for (const e of parsed.errors ?? []) {
      for (const id of e.context?.ids ?? []) {
        failed.set(id, { code: e.category ?? 'ERROR', message: e.message ?? 'input refused' });
      }
    }
    return records.map((r): RecordOutcome => {
      const f = failed.get(r.customer_id);
      return f ? { ok: false, ...f } : { ok: true };
    });
  },
};
