import { decideWipe, type StackEndpoints, type WipeAction } from '@tierstream/config';
import { DLQ_TOPICS, INPUT_TOPICS, TOPICS } from '@tierstream/contracts';

/** What `resetPipelineData` (demo, bench) deletes on each store. */
export function resetActions(redisPrefix: string, database: string): WipeAction[] {
  return [
    {
      part: 'kafka',
      what: `delete and re-create topics ${[...Object.values(TOPICS), ...DLQ_TOPICS].join(', ')} and delete consumer groups tierstream-*`,
    },
    { part: 'redis', what: `delete every key under "${redisPrefix}:"` },
    { part: 'clickhouse', what: `drop database ${database}` },
  ];
}

/** What a workload feed (`tierctl gen`, `tierctl replay cdnow`) writes. */
export function feedActions(topics: readonly string[] = INPUT_TOPICS, closes = false): WipeAction[] {
  return [
    {
      part: 'kafka',
      what: `write events to ${topics.join(', ')}${closes ? ' (and watermark records that close days)' : ''}`,
    },
  ];
}

/** commander option parser of the repeatable --i-know-this-wipes <endpoint>. */
export const collectTargets = (v: string, acc: string[]): string[] => [...acc, v];

/** The option's help text (one place for tierctl, tierstream demo and the bench). */
export const I_KNOW_HELP =
  'run against an endpoint other than the local stack (loopback host on the stack port): give the exact value of ' +
  'the setting (KAFKA_BROKERS, REDIS_URL or CLICKHOUSE_URL); repeat for several';

/**
 * Refuses (one line on stderr, exit 2) a command that wipes or writes when a store it touches is not the local stack
 * and its endpoint is not in `confirmed`; otherwise prints the plan (what it deletes or writes where) on stderr.
 */
export function guardWipe(
  command: string,
  endpoints: StackEndpoints,
  actions: readonly WipeAction[],
  confirmed: readonly string[] = [],
): void {
  const decision = decideWipe(command, endpoints, actions, confirmed);
  if (decision.refusal !== null) {
    process.stderr.write(`${command}: ${decision.refusal}\n`);
    process.exit(2);
  }
  for (const line of decision.plan) process.stderr.write(`${command}: ${line}\n`);
}
