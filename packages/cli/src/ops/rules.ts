import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { type AggregateConfig, AggregateStore, populationMetricsAsOf } from '@tierstream/aggregates';
import {
  type CutPoints,
  cutPointsForRules,
  cutPointsInForce,
  evaluateTiers,
  initialCutPoints,
  type Metrics,
  parseRules,
  type Rules,
  sortCutPoints,
} from '@tierstream/tiering';
import { dayOf, endOfDay, isoDay, type RulesFileCheck, type RulesVersion, TierStateStore } from '@tierstream/tierstate';
import type { Clients } from '../clients';
import { type AuditClients, recordAudit } from './audit';

/** The connections the rules operations use: a tierctl `Clients`, or the console's equivalent. */
export type RulesClients = Pick<Clients, 'redis' | 'redisPrefix' | 'signalsTopic' | 'admin'>;
/** Apply and rollback also record who did it in the audit trail (ClickHouse audit_log). */
export type RulesApplyClients = RulesClients & AuditClients;

/**
 * Records a rules apply or rollback that changed the active version (audit_id `rules:<apply>`, so a retry collapses).
 * The apply is in effect already: a failed insert throws an error saying so.
 */
async function auditRulesChange(
  clients: AuditClients,
  action: 'rules.apply' | 'rules.rollback',
  r: RulesApplied,
  source: string,
): Promise<void> {
  try {
    await recordAudit(clients, {
      audit_id: `rules:${r.apply}`,
      action,
      subject: r.applied,
      source,
      details: JSON.stringify({ apply: r.apply, previous: r.previous }),
    });
  } catch (err) {
    throw new Error(
      `rules ${r.applied} (apply ${r.apply}) is active, but recording it in the audit trail failed: ${(err as Error).message}`,
    );
  }
}

/**
 * Rules operations that return data (`tierctl rules diff | show | history | apply | rollback`): the CLI prints them,
 * the console can call them. The diff computes the cut points of the new rules exactly as the tier engine will at
 * the apply (design-decisions §20): the same population (every customer with a tier state existing as of the last
 * closed day, `populationMetricsAsOf`) and the same pure function (`cutPointsForRules`).
 */

/** Customers moving from one tier to another in one dimension. */
export interface RulesMove {
  dimension: string;
  from: string;
  to: string;
  customers: number;
  /** With `customers: true`: their ids, sorted. */
  ids?: string[];
}

/** Demotions held by grace: the tier stays, the new tier is pending until `grace_days` have passed. */
export interface RulesHeld {
  dimension: string;
  /** The tier that stays. */
  tier: string;
  /** The pending (lower) tier. */
  pending: string;
  /** The first day the pending tier can apply, if the candidate holds until then (pending since + grace_days). */
  applies_from: string;
  customers: number;
  ids?: string[];
}

export interface RulesDiff {
  file: string;
  version: string;
  /** The active version now (null: none recorded yet). */
  active: { version: string; apply: number } | null;
  /** The population's day (the last closed day of the partitions), or null when no partition closed a day. */
  measured_day: string | null;
  /** The day every customer will be re-evaluated as of (replay: the closed day; live: today). */
  day: string | null;
  /** False when partitions have closed different days: the engine first lets the ones behind catch up. */
  aligned: boolean;
  /** The cut points the new rules would get (version name as if applied next). */
  cutpoints: { version: string; population: number | null; cuts: Record<string, number[]> } | null;
  moves: RulesMove[];
  held: RulesHeld[];
}

/** Number of partitions of the signals topic (the engine's partitions). */
async function enginePartitions(clients: RulesClients): Promise<number> {
  const meta = await (await clients.admin()).fetchTopicMetadata({ topics: [clients.signalsTopic] });
  return meta.topics[0]?.partitions.length ?? 0;
}

/** The engine partitions' day closes (days since the epoch), as a rules change and the cut points see them. */
export interface EngineClosedDays {
  /** Partitions of the signals topic (the engine's). */
  partitions: number;
  /** Per partition, its last closed day (null: none closed yet). */
  closed: Array<number | null>;
  /** The latest closed day of any partition (null: none closed a day): the population's day of a rules change. */
  measured: number | null;
  /** False when partitions have closed different days. */
  aligned: boolean;
}

/** Each engine partition's last closed day (from its meta in Redis). Throws the admin client's or Redis's error. */
export async function engineClosedDays(clients: RulesClients): Promise<EngineClosedDays> {
  const tierState = new TierStateStore(clients.redis, clients.redisPrefix);
  const partitions = await enginePartitions(clients);
  const closed: Array<number | null> = [];
  for (let p = 0; p < partitions; p++) {
    const day = (await tierState.getPartitionMeta(p)).closed_day;
    closed.push(day === undefined ? null : Number(day));
  }
  const known = closed.filter((d): d is number => d !== null);
  return {
    partitions,
    closed,
    measured: known.length === 0 ? null : Math.max(...known),
    aligned: closed.every((d) => d === closed[0]),
  };
}

/** A valid rules document: its version and dimension ids (`tierctl rules validate`). */
export interface RulesValidation {
  file: string;
  version: string;
  dimensions: string[];
}

/**
 * Checks rules YAML `text` (named `file` in messages) as the engine and `rules apply` will: the version and the
 * dimension ids. Throws RulesError whose `issues` each name the file and the path (`dimensions[0].scoring.tiers`) or
 * the line and column (invalid YAML).
 */
export function validateRulesText(text: string, file: string): RulesValidation {
  const rules = parseRules(text, file);
  return { file, version: rules.version, dimensions: rules.dimensions.map((d) => d.id) };
}

/**
 * What applying `file` would do now (see diffRulesText). Reads only; throws RulesError for an invalid file and the
 * fs error when it cannot be read.
 */
export async function diffRules(
  clients: RulesClients,
  file: string,
  opts: { customers?: boolean; aggregateConfig: AggregateConfig },
): Promise<RulesDiff> {
  return diffRulesText(clients, readFileSync(file, 'utf8'), file, opts);
}

/**
 * What applying the rules YAML `text` (named `file`) would do now, as the tier engine will do it: the cut points of
 * the new rules from the population as of the last closed day, then every customer re-evaluated as of the wave's day
 * with hysteresis. `customers`: include the ids of each move and held demotion. Reads only (Redis, the signals
 * topic's metadata); throws RulesError for invalid rules. `tierctl rules diff` and the console's preview call it.
 */
export async function diffRulesText(
  clients: RulesClients,
  text: string,
  file: string,
  opts: { customers?: boolean; aggregateConfig: AggregateConfig },
): Promise<RulesDiff> {
  const next = parseRules(text, file);
  const config = opts.aggregateConfig;
  const tierState = new TierStateStore(clients.redis, clients.redisPrefix);
  const store = new AggregateStore(clients.redis, { prefix: clients.redisPrefix, config });
  await store.init();
  const active = await tierState.getActiveRules();
  const { partitions, measured, aligned } = await engineClosedDays(clients);
  const live = ((await tierState.rules.clockMode()) ?? 'live') === 'live';
  // As the engine's rules-change.ts (waveDay): the closed day in replay, today live.
  const waveDay = measured === null ? null : live ? Math.max(measured + 1, dayOf(Date.now())) : measured;

  // Pass 1: the population as of the measured day (every customer with a state existing by then).
  const history = sortCutPoints([initialCutPoints(next), ...(await tierState.getCutPointsHistory())]);
  let change: CutPoints | null = null;
  if (measured !== null) {
    const population: Metrics[] = [];
    for (let p = 0; p < partitions; p++) {
      for (const m of await store.partitionPopulationAsOf(tierState, p, measured)) population.push(m);
    }
    change = cutPointsForRules(next, population, {
      measuredDay: measured,
      fromDay: live ? measured + 1 : measured,
      seq: (active?.seq ?? 0) + 1,
      inForce: cutPointsInForce(history, measured + 1),
      previousRules: active ? parseRules(active.text, 'active rules') : undefined,
    });
  }
  const withChange = change ? sortCutPoints([...history, change]) : history;

  // Pass 2: every customer re-evaluated as of the wave's day (or its last evaluated day, if later), as the engine.
  const moves = new Map<string, { dimension: string; from: string; to: string; ids: string[] }>();
  const held = new Map<string, { dimension: string; tier: string; pending: string; from: number; ids: string[] }>();
  for (let p = 0; p < partitions && waveDay !== null; p++) {
    for await (const ids of tierState.customers(p, 1000)) {
      const [aggs, states, attrs] = await Promise.all([
        store.readMany(ids),
        tierState.readStates(ids),
        tierState.readAttributes(ids),
      ]);
      for (const id of ids) {
        const agg = aggs.get(id);
        if (!agg) continue;
        const previous = states.get(id) ?? null;
        const day = Math.max(waveDay, previous?.last_eval_day ?? Number.NEGATIVE_INFINITY);
        const metrics = populationMetricsAsOf(agg, day, config);
        if (!metrics) continue; // does not exist yet as of the day: the engine skips it too
        const result = evaluateTiers({
          rules: next,
          cutPoints: cutPointsInForce(withChange, day),
          customerId: id,
          metrics,
          attributes: attrs.get(id) ?? null,
          previous,
          day,
          at: endOfDay(day),
          rulesChanged: true,
        });
        for (const t of result.transitions) {
          const k = `${t.dimension}\u0000${t.from_tier ?? '-'}\u0000${t.to_tier}`;
          const m = moves.get(k) ?? { dimension: t.dimension, from: t.from_tier ?? '-', to: t.to_tier, ids: [] };
          m.ids.push(id);
          moves.set(k, m);
        }
        for (const [dimension, pending] of Object.entries(result.state.pending)) {
          if (previous?.pending[dimension]?.tier === pending.tier) continue; // held before the change already
          const dim = next.dimensions.find((d) => d.id === dimension)!;
          const tier = result.state.tiers[dimension]!;
          const from = pending.since_day + dim.grace_days;
          const k = `${dimension}\u0000${tier}\u0000${pending.tier}\u0000${from}`;
          const h = held.get(k) ?? { dimension, tier, pending: pending.tier, from, ids: [] };
          h.ids.push(id);
          held.set(k, h);
        }
      }
    }
  }
  const withIds = <T>(row: T, ids: string[]) => (opts.customers ? { ...row, ids: ids.sort() } : row);
  return {
    file,
    version: next.version,
    active: active ? { version: active.version, apply: active.seq } : null,
    measured_day: measured === null ? null : isoDay(measured),
    day: waveDay === null ? null : isoDay(waveDay),
    aligned,
    cutpoints: change ? { version: change.version, population: change.population ?? null, cuts: change.cuts } : null,
    moves: [...moves.values()]
      .map((m) => withIds({ dimension: m.dimension, from: m.from, to: m.to, customers: m.ids.length }, m.ids))
      .sort(
        (a, b) => a.dimension.localeCompare(b.dimension) || b.customers - a.customers || a.from.localeCompare(b.from),
      ),
    held: [...held.values()]
      .map((h) =>
        withIds(
          {
            dimension: h.dimension,
            tier: h.tier,
            pending: h.pending,
            applies_from: isoDay(h.from),
            customers: h.ids.length,
          },
          h.ids,
        ),
      )
      .sort((a, b) => a.dimension.localeCompare(b.dimension) || b.customers - a.customers),
  };
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 12);

export interface RulesShow {
  active: (Omit<RulesVersion, 'text' | 'appliedAt'> & { applied_at: string; sha256: string }) | null;
  /** Progress of the active version's rules change (null: no change recorded, e.g. the engine's start file). */
  change: {
    measured_day: string | null;
    day: string | null;
    cutpoints: string | null;
    partitions: number;
    done: number;
  } | null;
  /**
   * The engine partitions (of the signals topic) that have not run the active version yet (their meta names an
   * older apply): a change applied while no engine runs, or one still in progress. Empty when every partition is on
   * it (or on its version before apply numbers were kept) and when no version is active.
   */
  partitions_behind: number[];
  /** The local rules file compared with the active version (tierctl's RULES_FILE, or --file). */
  file: { path: string; version: string | null; differs: boolean; error?: string } | null;
  /** What each engine found when it compared its RULES_FILE with the active version. */
  engine_files: RulesFileCheck[];
}

/** The local file's version and whether its text differs from `active`'s. */
function checkFile(file: string, active: RulesVersion | null): RulesShow['file'] {
  try {
    const text = readFileSync(file, 'utf8');
    let version: string | null = null;
    try {
      version = parseRules(text, file).version;
    } catch (err) {
      return { path: file, version, differs: text !== active?.text, error: (err as Error).message.split('\n')[0] };
    }
    return { path: file, version, differs: text !== active?.text };
  } catch (err) {
    return { path: file, version: null, differs: true, error: (err as Error).message.split('\n')[0] };
  }
}

/** The active version, where it came from, its change's progress and the rules files' checks. */
export async function showRules(clients: RulesClients, file: string | null): Promise<RulesShow> {
  const tierState = new TierStateStore(clients.redis, clients.redisPrefix);
  const active = await tierState.getActiveRules();
  let change: RulesShow['change'] = null;
  if (active && active.seq > 0) {
    const h = await clients.redis.hgetall(tierState.rules.keys.change(active.seq));
    if (Object.keys(h).length > 0) {
      const decided = h.decided
        ? (JSON.parse(h.decided) as { measured: number | null; day: number | null; cutPoints: CutPoints | null })
        : null;
      change = {
        measured_day: decided?.measured == null ? null : isoDay(decided.measured),
        day: decided?.day == null ? null : isoDay(decided.day),
        cutpoints: decided?.cutPoints?.version ?? null,
        partitions: await enginePartitions(clients),
        done: Object.keys(h).filter((k) => k.startsWith('done:')).length,
      };
    }
  }
  const behind: number[] = [];
  if (active && active.seq > 0) {
    for (let p = 0; p < (await enginePartitions(clients)); p++) {
      const meta = await tierState.getPartitionMeta(p);
      // As the engine decides (rules-change.ts poll): done with apply n when its meta says n, or, before a meta named
      // an apply number, when it runs the same version.
      const done =
        meta.rules_seq === String(active.seq) ||
        (meta.rules_seq === undefined && (meta.rules_version ?? active.version) === active.version);
      if (!done) behind.push(p);
    }
  }
  return {
    partitions_behind: behind,
    active: active
      ? {
          seq: active.seq,
          version: active.version,
          source: active.source,
          applied_at: new Date(active.appliedAt).toISOString(),
          sha256: sha256(active.text),
        }
      : null,
    change,
    file: file === null ? null : checkFile(file, active),
    engine_files: await tierState.rules.fileChecks(),
  };
}

/** The active rules version parsed (its dimensions, scorings, grace), or null when none is recorded. */
export async function activeRules(
  clients: RulesClients,
): Promise<{ version: string; apply: number; source: string; applied_at: string; rules: Rules } | null> {
  const active = await new TierStateStore(clients.redis, clients.redisPrefix).getActiveRules();
  if (!active) return null;
  return {
    version: active.version,
    apply: active.seq,
    source: active.source,
    applied_at: new Date(active.appliedAt).toISOString(),
    rules: parseRules(active.text, `active rules ${active.version}`),
  };
}

/** Every applied version, newest first (without the texts). */
export async function rulesHistory(
  clients: RulesClients,
): Promise<
  Array<{ seq: number; version: string; applied_at: string; source: string; sha256: string; active: boolean }>
> {
  const tierState = new TierStateStore(clients.redis, clients.redisPrefix);
  const active = await tierState.getActiveRules();
  return (await tierState.rules.history()).map((e) => ({
    seq: e.seq,
    version: e.version,
    applied_at: new Date(e.appliedAt).toISOString(),
    source: e.source,
    sha256: sha256(e.text),
    active: e.seq === active?.seq,
  }));
}

export interface RulesApplied {
  applied: string;
  apply: number;
  previous: string | null;
  /** False when this text was already the active version (nothing changed). */
  changed: boolean;
}

/** Activates the rules of `file` (validated first); throws RulesError or RulesApplyError. */
export async function applyRules(clients: RulesApplyClients, file: string): Promise<RulesApplied> {
  return applyRulesText(clients, readFileSync(file, 'utf8'), file, `tierctl rules apply ${path.resolve(file)}`);
}

/**
 * Activates the rules YAML `text` (named `file` in messages), validated first, recording `source` (who applied it,
 * from where) in the history: what `tierctl rules apply` and the console's admin apply do. The engines pick it up at
 * their next poll. Throws RulesError (invalid rules) or RulesApplyError.
 */
export async function applyRulesText(
  clients: RulesApplyClients,
  text: string,
  file: string,
  source: string,
): Promise<RulesApplied> {
  const parsed: Rules = parseRules(text, file);
  const tierState = new TierStateStore(clients.redis, clients.redisPrefix);
  const previous = await tierState.getActiveRules();
  const { entry, created } = await tierState.rules.apply(parsed.version, text, source);
  const result = { applied: entry.version, apply: entry.seq, previous: previous?.version ?? null, changed: created };
  if (created) await auditRulesChange(clients, 'rules.apply', result, source);
  return result;
}

/**
 * Activates the stored text of an earlier version again (a new apply of old text: a new apply number, a new wave
 * with reason RULES_CHANGED, the cut points recomputed for it). Throws when the version is unknown or active.
 */
export async function rollbackRules(clients: RulesApplyClients, version: string): Promise<RulesApplied> {
  const tierState = new TierStateStore(clients.redis, clients.redisPrefix);
  const previous = await tierState.getActiveRules();
  if (previous?.version === version) throw new Error(`rules version ${version} is already active`);
  const stored = await tierState.rules.byVersion(version);
  if (!stored) {
    const known = [...new Set((await tierState.rules.history()).map((e) => e.version))];
    throw new Error(`no applied rules version ${version} (known: ${known.join(', ') || 'none'})`);
  }
  const { entry } = await tierState.rules.apply(
    stored.version,
    stored.text,
    `tierctl rules rollback ${version} (the text of apply ${stored.seq})`,
  );
  const result = { applied: entry.version, apply: entry.seq, previous: previous?.version ?? null, changed: true };
  await auditRulesChange(clients, 'rules.rollback', result, entry.source);
  return result;
}
