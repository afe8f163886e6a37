import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import kafkajs, { type Admin } from 'kafkajs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

// kafkajs is CommonJS: its enums are only reachable through the default export under Node's ESM loader.
const { ConfigResourceTypes } = kafkajs;

/** infra/kafka/topics.yaml at the repository root. */
export const DEFAULT_TOPICS_FILE = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../../infra/kafka/topics.yaml',
);

export interface TopicSpec {
  name: string;
  partitions: number;
  replicationFactor: number;
  /** Topic-level configs (Kafka names, string values), e.g. `cleanup.policy`, `retention.ms`. */
  config: Record<string, string>;
}

export interface TopicsSpec {
  topics: TopicSpec[];
}

const topicName = z
  .string()
  .regex(/^[a-zA-Z0-9._-]{1,249}$/, 'topic names use only letters, digits, ".", "_" and "-" (at most 249)');
const configValue = z.union([z.string(), z.number(), z.boolean()]).transform((v) => String(v));
const msValue = z
  .union([z.string(), z.number()])
  .transform((v) => String(v))
  .refine((v) => /^(-1|\d+)$/.test(v), 'must be milliseconds (a non-negative integer, or -1 for unlimited)');

const topicConfig = z
  .object({
    'cleanup.policy': z.enum(['delete', 'compact', 'compact,delete', 'delete,compact']),
    'retention.ms': msValue,
  })
  .catchall(configValue);

const fileSchema = z
  .object({
    defaults: z
      .object({
        partitions: z.int().min(1).optional(),
        replication_factor: z.int().min(1).optional(),
      })
      .strict()
      .default({}),
    topics: z
      .array(
        z
          .object({
            name: topicName,
            partitions: z.int().min(1).optional(),
            replication_factor: z.int().min(1).optional(),
            config: topicConfig,
          })
          .strict(),
      )
      .min(1),
  })
  .strict();

/** Parses and validates a topics file (YAML text). Throws with every problem listed, prefixed by `source`. */
export function parseTopicsSpec(text: string, source = 'topics.yaml'): TopicsSpec {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw new Error(`${source}: invalid YAML: ${(err as Error).message}`);
  }
  const parsed = fileSchema.safeParse(raw);
  if (!parsed.success) throw new Error(`${source}: invalid topics spec:\n${z.prettifyError(parsed.error)}`);
  const { defaults, topics } = parsed.data;
  const seen = new Set<string>();
  const out: TopicSpec[] = [];
  for (const t of topics) {
    if (seen.has(t.name)) throw new Error(`${source}: topic ${t.name} is defined twice`);
    seen.add(t.name);
    const partitions = t.partitions ?? defaults.partitions;
    const replicationFactor = t.replication_factor ?? defaults.replication_factor;
    if (partitions === undefined) throw new Error(`${source}: topic ${t.name} has no partitions (and no default)`);
    if (replicationFactor === undefined) {
      throw new Error(`${source}: topic ${t.name} has no replication_factor (and no default)`);
    }
    const config: Record<string, string> = {};
    for (const [k, v] of Object.entries(t.config)) config[k] = String(v);
    // Kafka reports the combined policy as "compact,delete"; normalise so drift detection compares like with like.
    if (config['cleanup.policy'] === 'delete,compact') config['cleanup.policy'] = 'compact,delete';
    out.push({ name: t.name, partitions, replicationFactor, config });
  }
  return { topics: out };
}

export function loadTopicsSpec(file: string = DEFAULT_TOPICS_FILE): TopicsSpec {
  return parseTopicsSpec(readFileSync(file, 'utf8'), file);
}

export interface ApplyTopicsResult {
  created: string[];
  unchanged: string[];
  updated: string[];
}

/**
 * Makes the cluster match the spec, idempotently: creates missing topics, raises partition counts that are lower
 * than specified, and rewrites topic configs that drifted. Never deletes a topic and never lowers a partition
 * count (Kafka cannot); a topic with more partitions than specified is left as is.
 * Note: kafkajs' alterConfigs is the non-incremental AlterConfigs API, so it sets exactly the spec's configs and
 * resets any other topic-level override to the broker default. The spec is the source of truth.
 */
export async function applyTopics(admin: Admin, spec: TopicsSpec): Promise<ApplyTopicsResult> {
  const result: ApplyTopicsResult = { created: [], unchanged: [], updated: [] };
  const existing = new Set(await admin.listTopics());
  const missing = spec.topics.filter((t) => !existing.has(t.name));
  const present = spec.topics.filter((t) => existing.has(t.name));

  if (missing.length > 0) {
    await admin.createTopics({
      waitForLeaders: true,
      topics: missing.map((t) => ({
        topic: t.name,
        numPartitions: t.partitions,
        replicationFactor: t.replicationFactor,
        configEntries: Object.entries(t.config).map(([name, value]) => ({ name, value })),
      })),
    });
    result.created.push(...missing.map((t) => t.name));
  }
  if (present.length === 0) return result;

  const metadata = await admin.fetchTopicMetadata({ topics: present.map((t) => t.name) });
  const partitionCount = new Map(metadata.topics.map((t) => [t.name, t.partitions.length]));
  const described = await admin.describeConfigs({
    includeSynonyms: false,
    resources: present.map((t) => ({
      type: ConfigResourceTypes.TOPIC,
      name: t.name,
      configNames: Object.keys(t.config),
    })),
  });
  const actualConfig = new Map<string, Map<string, string>>();
  for (const r of described.resources) {
    if (r.errorCode !== 0) throw new Error(`describeConfigs for topic ${r.resourceName} failed: ${r.errorMessage}`);
    actualConfig.set(r.resourceName, new Map(r.configEntries.map((e) => [e.configName, e.configValue])));
  }

  const toGrow = present.filter((t) => (partitionCount.get(t.name) ?? 0) < t.partitions);
  if (toGrow.length > 0) {
    await admin.createPartitions({ topicPartitions: toGrow.map((t) => ({ topic: t.name, count: t.partitions })) });
  }
  const drifted = present.filter((t) => {
    const actual = actualConfig.get(t.name);
    return Object.entries(t.config).some(([k, v]) => actual?.get(k) !== v);
  });
  if (drifted.length > 0) {
    await admin.alterConfigs({
      validateOnly: false,
      resources: drifted.map((t) => ({
        type: ConfigResourceTypes.TOPIC,
        name: t.name,
        configEntries: Object.entries(t.config).map(([name, value]) => ({ name, value })),
      })),
    });
  }
  const changed = new Set([...toGrow, ...drifted].map((t) => t.name));
  for (const t of present) (changed.has(t.name) ? result.updated : result.unchanged).push(t.name);
  return result;
}
