import type { ServiceMetrics } from '@tierstream/observability';
import { Counter, Gauge, Histogram } from 'prom-client';

/** Per-destination delivery metrics (docs/operations.md §10), registered on the service's registry. */
export function createDeliveryMetrics(registry: ServiceMetrics['registry']) {
  return {
    delivered: new Counter({
      name: 'tierstream_destination_delivered_total',
      help: 'Items delivered to a destination (2xx; for crm-upsert, records written)',
      labelNames: ['destination'],
      registers: [registry],
    }),
    retried: new Counter({
      name: 'tierstream_destination_retries_total',
      help: 'Delivery attempts that failed retriably (network error, timeout, 408, 429, 5xx) and are retried',
      labelNames: ['destination'],
      registers: [registry],
    }),
    deadLettered: new Counter({
      name: 'tierstream_destination_dead_letters_total',
      help: 'Items sent to the destination dead-letter topic, by reason',
      labelNames: ['destination', 'reason'],
      registers: [registry],
    }),
    latency: new Histogram({
      name: 'tierstream_destination_request_seconds',
      help: 'Latency of delivery requests that succeeded (one HTTP request)',
      labelNames: ['destination'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    lag: new Gauge({
      name: 'tierstream_destination_lag',
      help: 'Records of the input topic not yet delivered or dead-lettered, per destination and partition',
      labelNames: ['destination', 'partition'],
      registers: [registry],
    }),
    parked: new Gauge({
      name: 'tierstream_destination_parked_customers',
      help: 'Customers of a webhook destination with items parked for a retry (docs/destinations.md, Parking)',
      labelNames: ['destination'],
      registers: [registry],
    }),
    breaker: new Gauge({
      name: 'tierstream_destination_breaker_state',
      help: 'Circuit breaker of a destination: 0 closed, 1 half-open (probing), 2 open (paused)',
      labelNames: ['destination'],
      registers: [registry],
    }),
  };
}

export type DeliveryMetrics = ReturnType<typeof createDeliveryMetrics>;
