import { DEFAULT_AGGREGATE_CONFIG } from '@tierstream/aggregates';
import {
  bootstrapPipeline,
  Clients,
  resetPipelineData,
  SERVICES,
  sendWatermarks,
  waitForPipeline,
} from '@tierstream/cli';
import {
  customerIdOf,
  INPUT_TOPICS,
  type InputEvent,
  MAX_AMOUNT_MINOR,
  MAX_ITEMS,
  type OrderEvent,
  type TicketEvent,
  TOPICS,
  topicOf,
  type WebBehaviorEvent,
} from '@tierstream/contracts';
import { generateWorkload, resolveOptions } from '@tierstream/generator';
import { CONTROL_HEADER, DLQ_HEADERS, type OutgoingRecord } from '@tierstream/kafka';
import { dayOf, endOfDay } from '@tierstream/tierstate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CUTPOINTS_EVERY_DAYS,
  compareWithOracle,
  describeComparison,
  Fleet,
  loadDefaultRules,
  type OracleComparison,
  readDeadLetters,
  SeededRandom,
  seedFrom,
} from '../chaos/harness';
import { runPipelineOracle } from '../support/pipeline-oracle';

/**
 * The bad-input fuzz campaign (DESIGN.md, correctness contract 5): thousands of malformed records (random bytes,
 * truncated Avro, trailing garbage, unknown and wrong schema ids, tombstones, hostile values in valid Avro, bad
 * control records, oversized messages) mixed, at seeded positions, into the `tiny` replay plus valid events with
 * hostile-but-legal content (unicode, braces, `__proto__`, maximum amounts, duplicates). Every bad record must land
 * in its DLQ exactly once with the expected reason; every valid one must be counted exactly (everything equals the
 * oracle); no service may crash or report itself not live. FUZZ_SEED=<n> repeats a run, FUZZ_BAD the bad count.
 */
const FUZZ_HEADER = 'fuzz-id';
/** The aggregator's MAX_MESSAGE_BYTES in this run (below the broker's 1 MiB, so OVERSIZED is reachable). */
const MAX_MESSAGE_BYTES = 64 * 1024;
const BAD_COUNT = Number(process.env.FUZZ_BAD ?? 3000);
/**
 * Exact duplicates of workload events, re-sent right after the original (each must count once). They once exposed a
 * bug: the Lua dedupe horizon was measured from the customer's latest event over ALL input topics, which are consumed
 * independently, so a lagging topic's ids were forgotten; the horizon is now per topic.
 */
const DUPLICATES = Number(process.env.FUZZ_DUPLICATES ?? 50);

/** Customer ids that are odd but valid: they must be counted like any other. */
const HOSTILE_IDS = [
  '客户-张伟',
  'Ünïcødé-Kunde',
  '😀🛒customer',
  'مشتري-١',
  '{braced}',
  '}x{',
  'a}b',
  '{',
  '}',
  '{}',
  '%7B',
  'per%cent',
  'colon:id:1',
  '__proto__',
  'constructor',
  'toString',
  'hasOwnProperty',
  'NaN',
  'null',
  'undefined',
  '-1',
  '1e309',
  'tab\tid',
  'new\nline',
  'zero\u200bwidth',
  'quote"\'`id',
  'back\\slash',
  ' lead-and-trail ',
  'x'.repeat(256),
];

interface Bad {
  fuzzId: string;
  topic: string;
  record: OutgoingRecord;
  expected: string;
}

type Item = { kind: 'valid'; event: InputEvent } | { kind: 'bad'; bad: Bad };

describe('fuzz: bad input goes to the DLQ, good input is counted exactly, nothing crashes', () => {
  const seed = seedFrom('FUZZ_SEED', 'fuzz');
  const rng = new SeededRandom(seed);
  const clients = new Clients();
  const options = resolveOptions('tiny');
  const endAt = endOfDay(dayOf(typeof options.end === 'number' ? options.end : Date.parse(options.end)));
  const startAt = endAt - options.days * 86_400_000;
  const base = [...generateWorkload('tiny')];
  const knownCustomers = [...new Set(base.map(customerIdOf).filter((id): id is string => id !== null))];
  const fleet = new Fleet({
    CLOCK_MODE: 'replay',
    CUTPOINTS_EVERY_DAYS: String(CUTPOINTS_EVERY_DAYS),
    LOG_LEVEL: 'warn',
    MAX_MESSAGE_BYTES: String(MAX_MESSAGE_BYTES),
  });
  const bads: Bad[] = [];
  let valid: InputEvent[] = [];
  let comparison: OracleComparison;
  let deadLetters: Awaited<ReturnType<typeof readDeadLetters>> = [];
  let exitCodes: Record<string, number | null> = {};
  let oversized: { refused: boolean; error: string; offsetsBefore: string; offsetsAfter: string };

  const inRange = () => rng.int(startAt + 2 * 86_400_000, endAt - 3 * 86_400_000);

  function hostileValid(): InputEvent[] {
    const out: InputEvent[] = [];
    HOSTILE_IDS.forEach((id, i) => {
      const t = inRange();
      const web: WebBehaviorEvent = {
        event_id: `fz-w-${i}-✓`,
        customer_id: id,
        anonymous_id: null,
        type: 'PRODUCT_VIEW',
        url: '/p/{id}?q=%00',
        content_id: null,
        occurred_at: t,
      };
      const order: OrderEvent = {
        event_id: `fz-o-${i}-{}`,
        customer_id: id,
        order_id: `fz-ord-${i}`,
        type: 'PLACED',
        amount_minor: rng.pick([0, 1, MAX_AMOUNT_MINOR, MAX_AMOUNT_MINOR - 1, 999_999_999_999]),
        currency: rng.pick(['USD', 'EUR', 'JPY', 'KWD', 'IDR', 'GBP']),
        margin_minor: rng.pick([null, 0, -MAX_AMOUNT_MINOR, 12_345]),
        channel: rng.pick([null, '🛒', '']),
        items: rng.pick([null, 0, MAX_ITEMS]),
        occurred_at: t + 60_000,
        original_placed_at: null,
        attributes: rng.pick([null, { industry: '🏭', company_size: 0, region: '{}' }]),
      };
      const ticket: TicketEvent = {
        event_id: `fz-t-${i}`,
        customer_id: id,
        ticket_id: `tk:{${i}},1`,
        type: 'OPENED',
        category: 'COMPLAINT',
        priority: 'URGENT',
        csat: null,
        occurred_at: t + 120_000,
      };
      out.push({ kind: 'web', event: web }, { kind: 'order', event: order }, { kind: 'ticket', event: ticket });
    });
    return out;
  }

  /** A valid event of `topic` to mutate, from a random known customer at an in-range time. */
  function sample(topic: string): Record<string, unknown> {
    const customer_id = rng.pick(knownCustomers);
    const occurred_at = inRange();
    const n = bads.length;
    if (topic === TOPICS.orders) {
      return {
        event_id: `bad-o-${n}`,
        customer_id,
        order_id: `bad-ord-${n}`,
        type: 'PLACED',
        amount_minor: 5_000,
        currency: 'USD',
        margin_minor: null,
        channel: null,
        items: 1,
        occurred_at,
        original_placed_at: null,
        attributes: null,
      };
    }
    if (topic === TOPICS.web) {
      return {
        event_id: `bad-w-${n}`,
        customer_id,
        anonymous_id: null,
        type: 'ADD_TO_CART',
        url: null,
        content_id: null,
        occurred_at,
      };
    }
    return {
      event_id: `bad-t-${n}`,
      customer_id,
      ticket_id: `bad-tk-${n}`,
      type: 'OPENED',
      category: 'COMPLAINT',
      priority: 'HIGH',
      csat: null,
      occurred_at,
    };
  }

  /** Valid Avro, invalid content: [mutated value, expected reason]; only mutations that apply to the topic. */
  function hostileValue(topic: string): [Record<string, unknown>, string] {
    const v = sample(topic);
    const O = [TOPICS.orders];
    const T = [TOPICS.tickets];
    const W = [TOPICS.web];
    const ALL = INPUT_TOPICS;
    const mutations: Array<[readonly string[], () => Record<string, unknown>, string]> = [
      [O, () => ({ amount_minor: MAX_AMOUNT_MINOR + 1 }), 'INVALID_VALUE'],
      [O, () => ({ amount_minor: 2 ** 52 }), 'INVALID_VALUE'],
      [O, () => ({ amount_minor: -rng.int(1, 1e9) }), 'NEGATIVE_AMOUNT'],
      [O, () => ({ currency: rng.pick(['NaN', 'Infinity', 'usd', '', 'XXX', '€']) }), 'UNKNOWN_CURRENCY'],
      [O, () => ({ items: -1 }), 'INVALID_VALUE'],
      [O, () => ({ type: 'REFUNDED' }), 'MISSING_ORIGINAL_PLACED_AT'],
      [O, () => ({ original_placed_at: (v.occurred_at as number) + 86_400_000 }), 'INVALID_VALUE'],
      [T, () => ({ type: 'SATISFACTION_RATED', csat: rng.pick([0, 6, -3, 100]) }), 'INVALID_CSAT'],
      [T, () => ({ type: 'SATISFACTION_RATED' }), 'INVALID_CSAT'],
      [W, () => ({ customer_id: null, anonymous_id: null }), 'MISSING_CUSTOMER_ID'],
      [W, () => ({ customer_id: '' }), 'EMPTY_ID'],
      [[...O, ...T], () => ({ customer_id: rng.pick(['', '   ', '\t']) }), 'MISSING_CUSTOMER_ID'],
      [ALL, () => ({ event_id: rng.pick(['', ' ']) }), 'EMPTY_ID'],
      [ALL, () => ({ occurred_at: Date.UTC(9999, 11, 31) }), 'FUTURE_TIMESTAMP'],
      [ALL, () => ({ occurred_at: Date.now() + 2 * 3_600_000 }), 'FUTURE_TIMESTAMP'],
      [ALL, () => ({ occurred_at: -rng.int(1, 1e12) }), 'INVALID_VALUE'],
      [ALL, () => ({ customer_id: `${rng.pick(knownCustomers)}${'é'.repeat(300)}` }), 'ID_TOO_LONG'],
      [ALL, () => ({ event_id: 'x'.repeat(rng.int(257, 20_000)) }), 'ID_TOO_LONG'],
    ];
    const [, patch, expected] = rng.pick(mutations.filter(([topics]) => topics.includes(topic)));
    Object.assign(v, patch());
    return [v, expected];
  }

  async function makeBad(): Promise<Bad> {
    const topic = rng.pick(INPUT_TOPICS);
    const fuzzId = `fz${bads.length}`;
    const key = rng.next() < 0.5 ? rng.pick(knownCustomers) : rng.pick(HOSTILE_IDS);
    const headers = { [FUZZ_HEADER]: fuzzId };
    const valid = async () => clients.serde.encode(topic, sample(topic));
    const kind = rng.int(0, 9);
    let value: Buffer | null;
    let expected: string;
    switch (kind) {
      case 0: {
        // Random bytes that do not start with the magic byte.
        value = rng.bytes(rng.int(0, 300));
        if (value.length > 0 && value[0] === 0) value[0] = 1;
        expected = 'UNDECODABLE';
        break;
      }
      case 1: {
        // The magic byte and a schema id the registry never issued (random, negative ones included).
        const id = rng.pick([rng.int(1_000_000, 2 ** 31 - 1), -rng.int(1, 2 ** 31), 0, 999_999]);
        value = Buffer.concat([Buffer.from([0]), int32(id), rng.bytes(rng.int(0, 60))]);
        expected = 'UNKNOWN_SCHEMA_ID';
        break;
      }
      case 2: {
        const full = await valid();
        value = full.subarray(0, rng.int(0, full.length - 1));
        expected = 'UNDECODABLE';
        break;
      }
      case 3: {
        value = Buffer.concat([await valid(), rng.bytes(rng.int(1, 20))]);
        expected = 'UNDECODABLE';
        break;
      }
      case 4: {
        // A valid message of another topic's schema (another input topic, or an output topic).
        const other = rng.pick([...INPUT_TOPICS.filter((t) => t !== topic), TOPICS.signals]);
        value =
          other === TOPICS.signals
            ? await clients.serde.encode(other, {
                customer_id: rng.pick(knownCustomers),
                first_event_at: inRange(),
                last_event_at: inRange(),
                applied: 1,
                sources: [topic],
                emitted_at: Date.now(),
              })
            : await clients.serde.encode(other, sample(other));
        expected = 'WRONG_SCHEMA';
        break;
      }
      case 5:
        value = null;
        expected = 'UNDECODABLE';
        break;
      case 6: {
        // Bigger than the aggregator accepts (MAX_MESSAGE_BYTES) but below the broker's limit.
        value = Buffer.concat([await valid(), Buffer.alloc(MAX_MESSAGE_BYTES + 1)]);
        expected = 'OVERSIZED';
        break;
      }
      case 7: {
        value = Buffer.from(rng.pick(['not a number', 'NaN', '1e400', '12.5', '-', '1_000']));
        return {
          fuzzId,
          topic,
          record: { key: null, value, headers: { ...headers, [CONTROL_HEADER]: rng.pick(['watermark', 'reset', '']) } },
          expected: 'INVALID_CONTROL',
        };
      }
      default: {
        const [v, reason] = hostileValue(topic);
        value = await clients.serde.encode(topic, v);
        expected = reason;
      }
    }
    // A tombstone has no value at all (kafkajs sends null as is).
    return { fuzzId, topic, record: { key, value: value as Buffer, headers }, expected };
  }

  beforeAll(async () => {
    clients.redis.on('error', () => undefined);
    await resetPipelineData(clients);
    await bootstrapPipeline(clients);

    // Valid: the workload, hostile-but-legal events, and exact duplicates (counted once), in event-time order.
    const extra = hostileValid();
    const duplicates = Array.from({ length: DUPLICATES }, () => rng.pick(base));
    valid = [...base, ...extra, ...duplicates].sort((a, b) => a.event.occurred_at - b.event.occurred_at);
    for (let i = 0; i < BAD_COUNT; i++) bads.push(await makeBad());
    // Bad records at random positions between the valid ones (they carry no event time the pipeline may use).
    const items: Item[] = valid.map((event) => ({ kind: 'valid', event }));
    for (const bad of bads) items.splice(rng.int(0, items.length), 0, { kind: 'bad', bad });

    for (const name of SERVICES) await fleet.start(name, name);
    fleet.watch();
    const producer = await clients.producer();
    for (let i = 0; i < items.length; i += 200) {
      const byTopic = new Map<string, OutgoingRecord[]>();
      for (const item of items.slice(i, i + 200)) {
        let topic: string;
        let record: OutgoingRecord;
        if (item.kind === 'bad') {
          topic = item.bad.topic;
          record = item.bad.record;
        } else {
          topic = topicOf(item.event);
          const e = item.event;
          const key =
            customerIdOf(e) ?? (e.kind === 'web' ? (e.event.anonymous_id ?? e.event.event_id) : e.event.event_id);
          record = { key, value: await clients.serde.encode(topic, e.event) };
        }
        byTopic.set(topic, [...(byTopic.get(topic) ?? []), record]);
      }
      await producer.sendMany([...byTopic].map(([topic, records]) => ({ topic, records })));
    }

    // A 10 MB customer id: above the broker's max message size. The producer must be refused and nothing may reach
    // the topic. (A plain producer: a refused send must not disturb the pipeline's idempotent producer.)
    const plain = clients.kafka.producer({ retry: { retries: 0 } });
    await plain.connect();
    const admin = await clients.admin();
    const offsets = async () => JSON.stringify(await admin.fetchTopicOffsets(TOPICS.orders));
    const offsetsBefore = await offsets();
    let error = '';
    try {
      const huge = sample(TOPICS.orders);
      huge.customer_id = 'C'.repeat(10 * 1024 * 1024);
      await plain.send({
        topic: TOPICS.orders,
        messages: [{ key: 'huge', value: await clients.serde.encode(TOPICS.orders, huge) }],
      });
    } catch (err) {
      error = (err as Error).message;
    }
    await plain.disconnect();
    oversized = { refused: error !== '', error, offsetsBefore, offsetsAfter: await offsets() };

    await sendWatermarks(admin, producer, endAt);
    await waitForPipeline(clients, endAt, {
      timeoutMs: 480_000,
      isAlive: () => (fleet.incidents().length > 0 ? JSON.stringify(fleet.incidents()) : null),
    }).catch((err: unknown) => {
      console.log(`[fuzz] seed ${seed}: pipeline failed; last service logs:\n${fleet.allTails(30)}`);
      throw err;
    });
    exitCodes = await fleet.stopAll();
    const oracle = runPipelineOracle({
      events: valid,
      rules: loadDefaultRules(),
      aggregateConfig: DEFAULT_AGGREGATE_CONFIG,
      cutPointsEveryDays: CUTPOINTS_EVERY_DAYS,
      endAt,
    });
    comparison = await compareWithOracle(clients, valid, oracle, endAt);
    deadLetters = await readDeadLetters(
      clients,
      INPUT_TOPICS.map((t) => `${t}.dlq`),
      { idleMs: 60_000 },
    );
    const reasons = new Map<string, number>();
    for (const b of bads) reasons.set(b.expected, (reasons.get(b.expected) ?? 0) + 1);
    console.log(
      `[fuzz] seed ${seed}: ${valid.length} valid (${extra.length} hostile-but-legal, ${duplicates.length} duplicates), ` +
        `${bads.length} bad ${JSON.stringify(Object.fromEntries(reasons))}; ${deadLetters.length} dead letters; ` +
        `10 MB record: ${oversized.error}\n${describeComparison(comparison)}`,
    );
  });

  afterAll(async () => {
    await fleet.stopAll();
    await clients.close();
  });

  it('every bad record is in its DLQ exactly once, with the expected reason and where it came from', () => {
    const byId = new Map<string, (typeof deadLetters)[number][]>();
    for (const d of deadLetters) {
      const id = d.headers[FUZZ_HEADER];
      if (id !== undefined) byId.set(id, [...(byId.get(id) ?? []), d]);
    }
    const wrong: string[] = [];
    for (const b of bads) {
      const found = byId.get(b.fuzzId) ?? [];
      const d = found[0];
      if (found.length !== 1 || !d) {
        wrong.push(`${b.fuzzId} (${b.expected}) found ${found.length} times`);
        continue;
      }
      if (d.headers[DLQ_HEADERS.reason] !== b.expected)
        wrong.push(
          `${b.fuzzId}: reason ${d.headers[DLQ_HEADERS.reason]} (${d.headers[DLQ_HEADERS.error]}), expected ${b.expected}`,
        );
      if (d.topic !== `${b.topic}.dlq` || d.headers[DLQ_HEADERS.sourceTopic] !== b.topic)
        wrong.push(`${b.fuzzId}: in ${d.topic} from ${d.headers[DLQ_HEADERS.sourceTopic]}, sent to ${b.topic}`);
      if (!/^\d+$/.test(d.headers[DLQ_HEADERS.sourceOffset] ?? '') || !d.headers[DLQ_HEADERS.error])
        wrong.push(`${b.fuzzId}: no source offset or error message`);
    }
    expect(wrong.slice(0, 20)).toEqual([]);
    expect(bads.length).toBe(BAD_COUNT);
  });

  it('no valid record went to the DLQ', () => {
    expect(deadLetters.filter((d) => d.headers[FUZZ_HEADER] === undefined).length).toBe(0);
    expect(deadLetters.length).toBe(bads.length);
  });

  it('every valid record is counted exactly: aggregates, tiers, transitions and snapshots equal the oracle', () => {
    expect(comparison.customers).toBe(knownCustomers.length + HOSTILE_IDS.length);
    expect(comparison.aggregateMismatches).toEqual([]);
    expect(comparison.tierMismatches).toEqual([]);
    expect(comparison.missingTransitions).toEqual([]);
    expect(comparison.unexpectedTransitions).toEqual([]);
    expect(comparison.duplicateTransitionRows).toBe(0);
    expect(comparison.distributionMismatches).toEqual([]);
  });

  it('no service crashed or reported itself not live, and each stopped cleanly', () => {
    expect(fleet.incidents()).toEqual([]);
    expect(exitCodes).toEqual({ aggregator: 0, 'tier-engine': 0, 'warehouse-writer': 0 });
  });

  it('a 10 MB record is refused by the broker and never reaches the topic', () => {
    expect(oversized.refused).toBe(true);
    expect(oversized.offsetsAfter).toBe(oversized.offsetsBefore);
  });
});

function int32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n | 0);
  return b;
}
