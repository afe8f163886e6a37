import { formatTable } from '@tierstream/warehouse';
import type { Command } from 'commander';
import type { Clients } from '../clients';
import { type CustomerView, customerView } from '../ops/customer-view';
import { parseInstant, print, printJson } from './args';

/** `customer <id>`: a customer's tiers (current, or as of an instant from history), metrics and pending demotions. */
export function registerCustomerCommand(program: Command, clients: Clients): void {
  program
    .command('customer')
    .argument('<id>', 'customer id')
    .option(
      '--as-of <instant>',
      'tiers as of this instant from the warehouse history (tier_history), metrics as of the same day ' +
        '(default: now: the current tiers from the tier state and metrics as of now)',
      parseInstant,
    )
    .option('--json', 'print JSON')
    .description("a customer's tiers, pending demotions (held by grace) and aggregates (RFM, engagement, service)")
    .action(async (id: string, o: { asOf?: number; json?: boolean }) => {
      const view = await customerView(clients, id, {
        asOf: o.asOf,
        aggregateConfig: clients.aggregateConfig,
        rulesFile: clients.config.RULES_FILE,
      });
      if (o.json) printJson(view);
      else print(renderCustomerView(view));
    });
}

/** The text form of a customer view: a header, one row per dimension (with pending demotions), the metrics. */
export function renderCustomerView(view: CustomerView): string {
  const out: string[] = [];
  const source =
    view.tiers_source === 'tier_history'
      ? `tiers from tier_history (in effect since ${view.tiers_from ?? '-'})`
      : `current tiers (last evaluated ${view.tiers_from ?? '-'})`;
  out.push(`customer ${view.customer_id} as of ${view.as_of}: ${source}`);
  if (view.tiers) {
    out.push(
      formatTable(
        Object.entries(view.tiers).map(([dimension, tier]) => {
          const p = view.pending?.[dimension];
          return {
            dimension,
            tier,
            ...(view.decided_by ? { decided_by: view.decided_by[dimension] ?? '' } : {}),
            pending: p ? `→ ${p.tier} since ${p.since_day} until ${p.until_day ?? '?'}` : '',
          };
        }),
      ),
    );
  }
  for (const note of view.notes) out.push(`note: ${note}`);
  if (view.metrics) {
    out.push(`metrics as of ${view.day} (from ${view.metrics_source})`);
    out.push(
      formatTable(
        Object.entries(view.metrics)
          .filter(([, v]) => v !== null && v !== 0)
          .map(([metric, value]) => ({ metric, value })),
      ),
    );
  }
  return out.join('\n');
}
