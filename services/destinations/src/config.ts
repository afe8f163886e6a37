import { env, httpServiceSettings, kafkaServiceSettings, redisServiceSettings } from '@tierstream/config';
import { TOPICS } from '@tierstream/contracts';
import { z } from 'zod';

export const destinationsConfigSchema = z.object({
  ...kafkaServiceSettings,
  /** Where webhook items waiting for a retry are parked (REDIS_URL, REDIS_PREFIX; docs/destinations.md "Parking"). */
  ...redisServiceSettings,
  /** How often each webhook destination's retry loop looks for parked items that are due (ms). Default 100. */
  PARKING_POLL_MS: env.int(100, 10, 60_000),
  /** Directory of destination files (`*.yaml`, one destination each). Default `destinations`. */
  DESTINATIONS_DIR: z.string().min(1).default('destinations'),
  /** Only these destinations (comma-separated names); default empty = every file of the directory. */
  DESTINATIONS_ONLY: env.list(''),
  /** Consumer group of destination `<name>`: `<prefix>.<name>` (each destination keeps its own offsets). */
  DESTINATIONS_GROUP_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9._-]+$/, { error: 'expected letters, digits, . _ -' })
    .default('tierstream-destinations'),
  TRANSITIONS_TOPIC: env.topic(TOPICS.transitions),
  CHANGES_TOPIC: env.topic(TOPICS.changes),
  /** Bytes fetched per partition per request (bounds the items one batch delivers). */
  MAX_BYTES_PER_PARTITION: env.int(262_144, 1_024),
  ...httpServiceSettings(9404),
});

export type DestinationsConfig = z.infer<typeof destinationsConfigSchema>;
