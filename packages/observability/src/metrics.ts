import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/**
 * The metrics every tierstream service exposes on /metrics. One registry per process; names are stable
 * (docs/operations.md lists the alerts built on them).
 */
export function createMetrics(service: string) {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  const latencyBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
  return {
    registry,
    recordsIn: new Counter({
      name: 'tierstream_records_in_total',
      help: 'Kafka records consumed',
      labelNames: ['topic'],
      registers: [registry],
    }),
    recordsOut: new Counter({
      name: 'tierstream_records_out_total',
      help: 'Kafka records produced',
      labelNames: ['topic'],
      registers: [registry],
    }),
    dlq: new Counter({
      name: 'tierstream_dlq_total',
      help: 'Records sent to a dead-letter topic, by reason',
      labelNames: ['topic', 'reason'],
      registers: [registry],
    }),
    batchDuration: new Histogram({
      name: 'tierstream_batch_duration_seconds',
      help: 'Time to process one consumed batch, effect and commit included',
      labelNames: ['topic'],
      buckets: latencyBuckets,
      registers: [registry],
    }),
    consumerLag: new Gauge({
      name: 'tierstream_consumer_lag',
      help: 'High watermark minus the next offset to process, per partition (at every batch attempt, failed ones too)',
      labelNames: ['topic', 'partition'],
      registers: [registry],
    }),
    batchFailures: new Counter({
      name: 'tierstream_batch_failures_total',
      help: 'Batch attempts that failed (handler or commit threw); the batch is fetched and tried again',
      labelNames: ['group', 'topic'],
      registers: [registry],
    }),
    batchRetries: new Counter({
      name: 'tierstream_batch_retries_total',
      help: 'Batch attempts on a partition whose previous attempt failed',
      labelNames: ['group', 'topic'],
      registers: [registry],
    }),
    partitionRetrying: new Gauge({
      name: 'tierstream_partition_retrying',
      help: '1 while the last batch attempt on the partition failed (stuck retrying), else 0',
      labelNames: ['group', 'topic', 'partition'],
      registers: [registry],
    }),
    consumerCrashes: new Counter({
      name: 'tierstream_consumer_crashes_total',
      help: 'Consumer crashes (retries of a failing batch exhausted, or a broker error); restarted unless fatal',
      labelNames: ['group'],
      registers: [registry],
    }),
    watermark: new Gauge({
      name: 'tierstream_watermark_seconds',
      help: 'Event-time watermark per input partition (unix seconds): every event up to it was applied',
      labelNames: ['topic', 'partition'],
      registers: [registry],
    }),
    lastClosedDay: new Gauge({
      name: 'tierstream_last_closed_day_seconds',
      help: 'Start (00:00 UTC, unix seconds) of the last day the tier engine closed, per signals partition it owns',
      labelNames: ['partition'],
      registers: [registry],
    }),
    stuckSeconds: new Gauge({
      name: 'tierstream_engine_stuck_seconds',
      help: 'Seconds a partition has had a day due to close that it could not close (0 when not stuck)',
      labelNames: ['partition'],
      registers: [registry],
    }),
    barrierWaiting: new Gauge({
      name: 'tierstream_cutpoint_barrier_waiting',
      help: '1 while the partition waits at the cut-point barrier for the other partitions, else 0',
      labelNames: ['partition'],
      registers: [registry],
    }),
    barrierDay: new Gauge({
      name: 'tierstream_cutpoint_barrier_day_seconds',
      help: 'Cut-point day (00:00 UTC, unix seconds) the partition waits for at the barrier; 0 when not waiting',
      labelNames: ['partition'],
      registers: [registry],
    }),
    barrierMissing: new Gauge({
      name: 'tierstream_cutpoint_barrier_missing',
      help: '1 for each signals partition whose population part the barrier this instance waits at still lacks',
      labelNames: ['partition'],
      registers: [registry],
    }),
    redisLatency: new Histogram({
      name: 'tierstream_redis_call_seconds',
      help: 'Latency of Redis round trips (pipelines count once)',
      labelNames: ['op'],
      buckets: latencyBuckets,
      registers: [registry],
    }),
    clickhouseLatency: new Histogram({
      name: 'tierstream_clickhouse_call_seconds',
      help: 'Latency of ClickHouse inserts',
      labelNames: ['table'],
      buckets: latencyBuckets,
      registers: [registry],
    }),
    transitions: new Counter({
      name: 'tierstream_transitions_total',
      help: 'Tier transitions produced',
      labelNames: ['dimension', 'direction'],
      registers: [registry],
    }),
    sweeperDue: new Gauge({
      name: 'tierstream_sweeper_due',
      help: 'Customers due for a time-driven evaluation at the last sweep',
      labelNames: ['partition'],
      registers: [registry],
    }),
    sweeperEvaluated: new Counter({
      name: 'tierstream_sweeper_evaluated_total',
      help: 'Customers evaluated by the time-driven sweeper',
      registers: [registry],
    }),
    cutpointRechecks: new Counter({
      name: 'tierstream_cutpoint_rechecks_total',
      help: 'Customers re-evaluated because population cut points moved (between an old and a new cut)',
      registers: [registry],
    }),
    cutpointRecheckChanges: new Counter({
      name: 'tierstream_cutpoint_recheck_changes_total',
      help: 'Customers re-evaluated after a cut-point recompute whose tier state changed in that evaluation',
      registers: [registry],
    }),
    refundExcess: new Counter({
      name: 'tierstream_refund_excess_minor_total',
      help: 'Minor units (reporting currency) refunded beyond their order amount; capped, no revenue effect',
      registers: [registry],
    }),
    expiredReversals: new Counter({
      name: 'tierstream_expired_reversals_total',
      help: 'Refunds and cancellations of orders older than the kept order states; no revenue effect',
      registers: [registry],
    }),
    bufferedRows: new Gauge({
      name: 'tierstream_buffered_rows',
      help: 'Rows buffered in memory waiting for a ClickHouse insert',
      labelNames: ['table'],
      registers: [registry],
    }),
  };
}

export type ServiceMetrics = ReturnType<typeof createMetrics>;

/** Times an async call into a histogram; the histogram is optional so pure code paths can skip it. */
export async function timed<T>(
  histogram: Histogram<string> | undefined,
  labels: Record<string, string>,
  fn: () => Promise<T>,
): Promise<T> {
  if (!histogram) return fn();
  const end = histogram.startTimer(labels);
  try {
    return await fn();
  } finally {
    end();
  }
}
