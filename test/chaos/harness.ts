import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  type Clients,
  killService,
  REPO_ROOT,
  type ServiceName,
  type ServiceProcess,
  startService,
  stopService,
} from '@tierstream/cli';
import { customerIdOf, type InputEvent } from '@tierstream/contracts';
import { parseRules, type Rules } from '@tierstream/tiering';
import { dayOf, isoDay } from '@tierstream/tierstate';
import { freePort } from '../support/free-port';
import { aggregateMismatches, tierStateMismatches } from '../support/oracle-checks';
import type { OracleResult } from '../support/pipeline-oracle';
import { historyDistribution, warehouseTransitionIds } from '../support/warehouse-reads';

/**
 * Shared machinery of the chaos and fuzz suites: a seeded random source, control of the local stack's services
 * (through infra/local/stack.sh, with this process's environment, so a test stack on other ports is honoured),
 * a small supervisor for the pipeline's service processes, and the comparison of everything the pipeline wrote
 * with the batch oracle (test/support/pipeline-oracle.ts).
 */

export const CUTPOINTS_EVERY_DAYS = 7;

export function loadDefaultRules(): Rules {
  return parseRules(readFileSync(path.join(REPO_ROOT, 'rules/default.yaml'), 'utf8'), 'rules/default.yaml');
}

/** mulberry32: small, fast, good enough to pick fault times and fuzz bytes reproducibly from a printed seed. */
export class SeededRandom {
  private state: number;
  constructor(readonly seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  }
  int(min: number, maxInclusive: number): number {
    return min + Math.floor(this.next() * (maxInclusive - min + 1));
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }
  bytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = Math.floor(this.next() * 256);
    return b;
  }
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      [items[i], items[j]] = [items[j]!, items[i]!];
    }
    return items;
  }
}

/** The seed from `envName` (decimal), else a fresh one. Always printed, so a failing run can be repeated. */
export function seedFrom(envName: string, label: string, fallback?: number): number {
  const raw = process.env[envName];
  const random = () => Math.floor(Math.random() * 2 ** 31);
  const seed =
    raw === 'random' ? random() : raw !== undefined && raw !== '' ? Number(raw) >>> 0 : (fallback ?? random());
  console.log(`[${label}] seed ${seed} (repeat with ${envName}=${seed})`);
  return seed;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export type StackService = 'kafka' | 'registry' | 'redis' | 'clickhouse';

/** `bash infra/local/stack.sh <up|down|kill> <service>` with this process's environment (ports, stack dir). */
export function stackCtl(action: 'up' | 'down' | 'kill', service: StackService): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(
      'bash',
      [path.join(REPO_ROOT, 'infra/local/stack.sh'), action, service],
      { cwd: REPO_ROOT, env: process.env, timeout: 240_000 },
      (err, _stdout, stderr) => {
        if (err) reject(new Error(`stack.sh ${action} ${service} failed: ${err.message}\n${stderr}`));
        else resolve();
      },
    );
  });
}

interface Instance {
  key: string;
  name: ServiceName;
  port: number;
  proc: ServiceProcess;
  /** Set while the harness itself stops or kills the process (not a crash). */
  expectingExit: boolean;
  /** Consecutive failed /health/live probes. */
  liveFailures: number;
}

export interface FleetEvent {
  at: number;
  key: string;
  what: string;
}

/**
 * The pipeline's processes, started and watched like a process supervisor with a liveness probe would: an instance
 * that exits on its own, or whose /health/live fails for `livenessGraceMs`, is recorded and restarted. The tests
 * decide what such an event means (the fuzz suite allows none; the chaos suite reports them).
 */
export class Fleet {
  private readonly instances = new Map<string, Instance>();
  private readonly logs = new Map<string, string[]>();
  readonly events: FleetEvent[] = [];
  private timer: NodeJS.Timeout | null = null;
  private readonly started = Date.now();

  constructor(
    private readonly env: Record<string, string>,
    opts: { livenessGraceMs?: number; probeEveryMs?: number } = {},
  ) {
    this.livenessGraceMs = opts.livenessGraceMs ?? 20_000;
    this.probeEveryMs = opts.probeEveryMs ?? 1_000;
  }
  private readonly livenessGraceMs: number;
  private readonly probeEveryMs: number;

  /** Starts an instance under `key` (e.g. `aggregator`, `aggregator#2`); a key keeps its HTTP port across restarts. */
  async start(key: string, name: ServiceName): Promise<void> {
    const existing = this.instances.get(key);
    const port = existing?.port ?? (await freePort());
    const proc = startService(name, { ...this.env, HTTP_PORT: String(port) }, (_n, line) => this.log(key, line));
    const inst: Instance = { key, name, port, proc, expectingExit: false, liveFailures: 0 };
    this.instances.set(key, inst);
    proc.exited.then((code) => {
      if (this.instances.get(key) !== inst || inst.expectingExit) return;
      this.record(key, `exited on its own with code ${code} (signal ${proc.child.signalCode}): restarting`);
      void this.start(key, name);
    });
  }

  /** kill -9, then start again (no shutdown hook runs). */
  async crash(key: string): Promise<void> {
    const inst = this.mustGet(key);
    inst.expectingExit = true;
    await killService(inst.proc);
    this.record(key, 'kill -9');
    await this.start(key, inst.name);
  }

  /** Graceful stop (SIGTERM) or kill -9, and forget the instance. Returns the exit code. */
  async remove(key: string, how: 'stop' | 'kill'): Promise<number | null> {
    const inst = this.mustGet(key);
    inst.expectingExit = true;
    this.instances.delete(key);
    if (how === 'kill') {
      await killService(inst.proc);
      this.record(key, 'removed with kill -9');
      return null;
    }
    const code = await stopService(inst.proc, 60_000);
    this.record(key, `removed with SIGTERM, exit code ${code}`);
    return code;
  }

  keys(): string[] {
    return [...this.instances.keys()];
  }

  /** Starts probing /health/live of every instance. */
  watch(): void {
    this.timer = setInterval(() => void this.probe(), this.probeEveryMs);
  }

  private async probe(): Promise<void> {
    for (const inst of [...this.instances.values()]) {
      if (inst.expectingExit || inst.proc.child.exitCode !== null) continue;
      let ok = false;
      try {
        const res = await fetch(`http://127.0.0.1:${inst.port}/health/live`, { signal: AbortSignal.timeout(2_000) });
        await res.body?.cancel();
        ok = res.status === 200;
        if (!ok) this.record(inst.key, `/health/live answered ${res.status}`);
      } catch {
        // Not listening yet (starting) counts as a failure only once the grace period is over.
      }
      inst.liveFailures = ok ? 0 : inst.liveFailures + 1;
      if (
        !ok &&
        inst.liveFailures * this.probeEveryMs >= this.livenessGraceMs &&
        this.instances.get(inst.key) === inst
      ) {
        this.record(inst.key, `not live for ${this.livenessGraceMs} ms: kill -9 and restart (liveness probe)`);
        inst.expectingExit = true;
        await killService(inst.proc);
        await this.start(inst.key, inst.name);
      }
    }
  }

  /** Unexpected exits and liveness failures (not the harness's own kills and stops). */
  incidents(): FleetEvent[] {
    return this.events.filter((e) => /on its own|liveness|answered/.test(e.what));
  }

  /** Stops every instance gracefully; returns the exit codes by key. */
  async stopAll(): Promise<Record<string, number | null>> {
    if (this.timer) clearInterval(this.timer);
    const codes: Record<string, number | null> = {};
    await Promise.all(
      [...this.instances.values()].map(async (inst) => {
        inst.expectingExit = true;
        codes[inst.key] = await stopService(inst.proc, 60_000);
      }),
    );
    this.instances.clear();
    return codes;
  }

  /** The last log lines of an instance (kept for failure reports). */
  tail(key: string, n = 40): string[] {
    return (this.logs.get(key) ?? []).slice(-n);
  }

  allTails(n = 20): string {
    return [...this.logs.keys()].map((k) => `--- ${k}\n${this.tail(k, n).join('\n')}`).join('\n');
  }

  private log(key: string, line: string): void {
    const list = this.logs.get(key) ?? [];
    list.push(line);
    if (list.length > 200) list.splice(0, list.length - 200);
    this.logs.set(key, list);
  }

  record(key: string, what: string): void {
    const at = Date.now() - this.started;
    this.events.push({ at, key, what });
    console.log(`[fleet +${(at / 1000).toFixed(1)}s] ${key}: ${what}`);
  }

  private mustGet(key: string): Instance {
    const inst = this.instances.get(key);
    if (!inst) throw new Error(`no instance ${key}`);
    return inst;
  }
}

export interface OracleComparison {
  customers: number;
  aggregateMismatches: string[];
  tierMismatches: string[];
  missingTransitions: string[];
  unexpectedTransitions: string[];
  duplicateTransitionRows: number;
  oracleTransitions: number;
  distributionMismatches: string[];
}

/**
 * Everything the pipeline produced, compared with the oracle the way test/e2e/pipeline.e2e.test.ts does: aggregates
 * per customer (as of `endAt`), tier state per customer, the set of transition ids in ClickHouse, and customers per
 * tier per day per dimension in the ClickHouse tier history. Returns the differences (empty lists when equal) so a test
 * can print a summary before it asserts.
 */
export async function compareWithOracle(
  clients: Clients,
  events: readonly InputEvent[],
  oracle: OracleResult,
  endAt: number,
): Promise<OracleComparison> {
  const customers = new Set(events.map(customerIdOf).filter((id) => id !== null)).size;
  const aggregates = await aggregateMismatches(clients, events, endAt);
  const tiers = await tierStateMismatches(clients, oracle);
  const transitionIds = await warehouseTransitionIds(clients);
  const actualIds = new Set(transitionIds);
  const expectedIds = new Set(oracle.transitions.map((t) => t.transition_id));

  const actualDist = await historyDistribution(clients, isoDay(dayOf(endAt + 1) - 1));
  const distributionMismatches: string[] = [];
  for (const k of new Set([...actualDist.keys(), ...oracle.distribution.keys()])) {
    if (actualDist.get(k) !== oracle.distribution.get(k)) {
      distributionMismatches.push(`${k}: ${actualDist.get(k)} != ${oracle.distribution.get(k)}`);
    }
  }

  return {
    customers,
    aggregateMismatches: aggregates,
    tierMismatches: tiers,
    missingTransitions: [...expectedIds].filter((id) => !actualIds.has(id)),
    unexpectedTransitions: [...actualIds].filter((id) => !expectedIds.has(id)),
    duplicateTransitionRows: transitionIds.length - actualIds.size,
    oracleTransitions: expectedIds.size,
    distributionMismatches,
  };
}

/** One line per kind of difference, with the first few examples. */
export function describeComparison(c: OracleComparison): string {
  const part = (name: string, list: string[]) =>
    `${name}: ${list.length}${list.length > 0 ? ` (e.g. ${list.slice(0, 3).join(' | ')})` : ''}`;
  return [
    `customers ${c.customers}, oracle transitions ${c.oracleTransitions}`,
    part('aggregate mismatches', c.aggregateMismatches),
    part('tier mismatches', c.tierMismatches),
    part('missing transitions', c.missingTransitions),
    part('unexpected transitions', c.unexpectedTransitions),
    `duplicate transition rows after FINAL: ${c.duplicateTransitionRows}`,
    part('snapshot distribution mismatches', c.distributionMismatches),
  ].join('\n');
}

/** Records in the dead-letter topics, with their headers as strings. */
export async function readDeadLetters(
  clients: Clients,
  topics: readonly string[],
  opts: { idleMs?: number } = {},
): Promise<Array<{ topic: string; key: string | null; value: Buffer | null; headers: Record<string, string> }>> {
  const admin = await clients.admin();
  let expected = 0;
  for (const t of topics) {
    for (const p of await admin.fetchTopicOffsets(t)) expected += Number(p.high) - Number(p.low);
  }
  const out: Array<{ topic: string; key: string | null; value: Buffer | null; headers: Record<string, string> }> = [];
  if (expected === 0) return out;
  const consumer = clients.kafka.consumer({
    groupId: `chaos-dlq-reader-${Date.now()}`,
    maxBytesPerPartition: 16_777_216,
  });
  await consumer.connect();
  await consumer.subscribe({ topics: [...topics], fromBeginning: true });
  await new Promise<void>((resolve, reject) => {
    const deadline = setTimeout(() => resolve(), opts.idleMs ?? 60_000);
    consumer
      .run({
        eachMessage: async ({ topic, message }) => {
          const headers: Record<string, string> = {};
          for (const [k, v] of Object.entries(message.headers ?? {})) {
            headers[k] = Array.isArray(v) ? String(v[0]) : v === undefined ? '' : v.toString('utf8');
          }
          out.push({ topic, key: message.key?.toString('utf8') ?? null, value: message.value, headers });
          if (out.length >= expected) {
            clearTimeout(deadline);
            resolve();
          }
        },
      })
      .catch(reject);
  });
  await consumer.disconnect();
  return out;
}
