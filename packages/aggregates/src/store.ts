/**
 * Redis adapter: loads lua/apply_events.lua once (SCRIPT LOAD), runs it with EVALSHA (reloading on NOSCRIPT), one
 * pipeline per batch, or one pipeline per slot in Cluster mode (custom scripts cannot be pipelined across slots).
 */
import { readFileSync } from 'node:fs';
import { suppressionKey } from '@tierstream/config';
import type { InputEvent } from '@tierstream/contracts';
import calculateSlot from 'cluster-key-slot';
import { Cluster, type Redis } from 'ioredis';
import type { AggregateConfig } from './config';
import { populationMetricsAsOf } from './existence';
import { identityKeys } from './identity-store';
import { customerKeys, DEFAULT_DEDUPE_HORIZON_MS, DEFAULT_PREFIX, encodeCustomerInto } from './keyspace';
import { type AggregateState, type Metrics, RETENTION_DAYS } from './metrics';
import { decodeState, decodeStateReply } from './state-decode';

export const APPLY_EVENTS_LUA = readFileSync(new URL('../lua/apply_events.lua', import.meta.url), 'utf8');

export interface AppliedRecord {
  event: InputEvent;
  topic: string;
  /**
   * Kafka partition; or `<partition>/<tag>` for records of another id routed to this customer (identity: the
   * customer's high-water mark of them is kept per that id, `h:<topic code>:<partition>/<tag>`; no commas).
   */
  partition: number | string;
  /** Kafka offset as a decimal string. */
  offset: string;
}

export interface CustomerBatch {
  customerId: string;
  /** In delivery order (per partition: offset order). */
  events: AppliedRecord[];
}

/** What partitionPopulationAsOf reads of the tier-state store: a signal partition's customers and their states. */
export interface PopulationSource {
  customers(partition: number, pageSize?: number): AsyncIterable<string[]>;
  readStates(ids: string[]): Promise<Map<string, unknown>>;
}

/** What one customer's call applied; firstEventAt/lastEventAt are 0 when applied is 0. */
export interface ApplyResult {
  applied: number;
  firstEventAt: number;
  lastEventAt: number;
  /**
   * Anomalies found (docs/design-decisions.md §15), each reported once (redeliveries apply nothing): minor units
   * refunded beyond their orders' amounts (capped away), and reversals of orders older than the kept order states.
   */
  refundExcess: number;
  expiredReversals: number;
  /**
   * The customer had been merged into another (identity, docs/design-decisions.md §22) when the script ran: nothing
   * was applied, and its records are to be routed again (to the survivor, or dropped when applied before the merge).
   */
  moved?: boolean;
}

const NOTHING_APPLIED: ApplyResult = {
  applied: 0,
  firstEventAt: 0,
  lastEventAt: 0,
  refundExcess: 0,
  expiredReversals: 0,
};

/** Options of AggregateStore.applyBatch. */
export interface ApplyOptions {
  /** See applyBatch. */
  retentionDays?: number;
  /**
   * Apply to customers merged into another too (the merge fold's own correction of the merged customer); default
   * false: a merged customer gets nothing and comes back `moved`.
   */
  applyToMerged?: boolean;
}

export interface AggregateStoreOptions {
  prefix?: string;
  dedupeHorizonMs?: number;
  config: AggregateConfig;
  /**
   * Write the packed layout (design-decisions §23): a customer's order days in one field `o`, its service days in one
   * field `t`, a ticket's state in one field `K:<ticket>`, instead of one field per day (`o:<day>`, `t:<day>`) and two
   * per ticket (`k:`, `q:`). Both layouts are read either way. Default PACKED_LAYOUT.
   */
  packedLayout?: boolean;
}

/**
 * Default of AggregateStoreOptions.packedLayout: on. The identity merge fold passes the merged customer's hash through
 * expandPackedFields (keyspace.ts) first, since identity_merge_fold-1.lua adds the previous layout's fields into the
 * survivor's; the survivor's next write packs them.
 */
export const PACKED_LAYOUT = true;

type Client = Redis | Cluster;

interface Call {
  customerId: string;
  key: string;
  args: string[];
}

export class AggregateStore {
  readonly prefix: string;
  readonly dedupeHorizonMs: number;
  readonly config: AggregateConfig;
  readonly packedLayout: boolean;
  private sha: string | null = null;

  constructor(
    private readonly redis: Client,
    opts: AggregateStoreOptions,
  ) {
    this.prefix = opts.prefix ?? DEFAULT_PREFIX;
    this.dedupeHorizonMs = opts.dedupeHorizonMs ?? DEFAULT_DEDUPE_HORIZON_MS;
    this.config = opts.config;
    this.packedLayout = opts.packedLayout ?? PACKED_LAYOUT;
    if (!Number.isFinite(this.dedupeHorizonMs) || this.dedupeHorizonMs < 0) {
      throw new Error(`dedupeHorizonMs must be a non-negative number, got ${opts.dedupeHorizonMs}`);
    }
  }

  /** Loads the script on the server (every master in Cluster mode). */
  async init(): Promise<void> {
    const nodes: Redis[] = this.redis instanceof Cluster ? this.redis.nodes('master') : [this.redis];
    const shas = await Promise.all(nodes.map((n) => n.script('LOAD', APPLY_EVENTS_LUA) as Promise<string>));
    this.sha = shas[0] ?? null;
  }

  keys(customerId: string): { agg: string } {
    return customerKeys(this.prefix, customerId);
  }

  /**
   * Applies all customers' events (several customers per script call, each in its slot); idempotent under redelivery
   * and duplicates.
   * `retentionDays`: keep day buckets for this many days behind the customer's latest event before folding them into
   * the lifetime base (never fewer than RETENTION_DAYS). The aggregator raises it while a replay runs ahead of the
   * tier engine, which still needs the buckets of the days it has not evaluated yet.
   * A customer merged into another (its identity hash has `to`) gets nothing, checked in the script call that would
   * write (atomic with it), and its result says `moved: true`; `applyToMerged` turns the check off.
   */
  async applyBatch(items: CustomerBatch[], opts: ApplyOptions = {}): Promise<Map<string, ApplyResult>> {
    if (this.sha === null) await this.init();
    // The retention in days, `p` appended for packed day buckets (apply_events.lua ARGV[2]).
    const retention =
      String(Math.max(RETENTION_DAYS, Math.ceil(opts.retentionDays ?? RETENTION_DAYS))) +
      (this.packedLayout ? 'p' : '');
    const out = new Map<string, ApplyResult>();
    for (const item of items) out.set(item.customerId, { ...NOTHING_APPLIED });
    // Customers in list order, grouped per slot (one group without Cluster), then several per script call: the
    // per-call cost of EVALSHA was a large share of the server time of a call with a few events.
    // A customer's web events of the batch go merged (one record, see encodeCustomerInto) unless it is listed twice
    // (a conflict's second call must not come after its later entry).
    const listed = new Map<string, number>();
    for (const item of items) listed.set(item.customerId, (listed.get(item.customerId) ?? 0) + 1);
    const perCustomer: Call[] = [];
    const merged = new Set<Call>();
    for (const item of items) {
      if (item.events.length === 0) continue;
      const args: string[] = [];
      const call = { customerId: item.customerId, key: this.keys(item.customerId).agg, args };
      if (encodeCustomerInto(args, item.events, this.config, listed.get(item.customerId) === 1)) merged.add(call);
      perCustomer.push(call);
    }
    if (perCustomer.length === 0) return out;
    const head = [String(this.dedupeHorizonMs), retention];
    const identity = opts.applyToMerged !== true;
    const results = await this.applyCalls(perCustomer, head, identity);
    // CONFLICT (a merged record whose events did not all pass: nothing written): again, one record per event.
    const conflicts = results.flatMap(([call, value]) => (value[0] === CONFLICT && merged.has(call) ? [call] : []));
    if (conflicts.length > 0) {
      const itemOf = new Map(items.map((it) => [it.customerId, it]));
      const again = conflicts.map((c) => {
        const item = itemOf.get(c.customerId)!;
        const args: string[] = [];
        encodeCustomerInto(args, item.events, this.config, false);
        return { customerId: c.customerId, key: c.key, args };
      });
      const retried = new Map((await this.applyCalls(again, head, identity)).map(([c, v]) => [c.customerId, v]));
      for (const r of results) if (r[1][0] === CONFLICT) r[1] = retried.get(r[0].customerId)!;
    }
    for (const [call, value] of results) {
      if (value[0] === CONFLICT) throw new Error(`apply_events: conflict for customer ${call.customerId} twice`);
      if (value[0] === MOVED) {
        out.set(call.customerId, { ...out.get(call.customerId)!, moved: true });
        continue;
      }
      const [applied, minAt, maxAt, refundExcess = 0, expiredReversals = 0] = value;
      const prev = out.get(call.customerId)!;
      const anomalies = {
        refundExcess: prev.refundExcess + refundExcess,
        expiredReversals: prev.expiredReversals + expiredReversals,
      };
      // A customer listed twice in one batch: combine (calls run in list order within a slot).
      if (prev.applied === 0) {
        out.set(call.customerId, { applied: applied!, firstEventAt: minAt!, lastEventAt: maxAt!, ...anomalies });
      } else if (applied! > 0) {
        out.set(call.customerId, {
          applied: prev.applied + applied!,
          firstEventAt: Math.min(prev.firstEventAt, minAt!),
          lastEventAt: Math.max(prev.lastEventAt, maxAt!),
          ...anomalies,
        });
      } else out.set(call.customerId, { ...prev, ...anomalies });
    }
    return out;
  }

  /** The script over the given customers (grouped per slot, several per call): 5 numbers per customer. */
  private async applyCalls(perCustomer: Call[], head: string[], identity: boolean): Promise<Array<[Call, number[]]>> {
    return this.runGrouped(perCustomer, async (group) => {
      const calls = chunkCalls(group);
      let res = await this.evalPipeline(calls, head, identity);
      const missing = res.flatMap((r, i) => (r[0] && /NOSCRIPT/.test(r[0].message) ? [i] : []));
      if (missing.length > 0) {
        // Script cache flushed (restart, SCRIPT FLUSH, failover): NOSCRIPT means not executed, so retry is safe.
        await this.init();
        const retried = await this.evalPipeline(
          missing.map((i) => calls[i]!),
          head,
          identity,
        );
        res = res.slice();
        missing.forEach((i, j) => {
          res[i] = retried[j]!;
        });
      }
      // One result per customer of the group, in group order.
      return calls.flatMap((call, i) => {
        const [err, value] = res[i]!;
        return call.map((c, k) => {
          if (err) throw new Error(`apply_events failed for customer ${c.customerId}: ${err.message}`);
          return (value as number[]).slice(5 * k, 5 * k + 5);
        });
      });
    });
  }

  async readState(customerId: string): Promise<AggregateState | null> {
    const hash = await this.redis.hgetall(this.keys(customerId).agg);
    return decodeState(customerId, hash);
  }

  /**
   * The population of signal partition `partition` as of the close of UTC day `day`: populationMetricsAsOf of every
   * customer that `tierState` lists there and has a tier state (design-decisions §20), read page by page. `tierState`
   * is the tier-state store (only its customer set and states are read; typed structurally, no dependency).
   */
  async partitionPopulationAsOf(tierState: PopulationSource, partition: number, day: number): Promise<Metrics[]> {
    const population: Metrics[] = [];
    for await (const ids of tierState.customers(partition, 1000)) {
      const [aggs, states] = await Promise.all([this.readMany(ids, { idempotence: false }), tierState.readStates(ids)]);
      for (const id of ids) {
        const agg = aggs.get(id);
        if (!agg || !states.has(id)) continue;
        const metrics = populationMetricsAsOf(agg, day, this.config);
        if (metrics) population.push(metrics);
      }
    }
    return population;
  }

  /**
   * States of the given customers; customers without state are absent from the map. `idempotence: false` leaves
   * `offsets` and `seenEvents` empty (readers of metrics only; see decodeStateReply).
   */
  async readMany(ids: string[], opts: { idempotence?: boolean } = {}): Promise<Map<string, AggregateState>> {
    const calls: Call[] = ids.map((id) => ({ customerId: id, key: this.keys(id).agg, args: [] }));
    const results = await this.runGrouped(calls, async (group) => {
      const p = this.redis.pipeline();
      // The raw flat reply: `hgetall` would have ioredis build an object per hash first.
      for (const c of group) p.call('HGETALL', c.key);
      return ((await p.exec()) ?? []) as Array<[Error | null, unknown]>;
    });
    const out = new Map<string, AggregateState>();
    for (const [call, [err, reply]] of results) {
      if (err) throw err;
      const s = decodeStateReply(call.customerId, reply as string[], opts);
      if (s) out.set(call.customerId, s);
    }
    return out;
  }

  /** Removes a customer's aggregate state (tests, GDPR erasure). */
  async deleteCustomer(customerId: string): Promise<void> {
    await deleteCustomer(this.redis, this.prefix, customerId);
  }

  /**
   * One EVALSHA per call: its customers' keys, then `head` (horizon, retention) and each customer's arguments.
   * `identity`: pass the customers' identity hashes too (a merged customer gets nothing: MOVED).
   */
  private async evalPipeline(
    calls: Call[][],
    head: string[],
    identity: boolean,
  ): Promise<Array<[Error | null, unknown]>> {
    const p = this.redis.pipeline();
    const idn = identityKeys(this.prefix);
    for (const call of calls) {
      // The customers' hashes, then their suppression markers (erasure: a suppressed customer's events are dropped
      // in the script, atomically with the write), then their identity hashes (a merged customer's too).
      const args: string[] = call.map((c) => c.key);
      for (const c of call) args.push(suppressionKey(this.prefix, c.customerId));
      if (identity) for (const c of call) args.push(idn.customer(c.customerId));
      args.push(...head);
      for (const c of call) for (const a of c.args) args.push(a);
      p.evalsha(this.sha!, (identity ? 3 : 2) * call.length, ...args);
    }
    return ((await p.exec()) ?? []) as Array<[Error | null, unknown]>;
  }

  /** One group for a standalone server; one group per hash slot in Cluster mode. Groups run concurrently. */
  private async runGrouped<T>(calls: Call[], run: (group: Call[]) => Promise<T[]>): Promise<Array<[Call, T]>> {
    const groups: Call[][] = [];
    if (this.redis instanceof Cluster) {
      const bySlot = new Map<number, Call[]>();
      for (const c of calls) {
        const slot = calculateSlot(c.key);
        let g = bySlot.get(slot);
        if (!g) {
          g = [];
          bySlot.set(slot, g);
        }
        g.push(c);
      }
      groups.push(...bySlot.values());
    } else {
      groups.push(calls);
    }
    const results = await Promise.all(groups.map(run));
    return groups.flatMap((g, gi) => g.map((c, i) => [c, results[gi]![i]!] as [Call, T]));
  }
}

/** apply_events.lua's `applied` for a merged record it could not apply (its events go again one by one). */
const CONFLICT = -1;
/** apply_events.lua's `applied` for a customer merged into another: nothing applied (ApplyResult.moved). */
const MOVED = -2;

/** Customers per apply_events.lua call, and arguments per call (a call is atomic: it blocks Redis while it runs). */
const CUSTOMERS_PER_CALL = 64;
const ARGS_PER_CALL = 4_000;

/** Consecutive customers (of one slot) cut into script calls of at most CUSTOMERS_PER_CALL / about ARGS_PER_CALL. */
function chunkCalls(group: Call[]): Call[][] {
  const calls: Call[][] = [];
  let current: Call[] = [];
  let args = 0;
  for (const c of group) {
    if (current.length > 0 && (current.length >= CUSTOMERS_PER_CALL || args + c.args.length > ARGS_PER_CALL)) {
      calls.push(current);
      current = [];
      args = 0;
    }
    current.push(c);
    args += c.args.length;
  }
  if (current.length > 0) calls.push(current);
  return calls;
}

export async function deleteCustomer(redis: Client, prefix: string, customerId: string): Promise<void> {
  await redis.del(customerKeys(prefix, customerId).agg);
}
