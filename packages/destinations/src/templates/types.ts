import type { CrmRecord } from '../crm';

/** A request to make (the adapter sends it; templates are pure). */
export interface HttpRequestSpec {
  method: 'POST' | 'PATCH' | 'PUT';
  url: string;
  headers: Record<string, string>;
  body: string;
}

/** The fate of one record in a 2xx response: written, or refused with the CRM's code and message. */
export type RecordOutcome = { ok: true } | { ok: false; code: string; message: string };

/** What a CRM template needs of the destination. */
export interface CrmTarget {
  base_url: string;
  token: string;
  module: string;
  id_field: string;
}

/**
 * A CRM's batch upsert API as data: how to write a batch of records and how to read the per-record results of a
 * 2xx answer. Non-2xx answers are classified by the retry policy (429/5xx retried, other 4xx dead-lettered).
 * Adding a CRM = one file implementing this, registered in templates/index.ts (docs/destinations.md).
 */
export interface CrmTemplate {
  id: string;
  /** The API's largest batch (records per request). */
  maxBatch: number;
  request(target: CrmTarget, records: readonly CrmRecord[]): HttpRequestSpec;
  /** One outcome per record, in `records` order; throws when the body is not the documented shape. */
  outcomes(body: string, records: readonly CrmRecord[]): RecordOutcome[];
}

/** `base` without trailing slashes, joined with `path`. */
export function joinUrl(base: string, path: string): string {
  return `${base.replace(/\/+$/, '')}${path}`;
}
