/**
 * Console profile API bench (issue 17): `npx tsx bench/console-profile.ts [--rate 500] [--seconds 20]
 * [--ceiling-seconds 10] [--connections 16] [--keep]`. Puts the `tiny` workload (200 customers) through the real
 * pipeline under names of its own (the browser tests' run: test/browser/support/pipeline-run.ts), starts the console as
 * a process (as `tierstream console` does) on that data, and reads `GET /api/v1/customers/{id}` (the current profile:
 * Redis tier state and aggregates) over loopback:
 *   1. fixed rate: `--rate` requests/s for `--seconds` (open loop: each request is sent at its scheduled time whatever
 *      the previous ones do; latency = response − scheduled send, so a stall counts against every request behind it);
 *   2. ceiling: `--connections` concurrent requests back to back for `--ceiling-seconds` (closed loop).
 * Random customer ids of the run. Target: p99 ≤ 10 ms at 500 requests/s. Prints one JSON object. The run's topics,
 * groups, keys and database are dropped at the end (kept with --keep). Takes the stack lock in scripts
 * (`flock /tmp/tierstream-stack.lock`); also phase `console` of `npm run bench` (measureConsoleProfile).
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { type ServiceProcess, startService, stopService } from '@tierstream/cli';
import { Pool } from 'undici';
import { createBrowserRun, dropBrowserRuns, runClients } from '../test/browser/support/pipeline-run';

/** What the console profile bench measures (see the module comment). */
export interface ConsoleProfileOptions {
  rate: number;
  seconds: number;
  ceilingSeconds: number;
  connections: number;
  /** Keep the run's topics, groups, keys and database. */
  keep?: boolean;
}

/** The q-quantile (0..1) of sorted numbers, nearest rank. */
function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/** Cumulative counts per `le` bound of the console's request histogram for the profile route (status 200). */
async function serverBuckets(url: string): Promise<Map<number, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const out = new Map<number, number>();
  for (const m of text.matchAll(/^tierstream_console_request_duration_seconds_bucket\{([^}]*)\} (\d+)/gm)) {
    const labels = m[1]!;
    if (!labels.includes('route="/api/v1/customers/:id"') || !labels.includes('status="200"')) continue;
    const le = /le="([^"]+)"/.exec(labels)?.[1];
    if (le) out.set(le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le), Number(m[2]));
  }
  return out;
}

/** The smallest histogram bound (ms) under which a share q of the requests between two scrapes finished. */
function serverQuantile(before: Map<number, number>, after: Map<number, number>, q: number): number {
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const total = (after.get(Number.POSITIVE_INFINITY) ?? 0) - (before.get(Number.POSITIVE_INFINITY) ?? 0);
  for (const b of bounds) if ((after.get(b) ?? 0) - (before.get(b) ?? 0) >= q * total) return b * 1000;
  return Number.NaN;
}

function summary(latencies: number[], errors: number, seconds: number) {
  const sorted = [...latencies].sort((a, b) => a - b);
  const r = (x: number) => Math.round(x * 100) / 100;
  return {
    requests: latencies.length,
    errors,
    achieved_rate: Math.round(latencies.length / seconds),
    p50_ms: r(quantile(sorted, 0.5)),
    p90_ms: r(quantile(sorted, 0.9)),
    p99_ms: r(quantile(sorted, 0.99)),
    max_ms: r(sorted.at(-1) ?? Number.NaN),
  };
}

/**
 * Runs the bench (pipeline run, console process, fixed-rate and ceiling phases) and returns its figures. Stops the
 * console and drops the run's data whatever fails.
 */
export async function measureConsoleProfile(o: ConsoleProfileOptions): Promise<ConsoleProfileResult> {
  const { rate: RATE, seconds: SECONDS, ceilingSeconds: CEILING_SECONDS, connections: CONNECTIONS } = o;
  const run = await createBrowserRun();
  const token = randomBytes(18).toString('base64url');
  let svc: ServiceProcess | null = null;
  const pool = { current: null as Pool | null };
  try {
    const clients = runClients(run.settings);
    const rs = await clients.clickhouse.query({
      query: `SELECT DISTINCT customer_id FROM ${run.settings.CLICKHOUSE_DATABASE}.tier_current FINAL`,
      format: 'JSONEachRow',
    });
    const ids = (await rs.json<{ customer_id: string }>()).map((r) => r.customer_id);
    await clients.close();
    const lines: string[] = [];
    svc = startService(
      'console',
      { ...run.settings, CONSOLE_PORT: '0', CONSOLE_VIEWER_TOKEN: token, LOG_LEVEL: 'info' },
      (_n, line) => lines.push(line),
    );
    let url = '';
    for (const deadline = Date.now() + 60_000; !url; ) {
      if (Date.now() > deadline || svc.child.exitCode !== null)
        throw new Error(`console did not start: ${lines.join('\n')}`);
      const m = lines.map((l) => /"url":"([^"]+)".*"msg":"console listening"/.exec(l)?.[1]).find(Boolean);
      if (m) url = m;
      else await new Promise((r) => setTimeout(r, 100));
    }
    const p = new Pool(url, { connections: Math.max(CONNECTIONS, 32), pipelining: 1 });
    pool.current = p;
    const headers = { authorization: `Bearer ${token}` };
    const pick = () => ids[Math.floor(Math.random() * ids.length)]!;
    const get = async (): Promise<boolean> => {
      const res = await p.request({ method: 'GET', path: `/api/v1/customers/${encodeURIComponent(pick())}`, headers });
      await res.body.text();
      return res.statusCode === 200;
    };
    // Warm-up: connections, JIT, the view cache.
    for (let i = 0; i < 500; i++) await get();

    // 1. Fixed rate, open loop.
    const serverBefore = await serverBuckets(url);
    const fixed: number[] = [];
    let fixedErrors = 0;
    const total = RATE * SECONDS;
    const t0 = performance.now();
    const inflight: Promise<void>[] = [];
    for (let i = 0; i < total; i++) {
      const due = t0 + (i * 1000) / RATE;
      const wait = due - performance.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      inflight.push(
        get().then(
          (ok) => {
            if (ok) fixed.push(performance.now() - due);
            else fixedErrors++;
          },
          () => {
            fixedErrors++;
          },
        ),
      );
    }
    await Promise.all(inflight);
    const fixedSeconds = (performance.now() - t0) / 1000;
    const serverAfter = await serverBuckets(url);
    // The console's own view (request in → response out, its histogram): what the client adds on top is queueing in
    // the load generator and the kernel on the shared cores.
    const server = {
      p50_le_ms: serverQuantile(serverBefore, serverAfter, 0.5),
      p99_le_ms: serverQuantile(serverBefore, serverAfter, 0.99),
    };

    // 2. Ceiling, closed loop.
    const ceiling: number[] = [];
    let ceilingErrors = 0;
    const c0 = performance.now();
    const end = c0 + CEILING_SECONDS * 1000;
    await Promise.all(
      Array.from({ length: CONNECTIONS }, async () => {
        while (performance.now() < end) {
          const s = performance.now();
          try {
            if (await get()) ceiling.push(performance.now() - s);
            else ceilingErrors++;
          } catch {
            ceilingErrors++;
          }
        }
      }),
    );
    const ceilingSeconds = (performance.now() - c0) / 1000;
    return {
      bench: 'console-profile',
      route: 'GET /api/v1/customers/{id}',
      customers: ids.length,
      pipeline_seconds: run.seconds,
      load_average: os.loadavg().map((x) => Math.round(x * 10) / 10),
      cores: os.availableParallelism(),
      fixed_rate_server: server,
      fixed_rate: {
        target_rate: RATE,
        seconds: Math.round(fixedSeconds * 10) / 10,
        ...summary(fixed, fixedErrors, fixedSeconds),
      },
      ceiling: {
        connections: CONNECTIONS,
        seconds: Math.round(ceilingSeconds * 10) / 10,
        ...summary(ceiling, ceilingErrors, ceilingSeconds),
      },
      target: 'p99 <= 10 ms at 500 requests/s',
    };
  } finally {
    await pool.current?.close();
    if (svc) await stopService(svc);
    if (!o.keep) await dropBrowserRuns({ run: run.run });
  }
}

/** The figures measureConsoleProfile returns (printed as JSON by the command line). */
export type ConsoleProfileResult = {
  bench: string;
  route: string;
  customers: number;
  pipeline_seconds: number;
  load_average: number[];
  cores: number;
  fixed_rate_server: { p50_le_ms: number; p99_le_ms: number };
  fixed_rate: { target_rate: number; seconds: number } & ReturnType<typeof summary>;
  ceiling: { connections: number; seconds: number } & ReturnType<typeof summary>;
  target: string;
};

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: {
      rate: { type: 'string', default: '500' },
      seconds: { type: 'string', default: '20' },
      'ceiling-seconds': { type: 'string', default: '10' },
      connections: { type: 'string', default: '16' },
      keep: { type: 'boolean', default: false },
    },
  });
  measureConsoleProfile({
    rate: Number(values.rate),
    seconds: Number(values.seconds),
    ceilingSeconds: Number(values['ceiling-seconds']),
    connections: Number(values.connections),
    keep: values.keep,
  }).then(
    (result) => console.log(JSON.stringify(result, null, 2)),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
