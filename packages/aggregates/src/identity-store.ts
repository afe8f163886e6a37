/**
 * The identity graph in Redis (docs/design-decisions.md §22): per customer id a small hash `<prefix>:{<id>}:idn`
 * (`tb`/`to`/`tm`/`ta` once merged: the survivor named, the root it leads to, merge event id, time; `mg:<id>` per id merged into it; `al:<anonymous id>`
 * per alias to it), per anonymous id X a hash `<prefix>:{anon:X}:aid` (`c`, `e`, `t`: the customer, the alias event
 * id and time) and the anonymous events held until its alias, `<prefix>:{anon:X}:anon` (a string of packed entries,
 * appended; a hash of the folded ids after the alias). Every key is hash-tagged by
 * the id it describes, and every script touches one slot (Cluster-safe); an event is routed with one `HGET` of
 * its customer's `to` (O(1), chains are compressed when they form) or one script call per batch for its anonymous ids
 * (per slot in Cluster).
 *
 * Identity events are applied by one consumer in topic order (identities.v1 has one partition), so the steps of one
 * merge or alias run one after the other; each step is idempotent (keyed by the identity event id), so a crash between
 * two steps is repaired by the redelivery. Scripts: lua/identity_*.lua (keys in the name; identity_hold_many: 2 per anonymous id), loaded with defineCommand.
 */
import { readFileSync } from 'node:fs';
import { customerHashTag, execBySlot, type RedisClient } from '@tierstream/config';
import { type IdentityEvent, WEB_BEHAVIOR_TYPES, type WebBehaviorType } from '@tierstream/contracts';
import calculateSlot from 'cluster-key-slot';
import { type ChainableCommander, Cluster } from 'ioredis';
import { BoundedMap } from './bounded-map';
import type { IdentityOutcome } from './identity-oracle';

const lua = (name: string) => readFileSync(new URL(`../lua/${name}.lua`, import.meta.url), 'utf8');

/** Expected refusals of the scripts (negative return codes). */
export enum IdentityScriptCode {
  ALREADY_MERGED = -3,
  ALREADY_ALIASED = -4,
  ERASED = -5,
}

interface IdentityCommands {
  tsIdentityMergeSource(
    idn: string,
    erased: string,
    eventId: string,
    root: string,
    at: number,
  ): Promise<[number, string]>;
  tsIdentityAlias(
    aid: string,
    held: string,
    eventId: string,
    customerId: string,
    at: number,
    floor: number,
    keepMs: number,
  ): Promise<Array<number | string>>;
  /** Variable keys: the number of keys first (2 per anonymous id), then the keys, then the arguments. */
  tsIdentityHoldMany(numberOfKeys: number, ...keysAndArgs: Array<string | number>): Promise<Array<string | number>>;
}

/** Key names of the identity graph (all hash-tagged by the id they describe). */
export function identityKeys(prefix: string) {
  const anon = (x: string) => customerHashTag(`anon:${x}`);
  return {
    customer: (id: string) => `${prefix}:${customerHashTag(id)}:idn`,
    alias: (anonymousId: string) => `${prefix}:${anon(anonymousId)}:aid`,
    held: (anonymousId: string) => `${prefix}:${anon(anonymousId)}:anon`,
    /** [alias, held] of one anonymous id (its tag computed once). */
    aliasAndHeld: (anonymousId: string): [string, string] => {
      const tag = anon(anonymousId);
      return [`${prefix}:${tag}:aid`, `${prefix}:${tag}:anon`];
    },
    /** The erasure suppression marker of issue 19 (`suppressionKey` of @tierstream/config: same name). */
    erased: (id: string) => `${prefix}:${customerHashTag(id)}:erased`,
  };
}

/** An anonymous web event as held under its anonymous id: what the aggregates need of it. */
export interface HeldEvent {
  eventId: string;
  occurredAt: number;
  type: WebBehaviorType;
}

/** What applying one identity event did (the outcome as the oracle defines it, plus what the fold needs). */
export interface IdentityApplied {
  outcome: IdentityOutcome;
  /** The event had been applied before (a redelivery): the later steps were redone, nothing changed twice. */
  redo: boolean;
  /** ALIAS: the held anonymous events within the horizon before the alias (to fold into the customer, once). */
  held?: HeldEvent[];
}

/** One customer id's identity record (what `identity show` and the tier engine read). */
export interface IdentityRecord {
  id: string;
  /**
   * Set once merged: the survivor the merge named (its root then), the merge's event id and time, and `to`, the root
   * it leads to now (the survivor, or where a later merge of the survivor took it).
   */
  mergedInto: { customerId: string; mergeId: string; at: number; to: string } | null;
  /** Ids merged directly into this one, with their merge event ids (sorted by id). */
  merges: Array<{ customerId: string; mergeId: string }>;
  /** Anonymous ids aliased to this id, with the alias times (sorted by id). */
  aliases: Array<{ anonymousId: string; at: number }>;
}

/** Per anonymous id of a batch: its alias (if any) and one decision per event (see identity_hold_many.lua). */
export interface HoldResult {
  customerId: string | null;
  aliasAt: number | null;
  /**
   * H held (now, or a copy of a held one), O older than the floor, D dropped (bound), R route to the customer,
   * F held before the alias (folded by it).
   */
  decisions: string;
}

export interface IdentityStoreOptions {
  prefix?: string;
  /** How far before its alias an anonymous event still counts (ms). Default 30 days. */
  anonRetentionMs?: number;
  /**
   * Most bytes of held events per anonymous id (an event takes 7 + the digits of its time + its id's bytes: 55 B with
   * a UUID). Default 128 KiB.
   */
  heldMaxBytes?: number;
  /** How long held events stay after the alias folded them (ms; redeliveries are recognised meanwhile). 48 h. */
  keepAfterAliasMs?: number;
}

export const DEFAULT_ANON_RETENTION_MS = 30 * 86_400_000;

/** Anonymous ids per identity_hold_many.lua call, and about as many events per call (a call blocks Redis). */
const HOLD_IDS_PER_CALL = 512;
const HOLD_EVENTS_PER_CALL = 4_000;
/** ALIAS events applied together by applyMany (a run of distinct anonymous ids; each step one round trip for all). */
const ALIASES_PER_ROUND = 1_000;
/** The largest bound: 65,535 entries of the smallest size (`0,0,1:x`). */
const MAX_HELD_BYTES = 65_535 * 7;
/** Anonymous ids one IdentityStore remembers (refreshed today; full): see BoundedMap. */
const REMEMBERED_IDS = 200_000;

export class IdentityStore {
  readonly keys: ReturnType<typeof identityKeys>;
  readonly anonRetentionMs: number;
  readonly heldMaxBytes: number;
  /** Anonymous ids whose held expiry this process set again, with the UTC day it did (see hold). */
  private readonly refreshed = new BoundedMap<string, number>(REMEMBERED_IDS);
  /** Anonymous ids whose held events were at the bound at their last hold here (the script may skip their APPEND). */
  private readonly full = new BoundedMap<string, true>(REMEMBERED_IDS);
  readonly keepAfterAliasMs: number;

  constructor(
    private readonly redis: RedisClient,
    opts: IdentityStoreOptions = {},
  ) {
    this.keys = identityKeys(opts.prefix ?? 'ts');
    this.anonRetentionMs = opts.anonRetentionMs ?? DEFAULT_ANON_RETENTION_MS;
    this.heldMaxBytes = opts.heldMaxBytes ?? 128 * 1024;
    // An alias folds at most 65,535 events (identity-folds' offsets); an entry takes at least 7 bytes.
    if (!(this.heldMaxBytes > 0 && this.heldMaxBytes <= MAX_HELD_BYTES))
      throw new RangeError(`heldMaxBytes: 1 to ${MAX_HELD_BYTES}, got ${this.heldMaxBytes}`);
    this.keepAfterAliasMs = opts.keepAfterAliasMs ?? 48 * 3_600_000;
    const commands: Array<[string, number, string]> = [
      ['tsIdentityMergeSource', 2, 'identity_merge_source-2'],
      ['tsIdentityAlias', 2, 'identity_alias-2'],
    ];
    for (const [name, numberOfKeys, file] of commands) {
      if (!(name in redis)) redis.defineCommand(name, { numberOfKeys, lua: lua(file) });
    }
    // Variable number of keys (2 per anonymous id): given first at each call.
    if (!('tsIdentityHoldMany' in redis)) redis.defineCommand('tsIdentityHoldMany', { lua: lua('identity_hold_many') });
  }

  private get commands(): IdentityCommands {
    return this.redis as unknown as IdentityCommands;
  }

  /** A customer id's root: itself, or the root of the survivor it was merged into (one HGET per link). */
  async rootOf(customerId: string): Promise<string> {
    let id = customerId;
    for (let guard = 0; guard < 1_000; guard++) {
      const next = await this.redis.hget(this.keys.customer(id), 'to');
      if (next === null) return id;
      id = next;
    }
    throw new Error(`identity graph: no root within 1000 links from ${customerId}`);
  }

  /**
   * The roots of many customer ids: one pipelined HGET per id (per slot in Cluster), then one more round per chain
   * link still to follow (chains are compressed when they form, so at most one more round in practice).
   */
  async resolveMany(ids: readonly string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    let todo = [...new Set(ids)].map((id) => ({ id, at: id }));
    for (let round = 0; todo.length > 0; round++) {
      if (round > 1_000) throw new Error('identity graph: chain longer than 1000 links');
      const next = await execBySlot(
        this.redis,
        todo,
        (t) => this.keys.customer(t.at),
        (p, t) => p.hget(this.keys.customer(t.at), 'to'),
      );
      const more: typeof todo = [];
      todo.forEach((t, i) => {
        const to = next[i] as string | null;
        if (to === null) out.set(t.id, t.at);
        else more.push({ id: t.id, at: to });
      });
      todo = more;
    }
    return out;
  }

  /**
   * Applies one identity event (already validated by contracts' validateIdentityEvent) to the graph, idempotently by
   * its event id; refusals come back as `{ kind: 'rejected', reason }` (the caller dead-letters the record).
   */
  async apply(event: IdentityEvent): Promise<IdentityApplied> {
    return (await this.applyMany([event]))[0]!;
  }

  /**
   * Applies identity events in order, as `apply` one after the other would (same results, same graph), in fewer round
   * trips: a run of consecutive ALIAS events of distinct anonymous ids (at most ALIASES_PER_ROUND) is applied together,
   * each step for all of them in one round trip (one pipeline per slot in Cluster): such aliases touch disjoint keys
   * (each its anonymous id's hashes, its own `al:` field) and read only what no alias writes (erasure markers, roots,
   * which only merges change), so they commute. A MERGE, and an alias of an anonymous id already in the run, start a
   * new run. Result i is event i's.
   */
  async applyMany(events: readonly IdentityEvent[]): Promise<IdentityApplied[]> {
    const out: IdentityApplied[] = [];
    let i = 0;
    while (i < events.length) {
      if (events[i]!.type === 'MERGE') {
        out.push(await this.applyMerge(events[i]!));
        i++;
        continue;
      }
      const run: IdentityEvent[] = [];
      const anonymousIds = new Set<string>();
      for (; i < events.length && run.length < ALIASES_PER_ROUND; i++) {
        const e = events[i]!;
        if (e.type === 'MERGE' || anonymousIds.has(e.anonymous_id!)) break;
        anonymousIds.add(e.anonymous_id!);
        run.push(e);
      }
      out.push(...(await this.applyAliases(run)));
    }
    return out;
  }

  private async applyMerge(e: IdentityEvent): Promise<IdentityApplied> {
    const a = e.merged_customer_id!;
    const b = e.customer_id;
    const rejected = (reason: 'SELF_MERGE' | 'MERGE_CYCLE' | 'ALREADY_MERGED' | 'ERASED_ID'): IdentityApplied => ({
      outcome: { kind: 'rejected', reason },
      redo: false,
    });
    if (a === b) return rejected('SELF_MERGE');
    if ((await this.redis.exists(this.keys.erased(b))) === 1) return rejected('ERASED_ID');
    const rootB = await this.rootOf(b);
    // root(B) = A: B was merged, directly or through a chain, into A (A is a root then, so never a redelivery).
    if (rootB === a) return rejected('MERGE_CYCLE');
    // Step 1 (A's slot): A's survivor, unless A was merged before; a redelivery returns the survivor it recorded.
    const [code, other] = await this.commands.tsIdentityMergeSource(
      this.keys.customer(a),
      this.keys.erased(a),
      e.event_id,
      rootB,
      e.occurred_at,
    );
    if (code === IdentityScriptCode.ERASED) return rejected('ERASED_ID');
    if (code === IdentityScriptCode.ALREADY_MERGED) {
      return (await this.rootOf(other)) === rootB
        ? { outcome: { kind: 'duplicate' }, redo: false }
        : rejected('ALREADY_MERGED');
    }
    const survivor = code === 1 ? other : rootB;
    // Step 2 (the survivor's slot): the survivor lists A. Step 3: ids merged into A point at the survivor directly.
    await this.redis.hset(this.keys.customer(survivor), `mg:${a}`, e.event_id);
    const children = Object.keys(await this.redis.hgetall(this.keys.customer(a)))
      .filter((f) => f.startsWith('mg:'))
      .map((f) => f.slice(3));
    await execBySlot(
      this.redis,
      children,
      (c) => this.keys.customer(c),
      (p, c) => p.hset(this.keys.customer(c), 'to', survivor),
    );
    return { outcome: { kind: 'merged', merged: a, into: survivor }, redo: code === 1 };
  }

  /**
   * ALIAS events of distinct anonymous ids with no MERGE between them (applyMany), each as apply would: refused when
   * its customer is erased; else identity_alias-2.lua in the anonymous id's slot (the alias recorded, the held events
   * returned), then `al:<X>` on the customer (a refusal by another alias: duplicate or ALIAS_CONFLICT by the roots).
   * Three round trips for the whole run (four when an anonymous id was aliased before).
   */
  private async applyAliases(events: readonly IdentityEvent[]): Promise<IdentityApplied[]> {
    const out: IdentityApplied[] = new Array(events.length);
    const erased = await execBySlot(
      this.redis,
      events,
      (e) => this.keys.erased(e.customer_id),
      (p, e) => p.exists(this.keys.erased(e.customer_id)),
    );
    const live: number[] = [];
    events.forEach((_, k) => {
      if (erased[k] === 1) out[k] = { outcome: { kind: 'rejected', reason: 'ERASED_ID' }, redo: false };
      else live.push(k);
    });
    const replies = (await execBySlot(
      this.redis,
      live,
      (k) => this.keys.alias(events[k]!.anonymous_id!),
      (p, k) => {
        const e = events[k]!;
        (p as unknown as IdentityCommands).tsIdentityAlias(
          this.keys.alias(e.anonymous_id!),
          this.keys.held(e.anonymous_id!),
          e.event_id,
          e.customer_id,
          e.occurred_at,
          e.occurred_at - this.anonRetentionMs,
          this.keepAfterAliasMs,
        );
      },
    )) as Array<Array<number | string>>;
    const aliased: number[] = [];
    const refused: Array<{ k: number; other: string }> = [];
    live.forEach((k, j) => {
      const reply = replies[j]!;
      if (Number(reply[0]) === IdentityScriptCode.ALREADY_ALIASED) refused.push({ k, other: String(reply[1]) });
      else aliased.push(k);
    });
    const [roots] = await Promise.all([
      refused.length > 0
        ? this.resolveMany(refused.flatMap(({ k, other }) => [events[k]!.customer_id, other]))
        : undefined,
      execBySlot(
        this.redis,
        aliased,
        (k) => this.keys.customer(events[k]!.customer_id),
        (p, k) => {
          const e = events[k]!;
          p.hset(this.keys.customer(e.customer_id), `al:${e.anonymous_id}`, String(e.occurred_at));
        },
      ),
    ]);
    for (const { k, other } of refused)
      out[k] =
        roots!.get(events[k]!.customer_id) === roots!.get(other)
          ? { outcome: { kind: 'duplicate' }, redo: false }
          : { outcome: { kind: 'rejected', reason: 'ALIAS_CONFLICT' }, redo: false };
    live.forEach((k, j) => {
      const reply = replies[j]!;
      const code = Number(reply[0]);
      if (code === IdentityScriptCode.ALREADY_ALIASED) return;
      const e = events[k]!;
      const held: HeldEvent[] = [];
      for (let i = 2; i < reply.length; i += 2) held.push(decodeHeld(String(reply[i]), String(reply[i + 1])));
      held.sort((p, q) => p.occurredAt - q.occurredAt || (p.eventId < q.eventId ? -1 : p.eventId > q.eventId ? 1 : 0));
      out[k] = {
        outcome: { kind: 'aliased', anonymousId: e.anonymous_id!, customerId: e.customer_id },
        redo: code === 1,
        held,
      };
    });
    return out;
  }

  /**
   * The anonymous web events of a batch, per anonymous id: held while the id has no alias, else routed. Many ids per
   * script call (identity_hold_many.lua: in Cluster the ids of one slot; calls of at most HOLD_IDS_PER_CALL ids and
   * about HOLD_EVENTS_PER_CALL events, so one call never blocks Redis long), all calls in one round trip (one
   * pipeline per slot in Cluster); per id one APPEND in the common case. `floor` (epoch ms): the identity watermark −
   * the anonymous retention horizon (older events cannot be folded by any alias still to come; identities.v1 is in
   * event-time order like the input partitions).
   */
  async hold(
    items: ReadonlyArray<{ anonymousId: string; events: readonly HeldEvent[] }>,
    floor: number,
  ): Promise<Map<string, HoldResult>> {
    const out = new Map<string, HoldResult>();
    if (items.length === 0) return out;
    const day = Math.floor(Date.now() / 86_400_000);
    const sent = items.map((it) => ({
      ...it,
      refresh: this.refreshed.get(it.anonymousId) !== day,
      full: this.full.get(it.anonymousId) === true,
    }));
    // Expiry: the horizon + 3 days, set again by this process until a hold of the id that kept events succeeded that
    // UTC day: a held string lives at least the horizon + 2 days after the id's last event at or above the floor (an
    // alias can fold nothing older than the horizon).
    const head = [this.heldMaxBytes, this.anonRetentionMs + 3 * 86_400_000, floor];
    // Per slot (one group without Cluster): calls of consecutive items.
    const groups = new Map<number, typeof sent>();
    for (const it of sent) {
      const slot = this.redis instanceof Cluster ? calculateSlot(this.keys.alias(it.anonymousId)) : 0;
      const g = groups.get(slot);
      if (g) g.push(it);
      else groups.set(slot, [it]);
    }
    const calls: Array<typeof sent> = [];
    for (const group of groups.values()) {
      let call: typeof sent = [];
      let events = 0;
      for (const it of group) {
        if (call.length > 0 && (call.length >= HOLD_IDS_PER_CALL || events + it.events.length > HOLD_EVENTS_PER_CALL)) {
          calls.push(call);
          call = [];
          events = 0;
        }
        call.push(it);
        events += it.events.length;
      }
      calls.push(call);
    }
    const replies = await execBySlot(
      this.redis,
      calls,
      (call) => this.keys.alias(call[0]!.anonymousId),
      (p: ChainableCommander, call) => {
        const keys: string[] = [];
        const args: Array<string | number> = [...head];
        for (const it of call) {
          const [alias, held] = this.keys.aliasAndHeld(it.anonymousId);
          keys.push(alias, held);
          const whole = it.events.every((e) => e.occurredAt >= floor);
          let packed = `${it.events.length},${it.refresh ? 1 : 0},${whole ? 1 : 0},${it.full ? 1 : 0}|`;
          for (const ev of it.events)
            packed += `${ev.occurredAt},${TYPE_INDEX.get(ev.type)},${Buffer.byteLength(ev.eventId)}:${ev.eventId}`;
          args.push(packed);
        }
        (p as unknown as IdentityCommands).tsIdentityHoldMany(keys.length, ...keys, ...args);
      },
    );
    calls.forEach((call, c) => {
      const reply = replies[c] as Array<string | number>;
      const decisions = String(reply[0]).split(',');
      call.forEach((it, i) => {
        const letters = decisions[i]!;
        out.set(it.anonymousId, { customerId: null, aliasAt: null, decisions: letters });
        // The script set the expiry when asked and some event was at or above the floor (else nothing was written).
        if (it.refresh && it.events.some((e) => e.occurredAt >= floor)) this.refreshed.set(it.anonymousId, day);
        if (letters.includes('D')) this.full.set(it.anonymousId, true);
        else if (it.full) this.full.delete(it.anonymousId);
      });
      for (let j = 1; j < reply.length; j += 3) {
        const it = call[Number(reply[j]) - 1]!;
        out.get(it.anonymousId)!.customerId = String(reply[j + 1]);
        out.get(it.anonymousId)!.aliasAt = Number(reply[j + 2]);
      }
    });
    return out;
  }

  /** The identity records of customer ids (one HGETALL each, pipelined per slot); ids without any are absent. */
  async readMany(ids: readonly string[]): Promise<Map<string, IdentityRecord>> {
    const hashes = await execBySlot(
      this.redis,
      ids,
      (id) => this.keys.customer(id),
      (p, id) => p.hgetall(this.keys.customer(id)),
    );
    const out = new Map<string, IdentityRecord>();
    ids.forEach((id, i) => {
      const h = hashes[i] as Record<string, string>;
      if (Object.keys(h).length > 0) out.set(id, decodeIdentityRecord(id, h));
    });
    return out;
  }

  /** The alias of an anonymous id: the customer it names and the alias time; null when it has none. */
  async aliasOf(anonymousId: string): Promise<{ customerId: string; eventId: string; at: number } | null> {
    const [c, e, t] = await this.redis.hmget(this.keys.alias(anonymousId), 'c', 'e', 't');
    return c ? { customerId: c, eventId: e ?? '', at: Number(t) } : null;
  }

  /** How many distinct anonymous events are held under an anonymous id (either layout, see identity_hold_many.lua). */
  async heldCount(anonymousId: string): Promise<number> {
    const held = this.keys.held(anonymousId);
    const kind = await this.redis.type(held);
    if (kind === 'string')
      return new Set(decodeHeldString((await this.redis.get(held)) ?? '').map((h) => h.eventId)).size;
    if (kind !== 'hash') return 0;
    // A previous build's hash: its fields but the meta ('', or `_min` in a hash without '') and the alias marker (' ').
    const [n, [meta, marker, legacy]] = await Promise.all([
      this.redis.hlen(held),
      this.redis.hmget(held, '', ' ', '_min'),
    ]);
    return n - (meta !== null ? 1 : legacy !== null ? 1 : 0) - (marker !== null ? 1 : 0);
  }
}

/** A customer id's identity hash → IdentityRecord. */
export function decodeIdentityRecord(id: string, h: Record<string, string>): IdentityRecord {
  const merges: IdentityRecord['merges'] = [];
  const aliases: IdentityRecord['aliases'] = [];
  for (const [f, v] of Object.entries(h)) {
    if (f.startsWith('mg:')) merges.push({ customerId: f.slice(3), mergeId: v });
    else if (f.startsWith('al:')) aliases.push({ anonymousId: f.slice(3), at: Number(v) });
  }
  merges.sort((a, b) => (a.customerId < b.customerId ? -1 : a.customerId > b.customerId ? 1 : 0));
  aliases.sort((a, b) => (a.anonymousId < b.anonymousId ? -1 : a.anonymousId > b.anonymousId ? 1 : 0));
  return {
    id,
    mergedInto:
      h.to === undefined ? null : { customerId: h.tb ?? h.to, mergeId: h.tm ?? '', at: Number(h.ta ?? 0), to: h.to },
    merges,
    aliases,
  };
}

const TYPE_INDEX = new Map(WEB_BEHAVIOR_TYPES.map((t, i) => [t, i]));

function decodeHeld(eventId: string, value: string): HeldEvent {
  const [at, type] = value.split(',');
  return { eventId, occurredAt: Number(at), type: WEB_BEHAVIOR_TYPES[Number(type)]! };
}

/** A held string (identity_hold_many.lua's entries) → its events in order, copies included, the bound's marker not. */
export function decodeHeldString(s: string): HeldEvent[] {
  const out: HeldEvent[] = [];
  const bytes = Buffer.from(s, 'utf8');
  let p = 0;
  while (p < bytes.length) {
    const colon = bytes.indexOf(0x3a, p);
    const [at, type, size] = bytes.toString('latin1', p, colon).split(',');
    const end = colon + 1 + Number(size);
    // An empty id is the bound's marker (identity_hold_many.lua), not an event.
    if (end > colon + 1)
      out.push({
        eventId: bytes.toString('utf8', colon + 1, end),
        occurredAt: Number(at),
        type: WEB_BEHAVIOR_TYPES[Number(type)]!,
      });
    p = end;
  }
  return out;
}
