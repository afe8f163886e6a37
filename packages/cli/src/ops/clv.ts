/**
 * Operations behind `tierctl clv` (issue 15): the stored CLV model versions, a fit on demand on the population of
 * the last closed day, and the calibration/holdout validation of a CDNOW file. They return data; the command prints.
 */
import { readFileSync } from 'node:fs';
import { type AggregateConfig, AggregateStore } from '@tierstream/aggregates';
import {
  type CustomerHistory,
  dayNumber,
  type PurchaseDay,
  runValidation,
  type ValidationReport,
  type ValidationSplit,
} from '@tierstream/clv';
import { parseCdnow } from '@tierstream/generator';
import { type ClvFitOutcome, type ClvModel, type ClvSettings, fitClvModel, type Metrics } from '@tierstream/tiering';
import { ClvModelStore, TierStateStore } from '@tierstream/tierstate';
import type { Clients } from '../clients';

/** The stored versions, oldest first, and the newest. */
export async function clvModels(clients: Clients): Promise<{ latest: ClvModel | null; history: ClvModel[] }> {
  const store = new ClvModelStore(clients.redis, clients.redisPrefix);
  return { latest: await store.latest(), history: await store.history() };
}

/** Number of partitions of the signals topic (the engine's partitions). */
async function enginePartitions(clients: Clients): Promise<number> {
  const meta = await (await clients.admin()).fetchTopicMetadata({ topics: [clients.signalsTopic] });
  return meta.topics[0]?.partitions.length ?? 0;
}

export interface ClvFitOnDemand {
  /** The day measured: the last day every engine partition closed (null: none closed yet, nothing fitted). */
  day: number | null;
  population: number;
  outcome: ClvFitOutcome | null;
  /** Whether the fit was stored: false without --store, when the fit gave no model, or when its version exists. */
  stored: boolean;
}

/**
 * Fits the model now on every customer's CLV inputs as of the last day the engine closed on all partitions (as the
 * engine would at that day's close) and, with `store`, stores it as that day's version (`clv-<day>`; engines pick it
 * up at their next cut-point day, lease take-over or start) unless a version of that day exists (never replaced).
 * Reads the aggregates of every customer with a tier state.
 */
export async function fitClvOnDemand(
  clients: Clients,
  opts: {
    settings: Pick<ClvSettings, 'timeUnit' | 'margin' | 'monthlyDiscount'>;
    store: boolean;
    aggregateConfig: AggregateConfig;
  },
): Promise<ClvFitOnDemand> {
  const tierState = new TierStateStore(clients.redis, clients.redisPrefix);
  const aggregates = new AggregateStore(clients.redis, { prefix: clients.redisPrefix, config: opts.aggregateConfig });
  await aggregates.init();
  const partitions = await enginePartitions(clients);
  const closed: number[] = [];
  for (let p = 0; p < partitions; p++) {
    const d = (await tierState.getPartitionMeta(p)).closed_day;
    if (d !== undefined) closed.push(Number(d));
  }
  if (closed.length === 0 || closed.length < partitions)
    return { day: null, population: 0, outcome: null, stored: false };
  const day = Math.min(...closed);
  const population: Metrics[] = [];
  for (let p = 0; p < partitions; p++) {
    for (const m of await aggregates.partitionPopulationAsOf(tierState, p, day)) population.push(m);
  }
  const outcome = fitClvModel(population, day, opts.settings, Date.now());
  // Never replaces a version (e.g. the engine's fit of that day): engines keep the versions they loaded.
  const stored =
    opts.store &&
    outcome.ok &&
    (await new ClvModelStore(clients.redis, clients.redisPrefix).setIfAbsent(outcome.model));
  return { day, population: population.length, outcome, stored };
}

/** The FHL 2005 CDNOW split: calibration 1997-01-01 … 1997-09-30 (weeks 1–39), holdout to 1998-06-30 (week 78). */
export const CDNOW_SPLIT: ValidationSplit = {
  startDay: dayNumber('1997-01-01'),
  calibrationEndDay: dayNumber('1997-09-30'),
  holdoutEndDay: dayNumber('1998-06-30'),
  daysPerUnit: 7,
};

/** The customers of a CDNOW file (master or sample format) as purchase histories, amounts in cents. */
export function cdnowHistories(file: string): CustomerHistory[] {
  const byCustomer = new Map<string, PurchaseDay[]>();
  for (const e of parseCdnow(readFileSync(file, 'utf8'), file)) {
    const list = byCustomer.get(e.customer_id) ?? [];
    list.push({ day: dayNumber(e.occurred_at), amountMinor: e.amount_minor });
    byCustomer.set(e.customer_id, list);
  }
  return [...byCustomer.entries()].map(([id, purchases]) => ({ id, purchases }));
}

/**
 * The calibration/holdout check of Fader, Hardie & Lee (2005) §4 on a CDNOW file: BG/NBD and Gamma-Gamma fits on the
 * calibration period, the weekly tracking of cumulative repeat transactions, the conditional expectations by x.
 * @throws Error for an unreadable or malformed file, or a file without a purchase in the calibration period.
 */
export function validateCdnowFile(file: string, split: ValidationSplit = CDNOW_SPLIT): ValidationReport {
  return runValidation(cdnowHistories(file), split);
}
