import { createServer } from 'node:http';

/**
 * A local stand-in for Zoho CRM's record upsert (`POST /crm/v7/<module>/upsert`), implementing the documented shapes
 * the zoho-crm template relies on: at most `maxBatch` records (more → 400 LIMIT_EXCEEDED), `duplicate_check_fields`
 * naming the id field, a 200 whose `data[]` has one entry per record (per-record `INVALID_DATA` errors for ids in
 * `rejectIds`), and a 429 TOO_MANY_REQUESTS (Retry-After: 1 when `retryAfter`) on every `rateLimitEvery`-th request.
 * Keeps the records by id.
 */
export async function startZohoServer(opts: {
  maxBatch?: number;
  rejectIds?: Set<string>;
  rateLimitEvery?: number;
  retryAfter?: boolean;
}): Promise<{
  port: number;
  records: Map<string, Record<string, unknown>>;
  auth: string[];
  maxBatchSeen: number;
  rateLimited: number;
  requests: number;
  close: () => Promise<void>;
}> {
  const maxBatch = opts.maxBatch ?? 100;
  const state = {
    records: new Map<string, Record<string, unknown>>(),
    auth: [] as string[],
    maxBatchSeen: 0,
    rateLimited: 0,
    requests: 0,
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const reply = (status: number, body: unknown, headers: Record<string, string> = {}) => {
        res.writeHead(status, { 'content-type': 'application/json', ...headers });
        res.end(JSON.stringify(body));
      };
      state.requests++;
      state.auth.push(String(req.headers.authorization ?? ''));
      if (req.method !== 'POST' || !/^\/crm\/v7\/[A-Za-z0-9_]+\/upsert$/.test(req.url ?? '')) {
        reply(404, { code: 'INVALID_URL_PATTERN', status: 'error', message: 'Please check if the URL is correct' });
        return;
      }
      if (opts.rateLimitEvery && state.requests % opts.rateLimitEvery === 0) {
        state.rateLimited++;
        reply(
          429,
          { code: 'TOO_MANY_REQUESTS', status: 'error', message: 'too many requests' },
          opts.retryAfter ? { 'retry-after': '1' } : {},
        );
        return;
      }
      let body: { data?: Array<Record<string, unknown>>; duplicate_check_fields?: string[] };
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        reply(400, { code: 'INVALID_DATA', status: 'error', message: 'body is not JSON' });
        return;
      }
      const data = body.data ?? [];
      const idField = body.duplicate_check_fields?.[0];
      if (!idField || data.length === 0) {
        reply(400, { code: 'MANDATORY_NOT_FOUND', status: 'error', message: 'required field not found' });
        return;
      }
      if (data.length > maxBatch) {
        reply(400, { code: 'LIMIT_EXCEEDED', status: 'error', message: `at most ${maxBatch} records` });
        return;
      }
      state.maxBatchSeen = Math.max(state.maxBatchSeen, data.length);
      reply(200, {
        data: data.map((r) => {
          const id = String(r[idField]);
          if (opts.rejectIds?.has(id)) {
            return { code: 'INVALID_DATA', details: { api_name: idField }, message: 'invalid data', status: 'error' };
          }
          const action = state.records.has(id) ? 'update' : 'insert';
          state.records.set(id, { ...(state.records.get(id) ?? {}), ...r });
          return {
            code: 'SUCCESS',
            duplicate_field: idField,
            action,
            details: { id },
            message: `record ${action}d`,
            status: 'success',
          };
        }),
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return Object.assign(state, {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}
