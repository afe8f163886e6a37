/**
 * Test helpers of the differential script tests (a frozen previous script under test/fixtures beside the current
 * one): the scripts loaded by name, and a file's own Redis connection with them.
 */
import { Redis } from 'ioredis';

/** SCRIPT LOAD of each script: its SHA by the same name (for EVALSHA). */
export async function loadScripts<K extends string>(
  redis: Pick<Redis, 'script'>,
  scripts: Record<K, string>,
): Promise<Record<K, string>> {
  const shas = {} as Record<K, string>;
  for (const name of Object.keys(scripts) as K[]) shas[name] = (await redis.script('LOAD', scripts[name])) as string;
  return shas;
}

/** A connection to REDIS_URL (default the local stack's) with `scripts` loaded; the caller quits it. */
export async function connectWithScripts<K extends string>(
  scripts: Record<K, string>,
): Promise<{ redis: Redis; shas: Record<K, string> }> {
  const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:16379', {
    lazyConnect: true,
    maxRetriesPerRequest: 2,
  });
  await redis.connect();
  return { redis, shas: await loadScripts(redis, scripts) };
}
