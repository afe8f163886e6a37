/**
 * tierstream benchmark suite: `npm run bench -- [--customers N] [--scale 10000,100000,1000000] [--skip latency,...]
 * [--out file] [--profile aggregator,tier-engine]`. Measures, in ONE run on the local stack, the ceilings (Kafka's
 * ConsumerPerformance, a bare kafkajs drain, Redis EVALSHA) next to the services, and reports the DESIGN.md targets
 * as ratios. Every phase is bounded in time; every child process is stopped whatever fails.
 * It WIPES tierstream's topics, consumer groups, Redis keys under `ts:` and the ClickHouse database: the bench owns
 * the stack while it runs. See docs/performance.md.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Clients, guardWipe, REPO_ROOT, resetActions } from '@tierstream/cli';
import { INPUT_TOPICS } from '@tierstream/contracts';
import { type ConsoleProfileResult, measureConsoleProfile } from './console-profile';
import { type AggregatorBaselineResult, phaseAggregatorBaseline, resetAggregatorRun } from './lib/aggregator-ab';
import { type IdentityBenchResult, phaseIdentity } from './lib/identity';
import { type ImportBenchResult, phaseImport } from './lib/import';
import { type LatencyResult, phaseLatency, phaseSweep, type SweepPoint } from './lib/latency';
import {
  type AggregatorResult,
  type BenchContext,
  type CeilingsResult,
  type EngineResult,
  phaseAggregator,
  phaseCeilings,
  phaseEngine,
  phaseWorkload,
  topicCounts,
  type WorkloadResult,
} from './lib/phases';
import { stopAllServices, withTimeout } from './lib/proc';
import { type ProfileSummary, summarizeCpuProfile } from './lib/profile';
import { DEFAULT_CDNOW_FILE, formatReplayTable, phaseReplay, type ReplayResult } from './lib/replay';
import { phaseWarehouse, type WarehouseResult } from './lib/warehouse';

const PHASES = [
  'workload',
  'ceilings',
  'aggregator',
  'engine',
  'warehouse',
  'latency',
  'sweep',
  'import',
  'console',
  'identity',
  'replay',
] as const;
type Phase = (typeof PHASES)[number];
/**
 * `replay` (a full replay on the baseline and the current build: up to ≈ 45 min) and `identity` (its own workload, the
 * aggregator twice per round) run only when named in --only.
 */
const DEFAULT_PHASES: readonly Phase[] = PHASES.filter((p) => p !== 'replay' && p !== 'identity');
const SERVICES_TO_PROFILE = ['aggregator', 'tier-engine'];
const WORKLOAD_PROFILES = ['tiny', 'demo', 'standard'];

const { values: args } = parseArgs({
  options: {
    customers: { type: 'string', default: '100000' },
    scale: { type: 'string', default: '10000,100000,1000000' },
    skip: { type: 'string', default: '' },
    only: { type: 'string' },
    out: { type: 'string' },
    profile: { type: 'string', default: '' },
    'engine-seconds': { type: 'string', default: '240' },
    'latency-seconds': { type: 'string', default: '30' },
    'snapshot-rows': { type: 'string', default: '1000000' },
    source: { type: 'string', default: 'generator' },
    'replay-profile': { type: 'string', default: 'standard' },
    'cdnow-file': { type: 'string', default: DEFAULT_CDNOW_FILE },
    baseline: { type: 'string', default: '919a958' },
    'baseline-dir': { type: 'string' },
    'baseline-minutes': { type: 'string', default: '12' },
    'replay-minutes': { type: 'string', default: '20' },
    'engine-instances': { type: 'string' },
    'import-rows': { type: 'string', default: '1000000' },
    'aggregator-baseline': { type: 'string', default: 'none' },
    'identity-rounds': { type: 'string', default: '1' },
    'i-know-this-wipes': { type: 'string', multiple: true, default: [] },
    help: { type: 'boolean', default: false },
  },
});

if (args.help) {
  console.log(`npm run bench -- [options]
  --customers N          customers (standard profile shape: seed 20260630, 365 days); default 100000 = the standard profile
  --scale a,b,c          due-index sizes for the sweep phase; default 10000,100000,1000000
  --skip p1,p2           phases to skip: ${PHASES.join(', ')}
  --only p1,p2           run only these phases (default: all but replay and identity; they run only when named here)
  --profile s1,s2        run these services under node --cpu-prof (${SERVICES_TO_PROFILE.join(', ')})
  --engine-seconds S     time budget of the replay tier-engine phase (it reports a projection if not finished); default 240
  --latency-seconds S    length of the measured latency run; default 30
  --snapshot-rows N      rows of the daily-snapshot write; default 1000000
  --out FILE             JSON results (default bench/results/<timestamp>.json)
  --import-rows N        rows of the generated CSV of the import phase (tierctl import end to end); default 1000000
  --aggregator-baseline REV  the aggregator phase runs REV's aggregator first (a git worktree), then this one, on the
                         same workload (A/B); default none
  --identity-rounds N    phase identity: pairs of aggregator runs (IDENTITY_ROUTING off and on, order alternating); default 1
 phase replay (a full replay end to end, on a baseline build and on the current checkout, side by side):
  --source S             generator or cdnow; default generator
  --replay-profile P     generator profile: tiny, demo or standard; default standard (100,000 customers, 365 days)
  --cdnow-file FILE      for --source cdnow; default data/cdnow/CDNOW_master.txt
  --baseline REV         the previous build: a git worktree of REV (default 919a958); none: the current build only
  --baseline-dir DIR     where the worktree goes (default <tmp>/tierstream-baseline-<commit>; reused)
  --baseline-minutes M   time budget of the baseline's replay (then: days closed and a projection); default 12
  --replay-minutes M     time budget of the current build's replay; default 20
  --engine-instances N   tier-engine processes in each build's replay; default one per core, at most one per partition
  e.g. npm run bench -- --only replay --replay-profile tiny
  --i-know-this-wipes E  run against endpoint E although it is not the local stack (a loopback host on the stack's
                         port): the exact value of KAFKA_BROKERS, REDIS_URL or CLICKHOUSE_URL; repeat for several
WARNING: wipes tierstream's topics, consumer groups, Redis keys under the prefix and the ClickHouse database; refuses
(exit 2) endpoints other than the local stack unless --i-know-this-wipes names them.`);
  process.exit(0);
}

const list = (v: string | undefined) =>
  (v ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
for (const [flag, v] of [
  ['skip', args.skip],
  ['only', args.only],
] as const)
  for (const s of list(v))
    if (!(PHASES as readonly string[]).includes(s)) {
      console.error(`--${flag}: unknown phase ${s} (phases: ${PHASES.join(', ')})`);
      process.exit(2);
    }
const selected = new Set<string>(args.only !== undefined ? list(args.only) : DEFAULT_PHASES);
const skip = new Set<string>([...PHASES.filter((p) => !selected.has(p)), ...list(args.skip)]);
for (const s of list(args.profile))
  if (!SERVICES_TO_PROFILE.includes(s)) {
    const hint = WORKLOAD_PROFILES.includes(s) ? " (the replay phase's workload is --replay-profile)" : '';
    console.error(`--profile: CPU profiles of ${SERVICES_TO_PROFILE.join(', ')}, got ${s}${hint}`);
    process.exit(2);
  }
if (args.source !== 'generator' && args.source !== 'cdnow') {
  console.error(`--source: generator or cdnow, got ${args.source}`);
  process.exit(2);
}
if (!WORKLOAD_PROFILES.includes(args['replay-profile'] ?? '')) {
  console.error(`--replay-profile: ${WORKLOAD_PROFILES.join(', ')}, got ${args['replay-profile']}`);
  process.exit(2);
}
const positiveInt = (name: string, v: string | undefined) => {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n <= 0) {
    console.error(`--${name}: expected a positive integer, got ${v}`);
    process.exit(2);
  }
  return n;
};
const customers = positiveInt('customers', args.customers);
const scales = (args.scale ?? '').split(',').map((s) => positiveInt('scale', s));
const runId = new Date().toISOString().replace(/[-:.]/g, '').slice(0, 15);
const resultsDir = path.join(REPO_ROOT, 'bench', 'results');
const outFile = args.out ?? path.join(resultsDir, `${runId}.json`);
const profileDir = path.join(resultsDir, `profiles-${runId}`);

const started = Date.now();
const log = (msg: string) => console.log(`[${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${msg}`);

interface Results {
  runId: string;
  date: string;
  machine: { nproc: number; ramGiB: number; cpu: string; node: string; kernel: string };
  versions: Record<string, string>;
  options: Record<string, unknown>;
  workload?: WorkloadResult;
  ceilings?: CeilingsResult;
  aggregator?: AggregatorResult;
  aggregatorBaseline?: AggregatorBaselineResult;
  engine?: EngineResult;
  warehouse?: WarehouseResult;
  latency?: LatencyResult;
  sweep?: SweepPoint[];
  import?: ImportBenchResult;
  console?: ConsoleProfileResult;
  identity?: IdentityBenchResult;
  replay?: ReplayResult;
  profiles?: ProfileSummary[];
  failures: Array<{ phase: string; error: string }>;
  skipped: string[];
  totalSeconds?: number;
}

/** Node, the client libraries and the Kafka version of the stack scripts. */
function libraryVersions(): Record<string, string> {
  const v: Record<string, string> = { node: process.version };
  const pkg = (name: string) => {
    try {
      return (
        JSON.parse(readFileSync(path.join(REPO_ROOT, 'node_modules', name, 'package.json'), 'utf8')) as {
          version: string;
        }
      ).version;
    } catch {
      return 'unknown';
    }
  };
  for (const name of ['kafkajs', 'ioredis', '@clickhouse/client', 'avsc']) v[name] = pkg(name);
  v.kafka = process.env.KAFKA_VERSION ?? '3.9.1';
  return v;
}

/** Server versions from the stack the bench runs against (its own endpoints, not the default ports). */
async function serverVersions(clients: Clients): Promise<Record<string, string>> {
  const v: Record<string, string> = {};
  try {
    v.redis = /redis_version:(\S+)/.exec(await clients.redis.info('server'))?.[1] ?? 'unknown';
  } catch {
    v.redis = 'unknown';
  }
  try {
    const rs = await clients.clickhouse.query({ query: 'SELECT version() AS v', format: 'JSONEachRow' });
    v.clickhouse = (await rs.json<{ v: string }>())[0]?.v ?? 'unknown';
  } catch {
    v.clickhouse = 'unknown';
  }
  return v;
}

const results: Results = {
  runId,
  date: new Date().toISOString(),
  machine: {
    nproc: os.cpus().length,
    ramGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    cpu: os.cpus()[0]?.model ?? 'unknown',
    node: process.version,
    kernel: os.release(),
  },
  versions: libraryVersions(),
  options: {
    customers,
    scales,
    skip: [...skip],
    profile: args.profile,
    engineSeconds: args['engine-seconds'],
    latencySeconds: args['latency-seconds'],
    snapshotRows: args['snapshot-rows'],
    source: args.source,
    replayProfile: args['replay-profile'],
    cdnowFile: args['cdnow-file'],
    baseline: args.baseline,
    baselineMinutes: args['baseline-minutes'],
    replayMinutes: args['replay-minutes'],
    importRows: args['import-rows'],
    aggregatorBaseline: args['aggregator-baseline'],
    identityRounds: args['identity-rounds'],
  },
  failures: [],
  skipped: [...skip],
};

const clients = new Clients();
guardWipe(
  'npm run bench',
  clients.endpoints,
  resetActions(clients.redisPrefix, clients.endpoints.clickhouseDatabase),
  args['i-know-this-wipes'],
);
Object.assign(results.versions, await serverVersions(clients));
const ctx: BenchContext = {
  clients,
  runId,
  customers,
  profile: new Set((args.profile ?? '').split(',').filter(Boolean)),
  profileDir,
  log,
};

async function phase<T>(name: Phase, budgetMs: number, fn: () => Promise<T>): Promise<T | undefined> {
  if (skip.has(name)) return undefined;
  log(`phase ${name}`);
  try {
    return await withTimeout(fn(), budgetMs, `phase ${name}`);
  } catch (err) {
    const message = (err as Error).stack ?? String(err);
    log(`phase ${name} FAILED: ${message}`);
    results.failures.push({ phase: name, error: (err as Error).message });
    await stopAllServices();
    return undefined;
  }
}

let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    log(`${signal}: stopping child processes`);
    void stopAllServices().finally(() => process.exit(130));
  });
}

/**
 * Processes of the secured stack (docs/security.md) still running (its pid files, signal 0): they share the cores
 * with the plain stack the bench measures (an identity run lost 3–7 % with them idle beside it).
 */
function secureStackProcesses(): string[] {
  const dir = path.join(process.env.SECURE_STACK_DIR ?? path.join(REPO_ROOT, '.secure-stack'), 'pids');
  let files: string[] = [];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.pid'));
  } catch {
    return [];
  }
  return files.filter((f) => {
    try {
      process.kill(Number(readFileSync(path.join(dir, f), 'utf8').trim()), 0);
      return true;
    } catch {
      return false;
    }
  });
}

async function main(): Promise<void> {
  const secure = secureStackProcesses();
  if (secure.length > 0)
    log(
      `warning: the secured stack is running (${secure.map((f) => f.replace(/\.pid$/, '')).join(', ')}); it shares the cores with the stack measured: \`STACK_SECURE=1 bash infra/local/stack.sh down\` first for comparable figures`,
    );
  log(
    `tierstream bench ${runId}: phases ${PHASES.filter((p) => !skip.has(p)).join(', ')}${DEFAULT_PHASES.some((p) => p !== 'import' && !skip.has(p)) ? `; ${customers.toLocaleString('en')} customers` : ''}; the bench owns the stack (tierstream data is wiped)`,
  );
  const engineMs = positiveInt('engine-seconds', args['engine-seconds']) * 1000;
  results.workload = await phase('workload', 900_000, () => phaseWorkload(ctx));
  let haveData = results.workload !== undefined;
  if (!haveData && skip.has('workload') && !skip.has('aggregator')) {
    // Iterating on the aggregator: the records of an earlier run on the input topics, from an empty state.
    const counts = await topicCounts(await clients.admin(), INPUT_TOPICS);
    if (Object.values(counts).some((n) => n > 0)) {
      log('workload skipped: the aggregator phases reuse the records on the input topics');
      await resetAggregatorRun(ctx);
      haveData = true;
    }
  }
  if (!haveData) {
    for (const p of ['ceilings', 'aggregator', 'engine'] as const) {
      if (skip.has(p)) continue;
      skip.add(p);
      results.skipped.push(`${p} (no workload)`);
    }
  }
  results.ceilings = await phase('ceilings', 900_000, () => phaseCeilings(ctx));
  const aggregatorBaseline = args['aggregator-baseline'];
  if (aggregatorBaseline !== 'none' && !skip.has('aggregator')) {
    try {
      log('phase aggregator (previous build)');
      results.aggregatorBaseline = await withTimeout(
        phaseAggregatorBaseline(ctx, aggregatorBaseline, 1_100_000),
        1_200_000,
        'phase aggregator (previous build)',
      );
    } catch (err) {
      log(`phase aggregator (previous build) FAILED: ${(err as Error).message}`);
      results.failures.push({ phase: 'aggregator (previous build)', error: (err as Error).message });
    }
  }
  results.aggregator = await phase('aggregator', 1_200_000, () => phaseAggregator(ctx, 1_100_000));
  if (!results.aggregator && !skip.has('engine')) {
    skip.add('engine');
    results.skipped.push('engine (aggregator did not finish)');
  }
  results.engine = await phase('engine', engineMs + 120_000, () =>
    phaseEngine(ctx, results.aggregator?.redisBytesBefore ?? 0, engineMs),
  );
  results.warehouse = await phase('warehouse', 600_000, () =>
    phaseWarehouse(ctx, positiveInt('snapshot-rows', args['snapshot-rows'])),
  );
  results.latency = await phase('latency', 600_000, () =>
    phaseLatency(ctx, { seconds: positiveInt('latency-seconds', args['latency-seconds']), probeSeconds: 10 }),
  );
  results.sweep = await phase('sweep', 600_000, () => phaseSweep(ctx, scales, 1_000));
  // Resets the data and fills orders.v1 with the imported file: after the phases that read the workload.
  results.import = await phase('import', 900_000, () =>
    phaseImport(ctx, positiveInt('import-rows', args['import-rows'])),
  );
  // The console's profile read (bench/console-profile.ts): on a tiny run of its own, so it needs none of the above.
  results.console = await phase('console', 600_000, () =>
    measureConsoleProfile({ rate: 500, seconds: 20, ceilingSeconds: 10, connections: 16 }),
  );
  // Resets the data and runs its own workload (aliases, 30 % anonymous web events): the aggregator off, then on.
  const identityRounds = positiveInt('identity-rounds', args['identity-rounds']);
  results.identity = await phase('identity', identityRounds * 2 * 1_200_000 + 900_000, () =>
    phaseIdentity(ctx, { rounds: identityRounds, timeoutMs: 1_100_000 }),
  );
  // Last: it resets the data and runs its own workload (twice: baseline, then current).
  const baselineMs = positiveInt('baseline-minutes', args['baseline-minutes']) * 60_000;
  const replayMs = positiveInt('replay-minutes', args['replay-minutes']) * 60_000;
  const baseline = args.baseline === 'none' ? null : (args.baseline ?? null);
  results.replay = await phase('replay', (baseline ? baselineMs : 0) + replayMs + 1_800_000, () =>
    phaseReplay(ctx, {
      source: args.source as 'generator' | 'cdnow',
      profile: args['replay-profile'] as 'tiny' | 'demo' | 'standard',
      cdnowFile: args['cdnow-file'] ?? DEFAULT_CDNOW_FILE,
      baseline,
      baselineDir: args['baseline-dir'],
      baselineBudgetMs: baselineMs,
      currentBudgetMs: replayMs,
      engineInstances:
        args['engine-instances'] === undefined ? null : positiveInt('engine-instances', args['engine-instances']),
    }),
  );
  for (const run of results.replay?.runs ?? [])
    if (run.error) results.failures.push({ phase: `replay (${run.build.role})`, error: run.error });
}

try {
  await main();
} catch (err) {
  log(`bench FAILED: ${(err as Error).stack}`);
  results.failures.push({ phase: 'bench', error: (err as Error).message });
} finally {
  await stopAllServices();
  await clients.close().catch(() => undefined);
}

if (ctx.profile.size > 0) {
  try {
    results.profiles = readdirSync(profileDir)
      .filter((f) => f.endsWith('.cpuprofile'))
      .map((f) => summarizeCpuProfile(path.join(profileDir, f)));
  } catch (err) {
    results.failures.push({ phase: 'profiles', error: (err as Error).message });
  }
}
results.totalSeconds = (Date.now() - started) / 1000;
mkdirSync(path.dirname(outFile), { recursive: true });
writeFileSync(outFile, `${JSON.stringify(results, null, 2)}\n`);
printTable(results);
console.log(`\nresults: ${path.relative(process.cwd(), outFile)}`);
process.exit(results.failures.length > 0 ? 1 : 0);

function printTable(r: Results): void {
  const rows: Array<[string, string, string, string]> = [];
  const f = (n: number | null | undefined, digits = 0) =>
    n === null || n === undefined || Number.isNaN(n)
      ? '—'
      : n.toLocaleString('en', { maximumFractionDigits: digits, minimumFractionDigits: digits });
  const mb = (b: number) => `${f(b / 2 ** 20)} MB`;
  const verdict = (ok: boolean) => (ok ? 'PASS' : 'MISS');
  if (r.workload)
    rows.push([
      'workload: events produced (generate+encode+produce)',
      `${f(r.workload.events)} in ${f(r.workload.seconds, 1)} s = ${f(r.workload.eventsPerSec)}/s`,
      '',
      '',
    ]);
  const drain = r.ceilings?.kafkajsDrain.messagesPerSec;
  if (r.ceilings) {
    const cp = r.ceilings.consumerPerformance;
    rows.push([
      'ceiling: Kafka ConsumerPerformance',
      'error' in cp ? `failed: ${cp.error.slice(0, 60)}` : `${f(cp.messagesPerSec)} msg/s`,
      '',
      '',
    ]);
    rows.push(['ceiling: bare kafkajs drain (eachBatch, no work)', `${f(drain)} msg/s`, '', '']);
    rows.push(['ceiling: Redis pipelined EVALSHA', `${f(r.ceilings.redisEvalsha.callsPerSec)} calls/s`, '', '']);
  }
  if (r.aggregator) {
    const ratio = drain ? r.aggregator.eventsPerSec / drain : Number.NaN;
    rows.push([
      'aggregator throughput',
      `${f(r.aggregator.eventsPerSec)} events/s`,
      '≥ 0.5 × kafkajs drain',
      `${f(ratio, 2)} ${verdict(ratio >= 0.5)}`,
    ]);
    rows.push(['aggregator peak RSS', mb(r.aggregator.maxRssBytes), '', '']);
    const b = r.aggregatorBaseline;
    const rewrites = `${r.aggregator.aofRewrites}${b ? ` (previous build: ${b.aofRewrites})` : ''}`;
    rows.push(['Redis AOF rewrites during the run (each starts compacted)', rewrites, '', '']);
    if (b) {
      const gain = r.aggregator.eventsPerSec / b.eventsPerSec;
      rows.push([
        `aggregator throughput, previous build ${b.build.label}`,
        `${f(b.eventsPerSec)} events/s (${f(drain ? b.eventsPerSec / drain : Number.NaN, 2)} × drain)`,
        'current ≥ 3 × previous',
        `${f(gain, 2)} ${verdict(gain >= 3)}`,
      ]);
      rows.push(['Redis bytes/customer after aggregator, previous build', f(b.redisBytesPerCustomer), '', '']);
    }
    const a = r.aggregator;
    rows.push(['Redis bytes/customer after aggregator (total)', f(a.redisBytesPerCustomer), '', '']);
    rows.push([
      `  of which held anonymous events (${f(a.heldAnonymous.keys)} anonymous ids)`,
      `${f(a.heldAnonymous.bytes / ctx.customers)} (${f(a.heldAnonymous.bytes / Math.max(1, a.heldAnonymous.keys))} per anonymous id)`,
      '',
      '',
    ]);
    rows.push([
      'Redis bytes/customer after aggregator: aggregates + due index',
      f(a.redisBytesPerCustomerWithoutHeld),
      '≤ 1024',
      `${f(a.redisBytesPerCustomerWithoutHeld / 1024, 2)} ${verdict(a.redisBytesPerCustomerWithoutHeld <= 1024)}`,
    ]);
  }
  if (r.identity) {
    const id = r.identity;
    for (const run of id.runs)
      rows.push([
        `identity: aggregator, IDENTITY_ROUTING=${run.routing} (round ${run.round + 1})`,
        `${f(run.eventsPerSec)} events/s (AOF rewrites ${run.aofRewrites}; CPU s: aggregator ${run.cpuSeconds.aggregator}, Redis ${run.cpuSeconds.redisMainThread})`,
        '',
        '',
      ]);
    rows.push([
      `identity: ratio on/off (${f(id.anonymousShare * 100)} % of web events anonymous, ${f(id.aliasedCustomers)} aliased)`,
      id.ratios.join(', '),
      '≥ 0.90',
      verdict(id.ratios.every((x) => x >= 0.9)),
    ]);
    rows.push(['identity: Redis bytes per alias (alias + identity hash)', `${f(id.bytesPerAlias)} B`, '', '']);
  }
  if (r.engine) {
    const e = r.engine;
    rows.push([
      'tier engine (replay): evaluations/s',
      `${f(e.evaluationsPerSec)} (${f(e.evaluations)} in ${f(e.seconds, 1)} s)`,
      '',
      '',
    ]);
    rows.push([
      'tier engine (replay): partition-days closed',
      `${f(e.daysClosed)}/${f(e.daysTotal)} = ${f(e.daysClosedPerSec, 1)}/s; ${e.finished ? 'total' : 'projected'} ${f(e.projectedTotalSeconds)} s`,
      '',
      e.finished ? 'finished' : 'budget reached',
    ]);
    rows.push(['tier engine peak RSS', mb(e.maxRssBytes), '', '']);
    rows.push(['Redis bytes/customer after engine (total)', f(e.redisBytesPerCustomer), '', '']);
    rows.push([
      'Redis bytes/customer after engine, without held anonymous events (with tier state)',
      f(e.redisBytesPerCustomerWithoutHeld),
      '≤ 1300',
      `${f(e.redisBytesPerCustomerWithoutHeld / 1300, 2)} ${verdict(e.redisBytesPerCustomerWithoutHeld <= 1300)}`,
    ]);
  }
  if (r.warehouse) {
    const w = r.warehouse;
    rows.push([
      'warehouse: tier_current rows/s',
      f(w.changes.rowsPerSec),
      '≥ 100,000',
      `${f(w.changes.rowsPerSec / 100_000, 2)} ${verdict(w.changes.rowsPerSec >= 100_000)}`,
    ]);
    rows.push([
      'warehouse: tier_snapshots rows/s',
      f(w.snapshot.rowsPerSec),
      '≥ 100,000',
      `${f(w.snapshot.rowsPerSec / 100_000, 2)} ${verdict(w.snapshot.rowsPerSec >= 100_000)}`,
    ]);
    rows.push([
      `warehouse: daily snapshot of ${f(w.snapshot.rows)} customers`,
      `${f(w.snapshot.seconds, 1)} s`,
      '≤ 60 s',
      `${f(w.snapshot.seconds / 60, 2)} ${verdict(w.snapshot.seconds <= 60 && w.snapshot.rows >= 1_000_000)}`,
    ]);
  }
  if (r.latency) {
    const l = r.latency;
    rows.push(['live: max sustainable new-customer rate', `${f(l.maxRate.perSec)}/s`, '', '']);
    rows.push([
      `live: order → transition at ${f(l.rate)}/s (${l.matched}/${l.sent})`,
      `p50 ${f(l.p50)} ms, p95 ${f(l.p95)} ms, p99 ${f(l.p99)} ms`,
      'p99 ≤ 250 ms',
      `${f(l.p99 / 250, 2)} ${verdict(l.p99 <= 250 && l.missing === 0)}`,
    ]);
    const [a50, , a99] = l.hops.orderToSignal;
    const [e50, , e99] = l.hops.signalToTransition;
    rows.push(['live: order → signal / signal → transition', `p50 ${a50}/${e50} ms, p99 ${a99}/${e99} ms`, '', '']);
    rows.push(['live: peak RSS aggregator / engine', `${mb(l.aggregatorRssBytes)} / ${mb(l.engineRssBytes)}`, '', '']);
  }
  if (r.sweep && r.sweep.length > 0) {
    for (const p of r.sweep)
      rows.push([
        `sweep: ${f(p.customers)} in the due index, ${f(p.due)} due`,
        `${f(p.sweepMsMean, 2)} ms/sweep (p99 ${f(p.sweepMsP99, 2)}), ${f(p.redisBytesPerCustomer)} B/customer`,
        '',
        '',
      ]);
    const first = r.sweep[0]!;
    const last = r.sweep[r.sweep.length - 1]!;
    const growth = last.sweepMsMean / first.sweepMsMean;
    rows.push([
      `sweep: cost growth ${f(first.customers)} → ${f(last.customers)} (×${f(last.customers / first.customers)})`,
      `×${f(growth, 2)}`,
      'O(due): ≤ ×2',
      verdict(growth <= 2),
    ]);
  }
  if (r.import) {
    const im = r.import;
    rows.push([
      `import: ${f(im.rows)}-row CSV (parse + convert + produce)`,
      `${f(im.rowsPerSec)} rows/s (${f(im.readSeconds + im.produceSeconds, 1)} s; parse+convert alone ${f(im.parseRowsPerSec)} rows/s)`,
      '≥ 50,000 rows/s (goal)',
      f(im.rowsPerSec / 50_000, 2),
    ]);
  }
  if (r.console) {
    const c = r.console;
    rows.push([
      `console: GET /api/v1/customers/{id} at ${f(c.fixed_rate.target_rate)}/s (load average ${c.load_average[0]})`,
      `p50 ${f(c.fixed_rate.p50_ms, 1)} ms, p99 ${f(c.fixed_rate.p99_ms, 1)} ms; ceiling ${f(c.ceiling.achieved_rate)}/s`,
      'p99 ≤ 10 ms',
      f(10 / c.fixed_rate.p99_ms, 2),
    ]);
  }
  const widths = [0, 1, 2, 3].map((i) =>
    Math.max(...rows.map((row) => row[i]!.length), ['measure', 'value', 'target', 'ratio'][i]!.length),
  );
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ');
  if (rows.length > 0) {
    console.log(`\n${line(['measure', 'value', 'target', 'ratio'])}`);
    console.log(widths.map((w) => '-'.repeat(w)).join('-|-'));
    for (const row of rows) console.log(line(row));
  }
  if (r.replay) console.log(formatReplayTable(r.replay));
  if (r.skipped.length > 0) console.log(`skipped: ${r.skipped.join(', ')}`);
  for (const fl of r.failures) console.log(`FAILED ${fl.phase}: ${fl.error.split('\n')[0]}`);
  if (r.profiles) {
    for (const p of r.profiles) {
      console.log(`\nprofile ${path.basename(p.file)} (${f(p.totalMs)} ms sampled):`);
      console.log(
        `  by origin: ${p.byOrigin
          .slice(0, 8)
          .map((o) => `${o.origin} ${(o.share * 100).toFixed(1)}%`)
          .join(', ')}`,
      );
      for (const fr of p.topFunctions.slice(0, 10))
        console.log(`  ${(fr.share * 100).toFixed(1).padStart(5)} %  ${fr.frame}`);
    }
  }
}
