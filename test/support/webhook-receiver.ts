import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';

/** One request the receiver got, with what it answered. */
export interface Received {
  at: number;
  idempotencyKey: string;
  signature: string;
  attempt: number;
  body: string;
  /** The status answered; 0 when the connection was destroyed or the answer came after the sender gave up. */
  status: number;
}

/** What to answer a request: a status (after `delayMs`), or `destroy` to drop the connection unanswered. */
export type Fault = { status: number; headers?: Record<string, string>; body?: string; delayMs?: number } | 'destroy';

/**
 * A webhook receiver on 127.0.0.1 (port 0 = any) answering each request by `plan(key, n)` (`n`: how many times this
 * Idempotency-Key was seen, 1 = first) — 200 when the plan returns undefined. Records every request.
 */
export async function startReceiver(
  plan: (key: string, n: number, body: string) => Fault | undefined = () => undefined,
  port = 0,
): Promise<{ url: string; port: number; received: Received[]; close: () => Promise<void> }> {
  const received: Received[] = [];
  const seen = new Map<string, number>();
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const key = String(req.headers['idempotency-key'] ?? '');
      const n = (seen.get(key) ?? 0) + 1;
      seen.set(key, n);
      const entry: Received = {
        at: Date.now(),
        idempotencyKey: key,
        signature: String(req.headers['tierstream-signature'] ?? ''),
        attempt: Number(req.headers['tierstream-attempt'] ?? 0),
        body,
        status: 0,
      };
      received.push(entry);
      const fault = plan(key, n, body) ?? { status: 200, body: '{"ok":true}' };
      if (fault === 'destroy') {
        req.socket.destroy();
        return;
      }
      const answer = () => {
        if (res.destroyed || req.socket.destroyed) return;
        entry.status = fault.status;
        res.writeHead(fault.status, { 'content-type': 'application/json', ...(fault.headers ?? {}) });
        res.end(fault.body ?? '');
      };
      if (fault.delayMs) setTimeout(answer, fault.delayMs);
      else answer();
    });
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const bound = typeof address === 'object' && address ? address.port : port;
  return {
    url: `http://127.0.0.1:${bound}/hooks/tiers`,
    port: bound,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
