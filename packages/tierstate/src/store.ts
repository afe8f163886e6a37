import { readFileSync } from 'node:fs';
import { customerHashTag, execBySlot, type RedisClient } from '@tierstream/config';
import type { Attributes, CutPoints, TierState } from '@tierstream/tiering';
import { type ChainableCommander, Cluster } from 'ioredis';
import { decodePopulationEntry, encodePopulationEntry, populationEntryOf } from './population-codec';
import { RulesStore, type RulesVersion } from './rules';
import { decodeTierState, encodeTierState, tierStateStrings, UnknownCodeError } from './state-codec';

const lua = (name: string) => readFileSync(new URL(`../lua/${name}.lua`, import.meta.url), 'utf8');

interface TierStateCommands {
  /** After the key: customer id, due instant, customer id, due instant, … */
  tsSchedule(due: string, ...pairs: Array<string | number>): Promise<number>;
  tsCommitDue(due: string, customerId: string, processed: number, touch: string, next: string): Promise<number>;
  tsAdvanceWatermark(key: string, field: string, at: number): Promise<number>;
  /** The generation, then the code of each string. */
  tsTierCodes(key: string, generation: string, ...strings: string[]): Promise<Array<string | number>>;
  tsUpgradePartition(due: string, touch: string, customers: string, count: number): Promise<number>;
}

/** Due instants (epoch ms) must stay below this: the due score keeps a 10-bit touch counter in its fraction. */
const MAX_DUE_AT = 2 ** 42;

/** One customer of an engine commit (TierStateStore.commit). */
export interface CommitItem {
  customerId: string;
  /** null: nothing to store (the customer does not exist yet as of the evaluated day). */
  state: TierState | null;
  processedDueAt: number | null;
  touch: string;
  nextDueAt: number | null;
  /** The customer's population cache entry (JSON), written with the state. */
  population?: string;
}

/** A commit whose codes are known (TierStateStore.prepareCommit): what `commit` writes. */
export interface PreparedCommit {
  readonly items: CommitItem[];
  readonly population: ReadonlyArray<{ customerId: string; json: string; entry: ReturnType<typeof populationEntryOf> }>;
  readonly states: readonly TierState[];
  readonly codes: ReadonlyMap<string, number>;
}

/** A cached code table of compact tier states (state-codec.ts): its generation, code → string, string → code. */
interface CodeTable {
  generation: string;
  texts: Map<number, string>;
  codes: Map<string, number>;
}

/** Customers per schedule.lua call. */
const SCHEDULE_CHUNK = 1_000;

/**
 * Redis keyspace of the tier engine's side: per-customer tier state (compact, state-codec.ts, with the code table
 * `tierCodes`), and per signal partition the due index: a sorted set of every customer of the partition, scored by the
 * next instant its tiers could change plus a touch counter in the fraction (+inf: nothing due; schedule-1.lua).
 * Customer keys carry the hash tag {customer id}; partition keys the tag {p<n>}: every Lua call stays in one slot.
 * The previous layout (JSON states, a touch hash and a customer set per partition) is read too; `upgradePartition`
 * moves a partition over (docs/design-decisions.md §23).
 */
export class TierStateStore {
  private readonly redis: RedisClient;

  constructor(
    redis: RedisClient,
    readonly prefix = 'ts',
  ) {
    const commands: Array<[string, number, string]> = [
      ['tsSchedule', 1, 'schedule-1'],
      ['tsCommitDue', 1, 'commit_due-1'],
      ['tsAdvanceWatermark', 1, 'advance_watermark'],
      ['tsTierCodes', 1, 'tier_codes-1'],
      ['tsUpgradePartition', 3, 'upgrade_partition-3'],
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
    /** Every customer of the partition, scored by its due instant + touch counter (+inf: nothing due). */
    due: (p: number) => `${this.prefix}:due:{p${p}}`,
    /** Previous layout only (read until `upgradePartition`): touch counters. */
    touch: (p: number) => `${this.prefix}:touch:{p${p}}`,
    /** Previous layout only (read until `upgradePartition`): the customer set. */
    customers: (p: number) => `${this.prefix}:customers:{p${p}}`,
    /** The code table of compact tier states (no personal data: versions, dimension, tier and rule ids). */
    tierCodes: () => `${this.prefix}:tiercodes`,
    partitionMeta: (p: number) => `${this.prefix}:meta:{p${p}}`,
    /**
     * Hash customer → population cache entry (@tierstream/tiering population.ts; compact, population-codec.ts, or the
     * previous layout's JSON), per partition.
     */
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
      if (!Number.isSafeInteger(it.dueAt) || it.dueAt >= MAX_DUE_AT) {
        throw new Error(`schedule: due instant ${it.dueAt} of ${it.customerId} is not an integer below 2^42`);
      }
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
      (p, c) => scripts(p).tsSchedule(this.keys.due(c.partition), ...c.pairs),
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

  /**
   * Customers due at or before `upTo` (epoch ms), earliest first: the due instant (ms) and the touch (the score read,
   * to hand back to `commit`).
   */
  async due(
    partition: number,
    upTo: number,
    limit: number,
  ): Promise<Array<{ customerId: string; dueAt: number; touch: string }>> {
    const flat = await this.redis.zrangebyscore(
      this.keys.due(partition),
      '-inf',
      dueBound(upTo),
      'WITHSCORES',
      'LIMIT',
      0,
      limit,
    );
    const out: Array<{ customerId: string; dueAt: number; touch: string }> = [];
    for (let i = 0; i < flat.length; i += 2) {
      out.push({ customerId: flat[i]!, dueAt: Math.floor(Number(flat[i + 1])), touch: flat[i + 1]! });
    }
    return out;
  }

  /** The earliest due instant of the partition (epoch ms), null when no customer is due. */
  async earliestDue(partition: number): Promise<number | null> {
    const first = await this.redis.zrange(this.keys.due(partition), 0, 0, 'WITHSCORES');
    if (first.length !== 2) return null;
    const score = Number(first[1]);
    return Number.isFinite(score) ? Math.floor(score) : null;
  }

  /** Customers due at or before `upTo` (epoch ms; '+inf': due at all). */
  async dueCount(partition: number, upTo: number | '+inf' = '+inf'): Promise<number> {
    return this.redis.zcount(this.keys.due(partition), '-inf', upTo === '+inf' ? '(+inf' : dueBound(upTo));
  }

  /**
   * The tier states of `customerIds` (absent: none stored), in either layout (compact or the previous JSON). Throws if
   * a compact state refers to a code the code table does not have (a corrupt or foreign value).
   */
  async readStates(customerIds: string[]): Promise<Map<string, TierState>> {
    const out = new Map<string, TierState>();
    const [generation, values] = await Promise.all([
      customerIds.length === 0 ? null : this.redis.hget(this.keys.tierCodes(), 'gen'),
      execBySlot(this.redis, customerIds, this.keys.state, (p, id) => p.get(this.keys.state(id))),
    ]);
    await this.decodeWithCodes(generation, (textOf) => {
      values.forEach((value, i) => {
        if (typeof value !== 'string') return;
        out.set(customerIds[i]!, decodeTierState(value, customerIds[i]!, textOf));
      });
    });
    return out;
  }

  /**
   * Runs `decode` with the cached code table (dropped first when `generation`, read with the values, is another), and
   * once more with the stored table when it meets an unknown code. Throws what `decode` throws the second time.
   */
  private async decodeWithCodes(
    generation: string | null,
    decode: (textOf: (code: number) => string | undefined) => void,
  ): Promise<void> {
    if (this.codeTable && this.codeTable.generation !== generation) this.codeTable = null;
    for (let attempt = 0; ; attempt++) {
      try {
        const table = this.codeTable;
        decode((code) => table?.texts.get(code));
        return;
      } catch (err) {
        if (!(err instanceof UnknownCodeError) || attempt > 0) throw err;
        this.codeTable = await this.loadCodeTable();
      }
    }
  }

  /** The code table as stored (generation, codes), or an empty one when none is. */
  private async loadCodeTable(): Promise<CodeTable> {
    const raw = await this.redis.hgetall(this.keys.tierCodes());
    const table: CodeTable = { generation: raw.gen ?? '', texts: new Map(), codes: new Map() };
    for (const [field, code] of Object.entries(raw)) {
      if (!field.startsWith('s:')) continue;
      table.texts.set(Number(code), field.slice(2));
      table.codes.set(field.slice(2), Number(code));
    }
    return table;
  }

  private codeTable: CodeTable | null = null;

  /** The codes of `strings` in the code table (one call; new strings get new codes). */
  private async codesOf(strings: readonly string[]): Promise<Map<string, number>> {
    if (strings.length === 0) return new Map();
    const generation = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
    const [stored, ...codes] = await scripts(this.redis as unknown as ChainableCommander).tsTierCodes(
      this.keys.tierCodes(),
      generation,
      ...strings,
    );
    const codeOf = new Map(strings.map((text, i) => [text, Number(codes[i])]));
    if (this.codeTable?.generation !== String(stored)) {
      this.codeTable = { generation: String(stored), texts: new Map(), codes: new Map() };
    }
    for (const [text, code] of codeOf) {
      this.codeTable.texts.set(code, text);
      this.codeTable.codes.set(text, code);
    }
    return codeOf;
  }

  /**
   * A commit's first round trip, which may run before it (the engine runs it while the evaluation's outputs are
   * produced): the codes of the strings of the states and population entries (compact layouts, §23; new strings get
   * new codes, and a code that is never used is harmless). Pass the result to `commit`.
   */
  async prepareCommit(items: CommitItem[]): Promise<PreparedCommit> {
    const population = items.flatMap((it) =>
      it.state && it.population !== undefined
        ? [{ customerId: it.customerId, json: it.population, entry: populationEntryOf(it.population) }]
        : [],
    );
    const states = items.flatMap((it) => (it.state ? [it.state] : []));
    // One call codes the strings of the states and of the population entries.
    const strings = new Set(states.flatMap(tierStateStrings));
    for (const it of population) if (it.entry) strings.add(it.entry.v);
    return { items, population, states, codes: await this.codesOf([...strings]) };
  }

  /**
   * Engine side, after the outputs of an evaluation were produced: store the state (compact layout), then move the
   * customer in the due index (unless the aggregator touched it meanwhile, see commit_due-1.lua). `nextDueAt` null:
   * nothing due (the customer stays in the index at +inf); a merged customer (state.merged_into) or one without a state
   * and nothing due (erased) leaves the index. `items` may be prepared already (prepareCommit).
   */
  async commit(partition: number, items: CommitItem[] | PreparedCommit): Promise<void> {
    // Population cache entries, then states, then the due index: a crash in between re-evaluates (idempotently), it
    // never skips, and a stored state always has the entry of its evaluation (or a later one).
    const prepared = Array.isArray(items) ? await this.prepareCommit(items) : items;
    const { items: list, population, states, codes } = prepared;
    const codeOf = (text: string) => codes.get(text)!;
    const fields: string[] = [];
    for (const it of population)
      fields.push(it.customerId, it.entry ? encodePopulationEntry(it.entry, codeOf) : it.json);
    const values = states.map((state) => encodeTierState(state, codeOf));
    // A customer merged into another (design-decisions §22) leaves its partition: no population, snapshot or rules wave.
    const leaves = (it: CommitItem) =>
      it.state?.merged_into !== undefined || (it.state === null && it.nextDueAt === null);
    const ended = states.filter((state) => state.merged_into !== undefined).map((state) => state.customer_id);
    const due = this.keys.due(partition);
    const dueItems = list.filter((it) => it.processedDueAt !== null || it.nextDueAt !== null || leaves(it));
    const moveDue = (p: ChainableCommander, it: CommitItem) => {
      const next = leaves(it) ? 'x' : it.nextDueAt === null ? '' : String(it.nextDueAt);
      if (it.processedDueAt !== null) {
        scripts(p).tsCommitDue(due, it.customerId, it.processedDueAt, it.touch, next);
      } else if (next === 'x') {
        p.zrem(due, it.customerId);
      } else {
        p.zadd(due, 'LT', it.nextDueAt!, it.customerId);
      }
    };
    const popcache = this.keys.populationCache(partition);
    if (!(this.redis instanceof Cluster)) {
      // One Redis: every write in one transaction, in the same order (one round trip instead of three; all or none,
      // so no crash falls in between).
      if (fields.length + states.length + dueItems.length === 0) return;
      const tx = this.redis.multi();
      if (fields.length > 0) tx.hset(popcache, ...fields);
      for (let i = 0; i < states.length; i++) tx.set(this.keys.state(states[i]!.customer_id), values[i]!);
      if (ended.length > 0) tx.hdel(popcache, ...ended);
      for (const it of dueItems) moveDue(tx, it);
      for (const [err] of (await tx.exec()) ?? []) if (err) throw err;
      return;
    }
    if (fields.length > 0) await this.redis.hset(popcache, ...fields);
    await execBySlot(
      this.redis,
      states.map((state, i) => ({ state, value: values[i]! })),
      ({ state }) => this.keys.state(state.customer_id),
      (p, { state, value }) => p.set(this.keys.state(state.customer_id), value),
    );
    if (ended.length > 0) await this.redis.hdel(popcache, ...ended);
    await execBySlot(this.redis, dueItems, () => due, moveDue);
  }

  /**
   * Every population cache entry of a partition (customer → JSON, whichever layout it is stored in), read in pages
   * (HSCAN). Throws if a compact entry refers to a code the code table does not have.
   */
  async readPopulationCache(partition: number, pageSize = 2000): Promise<Map<string, string>> {
    const stored: Array<[string, string]> = [];
    const generation = await this.redis.hget(this.keys.tierCodes(), 'gen');
    let cursor = '0';
    do {
      const [next, flat] = await this.redis.hscan(this.keys.populationCache(partition), cursor, 'COUNT', pageSize);
      cursor = next;
      for (let i = 0; i < flat.length; i += 2) stored.push([flat[i]!, flat[i + 1]!]);
    } while (cursor !== '0');
    const out = new Map<string, string>();
    await this.decodeWithCodes(generation, (textOf) => {
      for (const [id, raw] of stored) out.set(id, decodePopulationEntry(raw, textOf));
    });
    return out;
  }

  /**
   * Iterates a partition's known customers in pages (ZSCAN of the due index: no blocking of Redis on large sets;
   * a customer may come twice, as with any SCAN), then those of a previous layout's customer set not in the index.
   */
  async *customers(partition: number, pageSize = 1000): AsyncGenerator<string[]> {
    let cursor = '0';
    do {
      const [next, flat] = await this.redis.zscan(this.keys.due(partition), cursor, 'COUNT', pageSize);
      cursor = next;
      const ids = flat.filter((_, i) => i % 2 === 0);
      if (ids.length > 0) yield ids;
    } while (cursor !== '0');
    for await (const ids of this.legacyCustomers(partition, pageSize)) yield ids;
  }

  /** The customers of a previous layout's customer set that are not in the due index (none once upgraded). */
  private async *legacyCustomers(partition: number, pageSize: number): AsyncGenerator<string[]> {
    let cursor = '0';
    do {
      const [next, ids] = await this.redis.sscan(this.keys.customers(partition), cursor, 'COUNT', pageSize);
      cursor = next;
      if (ids.length === 0) continue;
      const scores = (await this.redis.call('ZMSCORE', this.keys.due(partition), ...ids)) as Array<string | null>;
      const missing = ids.filter((_, i) => scores[i] === null);
      if (missing.length > 0) yield missing;
    } while (cursor !== '0');
  }

  /** The number of customers of the partition (with a previous layout's customer set: those not in the index too). */
  async customerCount(partition: number): Promise<number> {
    let count = await this.redis.zcard(this.keys.due(partition));
    if ((await this.redis.exists(this.keys.customers(partition))) === 0) return count;
    for await (const ids of this.legacyCustomers(partition, 1000)) count += ids.length;
    return count;
  }

  /**
   * Moves partition `partition` from the previous layout (touch hash, customer set) to this one (the due index
   * holds every customer; docs/design-decisions.md §23). Idempotent; a no-op once done. The tier engine calls it
   * when it takes the partition's lease; the previous build's aggregator and engine must have stopped.
   */
  async upgradePartition(partition: number): Promise<void> {
    const keys = [this.keys.due(partition), this.keys.touch(partition), this.keys.customers(partition)] as const;
    while ((await scripts(this.redis as unknown as ChainableCommander).tsUpgradePartition(...keys, 1000)) > 0) {
      // 1,000 customers per call: Redis is not blocked for long on a large set.
    }
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

/**
 * The exclusive ZRANGEBYSCORE/ZCOUNT bound of "due at or before `upTo`": due instants are whole milliseconds and the
 * score adds the touch counter (< 1) to them.
 */
const dueBound = (upTo: number): string => (Number.isFinite(upTo) ? `(${Math.floor(upTo) + 1}` : '(+inf');

/** The pipeline with the Lua commands defined in the constructor. */
const scripts = (p: ChainableCommander) => p as unknown as TierStateCommands;

/** Keys of customer attributes (industry, company size, region): the latest non-null values win. */
export function attributesKey(prefix: string, customerId: string): string {
  return `${prefix}:${customerHashTag(customerId)}:attrs`;
}
