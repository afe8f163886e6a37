/**
 * Micro-benchmark of lua/apply_events.lua on the server: `npx tsx bench/lua-micro.ts [customers] [calls]` against
 * REDIS_URL (prefix `luabench`, deleted afterwards). Each call applies 8 web events (2 days) of one customer, like the
 * replay's typical call; reports the server's time per call and per event (INFO commandstats of EVALSHA).
 */
import { DEFAULT_AGGREGATE_CONFIG } from '@tierstream/aggregates';
import { Redis } from 'ioredis';
import { encodeEventInto } from '../packages/aggregates/src/keyspace';
import { APPLY_EVENTS_LUA } from '../packages/aggregates/src/store';

const customers = Number(process.argv[2] ?? 2000);
const rounds = Number(process.argv[3] ?? 20);
const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:16379');
const sha = (await redis.script('LOAD', APPLY_EVENTS_LUA)) as string;
const DAY = 86_400_000;
const evalUsec = async () => {
  const s = (await redis.info('commandstats')).split('\n').find((l) => l.startsWith('cmdstat_evalsha:'));
  const m = s ? /calls=(\d+),usec=(\d+)/.exec(s) : null;
  return m ? { calls: Number(m[1]), usec: Number(m[2]) } : { calls: 0, usec: 0 };
};
let offset = 0;
const before = await evalUsec();
for (let r = 0; r < rounds; r++) {
  const p = redis.pipeline();
  for (let c = 0; c < customers; c++) {
    const args = ['172800000', '1000000', '8'];
    for (let k = 0; k < 8; k++) {
      const at = (20_000 + r * 7 + (k >> 2)) * DAY + k * 60_000 + c;
      encodeEventInto(
        args,
        {
          kind: 'web',
          event: {
            event_id: `E${r}-${c}-${k}-000000000`,
            customer_id: `C${c}`,
            anonymous_id: null,
            type: 'PAGE_VIEW',
            url: null,
            content_id: null,
            occurred_at: at,
          },
        },
        'web-behavior.v1',
        c % 3,
        String(offset++),
        DEFAULT_AGGREGATE_CONFIG,
      );
    }
    p.evalsha(sha, 1, `luabench:{C${c}}:agg`, ...args);
  }
  await p.exec();
}
const after = await evalUsec();
const calls = after.calls - before.calls;
const usec = after.usec - before.usec;
console.log(`${calls} calls, ${(usec / calls).toFixed(1)} us/call, ${(usec / calls / 8).toFixed(2)} us/event (server)`);
const keys = await redis.keys('luabench:*');
for (let i = 0; i < keys.length; i += 1000) await redis.del(...keys.slice(i, i + 1000));
redis.disconnect();
