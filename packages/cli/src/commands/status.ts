import { checkRedisRequirements, type RedisFinding } from '@tierstream/config';
import { isoDay, TierStateStore } from '@tierstream/tierstate';
import { clickhouseProblem, formatTable } from '@tierstream/warehouse';
import type { Command } from 'commander';
import type { Clients } from '../clients';
import { groupLagByPartition } from '../pipeline';
import { print, printJson } from './args';
/** `status` (health, lag, dead letters) and `cutpoints`. */
export function registerStatusCommands(program: Command, clients: Clients): void {
  program
    .command('status')
    .option('--json', 'print JSON')
    .description('stack health, consumer lag per group and partition, dead-letter counts')
    .action(async (o: { json?: boolean }) => {
      const health: Record<string, string> = {};
      const check = async (name: string, fn: () => Promise<unknown>) => {
        try {
          await fn();
          health[name] = 'ok';
        } catch (err) {
          health[name] = `down: ${(err as Error).message}`;
        }
      };
      await check('kafka', async () => (await clients.admin()).listTopics());
      await check('schema-registry', async () => {
        const res = await fetch(`${clients.endpoints.schemaRegistryUrl}/subjects`);
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
      });
      await check('redis', () => clients.redis.ping());
      await check('clickhouse', async () => {
        // As the configured user, in the configured database (ping() answers without credentials).
        const problem = await clickhouseProblem(clients.clickhouse, clients.endpoints.clickhouseDatabase);
        if (problem !== null) throw new Error(problem);
      });
      const lag: Array<{ group: string; topic: string; partition: number; lag: number }> = [];
      const dlqSizes: Record<string, number> = {};
      if (health.kafka === 'ok') {
        const admin = await clients.admin();
        const groupTopics: Record<string, string[]> = {
          [clients.groups.aggregator]: clients.inputTopics,
          [clients.groups.engine]: [clients.signalsTopic],
          [clients.groups.writer]: clients.outputTopics,
        };
        const existing = new Set(await admin.listTopics());
        for (const [group, topics] of Object.entries(groupTopics)) {
          const present = topics.filter((t) => existing.has(t));
          if (present.length > 0)
            for (const p of await groupLagByPartition(admin, group, present)) lag.push({ group, ...p });
        }
        for (const dlqTopic of clients.dlqTopics) {
          if (!existing.has(dlqTopic)) continue;
          const offsets = await admin.fetchTopicOffsets(dlqTopic);
          dlqSizes[dlqTopic] = offsets.reduce((n, p) => n + Number(BigInt(p.high) - BigInt(p.low)), 0);
        }
      }
      // Redis requirements (docs/operations.md): what is not as tierstream needs it, or that CONFIG GET failed.
      const redisFindings: RedisFinding[] = health.redis === 'ok' ? await checkRedisRequirements(clients.redis) : [];
      const result = {
        health,
        lag,
        dlq: dlqSizes,
        redis_requirements: redisFindings.map(({ setting, value, required, node }) => ({
          setting,
          value,
          required,
          node,
        })),
      };
      if (o.json) printJson(result);
      else {
        print(formatTable(Object.entries(health).map(([service, state]) => ({ service, state }))));
        if (lag.length > 0) print(formatTable(lag));
        print(formatTable(Object.entries(dlqSizes).map(([topic, records]) => ({ topic, records }))));
        if (health.redis === 'ok')
          print(
            redisFindings.length === 0
              ? 'redis requirements: met (maxmemory-policy noeviction, appendonly yes, appendfsync always)'
              : redisFindings.map((f) => `warning: ${f.message}`).join('\n'),
          );
      }
      if (Object.values(health).some((h) => h !== 'ok')) process.exitCode = 1;
    });

  program
    .command('cutpoints')
    .option('--json', 'print JSON')
    .description('the population cut points in force (versioned)')
    .action(async (o: { json?: boolean }) => {
      const cp = await new TierStateStore(clients.redis, clients.redisPrefix).getCutPoints();
      if (o.json || !cp) printJson(cp);
      else
        print(
          `version ${cp.version} (computed ${new Date(cp.computed_at).toISOString()})\n${formatTable(
            Object.entries(cp.cuts).map(([k, v]) => {
              const anchor = cp.anchored?.[k];
              // Anchored cuts (day-linear metrics) as the days they mean, e.g. recency: last order on or after that day.
              const asDays =
                anchor === undefined ? '' : v.map((c) => (Math.abs(c) >= 1e15 ? '—' : isoDay(anchor - c))).join(', ');
              return { scoring: k, cuts: v.join(', '), 'as a day (anchored)': asDays };
            }),
          )}`,
        );
    });
}
