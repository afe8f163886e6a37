import { AggregateStore, DEFAULT_AGGREGATE_CONFIG, metricsAt } from '@tierstream/aggregates';
import { TierStateStore } from '@tierstream/tierstate';
import { formatTable } from '@tierstream/warehouse';
import type { Command } from 'commander';
import type { Clients } from '../clients';
import { parseInstant, print, printJson } from './args';
/** `customer <id>`: a customer's aggregates and tiers. */
export function registerCustomerCommand(program: Command, clients: Clients): void {
  program
    .command('customer')
    .argument('<id>', 'customer id')
    .option(
      '--as-of <instant>',
      'metrics as of this instant (default: now, or the last event day if later)',
      parseInstant,
    )
    .option('--json', 'print JSON')
    .description("a customer's aggregates (RFM, engagement, service) and tiers")
    .action(async (id: string, o: { asOf?: number; json?: boolean }) => {
      const store = new AggregateStore(clients.redis, {
        prefix: clients.redisPrefix,
        config: DEFAULT_AGGREGATE_CONFIG,
      });
      await store.init();
      const state = await store.readState(id);
      if (!state) throw new Error(`customer ${id} has no aggregates (prefix ${clients.redisPrefix})`);
      const asOf = o.asOf ?? Date.now();
      const metrics = metricsAt(state, asOf, DEFAULT_AGGREGATE_CONFIG);
      const tierState = (await new TierStateStore(clients.redis, clients.redisPrefix).readStates([id])).get(id) ?? null;
      const result = {
        customer_id: id,
        as_of: new Date(asOf).toISOString(),
        metrics,
        tiers: tierState?.tiers ?? null,
        tier_state: tierState,
      };
      if (o.json) printJson(result);
      else {
        print(`customer ${id} as of ${result.as_of}`);
        print(
          formatTable(
            Object.entries(metrics)
              .filter(([, v]) => v !== null && v !== 0)
              .map(([metric, value]) => ({ metric, value })),
          ),
        );
        print(
          tierState
            ? formatTable(
                Object.entries(tierState.tiers).map(([dimension, tier]) => ({
                  dimension,
                  tier,
                  decided_by: tierState.decided_by[dimension] ?? '',
                })),
              )
            : 'no tiers yet',
        );
      }
    });
}
