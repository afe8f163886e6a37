/**
 * The Redis ParkingStore of one destination (docs/destinations.md, "Parking"). A customer's queue and attempts live
 * in its hash-tagged slot and change only through lua/park-2.lua and lua/settle_head-2.lua (atomic per customer);
 * the destination's due set is another key (another slot in Redis Cluster), so the two are updated in an order that
 * never leaves a non-empty queue unscheduled: park appends, then schedules (NX); settle removes the head, and when
 * the queue is empty unschedules and then looks again (an item parked meanwhile is scheduled again). A crash between
 * the two leaves either a schedule without a queue (dropped by the retry loop) or a parked item of an uncommitted
 * batch, whose redelivery (deduplicated by id) schedules it.
 */
import { readFileSync } from 'node:fs';
import type { RedisClient } from '@tierstream/config';
import { decodeParked, encodeParked, type ParkedItem, type ParkingStore, parkingKeys } from '@tierstream/destinations';

const lua = (name: string) => readFileSync(new URL(`../lua/${name}.lua`, import.meta.url), 'utf8');

interface ParkingCommands {
  destPark(queue: string, attempts: string, mode: string, id: string, value: string, made: number): Promise<number>;
  destSettleHead(queue: string, attempts: string, id: string, made: string): Promise<number>;
  destClaimDue(due: string, nowMs: number, leaseUntilMs: number, limit: number): Promise<string[]>;
}

export class RedisParkingStore implements ParkingStore {
  private readonly redis: RedisClient & ParkingCommands;
  private readonly dueKey: string;

  /** `prefix` is REDIS_PREFIX; `destination` the destination's name (its keys are apart from every other's). */
  constructor(
    redis: RedisClient,
    private readonly prefix: string,
    private readonly destination: string,
  ) {
    const commands: Array<[keyof ParkingCommands, number, string]> = [
      ['destPark', 2, 'park-2'],
      ['destSettleHead', 2, 'settle_head-2'],
      ['destClaimDue', 1, 'claim_due-1'],
    ];
    // defineCommand runs EVALSHA and falls back to EVAL once on NOSCRIPT (on every node of a Cluster).
    for (const [name, numberOfKeys, file] of commands) {
      if (!(name in redis)) redis.defineCommand(name, { numberOfKeys, lua: lua(file) });
    }
    this.redis = redis as RedisClient & ParkingCommands;
    this.dueKey = parkingKeys.due(prefix, destination);
  }

  private keys(customer: string): [string, string] {
    return [
      parkingKeys.queue(this.prefix, this.destination, customer),
      parkingKeys.attempts(this.prefix, this.destination, customer),
    ];
  }

  async appendIfParked(item: ParkedItem): Promise<boolean> {
    const n = await this.redis.destPark(...this.keys(item.customer), 'if-parked', item.id, encodeParked(item), 0);
    // NX: a schedule lost in a crash is restored; an existing one (or a claim) is left as it is.
    if (n > 0) await this.redis.zadd(this.dueKey, 'NX', Date.now(), item.customer);
    return n > 0;
  }

  async park(item: ParkedItem, attempts: number, dueAtMs: number): Promise<void> {
    await this.redis.destPark(...this.keys(item.customer), 'always', item.id, encodeParked(item), attempts);
    await this.redis.zadd(this.dueKey, 'NX', dueAtMs, item.customer);
  }

  async claimDue(nowMs: number, leaseUntilMs: number, limit: number): Promise<string[]> {
    return this.redis.destClaimDue(this.dueKey, nowMs, leaseUntilMs, limit);
  }

  async head(customer: string): Promise<{ item: ParkedItem; attempts: number } | null> {
    const [queue, attempts] = this.keys(customer);
    const value = await this.redis.lindex(queue, 0);
    if (value === null) return null;
    const item = decodeParked(value);
    const made = await this.redis.hget(attempts, item.id);
    return { item, attempts: Number(made ?? 0) };
  }

  async retryLater(customer: string, id: string, attempts: number, dueAtMs: number): Promise<void> {
    await this.redis.destSettleHead(...this.keys(customer), id, String(attempts));
    await this.redis.zadd(this.dueKey, dueAtMs, customer);
  }

  async reschedule(customer: string, dueAtMs: number): Promise<void> {
    await this.redis.zadd(this.dueKey, dueAtMs, customer);
  }

  async settle(customer: string, id: string, nowMs: number): Promise<void> {
    const keys = this.keys(customer);
    let left = await this.redis.destSettleHead(...keys, id, '');
    if (left < 0) left = await this.redis.destSettleHead(...keys, '', '');
    if (left > 0) {
      await this.redis.zadd(this.dueKey, nowMs, customer);
      return;
    }
    // Unschedule, then look again: an item parked between the two is scheduled here or by its own park (NX).
    await this.redis.zrem(this.dueKey, customer);
    if ((await this.redis.destSettleHead(...keys, '', '')) > 0) await this.redis.zadd(this.dueKey, nowMs, customer);
  }

  /** How many customers of this destination have parked items (scheduled or claimed): for metrics and tests. */
  async scheduled(): Promise<number> {
    return this.redis.zcard(this.dueKey);
  }
}
