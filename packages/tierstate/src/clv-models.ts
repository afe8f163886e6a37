import type { RedisClient } from '@tierstream/config';
import type { ClvModel } from '@tierstream/tiering';

/**
 * The population CLV model versions (issue 15; tiering's clv-model.ts): every version fitted, by name, in one hash
 * (`<prefix>:clv:models`, version → JSON), and the newest (`<prefix>:clv:model`). Written by the tier engine at the
 * cut-point barrier (or `tierctl clv fit`), read by every engine instance with the cut points and by tierctl; and
 * the days of fit attempts that gave no model (`<prefix>:clv:failed`).
 */
export class ClvModelStore {
  constructor(
    private readonly redis: RedisClient,
    readonly prefix = 'ts',
  ) {}

  readonly keys = {
    models: () => `${this.prefix}:clv:models`,
    latest: () => `${this.prefix}:clv:model`,
    failed: () => `${this.prefix}:clv:failed`,
  };

  /**
   * Records a fit attempt at the close of `day` (UTC day number) that gave no model, with why: the next attempt is
   * CLV_FIT_EVERY_DAYS later on every instance and after a restart (tiering's clvLastAttemptDay). One hash field per
   * failed attempt (`<prefix>:clv:failed`, day → reason).
   */
  async setFailed(day: number, reason: string): Promise<void> {
    await this.redis.hset(this.keys.failed(), String(day), reason);
  }

  /** The days of every failed fit attempt, ascending. */
  async failedDays(): Promise<number[]> {
    const all = await this.redis.hkeys(this.keys.failed());
    return all.map(Number).sort((a, b) => a - b);
  }

  /** Stores a version (an existing version of the same name is replaced) and makes it the newest if it is. */
  async set(model: ClvModel): Promise<void> {
    const json = JSON.stringify(model);
    await this.redis.hset(this.keys.models(), model.version, json);
    const latest = await this.latest();
    if (latest === null || latest.day <= model.day) await this.redis.set(this.keys.latest(), json);
  }

  /**
   * Stores a version only when none of that name exists (`tierctl clv fit --store`): engines that loaded a version
   * keep it in memory, so replacing it in Redis would give instances (and restarts) different models for one day.
   * @returns false (nothing written) when the version exists.
   */
  async setIfAbsent(model: ClvModel): Promise<boolean> {
    const json = JSON.stringify(model);
    if ((await this.redis.hsetnx(this.keys.models(), model.version, json)) === 0) return false;
    const latest = await this.latest();
    if (latest === null || latest.day <= model.day) await this.redis.set(this.keys.latest(), json);
    return true;
  }

  /** The newest stored version (by the day it measured); null when no model was ever fitted. */
  async latest(): Promise<ClvModel | null> {
    const raw = await this.redis.get(this.keys.latest());
    return raw ? (JSON.parse(raw) as ClvModel) : null;
  }

  /** Every stored version, oldest first (a partition still closing earlier days needs the older ones). */
  async history(): Promise<ClvModel[]> {
    const all = await this.redis.hgetall(this.keys.models());
    return Object.values(all)
      .map((json) => JSON.parse(json) as ClvModel)
      .sort((a, b) => a.day - b.day);
  }
}
