import { readFileSync } from 'node:fs';
import { customerHashTag, execBySlot, type RedisClient } from '@tierstream/config';
import type { Attributes, CutPoints, TierState } from '@tierstream/tiering';
import type { ChainableCommander } from 'ioredis';
import { RulesStore, type RulesVersion } from './rules';

const lua = (name: string) => readFileSync(new URL(`../lua/${name}.lua`, import.meta.url), 'utf8');

interface TierStateCommands {
  /** After the 3 keys: customer id, due instant, customer id, due instant, … */
  tsSchedule(due: string, touch: string, customers: string, ...pairs: Array<string | number>): Promise<number>;
  tsCommitDue(
    due: string,
    touch: string,
    customerId: string,
    processed: number,
    touch0: string,
    next: string,
  ): Promise<number>;
  tsAdvanceWatermark(key: string, field: string, at: number): Promise<number>;
}

/** Customers per schedule.lua call. */
const SCHEDULE_CHUNK = 1_000;

/**
 * Redis keyspace of the tier engine's side: per-customer tier state, and per signal partition the due index
 * (sorted set of "next instant this customer's tiers could change"), the touch counters and the customer set.
 * Customer keys carry the hash tag {customer id}; partition keys the tag {p<n>}: every Lua call stays in one slot.
 */
export class TierStateStore {
  private readonly redis: RedisClient;

  constructor(
    redis: RedisClient,
    readonly prefix = 'ts',
  ) {
    const commands: Array<[string, number, string]> = [
      ['tsSchedule', 3, 'schedule'],
      ['tsCommitDue', 2, 'commit_due'],
      ['tsAdvanceWatermark', 1, 'advance_watermark'],
    ];
    for (const [name, numberOfKeys, file] of commands) {
      // defineCommand runs EVALSHA and falls back to EVAL once on NOSCRIPT, in pipelines too.
      if (!(name in redis)) redis.defineCommand(name, { numberOfKeys, lua: lua(file) });
    }
    this.redis = redis;
    this.rules = new RulesStore(redis, prefix);
  }

  keys = {
    state: (customerId: string) => `${this.prefix}:${customerHashTag(customerId)}:tier`,
    due: (p: number) => `${this.prefix}:due:{p${p}}`,
    touch: (p: number) => `${this.prefix}:touch:{p${p}}`,
    customers: (p: number) => `${this.prefix}:customers:{p${p}}`,
    partitionMeta: (p: number) => `${this.prefix}:meta:{p${p}}`,
    /** Hash customer → population cache entry (JSON, see @tierstream/tiering population.ts), per partition. */
    populationCache: (p: number) => `${this.prefix}:popcache:{p${p}}`,
    watermarks: () => `${this.prefix}:watermarks`,
    cutPoints: () => `${this.prefix}:cutpoints`,
    cutPointsHistory: () => `${this.prefix}:cutpoints:history`,
    startDay: () => `${this.prefix}:start_day`,
    /** The active rules version (see RulesStore for the history and the rules-change rendezvous). */
    rules: () => this.rules.keys.active(),
  };

  /** Rules versions: the active one, the history, the rules-change rendezvous (keys tagged {rules}). */
  readonly rules: RulesStore;

  /** Aggregator side: the customer has new events from `dueAt`'s day on. Pipelined, one slot per call. */
  async schedule(items: Array<{ customerId: string; partition: number; dueAt: number }>): Promise<void> {
    // One script call per signal partition (its keys share one slot) and up to SCHEDULE_CHUNK customers: the per-call
    // cost of a script was most of the cost of scheduling one customer.
    const chunks: Array<{ partition: number; pairs: Array<string | number> }> = [];
    const open = new Map<number, { partition: number; pairs: Array<string | number> }>();
    for (const it of items) {
      let chunk = open.get(it.partition);
      if (!chunk || chunk.pairs.length >= 2 * SCHEDULE_CHUNK) {
        chunk = { partition: it.partition, pairs: [] };
        open.set(it.partition, chunk);
        chunks.push(chunk);
      }
      chunk.pairs.push(it.customerId, it.dueAt);
    }
    await execBySlot(
      this.redis,
      chunks,
      (c) => this.keys.due(c.partition),
      (p, c) =>
        scripts(p).tsSchedule(
          this.keys.due(c.partition),
          this.keys.touch(c.partition),
          this.keys.customers(c.partition),
          ...c.pairs,
        ),
    );
  }

  /** Aggregator side: every record of `topic:partition` up to event time `at` is applied and scheduled. */
  async advanceWatermarks(marks: Array<{ topic: string; partition: number; at: number }>): Promise<void> {
    await execBySlot(
      this.redis,
      marks,
      () => this.keys.watermarks(),
      (p, m) => scripts(p).tsAdvanceWatermark(this.keys.watermarks(), `${m.topic}:${m.partition}`, m.at),
    );
  }

  async readWatermarks(): Promise<Map<string, number>> {
    const raw = await this.redis.hgetall(this.keys.watermarks());
    return new Map(Object.entries(raw).map(([k, v]) => [k, Number(v)]));
  }

  /** Customers due at or before `upTo`, earliest first. */
  async due(
    partition: number,
    upTo: number,
    limit: number,
  ): Promise<Array<{ customerId: string; dueAt: number; touch: string }>> {
    const flat = await this.redis.zrangebyscore(
      this.keys.due(partition),
      '-inf',
      upTo,
      'WITHSCORES',
      'LIMIT',
      0,
      limit,
    );
    const out: Array<{ customerId: string; dueAt: number; touch: string }> = [];
    for (let i = 0; i < flat.length; i += 2) out.push({ customerId: flat[i]!, dueAt: Number(flat[i + 1]), touch: '0' });
    if (out.length === 0) return out;
    const touches = await this.redis.hmget(this.keys.touch(partition), ...out.map((o) => o.customerId));
    touches.forEach((t, i) => {
      out[i]!.touch = t ?? '0';
    });
    return out;
  }

  async earliestDue(partition: number): Promise<number | null> {
    const first = await this.redis.zrange(this.keys.due(partition), 0, 0, 'WITHSCORES');
    return first.length === 2 ? Number(first[1]) : null;
  }

  async dueCount(partition: number, upTo: number | '+inf' = '+inf'): Promise<number> {
    return this.redis.zcount(this.keys.due(partition), '-inf', upTo);
  }

  async readStates(customerIds: string[]): Promise<Map<string, TierState>> {
    const out = new Map<string, TierState>();
    const values = await execBySlot(this.redis, customerIds, this.keys.state, (p, id) => p.get(this.keys.state(id)));
    values.forEach((value, i) => {
      if (typeof value === 'string') out.set(customerIds[i]!, JSON.parse(value) as TierState);
    });
    return out;
  }

  /**
   * Engine side, after the outputs of an evaluation were produced: store the state, then move the customer in the
   * due index (unless the aggregator touched it meanwhile, see commit_due.lua).
   */
  async commit(
    partition: number,
    items: Array<{
      customerId: string;
      /** null: nothing to store (the customer does not exist yet as of the evaluated day). */
      state: TierState | null;
      processedDueAt: number | null;
      touch: string;
      nextDueAt: number | null;
      /** The customer's population cache entry (JSON), written with the state. */
      population?: string;
    }>,
  ): Promise<void> {
    // Population cache entries, then states, then the due index: a crash in between re-evaluates (idempotently), it
    // never skips, and a stored state always has the entry of its evaluation (or a later one).
    const population = items.filter((it) => it.state && it.population !== undefined);
    if (population.length > 0) {
      const fields: string[] = [];
      for (const it of population) fields.push(it.customerId, it.population!);
      await this.redis.hset(this.keys.populationCache(partition), ...fields);
    }
    const states = items.flatMap((it) => (it.state ? [it.state] : []));
    await execBySlot(
      this.redis,
      states,
      (state) => this.keys.state(state.customer_id),
      (p, state) => p.set(this.keys.state(state.customer_id), JSON.stringify(state)),
    );
    // A customer merged into another (design-decisions §22) leaves its partition: no population, snapshot or rules wave.
    const ended = states.filter((state) => state.merged_into !== undefined).map((state) => state.customer_id);
    if (ended.length > 0) {
      await this.redis.srem(this.keys.customers(partition), ...ended);
      await this.redis.hdel(this.keys.populationCache(partition), ...ended);
    }
    const due = this.keys.due(partition);
    await execBySlot(
      this.redis,
      items.filter((it) => it.processedDueAt !== null || it.nextDueAt !== null),
      () => due,
      (p, it) => {
        if (it.processedDueAt !== null) {
          scripts(p).tsCommitDue(
            due,
            this.keys.touch(partition),
            it.customerId,
            it.processedDueAt,
            it.touch,
            it.nextDueAt === null ? '' : String(it.nextDueAt),
          );
        } else {
          p.zadd(due, 'LT', it.nextDueAt!, it.customerId);
        }
      },
    );
  }

  /** Every population cache entry of a partition (customer → JSON), read in pages (HSCAN). */
  async readPopulationCache(partition: number, pageSize = 2000): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    let cursor = '0';
    do {
      const [next, flat] = await this.redis.hscan(this.keys.populationCache(partition), cursor, 'COUNT', pageSize);
      cursor = next;
      for (let i = 0; i < flat.length; i += 2) out.set(flat[i]!, flat[i + 1]!);
    } while (cursor !== '0');
    return out;
  }

  /** Iterates a partition's known customers in pages (SSCAN: no blocking of Redis on large sets). */
  async *customers(partition: number, pageSize = 1000): AsyncGenerator<string[]> {
    let cursor = '0';
    do {
      const [next, ids] = await this.redis.sscan(this.keys.customers(partition), cursor, 'COUNT', pageSize);
      cursor = next;
      if (ids.length > 0) yield ids;
    } while (cursor !== '0');
  }

  async customerCount(partition: number): Promise<number> {
    return this.redis.scard(this.keys.customers(partition));
  }

  async getPartitionMeta(partition: number): Promise<Record<string, string>> {
    return this.redis.hgetall(this.keys.partitionMeta(partition));
  }

  async setPartitionMeta(partition: number, values: Record<string, string | number>): Promise<void> {
    await this.redis.hset(this.keys.partitionMeta(partition), values);
  }

  /** Aggregator side: remember the customer's latest known attributes (used by B2B rules). */
  async setAttributes(
    items: Array<{ customerId: string; attributes: Record<string, string | number> }>,
  ): Promise<void> {
    await execBySlot(
      this.redis,
      items.filter((it) => Object.keys(it.attributes).length > 0),
      (it) => attributesKey(this.prefix, it.customerId),
      (p, it) => p.hset(attributesKey(this.prefix, it.customerId), it.attributes),
    );
  }

  async readAttributes(customerIds: string[]): Promise<Map<string, Attributes>> {
    const out = new Map<string, Attributes>();
    const key = (id: string) => attributesKey(this.prefix, id);
    const values = await execBySlot(this.redis, customerIds, key, (p, id) => p.hgetall(key(id)));
    values.forEach((raw, i) => {
      const h = raw as Record<string, string>;
      if (Object.keys(h).length === 0) return;
      out.set(customerIds[i]!, {
        industry: h.industry ?? null,
        company_size: h.company_size !== undefined ? Number(h.company_size) : null,
        region: h.region ?? null,
      });
    });
    return out;
  }

  /**
   * The day before the first day the engine closes, the same for every partition (so every partition takes part
   * in every cut-point barrier). The first caller's candidate wins; later callers get the stored day.
   */
  async startDay(candidate: number | null): Promise<number | null> {
    if (candidate !== null) await this.redis.set(this.keys.startDay(), String(candidate), 'NX');
    const stored = await this.redis.get(this.keys.startDay());
    return stored === null ? null : Number(stored);
  }

  async getCutPoints(): Promise<CutPoints | null> {
    const raw = await this.redis.get(this.keys.cutPoints());
    return raw ? (JSON.parse(raw) as CutPoints) : null;
  }

  /** Every cut-point version ever stored (a partition still closing earlier days needs the older ones). */
  async getCutPointsHistory(): Promise<CutPoints[]> {
    const all = await this.redis.hgetall(this.keys.cutPointsHistory());
    return Object.values(all).map((json) => JSON.parse(json) as CutPoints);
  }

  async setCutPoints(cutPoints: CutPoints): Promise<void> {
    await this.redis.hset(this.keys.cutPointsHistory(), cutPoints.version, JSON.stringify(cutPoints));
    await this.redis.set(this.keys.cutPoints(), JSON.stringify(cutPoints));
  }

  /**
   * The active rules document (YAML text), its version, apply number and source (`tierctl rules apply`, a rollback,
   * or the file the first engine started with); null when none was recorded. The history: `rules`.
   */
  async getActiveRules(): Promise<RulesVersion | null> {
    return this.rules.active();
  }
}

/** The pipeline with the Lua commands defined in the constructor. */
const scripts = (p: ChainableCommander) => p as unknown as TierStateCommands;

/** Keys of customer attributes (industry, company size, region): the latest non-null values win. */
export function attributesKey(prefix: string, customerId: string): string {
  return `${prefix}:${customerHashTag(customerId)}:attrs`;
}
