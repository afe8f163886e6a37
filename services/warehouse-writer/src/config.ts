import {
  clickhouseServiceSettings,
  env,
  erasureSettings,
  httpServiceSettings,
  kafkaServiceSettings,
  redisServiceSettings,
} from '@tierstream/config';
import { TOPICS } from '@tierstream/contracts';
import { z } from 'zod';

export const writerConfigSchema = z.object({
  ...kafkaServiceSettings,
  ...clickhouseServiceSettings,
  /** Redis: the suppression markers of erased customers (their rows are dropped), and erasures (docs/security.md). */
  ...redisServiceSettings,
  ...erasureSettings,
  /** Erasure requests, executed here once per request id under a group of their own. */
  ERASURE_REQUESTS_TOPIC: env.topic(TOPICS.erasureRequests),
  ERASURE_GROUP_ID: z.string().min(1).default('tierstream-erasure'),
  WRITER_GROUP_ID: z.string().min(1).default('tierstream-warehouse-writer'),
  CHANGES_TOPIC: z.string().min(1).default(TOPICS.changes),
  TRANSITIONS_TOPIC: z.string().min(1).default(TOPICS.transitions),
  SNAPSHOTS_TOPIC: z.string().min(1).default(TOPICS.snapshots),
  CUTPOINTS_TOPIC: z.string().min(1).default(TOPICS.cutpoints),
  /** Identity events (design-decisions §22): identity_events rows from it and from its dead-letter topic. */
  IDENTITIES_TOPIC: env.topic(TOPICS.identities),
  /** Rows per INSERT (the buffer flushes at this size) and the longest a row waits. */
  WRITER_MAX_ROWS: env.int(50_000, 1),
  WRITER_MAX_AGE_MS: env.int(1_000, 1),
  WRITER_RETRY_ATTEMPTS: env.int(8, 1),
  MAX_BYTES_PER_PARTITION: env.int(4_194_304, 1_024),
  ...httpServiceSettings(9403),
});

export type WriterConfig = z.infer<typeof writerConfigSchema>;
