import {
  BODY_EXCERPT_CHARS,
  CRM_TEMPLATE_BY_ID,
  type CrmDestination,
  type CrmRecord,
  DeliveryError,
  errorOfResponse,
  SIGNATURE_HEADER,
  signHeader,
  type WebhookDestination,
} from '@tierstream/destinations';
import { Agent, request } from 'undici';

/** Bodies are read up to this many bytes (an excerpt goes to the dead letter; CRM answers are parsed). */
const MAX_RESPONSE_BYTES = 1_048_576;

/** One connection pool per destination, sized to its concurrency. */
export function agentFor(concurrency: number, timeoutMs: number): Agent {
  return new Agent({
    connections: concurrency,
    connectTimeout: timeoutMs,
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    keepAliveTimeout: 4_000,
  });
}

/** The HTTP answer of one request; network errors and timeouts are thrown as retriable DeliveryErrors. */
async function post(
  agent: Agent,
  url: string,
  headers: Record<string, string>,
  body: string,
  timeoutMs: number,
): Promise<{ status: number; body: string; retryAfter: string | undefined }> {
  try {
    const res = await request(url, {
      method: 'POST',
      headers,
      body,
      dispatcher: agent,
      signal: AbortSignal.timeout(timeoutMs),
    });
    let text = '';
    let bytes = 0;
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      bytes += chunk.length;
      if (bytes <= MAX_RESPONSE_BYTES) text += chunk.toString('utf8');
    }
    const ra = res.headers['retry-after'];
    return { status: res.statusCode, body: text, retryAfter: Array.isArray(ra) ? ra[0] : ra };
  } catch (err) {
    const e = err as Error & { code?: string; cause?: { code?: string } };
    const code = e.name === 'TimeoutError' || e.name === 'AbortError' ? 'TIMEOUT' : (e.code ?? e.cause?.code ?? e.name);
    throw new DeliveryError(`${code}: ${e.message}`.slice(0, BODY_EXCERPT_CHARS), true);
  }
}

/**
 * POSTs one webhook body: `Idempotency-Key: <transition id>`, a fresh `Tierstream-Signature` (timestamped at this
 * attempt), `Tierstream-Attempt`, and the destination's own headers. Resolves null when delivered (2xx), else the
 * DeliveryError (retriable or not, with status and body excerpt). Never throws.
 */
export async function deliverWebhook(
  dest: WebhookDestination,
  agent: Agent,
  idempotencyKey: string,
  body: string,
  attempt: number,
): Promise<DeliveryError | null> {
  const headers: Record<string, string> = {
    ...dest.headers,
    'content-type': 'application/json',
    'user-agent': 'tierstream-destinations/1',
    'idempotency-key': idempotencyKey,
    'tierstream-attempt': String(attempt),
    [SIGNATURE_HEADER]: signHeader(dest.secret, body, Date.now()),
  };
  try {
    const res = await post(agent, dest.url, headers, body, dest.delivery.timeout_ms);
    return errorOfResponse(res.status, res.body, res.retryAfter, Date.now());
  } catch (err) {
    return err as DeliveryError;
  }
}

/** Per-record refusals of a CRM batch answered with 2xx (the records that were not written). */
export interface CrmRejects {
  rejected: Array<{ record: CrmRecord; code: string; message: string }>;
  /** The status of the 2xx answer the refusals came in. */
  status?: number;
}

/**
 * Upserts one batch of records through the destination's template. Resolves null when the CRM answered 2xx; the
 * records it refused one by one are pushed to `out.rejected` (they are dead-lettered, the others are written).
 * A non-2xx answer or a network error resolves the DeliveryError (429/5xx retriable). Never throws.
 */
export async function deliverCrmBatch(
  dest: CrmDestination,
  agent: Agent,
  records: readonly CrmRecord[],
  out: CrmRejects,
): Promise<DeliveryError | null> {
  const template = CRM_TEMPLATE_BY_ID[dest.template];
  const req = template.request(
    { base_url: dest.base_url, token: dest.token, module: dest.module, id_field: dest.id_field },
    records,
  );
  let res: Awaited<ReturnType<typeof post>>;
  try {
    res = await post(
      agent,
      req.url,
      { ...req.headers, 'user-agent': 'tierstream-destinations/1' },
      req.body,
      dest.delivery.timeout_ms,
    );
  } catch (err) {
    return err as DeliveryError;
  }
  const error = errorOfResponse(res.status, res.body, res.retryAfter, Date.now());
  if (error) return error;
  out.status = res.status;
  try {
    const outcomes = template.outcomes(res.body, records);
    outcomes.forEach((o, i) => {
      if (!o.ok) out.rejected.push({ record: records[i]!, code: o.code, message: o.message });
    });
    return null;
  } catch (err) {
    return new DeliveryError(
      `unexpected ${template.id} response: ${(err as Error).message}`,
      false,
      res.status,
      res.body.slice(0, BODY_EXCERPT_CHARS),
    );
  }
}
