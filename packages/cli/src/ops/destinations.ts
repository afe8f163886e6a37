import path from 'node:path';
import { loadConfig } from '@tierstream/config';
import {
  type Destination,
  DestinationFileError,
  describeDestination,
  destinationDlqTopic,
  destinationFiles,
  loadDestinationFile,
  processSecrets,
  type SecretSource,
  type WebhookDestination,
  webhookPayload,
} from '@tierstream/destinations';
import {
  agentFor,
  type DestinationsConfig,
  deliverWebhook,
  destinationsConfigSchema,
} from '@tierstream/service-destinations';
import type { Admin } from 'kafkajs';
import { groupLag } from '../pipeline';

/** The destinations service's settings (same schema and environment as the service: DESTINATIONS_DIR, …). */
export function destinationsSettings(env: NodeJS.ProcessEnv = process.env): DestinationsConfig {
  return loadConfig(destinationsConfigSchema, env);
}

/** One destination file: the destination, or the one-line problem that stops the service. */
export type DestinationEntry = { file: string; destination: Destination } | { file: string; error: string };

/** Every `*.yaml` of `dir`, each parsed and validated like the service does (secrets resolved, never returned). */
export function readDestinationFiles(dir: string, secrets: SecretSource = processSecrets): DestinationEntry[] {
  return destinationFiles(dir).map((file) => {
    try {
      return { file, destination: loadDestinationFile(file, secrets) };
    } catch (err) {
      if (err instanceof DestinationFileError) return { file, error: err.message };
      return { file, error: `${file}: ${(err as Error).message}` };
    }
  });
}

/** The destination called `name` in `dir`; throws naming the problem (no such file, invalid file). */
export function destinationNamed(dir: string, name: string): Destination {
  const entries = readDestinationFiles(dir);
  const entry = entries.find((e) => path.basename(e.file).replace(/\.ya?ml$/, '') === name);
  if (!entry) {
    const names = entries.map((e) => path.basename(e.file).replace(/\.ya?ml$/, ''));
    throw new Error(`no destination ${name} in ${dir} (there: ${names.join(', ') || 'none'})`);
  }
  if ('error' in entry) throw new Error(entry.error);
  return entry.destination;
}

/** The rows of `tierctl destinations list` (no secrets). */
export function listDestinations(dir: string): Array<Record<string, unknown>> {
  return readDestinationFiles(dir).map((e) =>
    'error' in e
      ? { name: path.basename(e.file), kind: '-', enabled: false, target: '-', error: e.error }
      : describeDestination(e.destination),
  );
}

/** A transition that exists nowhere: what `destinations test` sends (customer `tierctl-test`). */
export function testTransition(nowMs: number) {
  return {
    transition_id: `tierctl-test-${nowMs}`,
    customer_id: 'tierctl-test',
    dimension: 'value',
    from_tier: 'GOLD',
    to_tier: 'PLATINUM',
    direction: 'UP' as const,
    reason: 'TEST',
    rule_id: 'tierctl.test',
    rules_version: 'test',
    cutpoints_version: 'test',
    metrics: { revenue_365d: 0 },
    occurred_at: nowMs,
    evaluated_at: nowMs,
  };
}

/**
 * Sends one signed test transition to a webhook destination (one attempt, no retry) and says how it went:
 * `{ ok, status?, ms, error? }`. Throws for a crm-upsert destination (a test record would be written to the CRM).
 */
export async function testDestination(
  dest: Destination,
): Promise<{ ok: boolean; status?: number; ms: number; idempotencyKey: string; error?: string }> {
  if (dest.kind !== 'webhook') {
    throw new Error(`destinations test sends to webhooks only (${dest.name} is ${dest.kind}: use replay to re-send)`);
  }
  const t = testTransition(Date.now());
  const agent = agentFor(1, dest.delivery.timeout_ms);
  const started = Date.now();
  try {
    const err = await deliverWebhook(
      dest as WebhookDestination,
      agent,
      t.transition_id,
      JSON.stringify(webhookPayload(dest.name, t)),
      1,
    );
    const ms = Date.now() - started;
    if (err === null) return { ok: true, ms, idempotencyKey: t.transition_id };
    return {
      ok: false,
      status: err.status,
      ms,
      idempotencyKey: t.transition_id,
      error: `${err.message} ${err.bodyExcerpt}`.trim(),
    };
  } finally {
    await agent.close();
  }
}

/** The consumer group and input topic of a destination. */
export function groupOf(settings: DestinationsConfig, dest: Destination): { group: string; topic: string } {
  return {
    group: `${settings.DESTINATIONS_GROUP_PREFIX}.${dest.name}`,
    topic: dest.kind === 'webhook' ? settings.TRANSITIONS_TOPIC : settings.CHANGES_TOPIC,
  };
}

/** Records in a topic (sum over partitions of high − low); 0 when it does not exist. */
async function topicSize(admin: Admin, topic: string): Promise<number> {
  try {
    const ends = await admin.fetchTopicOffsets(topic);
    return ends.reduce((n, p) => n + Number(BigInt(p.high) - BigInt(p.low)), 0);
  } catch {
    return 0;
  }
}

/** `tierctl destinations status`: per destination its group, state, members, lag and dead letters. */
export async function destinationsStatus(
  admin: Admin,
  settings: DestinationsConfig,
  dests: Destination[],
): Promise<
  Array<{
    name: string;
    kind: string;
    group: string;
    state: string;
    members: number;
    lag: number;
    dead_letters: number;
  }>
> {
  const rows = [];
  for (const d of dests) {
    const { group, topic } = groupOf(settings, d);
    const described = await admin.describeGroups([group]);
    const g = described.groups[0];
    rows.push({
      name: d.name,
      kind: d.kind,
      group,
      state: g?.state ?? 'Unknown',
      members: g?.members.length ?? 0,
      lag: await groupLag(admin, group, [topic]),
      dead_letters: await topicSize(admin, destinationDlqTopic(d.name)),
    });
  }
  return rows;
}

/**
 * `tierctl destinations replay <name> --from <instant>`: moves the destination's consumer group back to the first
 * offset at or after `fromMs` on every partition of its input topic, so everything since is delivered again (same
 * Idempotency-Keys). Kafka refuses while the group has members: stop the service (or drop the destination from
 * DESTINATIONS_ONLY) first. Returns the new offsets.
 */
export async function replayDestination(
  admin: Admin,
  settings: DestinationsConfig,
  dest: Destination,
  fromMs: number,
): Promise<Array<{ topic: string; partition: number; offset: string }>> {
  const { group, topic } = groupOf(settings, dest);
  const described = await admin.describeGroups([group]);
  const members = described.groups[0]?.members.length ?? 0;
  if (members > 0) {
    throw new Error(`group ${group} has ${members} running member(s): stop the destinations service, then replay`);
  }
  const offsets = await admin.fetchTopicOffsetsByTimestamp(topic, fromMs);
  await admin.setOffsets({
    groupId: group,
    topic,
    partitions: offsets.map((p) => ({ partition: p.partition, offset: p.offset })),
  });
  return offsets.map((p) => ({ topic, partition: p.partition, offset: p.offset }));
}
