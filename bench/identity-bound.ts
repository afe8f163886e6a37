/**
 * The hold of an anonymous id at its bound (a bot that never logs in; issue 20): `npx tsx bench/identity-bound.ts
 * [calls]` against the stack's Redis (prefix `idbound`, deleted afterwards). One id is filled to the default bound
 * (128 KiB of UUID-like events), then held again `calls` times (default 100) with two new events each, side by side:
 * by a process that does not know the id is full (each hold compacts: `GET`, parse, `SET` of the whole string) and by
 * the process that saw it full (the marker and the length read, nothing written). Prints the server's EVALSHA µs per
 * call of each (INFO commandstats), and of a small id for the fixed cost of one call.
 */
import { type HeldEvent, IdentityStore } from '@tierstream/aggregates';
import { Clients, loadCliConfig } from '@tierstream/cli';

const calls = Number(process.argv[2] ?? 100);
const clients = new Clients(loadCliConfig(process.env));
const redis = clients.redis;
const T0 = Date.UTC(2026, 0, 1);
const uuid = (n: number) => `0b6f7a3c-2e1d-4c5b-8a9f-${String(n).padStart(12, '0')}`;
const events = (from: number, n: number): HeldEvent[] =>
  Array.from({ length: n }, (_, i) => ({ eventId: uuid(from + i), occurredAt: T0 + from + i, type: 'PAGE_VIEW' }));

async function evalUsec(): Promise<number> {
  const m = /cmdstat_evalsha:calls=\d+,usec=(\d+)/.exec(await redis.info('commandstats'));
  return Number(m?.[1] ?? 0);
}

/**
 * Server µs of `calls` holds of two new events each (the id's events numbered from `from`), by the store `store()`
 * gives for each call.
 */
async function perCall(store: () => IdentityStore, id: string, from: number): Promise<number> {
  const before = await evalUsec();
  for (let i = 0; i < calls; i++) await store().hold([{ anonymousId: id, events: events(from + 2 * i, 2) }], 0);
  return (await evalUsec()) - before;
}

const full = new IdentityStore(redis, { prefix: 'idbound' });
// Fill the bot's id past the bound in one call (2,600 events of 55 B > 128 KiB): its marker written, `full` knows it.
await full.hold([{ anonymousId: 'bot', events: events(0, 2_600) }], 0);
const bytes = await redis.strlen(full.keys.held('bot'));
const known = (await perCall(() => full, 'bot', 1_000_000)) / calls;
// A new store per call: a process that has not seen the id full (as after a restart, or another aggregator).
const unknown = (await perCall(() => new IdentityStore(redis, { prefix: 'idbound' }), 'bot', 2_000_000)) / calls;
const small = (await perCall(() => full, 'small', 3_000_000)) / calls;
const keys = await redis.keys('idbound:*');
if (keys.length > 0) await redis.del(...keys);
console.log(
  JSON.stringify(
    {
      calls,
      heldBytes: bytes,
      usecPerCallFullUnknown: +unknown.toFixed(1),
      usecPerCallFullKnown: +known.toFixed(1),
      usecPerCallSmallId: +small.toFixed(1),
    },
    null,
    2,
  ),
);
await clients.close();
