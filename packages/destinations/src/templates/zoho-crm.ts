import type { CrmTemplate, RecordOutcome } from './types';
import { joinUrl } from './types';

/**
 * Zoho CRM record upsert (Records API, `POST {base_url}/crm/v7/{module}/upsert`): at most 100 records per call,
 * `Authorization: Zoho-oauthtoken <token>`, body `{"data":[{<id_field>: customer, <field>: value…}],
 * "duplicate_check_fields":[<id_field>]}` (insert when no record has that id, update otherwise). The answer (200,
 * 201, 202 or 207) carries `data` with one entry per record in request order: `{"status":"success","code":"SUCCESS",
 * "action":"insert"|"update",…}` or `{"status":"error","code":"INVALID_DATA","message":…,"details":{…}}`.
 */
export const zohoCrm: CrmTemplate = {
  id: 'zoho-crm',
  maxBatch: 100,
  request(target, records) {
    return {
      method: 'POST',
      url: joinUrl(target.base_url, `/crm/v7/${encodeURIComponent(target.module)}/upsert`),
      headers: { authorization: `Zoho-oauthtoken ${target.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        data: records.map((r) => ({ [target.id_field]: r.customer_id, ...r.fields })),
        duplicate_check_fields: [target.id_field],
      }),
    };
  },
  outcomes(body, records) {
    const parsed = JSON.parse(body) as { data?: Array<{ status?: string; code?: string; message?: string }> };
    if (!Array.isArray(parsed.data) || parsed.data.length !== records.length) {
      throw new Error(`zoho-crm: expected data[] with ${records.length} entries`);
    }
    return parsed.data.map(
      (d): RecordOutcome =>
        d.status === 'success'
          ? { ok: true }
          : { ok: false, code: d.code ?? 'ERROR', message: d.message ?? 'record refused' },
    );
  },
};
