import { DEFAULT_AGGREGATE_CONFIG } from '@tierstream/aggregates';
import {
  bootstrapPipeline,
  Clients,
  feedEvents,
  resetPipelineData,
  SERVICES,
  type ServiceName,
  sendWatermarks,
  waitForPipeline,
} from '@tierstream/cli';
import { INPUT_TOPICS, type InputEvent } from '@tierstream/contracts';
import { type GeneratorOptions, generateWorkload, type ProfileName, resolveOptions } from '@tierstream/generator';
import { dayOf, endOfDay } from '@tierstream/tierstate';
import { runPipelineOracle } from '../support/pipeline-oracle';
import {
  CUTPOINTS_EVERY_DAYS,
  compareWithOracle,
  describeComparison,
  Fleet,
  type FleetEvent,
  loadDefaultRules,
  type OracleComparison,
  readDeadLetters,
  SeededRandom,
  type StackService,
  sleep,
  stackCtl,
} from './harness';

/** How much chaos one run gets. Every count is per run; the order and the gaps are drawn from the seed. */
export interface ChaosPlan {
  label: string;
  seed: number;
  workload: ProfileName | GeneratorOptions;
  /** kill -9 + restart of each of the three services. */
  killsPerService: number;
  /** Graceful Redis restarts (SIGTERM = SHUTDOWN: the AOF is fsynced and the process exits). */
  redisRestarts: number;
  /** Redis crashes: kill -9 of the server, then a start from its AOF (`appendfsync always`: nothing acked is lost). */
  redisCrashes: number;
  kafkaRestarts: number;
  clickhouseOutages: number;
  clickhouseOutageMs: number;
  /** A second instance of the aggregator and of the tier engine joins, stays a while, and leaves (rebalances). */
  scaleOuts: number;
  scaleHoldMs: [number, number];
  gapMs: [number, number];
}

export type Fault =
  | { kind: 'kill'; service: ServiceName }
  | { kind: 'redis-restart' }
  | { kind: 'redis-crash' }
  | { kind: 'kafka-restart' }
  | { kind: 'clickhouse-outage'; ms: number }
  | { kind: 'scale-out'; service: 'aggregator' | 'tier-engine'; holdMs: number; leave: 'stop' | 'kill' };

export interface ChaosResult {
  seed: number;
  events: number;
  faults: Array<{ at: number; fault: string; tookMs: number }>;
  comparison: OracleComparison;
  deadLetters: number;
  incidents: FleetEvent[];
  finalExitCodes: Record<string, number | null>;
  durationMs: number;
}

/** Rough duration of a fault, to spread the feed over the whole fault window. */
function estimateMs(f: Fault): number {
  switch (f.kind) {
    case 'kill':
      return 4_000;
    case 'redis-restart':
    case 'redis-crash':
      return 3_000;
    case 'kafka-restart':
      return 25_000;
    case 'clickhouse-outage':
      return f.ms + 4_000;
    case 'scale-out':
      return f.holdMs + 4_000;
  }
}

export function planFaults(plan: ChaosPlan, rng: SeededRandom): Fault[] {
  const faults: Fault[] = [];
  for (const service of SERVICES) for (let i = 0; i < plan.killsPerService; i++) faults.push({ kind: 'kill', service });
  for (let i = 0; i < plan.redisRestarts; i++) faults.push({ kind: 'redis-restart' });
  for (let i = 0; i < plan.redisCrashes; i++) faults.push({ kind: 'redis-crash' });
  for (let i = 0; i < plan.kafkaRestarts; i++) faults.push({ kind: 'kafka-restart' });
  for (let i = 0; i < plan.clickhouseOutages; i++)
    faults.push({ kind: 'clickhouse-outage', ms: plan.clickhouseOutageMs });
  for (let i = 0; i < plan.scaleOuts; i++) {
    for (const service of ['aggregator', 'tier-engine'] as const) {
      faults.push({
        kind: 'scale-out',
        service,
        holdMs: rng.int(plan.scaleHoldMs[0], plan.scaleHoldMs[1]),
        leave: rng.next() < 0.5 ? 'stop' : 'kill',
      });
    }
  }
  return rng.shuffle(faults);
}

const describeFault = (f: Fault): string =>
  f.kind === 'kill'
    ? `kill -9 ${f.service}`
    : f.kind === 'clickhouse-outage'
      ? `clickhouse down for ${f.ms} ms`
      : f.kind === 'scale-out'
        ? `second ${f.service} for ${f.holdMs} ms, leaves by ${f.leave}`
        : f.kind;

async function restart(service: StackService, downMs = 0, how: 'down' | 'kill' = 'down'): Promise<void> {
  await stackCtl(how, service);
  if (downMs > 0) await sleep(downMs);
  await stackCtl('up', service);
}

async function inject(f: Fault, fleet: Fleet): Promise<void> {
  switch (f.kind) {
    case 'kill':
      return fleet.crash(f.service);
    case 'redis-restart':
      return restart('redis');
    case 'redis-crash':
      return restart('redis', 0, 'kill');
    case 'kafka-restart':
      return restart('kafka');
    case 'clickhouse-outage':
      return restart('clickhouse', f.ms);
    case 'scale-out': {
      const key = `${f.service}#2`;
      await fleet.start(key, f.service);
      await sleep(f.holdMs);
      await fleet.remove(key, f.leave);
      return;
    }
  }
}

/**
 * One chaos run: reset tierstream's data on the (test's own) stack, start the three services, replay the workload
 * while the faults of the plan happen one after the other at seeded moments, close the replay with watermarks, wait
 * until the pipeline is done, and compare everything with the oracle.
 */
export async function runChaos(plan: ChaosPlan): Promise<ChaosResult> {
  const started = Date.now();
  const rng = new SeededRandom(plan.seed);
  const events: InputEvent[] = [...generateWorkload(plan.workload)];
  const options = resolveOptions(plan.workload);
  const endAt = endOfDay(dayOf(typeof options.end === 'number' ? options.end : Date.parse(options.end)));
  const oracle = runPipelineOracle({
    events,
    rules: loadDefaultRules(),
    aggregateConfig: DEFAULT_AGGREGATE_CONFIG,
    cutPointsEveryDays: CUTPOINTS_EVERY_DAYS,
    endAt,
  });
  const faults = planFaults(plan, rng);
  const gaps = faults.map(() => rng.int(plan.gapMs[0], plan.gapMs[1]));
  const windowMs = faults.reduce((s, f, i) => s + estimateMs(f) + gaps[i]!, 0);
  // Spread the feed over most of the fault window, so that faults hit a pipeline at work.
  const ratePerSec = Math.max(20, Math.ceil(events.length / Math.max(1, (windowMs * 0.8) / 1000)));
  console.log(
    `[${plan.label}] seed ${plan.seed}: ${events.length} events at ${ratePerSec}/s, ${faults.length} faults over ~${Math.round(windowMs / 1000)} s: ${faults.map(describeFault).join('; ')}`,
  );

  const clients = new Clients();
  const fleet = new Fleet({
    CLOCK_MODE: 'replay',
    CUTPOINTS_EVERY_DAYS: String(CUTPOINTS_EVERY_DAYS),
    LOG_LEVEL: 'warn',
  });
  const log: ChaosResult['faults'] = [];
  try {
    // The test's own connection sees the Redis restarts too: reconnecting is expected, not an error to print.
    clients.redis.on('error', () => undefined);
    await resetPipelineData(clients);
    await bootstrapPipeline(clients);
    for (const name of SERVICES) await fleet.start(name, name);
    fleet.watch();
    const producer = await clients.producer();
    // The feeder stands for upstream producers, not the system under test: it pauses while the broker restarts
    // (the gate), so its own sends never have to ride out the outage; the services do.
    let gate: Promise<void> = Promise.resolve();
    let fedUpTo = 0;
    let feeding: Promise<void> = Promise.resolve();
    const feed = (async () => {
      const chunk = 100;
      const t0 = Date.now();
      while (fedUpTo < events.length) {
        await gate;
        const i = fedUpTo;
        fedUpTo = Math.min(events.length, i + chunk);
        let release!: () => void;
        const inFlight = new Promise<void>((r) => {
          release = r;
        });
        feeding = inFlight;
        await feedEvents(producer, clients.serde, events.slice(i, i + chunk), { batchSize: chunk });
        release();
        const ahead = (fedUpTo / ratePerSec) * 1000 - (Date.now() - t0);
        if (ahead > 0) await sleep(ahead);
      }
    })();
    const pauseFeed = async <T>(fn: () => Promise<T>): Promise<T> => {
      let open!: () => void;
      gate = new Promise<void>((r) => {
        open = r;
      });
      await feeding;
      // A feed step that had already passed the old gate sets `feeding` in a microtask: let it, and wait for it too.
      await sleep(0);
      await feeding;
      try {
        return await fn();
      } finally {
        open();
      }
    };
    const chaos = (async () => {
      for (const [i, f] of faults.entries()) {
        await sleep(gaps[i]!);
        const at = Date.now() - started;
        fleet.record('chaos', `fault ${i + 1}/${faults.length}: ${describeFault(f)}`);
        if (f.kind === 'kill' && f.service === 'aggregator') {
          // Kill the aggregator while it has work in flight: with the feed paused (so event-time order per partition
          // holds), the next 300 events go out at once and the kill -9 follows within milliseconds, so the crash
          // lands between applying a batch and committing it, and the restarted aggregator gets records redelivered.
          await pauseFeed(async () => {
            const from = fedUpTo;
            fedUpTo = Math.min(events.length, from + 300);
            await feedEvents(producer, clients.serde, events.slice(from, fedUpTo), { batchSize: 300 });
            await sleep(15);
            await inject(f, fleet);
          });
        } else await (f.kind === 'kafka-restart' ? pauseFeed(() => inject(f, fleet)) : inject(f, fleet));
        log.push({ at, fault: describeFault(f), tookMs: Date.now() - started - at });
      }
    })();
    await Promise.all([feed, chaos]);
    fleet.record('chaos', 'all faults done, feed done: closing the replay');
    await sendWatermarks(await clients.admin(), producer, endAt);
    await waitForPipeline(clients, endAt, {
      timeoutMs: 900_000,
      onProgress: throttle((p) => console.log(`[${plan.label}] progress ${JSON.stringify(p)}`), 15_000),
    });
    const finalExitCodes = await fleet.stopAll();
    const comparison = await compareWithOracle(clients, events, oracle, endAt);
    const dead = await readDeadLetters(
      clients,
      INPUT_TOPICS.map((t) => `${t}.dlq`),
      { idleMs: 20_000 },
    );
    const result: ChaosResult = {
      seed: plan.seed,
      events: events.length,
      faults: log,
      comparison,
      deadLetters: dead.length,
      incidents: fleet.incidents(),
      finalExitCodes,
      durationMs: Date.now() - started,
    };
    console.log(
      `[${plan.label}] seed ${plan.seed} done in ${Math.round(result.durationMs / 1000)} s; dead letters ${dead.length}; ` +
        `supervisor incidents ${result.incidents.length}; exit codes ${JSON.stringify(finalExitCodes)}\n${describeComparison(comparison)}`,
    );
    return result;
  } catch (err) {
    console.log(`[${plan.label}] seed ${plan.seed} failed; last service logs:\n${fleet.allTails()}`);
    throw err;
  } finally {
    await fleet.stopAll();
    // Whatever happened, leave the stack complete for the next run.
    for (const s of ['redis', 'clickhouse', 'kafka', 'registry'] as const)
      await stackCtl('up', s).catch(() => undefined);
    await clients.close().catch(() => undefined);
  }
}

function throttle<T>(fn: (x: T) => void, everyMs: number): (x: T) => void {
  let last = 0;
  return (x) => {
    if (Date.now() - last >= everyMs) {
      last = Date.now();
      fn(x);
    }
  };
}
