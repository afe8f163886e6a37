import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';
import type { DependencyWaits } from './waits';

export interface HealthChecks {
  /** The consumer loop is alive (not crashed, not stuck). */
  live: () => boolean;
  /** Ready to do work: joined the group and every dependency answers. Returns the failing checks. */
  ready: () => Promise<string[]>;
}

/** The part of a Kafka consumer loop the health checks look at (ConsumerRunner has it). */
export interface ConsumerLoop {
  isLive(): boolean;
  isReady(): boolean;
}

/**
 * Health of a consumer service: live while its loop is; ready when it is a group member and every dependency
 * answers. `runner` is read at each check (a service starts its health endpoint before its consumer exists, so that
 * an unreachable dependency at start shows on /health/ready). Each dependency returns its problem(s), or null.
 * `waits` (optional) names what the start still waits for (`waiting for kafka: …`); while it waits for anything,
 * the group membership is not reported separately (it cannot be a member yet).
 */
export function consumerHealthChecks(
  runner: () => ConsumerLoop | undefined,
  dependencies: Array<() => Promise<string | string[] | null>>,
  waits?: DependencyWaits,
): HealthChecks {
  return {
    live: () => runner()?.isLive() ?? true,
    ready: async () => {
      const failing: string[] = waits?.problems() ?? [];
      if (failing.length === 0 && !runner()?.isReady()) failing.push('kafka: not a member of the consumer group');
      for (const problem of await Promise.all(dependencies.map((check) => check()))) {
        if (Array.isArray(problem)) failing.push(...problem);
        else if (problem) failing.push(problem);
      }
      return failing;
    },
  };
}

/**
 * /metrics (Prometheus text), /health/live and /health/ready (200 or 503 with a JSON body naming what failed).
 * Port 0 picks a free port (tests); the bound port is returned.
 */
export async function startHealthServer(opts: {
  port: number;
  host?: string;
  registry: Registry;
  checks: HealthChecks;
}): Promise<{ server: Server; port: number; close: () => Promise<void> }> {
  const server = createServer((req, res) => {
    const url = req.url ?? '/';
    const reply = (status: number, body: string, type = 'application/json') => {
      res.writeHead(status, { 'content-type': type });
      res.end(body);
    };
    if (url === '/metrics') {
      opts.registry
        .metrics()
        .then((text) => reply(200, text, opts.registry.contentType))
        .catch((err: Error) => reply(500, JSON.stringify({ error: err.message })));
      return;
    }
    if (url === '/health/live') {
      const ok = opts.checks.live();
      reply(ok ? 200 : 503, JSON.stringify({ status: ok ? 'live' : 'dead' }));
      return;
    }
    if (url === '/health/ready') {
      opts.checks
        .ready()
        .then((failing) =>
          reply(
            failing.length === 0 ? 200 : 503,
            JSON.stringify({ status: failing.length === 0 ? 'ready' : 'not ready', failing }),
          ),
        )
        .catch((err: Error) => reply(503, JSON.stringify({ status: 'not ready', failing: [err.message] })));
      return;
    }
    reply(404, JSON.stringify({ error: 'not found', paths: ['/metrics', '/health/live', '/health/ready'] }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : opts.port;
  return {
    server,
    port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
