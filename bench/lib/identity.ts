/**
 * The identity phase (issue 20): the aggregator service over the same workload with IDENTITY_ROUTING=off and =on, in
 * the same run. The workload is the generator's at `--customers N` (365 days, the standard seed) shaped like
 * bench/identity-micro.ts: 30 % of the web events named by a customer are made anonymous (customer id removed,
 * anonymous id `anon-<customer>`), the generator's own anonymous web events dropped, and 1 % of the customers aliased
 * by IdentityEvent ALIAS records produced on the identities topic before the events. Each run starts from a fresh
 * consumer group and no Redis keys under `ts:` (resetAggregatorRun); with several rounds the order alternates (off
 * first in even rounds, on first in odd ones). Reports events/s of each run (group join → lag 0 on the input topics,
 * as the aggregator phase), the ratio on/off, and the Redis bytes per alias (MEMORY USAGE of the alias hash and of
 * the customer's identity hash, measured after the first run with identity on).
 */
import { IdentityStore } from '@tierstream/aggregates';
import { bootstrapPipeline, feedEvents, resetPipelineData } from '@tierstream/cli';
import { type IdentityEvent, type InputEvent, TOPICS } from '@tierstream/contracts';
import { DEFAULT_END, generateWorkload } from '@tierstream/generator';
import { resetAggregatorRun } from './aggregator-ab';
import { type AggregatorResult, type BenchContext, phaseAggregator, STANDARD_SEED } from './phases';

export interface IdentityRun extends AggregatorResult {
  routing: 'on' | 'off';
  round: number;
}

export interface IdentityBenchResult {
  customers: number;
  /** Events on the input topics (web events made anonymous included). */
  events: number;
  /** Anonymous share of the web events. */
  anonymousShare: number;
  aliasedCustomers: number;
  produceSeconds: number;
  runs: IdentityRun[];
  /** Per round: events/s with identity routing / without. */
  ratios: number[];
  /** Mean MEMORY USAGE of an alias hash + its customer's identity hash (bytes). */
  bytesPerAlias: number;
}

/**
 * A string's 31-multiplier hash (non-negative): which web events are made anonymous (30 %: hash % 10 < 3); identity-
 * micro's partition of a key too.
 */
export const benchHash = (s: string): number => {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (h * 31 + s.charCodeAt(i)) | 0;
  return Math.abs(h);
};

/** The identity benches' shape: 30 % of the named web events made anonymous, the generator's anonymous ones dropped (null). */
export function identityShape(e: InputEvent): InputEvent | null {
  if (e.kind !== 'web') return e;
  if (e.event.customer_id === null) return null;
  if (benchHash(e.event.event_id) % 10 >= 3) return e;
  return { kind: 'web', event: { ...e.event, customer_id: null, anonymous_id: `anon-${e.event.customer_id}` } };
}

/** 1 % of the customers (every 100th id in sorted order): those the identity benches alias. */
export function aliasedCustomers(ids: Iterable<string>): string[] {
  return [...ids].sort().filter((_, i) => i % 100 === 0);
}

/** An ALIAS of `anon-<customer>` to each customer, at `at` (ms). */
export function aliasEvents(customers: readonly string[], at: number): IdentityEvent[] {
  return customers.map((c, i) => ({
    event_id: `alias-${i}`,
    type: 'ALIAS',
    customer_id: c,
    anonymous_id: `anon-${c}`,
    merged_customer_id: null,
    source: 'bench',
    occurred_at: at,
  }));
}

const generated = (customers: number) =>
  generateWorkload({ customers, days: 365, seed: STANDARD_SEED, end: DEFAULT_END });

function* identityWorkload(customers: number): Generator<InputEvent> {
  for (const e of generated(customers)) {
    const out = identityShape(e);
    if (out) yield out;
  }
}

/**
 * Runs the identity phase: wipes tierstream's data, produces the aliases then the workload, then `rounds` pairs of
 * aggregator runs (off/on, order alternating). Throws when a run does not reach lag 0 within `timeoutMs`.
 */
export async function phaseIdentity(
  ctx: BenchContext,
  opts: { rounds: number; timeoutMs: number },
): Promise<IdentityBenchResult> {
  const { clients } = ctx;
  ctx.log(
    `  identity: ${ctx.customers.toLocaleString('en')} customers; resetting tierstream data, then aliases and the workload`,
  );
  await resetPipelineData(clients);
  await bootstrapPipeline(clients);
  // First pass: the customers and the first instant (the aliases' occurred_at, as identity-micro).
  const ids = new Set<string>();
  let first = Number.POSITIVE_INFINITY;
  let web = 0;
  let anonymous = 0;
  for (const g of generated(ctx.customers)) {
    if (g.event.customer_id) ids.add(g.event.customer_id);
    const e = identityShape(g);
    if (!e) continue;
    first = Math.min(first, e.event.occurred_at);
    if (e.kind === 'web') {
      web++;
      if (e.event.customer_id === null) anonymous++;
    }
  }
  const aliased = aliasedCustomers(ids);
  const started = Date.now();
  const producer = await clients.producer();
  const aliases = aliasEvents(aliased, first);
  const records = [];
  for (const a of aliases)
    records.push({ key: a.customer_id, value: await clients.serde.encode(TOPICS.identities, a) });
  await producer.send(TOPICS.identities, records);
  const fed = await feedEvents(producer, clients.serde, identityWorkload(ctx.customers), { batchSize: 5_000 });
  const produceSeconds = (Date.now() - started) / 1000;
  ctx.log(
    `  identity: ${aliases.length} aliases, ${fed.sent.toLocaleString('en')} events (${anonymous.toLocaleString('en')} anonymous web events of ${web.toLocaleString('en')}) in ${produceSeconds.toFixed(1)} s`,
  );
  const runs: IdentityRun[] = [];
  const bytes: number[] = [];
  for (let round = 0; round < opts.rounds; round++) {
    const order: Array<'on' | 'off'> = round % 2 === 0 ? ['off', 'on'] : ['on', 'off'];
    for (const routing of order) {
      const result = await phaseAggregator(ctx, opts.timeoutMs, { env: { IDENTITY_ROUTING: routing } });
      ctx.log(`  round ${round + 1}, IDENTITY_ROUTING=${routing}: ${Math.round(result.eventsPerSec)} events/s`);
      runs.push({ ...result, routing, round });
      if (routing === 'on' && bytes.length === 0) {
        const keys = new IdentityStore(clients.redis, { prefix: clients.redisPrefix }).keys;
        for (const c of aliased)
          bytes.push(
            Number((await clients.redis.memory('USAGE', keys.alias(`anon-${c}`))) ?? 0) +
              Number((await clients.redis.memory('USAGE', keys.customer(c))) ?? 0),
          );
      }
      // The next run from the same empty state (the data was fresh before the first: resetPipelineData).
      await resetAggregatorRun(ctx);
    }
  }
  const rate = (round: number, routing: 'on' | 'off') =>
    runs.find((r) => r.round === round && r.routing === routing)?.eventsPerSec ?? Number.NaN;
  const ratios = Array.from({ length: opts.rounds }, (_, i) => +(rate(i, 'on') / rate(i, 'off')).toFixed(3));
  ctx.log(`  identity: ratios on/off ${ratios.join(', ')}`);
  return {
    customers: ctx.customers,
    events: fed.sent,
    anonymousShare: +(anonymous / web).toFixed(3),
    aliasedCustomers: aliased.length,
    produceSeconds,
    runs,
    ratios,
    bytesPerAlias: Math.round(bytes.reduce((a, b) => a + b, 0) / Math.max(1, bytes.length)),
  };
}
