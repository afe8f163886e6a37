import { readFileSync } from 'node:fs';
import type { RedisClient } from '@tierstream/config';

/** One applied rules version: what `tierctl rules show` and `rules history` print. */
export interface RulesVersion {
  /** Apply number: 1, 2, … in the order versions were activated (a rollback gets a new one). */
  seq: number;
  /** The `version` of the rules file. */
  version: string;
  /** The YAML text, kept so that `tierctl rules rollback` can activate it again. */
  text: string;
  /** When it was activated (epoch ms). */
  appliedAt: number;
  /**
   * Where it came from: `tierctl rules apply <absolute path>`, `tierctl rules rollback <version> (apply <n>)` or
   * `engine start: RULES_FILE <path>` (the first engine found no active version and recorded its file).
   */
  source: string;
}

/** What an engine found when it compared its RULES_FILE with the active version at start (`rules show` prints it). */
export interface RulesFileCheck {
  file: string;
  /** The file's version, or null when it cannot be read or parsed. */
  version: string | null;
  /** The file's text differs from the active version's (or it cannot be read). */
  differs: boolean;
  activeVersion: string;
  checkedAt: number;
  error?: string;
}

/** Why an apply was refused (negative codes of rules_apply-3.lua). */
export enum RulesApplyRefusal {
  ActiveWithOtherText = -1,
  AlreadyActive = -2,
  VersionNamesOtherText = -3,
}

export class RulesApplyError extends Error {
  constructor(
    readonly refusal: RulesApplyRefusal,
    version: string,
  ) {
    super(
      refusal === RulesApplyRefusal.ActiveWithOtherText
        ? `rules version ${version} is already active with different content: give the new file a new version`
        : refusal === RulesApplyRefusal.VersionNamesOtherText
          ? `rules version ${version} was applied before with different content: give the new file a new version`
          : `a rules version is already active (not ${version})`,
    );
    this.name = 'RulesApplyError';
  }
}

const SCRIPT = readFileSync(new URL('../lua/rules_apply-3.lua', import.meta.url), 'utf8');

interface RulesCommands {
  tsRulesApply(
    active: string,
    history: string,
    counter: string,
    version: string,
    text: string,
    appliedAt: number,
    source: string,
    onlyIfNone: string,
  ): Promise<[number, number]>;
}

/**
 * The rules versions in Redis: the active one, every one ever applied (with its text), the rendezvous of each
 * rules change and the engines' RULES_FILE checks. Keys share the hash tag {rules}: an apply writes the active
 * version, the history and the counter in one Lua call (one slot in Redis Cluster).
 */
export class RulesStore {
  constructor(
    private readonly redis: RedisClient,
    readonly prefix = 'ts',
  ) {
    if (!('tsRulesApply' in redis)) redis.defineCommand('tsRulesApply', { numberOfKeys: 3, lua: SCRIPT });
  }

  keys = {
    active: () => `${this.prefix}:{rules}:active`,
    history: () => `${this.prefix}:{rules}:history`,
    counter: () => `${this.prefix}:{rules}:seq`,
    /** The rendezvous hash of rules change number `seq` (design-decisions §20). */
    change: (seq: number) => `${this.prefix}:{rules}:change:${seq}`,
    /** RULES_FILE path → RulesFileCheck (JSON), written by each engine at start and after each rules change. */
    files: () => `${this.prefix}:{rules}:files`,
    /** What the engines say about themselves that tierctl needs (`clock_mode`: the day a rules change waves on). */
    engine: () => `${this.prefix}:{rules}:engine`,
    /** Before the history existed: the active version alone (read once, then moved into the history). */
    legacy: () => `${this.prefix}:rules`,
  };

  /** The active version, or null when none was ever applied or recorded. */
  async active(): Promise<RulesVersion | null> {
    const raw = await this.redis.hgetall(this.keys.active());
    if (raw.version && raw.text) return fromHash(raw);
    const legacy = await this.redis.hgetall(this.keys.legacy());
    if (!legacy.version || !legacy.text) return null;
    return { ...fromHash(legacy), seq: 0, source: 'tierctl rules apply (before the rules history was kept)' };
  }

  /**
   * Activates `text` (rules version `version`, already validated by the caller) and appends it to the history.
   * `onlyIfNone`: do nothing when a version is active (the engine recording its start file). Returns the active
   * entry and whether it is new (false: this text was already active). Throws RulesApplyError when the version is
   * active, or was applied before, with another text (or `onlyIfNone` and another version is active).
   */
  async apply(
    version: string,
    text: string,
    source: string,
    opts: { appliedAt?: number; onlyIfNone?: boolean } = {},
  ): Promise<{ entry: RulesVersion; created: boolean }> {
    await this.migrateLegacy();
    const appliedAt = opts.appliedAt ?? Date.now();
    const [seq, created] = await (this.redis as unknown as RulesCommands).tsRulesApply(
      this.keys.active(),
      this.keys.history(),
      this.keys.counter(),
      version,
      text,
      appliedAt,
      source,
      opts.onlyIfNone ? '1' : '0',
    );
    if (seq < 0) throw new RulesApplyError(seq as RulesApplyRefusal, version);
    const entry = created === 1 ? { seq, version, text, appliedAt, source } : await this.active();
    return { entry: entry!, created: created === 1 };
  }

  /** Every applied version, newest first. */
  async history(): Promise<RulesVersion[]> {
    const all = await this.redis.hvals(this.keys.history());
    return all.map((json) => parseEntry(json)).sort((a, b) => b.seq - a.seq);
  }

  /** The newest history entry of rules version `version`, or null. */
  async byVersion(version: string): Promise<RulesVersion | null> {
    return (await this.history()).find((e) => e.version === version) ?? null;
  }

  async recordFileCheck(check: RulesFileCheck): Promise<void> {
    await this.redis.hset(this.keys.files(), check.file, JSON.stringify(check));
  }

  async fileChecks(): Promise<RulesFileCheck[]> {
    return Object.values(await this.redis.hgetall(this.keys.files())).map((j) => JSON.parse(j) as RulesFileCheck);
  }

  /** The engines' clock mode (written at start): a rules change waves on the closed day in replay, today live. */
  async recordClockMode(mode: 'live' | 'replay'): Promise<void> {
    await this.redis.hset(this.keys.engine(), 'clock_mode', mode);
  }

  /** The clock mode the engines last reported; null when no engine started since this was kept. */
  async clockMode(): Promise<'live' | 'replay' | null> {
    const mode = await this.redis.hget(this.keys.engine(), 'clock_mode');
    return mode === 'live' || mode === 'replay' ? mode : null;
  }

  /** An active version stored before the history existed becomes apply 1 of the history. */
  private async migrateLegacy(): Promise<void> {
    const legacy = await this.redis.hgetall(this.keys.legacy());
    if (!legacy.version || !legacy.text) return;
    const exists = await this.redis.exists(this.keys.active());
    if (!exists) {
      await (this.redis as unknown as RulesCommands).tsRulesApply(
        this.keys.active(),
        this.keys.history(),
        this.keys.counter(),
        legacy.version,
        legacy.text,
        Number(legacy.appliedAt ?? 0),
        'tierctl rules apply (before the rules history was kept)',
        '1',
      );
    }
    await this.redis.del(this.keys.legacy());
  }
}

function fromHash(raw: Record<string, string>): RulesVersion {
  return {
    seq: Number(raw.seq ?? 0),
    version: raw.version!,
    text: raw.text!,
    appliedAt: Number(raw.appliedAt ?? 0),
    source: raw.source ?? 'unknown',
  };
}

function parseEntry(json: string): RulesVersion {
  const e = JSON.parse(json) as Record<string, unknown>;
  return {
    seq: Number(e.seq),
    version: String(e.version),
    text: String(e.text),
    appliedAt: Number(e.appliedAt),
    source: String(e.source),
  };
}
