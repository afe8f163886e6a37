import { isoDay, TierStateStore } from '@tierstream/tierstate';
import { formatTable } from '@tierstream/warehouse';
import type { Command } from 'commander';
import type { Clients } from '../clients';
import { stackStatus } from '../ops/status';
import { print, printJson } from './args';
/** `status` (health, lag, dead letters) and `cutpoints`. */
export function registerStatusCommands(program: Command, clients: Clients): void {
  program
    .command('status')
    .option('--json', 'print JSON')
    .description('stack health, consumer lag per group and partition, dead-letter counts')
    .action(async (o: { json?: boolean }) => {
      const { health, lag, dlq: dlqSizes, redis_requirements: redisFindings } = await stackStatus(clients);
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
