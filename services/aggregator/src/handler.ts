import type { AggregateStore, ApplyResult } from '@tierstream/aggregates';
import {
  type AvroSerde,
  type CustomerSignal,
  contractTopicOf,
  customerIdOf,
  DEFAULT_INPUT_TOPIC_NAMES,
  type DecodeValidateOptions,
  decodeAndValidate,
  decodeAndValidateIfCached,
  type InputEvent,
  type InputTopicNames,
  type ValidationResult,
} from '@tierstream/contracts';
import {
  type BatchHandler,
  CONTROL_HEADER,
  type ConsumedRecord,
  compareOffsets,
  type RecordProducer,
} from '@tierstream/kafka';
import { type ServiceMetrics, timed } from '@tierstream/observability';
import { dayOf, endOfDay, signalPartitionOf, type TierStateStore } from '@tierstream/tierstate';
import type { Logger } from 'pino';
import {
  forApply,
  type IdentityRouteDeps,
  MergedIds,
  type RoutedBatch,
  rerouteMoved,
  routeByIdentity,
} from './steps/identity-route';
import { reportMoneyAnomalies } from './steps/money-anomalies';

export interface AggregatorDeps {
  serde: AvroSerde;
  aggregates: AggregateStore;
  tierState: TierStateStore;
  producer: RecordProducer;
  signalsTopic: string;
  signalPartitions: number;
  /**
   * The configured name of each contract input topic (ORDERS_TOPIC, ...): a record is decoded and validated as the
   * contract of the topic it came from. Default: the contract names.
   */
  inputTopics?: InputTopicNames;
  validation: { maxFutureSkewMs: number; maxMessageBytes: number };
  logger: Logger;
  metrics?: ServiceMetrics;
  now?: () => number;
  /**
   * Which of these customers are erased and suppressed (docs/security.md "Erasure"): their events are dropped, and
   * they are not scheduled, signalled or given attributes.
   */
  suppressed?: (customerIds: string[]) => Promise<Set<string>>;
  /**
   * Identity (docs/design-decisions.md §22): events count for their customer's root, anonymous web events are held
   * or routed to their alias's customer (steps/identity-route.ts). Without it anonymous events are skipped and
   * customer ids taken as they are.
   */
  identity?: IdentityRouteDeps & {
    /** The identities partition's key in the watermarks hash (`<IDENTITIES_TOPIC>:0`): the held events' floor. */
    watermarkKey: string;
  };
  /**
   * Pipelined (the service): the handler returns once the batch is applied; scheduling, attributes, signals and the
   * watermark follow in the returned `finish` (the runner calls it in batch order and commits after it). Default
   * false: the handler finishes every step before it returns (tests, benches).
   */
  pipelined?: boolean;
}

type Classified =
  | { kind: 'control'; at: number }
  | { kind: 'event'; event: InputEvent }
  | { kind: 'dead'; reason: string; message: string };

function minOccurredAt(events: PendingEvent[]): number {
  let min = Number.POSITIVE_INFINITY;
  for (const e of events) if (e.event.event.occurred_at < min) min = e.event.event.occurred_at;
  return min;
}

/** Records decoded between two yields to the event loop (see the handler's decode loop). */
const DECODE_SLICE = 2_048;
const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A retention longer than any history: fold nothing. */
const KEEP_ALL_DAYS = 1_000_000;

interface PendingEvent {
  event: InputEvent;
  topic: string;
  partition: number;
  offset: string;
}

/**
 * One partition batch: decode + validate (bad records → DLQ) and group by customer; then, in `apply` when pipelined:
 * route by identity and apply every customer's events in one pipelined Lua round (idempotent by offset and event
 * id); then, in `finish`: schedule the customers in the due index and store their attributes (together), then
 * produce one signal per customer and move the partition's watermark (together). The runner commits offsets only
 * after all of this. A redelivered batch re-does every step; the Redis scripts make the second application a no-op.
 *
 * Order (docs/design-decisions.md §2, §3, §23): apply before schedule and attributes (an engine evaluation between
 * must not take the customer for evaluated), both before the signal (a live evaluation reads the attributes) and
 * before the watermark (a day is closed only after its events are applied and scheduled). Applies of one partition
 * run in batch order (the high-water offsets); pipelined, the decoding of a batch overlaps the previous batch's
 * apply (and kafkajs' fetch of the next one), and a batch's finish overlaps the next batch's apply.
 */
export function createAggregatorHandler(deps: AggregatorDeps): BatchHandler {
  const now = deps.now ?? Date.now;
  const inputTopics = deps.inputTopics ?? DEFAULT_INPUT_TOPIC_NAMES;
  // Configured topic → the contract its records follow; the subscription holds configured input topics only (a
  // topic of no kind is refused at start), so an unknown one is passed on as is and validation refuses it.
  const contractTopics = new Map<string, string>();
  const contractOf = (topic: string): string => {
    let contract = contractTopics.get(topic);
    if (contract === undefined) {
      contract = contractTopicOf(inputTopics, topic) ?? topic;
      contractTopics.set(topic, contract);
    }
    return contract;
  };
  /** Per `topic:partition`: the highest watermark applied (the Redis value only grows, so the gauge too). */
  const watermarks = new Map<string, number>();
  let retentionCache: { at: number; days: number } | null = null;
  let identityMarkCache: { at: number; mark: number } | null = null;
  /** Customer ids found merged (MOVED): their records go to the root found then (a later merge of it: MOVED again). */
  const mergedIds = new MergedIds();
  return async (batch, ctx) => {
    let byCustomer = new Map<string, PendingEvent[]>();
    let attributes = new Map<string, Record<string, string | number>>();
    let items: Array<{ customerId: string; events: PendingEvent[] }> = [];
    let watermark = -1;
    let anonymous = 0;
    const named: PendingEvent[] = [];
    const anonymousRecords: PendingEvent[] = [];
    const validateOpts = {
      now: now(),
      maxFutureSkewMs: deps.validation.maxFutureSkewMs,
      maxMessageBytes: deps.validation.maxMessageBytes,
    };
    let sinceYield = 0;
    for (const record of batch.records) {
      // A large batch decodes for hundreds of ms: yield now and then, so the previous batch's apply (its next round
      // trips, its finish) goes on meanwhile instead of Redis waiting for this loop.
      if (++sinceYield === DECODE_SLICE) {
        sinceYield = 0;
        await yieldToEventLoop();
      }
      // Synchronous while the writer schemas are cached (always after the first records): no promise and no wrapper
      // object per record.
      const cached = classifySync(record, validateOpts);
      let event: InputEvent;
      if (cached?.ok) event = cached.event;
      else {
        const result: Classified =
          cached !== undefined
            ? { kind: 'dead', reason: cached.reason, message: cached.message }
            : await classify(record);
        if (result.kind === 'control') {
          watermark = Math.max(watermark, result.at);
          continue;
        }
        if (result.kind === 'dead') {
          ctx.deadLetter(record, result.reason, result.message);
          continue;
        }
        event = result.event;
      }
      watermark = Math.max(watermark, event.event.occurred_at);
      const pending = { event, topic: record.topic, partition: record.partition, offset: record.offset };
      if (customerIdOf(event) !== null) named.push(pending);
      else if (deps.identity && event.kind === 'web' && event.event.anonymous_id !== null)
        anonymousRecords.push(pending);
      else anonymous++;
    }
    // The ordered part: routing, the apply and what depends on its results (one batch of a partition after
    // another: the high-water offsets). Pipelined, the runner runs it after the previous batch's apply, while
    // kafkajs fetches and this handler decodes the next batch.
    const route = deps.identity !== undefined && named.length + anonymousRecords.length > 0;
    if (!route)
      for (const r of named) {
        const customerId = customerIdOf(r.event)!;
        const list = byCustomer.get(customerId);
        if (list) list.push(r);
        else byCustomer.set(customerId, [r]);
      }
    const apply = async (): Promise<void> => {
      /** Records routed to a customer other than the one they name (identity): the id they name. */
      let via = new Map<PendingEvent, string>();
      /** Identity: the records routed once the anonymous events' hold answers (applied after byCustomer's). */
      let later: RoutedBatch<PendingEvent>['later'] | undefined;
      if (route && deps.identity) {
        const routed = routeByIdentity(named, anonymousRecords, await identityWatermark(), deps.identity, mergedIds);
        byCustomer = routed.now;
        via = routed.via;
        later = timed(deps.metrics?.redisLatency, { op: 'identity_route' }, () => routed.later);
        // Awaited in the Promise.all below; until then (the engine partitions' read) its failure must not be an
        // unhandled rejection, which ends the process instead of failing the apply (the runner rewinds).
        later.catch(() => undefined);
      }
      if (byCustomer.size > 0 || later) {
        items = [...byCustomer].map(([customerId, events]) => ({ customerId, events }));
        const retentionDays = await retentionForEngine();
        const applyItems = async (list: typeof items) =>
          list.length === 0
            ? new Map<string, ApplyResult>()
            : timed(deps.metrics?.redisLatency, { op: 'apply_events' }, () =>
                deps.aggregates.applyBatch(tagged(list, via), { retentionDays }),
              );
        // The suppression check runs beside the apply: the apply script drops a suppressed customer's events itself
        // (its marker is among the KEYS); the check keeps them from being scheduled, signalled or given attributes.
        // With identity, the named records apply while the anonymous ones are held (independent keys; the records
        // routed then have high-water marks of their own: steps/identity-route.ts), and those are applied after.
        const [applied, suppressed, rest] = await Promise.all([
          applyItems(items),
          deps.suppressed && byCustomer.size > 0 ? deps.suppressed([...byCustomer.keys()]) : undefined,
          later,
        ]);
        reportMoneyAnomalies(applied, deps, batch.topic);
        const checkedIds = new Set(byCustomer.keys());
        const erased = new Set(suppressed ?? []);
        items = await applyMoved(items, applied, retentionDays, batch.topic, via);
        if (rest) {
          const c = rest.anonymous;
          if (c.held + c.old + c.dropped + c.beforeHorizon > 0)
            deps.logger.debug({ ...c, topic: batch.topic }, 'anonymous web events held or not counted');
          if (rest.byCustomer.size > 0) {
            const more = [...rest.byCustomer].map(([customerId, events]) => ({ customerId, events }));
            // The routed customers' suppression check beside their apply (those not checked above).
            const toCheck = deps.suppressed ? more.map((it) => it.customerId).filter((id) => !checkedIds.has(id)) : [];
            const [results, alsoSuppressed] = await Promise.all([
              applyItems(more),
              toCheck.length > 0 ? deps.suppressed!(toCheck) : undefined,
            ]);
            for (const id of toCheck) checkedIds.add(id);
            for (const id of alsoSuppressed ?? []) erased.add(id);
            reportMoneyAnomalies(results, deps, batch.topic);
            items.push(...(await applyMoved(more, results, retentionDays, batch.topic, via)));
          }
        }
        // One item per customer (scheduled and signalled once), its records in delivery order: a customer's own records
        // and those moved or routed to it were applied as items of their own.
        items = oneItemPerCustomer(items);
        // Records moved to other customers (merged ids' survivors): those are checked too (one more round trip, only
        // then).
        if (deps.suppressed) {
          const unchecked = items.map((it) => it.customerId).filter((id) => !checkedIds.has(id));
          if (unchecked.length > 0) for (const id of await deps.suppressed(unchecked)) erased.add(id);
        }
        if (erased.size > 0) items = items.filter((it) => !erased.has(it.customerId));
        // Attributes go to the customers the records were applied to (a moved record's survivor, not the merged id).
        attributes = attributesOf(items);
      }
    };
    const topic = batch.topic;
    const partition = batch.partition;
    const finish = async (): Promise<void> => {
      if (items.length > 0) await scheduleAndStore(items, attributes);
      await Promise.all([
        items.length > 0 ? signal(items, topic) : undefined,
        watermark >= 0 ? advanceWatermark(topic, partition, watermark) : undefined,
      ]);
    };
    if (anonymous > 0) deps.logger.debug({ anonymous, topic: batch.topic }, 'skipped anonymous web events');
    if (deps.pipelined) return { apply, finish };
    await apply();
    await finish();
  };

  /**
   * Per customer of `items` (one item per customer, its records in delivery order: oneItemPerCustomer), the
   * attributes its order events carry: a field's latest non-null value.
   */
  function attributesOf(items: Array<{ customerId: string; events: PendingEvent[] }>) {
    const out = new Map<string, Record<string, string | number>>();
    for (const { customerId, events } of items) {
      let merged: Record<string, string | number> | undefined;
      for (const { event } of events) {
        if (event.kind !== 'order' || !event.event.attributes) continue;
        const a = event.event.attributes;
        merged ??= {};
        if (a.industry !== null) merged.industry = a.industry;
        if (a.company_size !== null) merged.company_size = a.company_size;
        if (a.region !== null) merged.region = a.region;
      }
      if (merged) out.set(customerId, merged);
    }
    return out;
  }

  /**
   * After the apply: schedule the customers in the due index and store their attributes (one round trip). Every
   * customer of the batch, applied or not: after a crash between the Redis write and this point, the redelivered
   * batch applies nothing but must still schedule and signal.
   */
  async function scheduleAndStore(
    items: Array<{ customerId: string; events: PendingEvent[] }>,
    attributes: Map<string, Record<string, string | number>>,
  ): Promise<void> {
    const schedule = items.map(({ customerId, events }) => ({
      customerId,
      partition: signalPartitionOf(customerId, deps.signalPartitions),
      dueAt: endOfDay(dayOf(minOccurredAt(events))),
    }));
    await timed(deps.metrics?.redisLatency, { op: 'schedule' }, () =>
      Promise.all([
        deps.tierState.schedule(schedule),
        deps.tierState.setAttributes([...attributes].map(([customerId, a]) => ({ customerId, attributes: a }))),
      ]),
    );
  }

  /** One signal per customer of the batch (after scheduleAndStore: a live evaluation reads the attributes). */
  async function signal(items: Array<{ customerId: string; events: PendingEvent[] }>, topic: string): Promise<void> {
    const emittedAt = now();
    const signals: Array<{ key: string; value: Buffer }> = [];
    for (const { customerId, events } of items) {
      let first = Number.POSITIVE_INFINITY;
      let last = Number.NEGATIVE_INFINITY;
      for (const e of events) {
        const t = e.event.event.occurred_at;
        if (t < first) first = t;
        if (t > last) last = t;
      }
      const signal: CustomerSignal = {
        customer_id: customerId,
        first_event_at: first,
        last_event_at: last,
        applied: events.length,
        sources: [topic],
        emitted_at: emittedAt,
      };
      const value =
        deps.serde.encodeIfCached(deps.signalsTopic, signal) ?? (await deps.serde.encode(deps.signalsTopic, signal));
      signals.push({ key: customerId, value });
    }
    await deps.producer.send(deps.signalsTopic, signals);
    deps.metrics?.recordsOut.inc({ topic: deps.signalsTopic }, signals.length);
  }

  async function advanceWatermark(topic: string, partition: number, at: number): Promise<void> {
    await deps.tierState.advanceWatermarks([{ topic, partition, at }]);
    const key = `${topic}:${partition}`;
    const highest = Math.max(at, watermarks.get(key) ?? -1);
    watermarks.set(key, highest);
    deps.metrics?.watermark.set({ topic, partition: String(partition) }, highest / 1000);
  }

  /** Items of the same customer joined, their records in delivery order (offsets of the batch's partition). */
  function oneItemPerCustomer(
    items: Array<{ customerId: string; events: PendingEvent[] }>,
  ): Array<{ customerId: string; events: PendingEvent[] }> {
    const byId = new Map<string, { customerId: string; events: PendingEvent[] }>();
    const joined = new Set<string>();
    for (const it of items) {
      const same = byId.get(it.customerId);
      if (!same) byId.set(it.customerId, it);
      else {
        byId.set(it.customerId, { customerId: it.customerId, events: [...same.events, ...it.events] });
        joined.add(it.customerId);
      }
    }
    if (joined.size === 0) return items;
    for (const id of joined) byId.get(id)!.events.sort((a, b) => compareOffsets(a.offset, b.offset));
    return [...byId.values()];
  }

  /**
   * Customers the apply script found merged (merged between routing and the write: nothing was applied to them):
   * their records go to their roots now (rerouteMoved), again until none moves (each round follows a merge that
   * happened meanwhile). Returns the items to schedule and signal: the applied ones and the roots.
   */
  async function applyMoved(
    items: Array<{ customerId: string; events: PendingEvent[] }>,
    applied: Map<string, ApplyResult>,
    retentionDays: number,
    topic: string,
    via: Map<PendingEvent, string>,
  ): Promise<Array<{ customerId: string; events: PendingEvent[] }>> {
    const kept: typeof items = [];
    let last = items;
    let results = applied;
    for (let round = 0; deps.identity && round < 10; round++) {
      // Of the items of the last apply: the applied ones stay, the moved ones are routed again.
      const moved = new Map<string, PendingEvent[]>();
      for (const it of last) {
        if (results.get(it.customerId)?.moved)
          moved.set(it.customerId, [...(moved.get(it.customerId) ?? []), ...it.events]);
        else kept.push(it);
      }
      if (moved.size === 0) return kept;
      last = [...(await rerouteMoved(moved, deps.identity, via, mergedIds))].map(([customerId, events]) => ({
        customerId,
        events,
      }));
      deps.logger.info(
        { moved: [...moved.keys()], to: last.map((a) => a.customerId) },
        'events of merged customers routed again',
      );
      results = last.length > 0 ? await deps.aggregates.applyBatch(tagged(last, via), { retentionDays }) : new Map();
      reportMoneyAnomalies(results, deps, topic);
    }
    if (!deps.identity) return items;
    throw new Error('events of merged customers: still moving after 10 rounds');
  }

  /** The items as applied: records routed from another id carry their tagged partition (forApply). */
  function tagged(
    items: Array<{ customerId: string; events: PendingEvent[] }>,
    via: Map<PendingEvent, string>,
  ): Array<{ customerId: string; events: PendingEvent[] }> {
    if (via.size === 0) return items;
    return items.map((it) => ({ customerId: it.customerId, events: it.events.map((r) => forApply(r, via.get(r))) }));
  }

  /** The identities partition's watermark (−∞ before any identity event): read at most once a second (a stale
   * value is lower, so the floor of held events lower: more kept, never fewer). */
  async function identityWatermark(): Promise<number> {
    const t = Date.now();
    if (identityMarkCache && t - identityMarkCache.at < 1_000) return identityMarkCache.mark;
    const mark = (await deps.tierState.readWatermarks()).get(deps.identity!.watermarkKey) ?? Number.NEGATIVE_INFINITY;
    identityMarkCache = { at: t, mark };
    return mark;
  }

  /**
   * How many days of buckets to keep behind a customer's latest event. The tier engine evaluates each signal
   * partition as of a day after its closed day, with windows reaching 365 days back, so no bucket after
   * (min closed day − 365) may be folded. A customer's latest event is at most today + the future skew (later events
   * are dead letters), so keeping (that day − the limit) days folds nothing the engine needs; live, this is below
   * RETENTION_DAYS and changes nothing. Until every signal partition has closed a day, nothing is folded. Without it,
   * a replay's aggregator running more than 35 days (400 − 365) of event time ahead of the engine folds the buckets
   * of days not evaluated yet, and those days are evaluated on wrong metrics.
   */
  async function retentionForEngine(): Promise<number> {
    // Closed days only grow, so a value up to a second old keeps more than needed, never less: one read per second.
    const t = Date.now();
    if (retentionCache && t - retentionCache.at < 1_000) return retentionCache.days;
    const days = await readRetentionForEngine();
    retentionCache = { at: t, days };
    return days;
  }

  async function readRetentionForEngine(): Promise<number> {
    const metas = await Promise.all(
      Array.from({ length: deps.signalPartitions }, (_, p) => deps.tierState.getPartitionMeta(p)),
    );
    let minClosed = Number.POSITIVE_INFINITY;
    for (const m of metas) {
      if (m.closed_day === undefined) return KEEP_ALL_DAYS;
      minClosed = Math.min(minClosed, Number(m.closed_day));
    }
    if (!Number.isFinite(minClosed)) return KEEP_ALL_DAYS;
    const latestPossibleDay = dayOf(now() + deps.validation.maxFutureSkewMs) + 1;
    return latestPossibleDay - (minClosed - 365);
  }

  /**
   * An event record decoded and validated without a promise: the validation result itself (no wrapper per record);
   * undefined for a control record, a tombstone or a writer schema not cached yet (then classify).
   */
  function classifySync(record: ConsumedRecord, opts: DecodeValidateOptions): ValidationResult | undefined {
    if (record.headers[CONTROL_HEADER] !== undefined || record.value === null) return undefined;
    return decodeAndValidateIfCached(deps.serde, contractOf(record.topic), record.value, opts);
  }

  async function classify(record: ConsumedRecord): Promise<Classified> {
    const control = record.headers[CONTROL_HEADER];
    if (control !== undefined) {
      const at = Number(record.value?.toString('utf8'));
      if (control === 'watermark' && Number.isSafeInteger(at)) return { kind: 'control', at };
      return {
        kind: 'dead',
        reason: 'INVALID_CONTROL',
        message: `control record ${control} with value ${record.value?.toString('utf8')}`,
      };
    }
    if (record.value === null)
      return { kind: 'dead', reason: 'UNDECODABLE', message: 'record has no value (tombstone)' };
    const result = await decodeAndValidate(deps.serde, contractOf(record.topic), record.value, {
      now: now(),
      maxFutureSkewMs: deps.validation.maxFutureSkewMs,
      maxMessageBytes: deps.validation.maxMessageBytes,
    });
    return result.ok
      ? { kind: 'event', event: result.event }
      : { kind: 'dead', reason: result.reason, message: result.message };
  }
}
