import { IdentityStore } from '@tierstream/aggregates';
import { formatTable } from '@tierstream/warehouse';
import type { Command } from 'commander';
import type { Clients } from '../clients';
import { type IdentityView, identityView } from '../ops/identity';
import { print, printJson } from './args';

/** `identity show <id>`: the identity graph around an id (design-decisions §22). */
export function registerIdentityCommands(program: Command, clients: Clients): void {
  const identity = program.command('identity').description('the identity graph: aliases and merges of customer ids');
  identity
    .command('show')
    .argument('<id>', 'customer id (or, with --anonymous, an anonymous id)')
    .option('--anonymous', 'the id is an anonymous id (web events without customer_id)')
    .option('--json', 'print JSON')
    .description('survivor, merged ids and aliases of a customer id; alias and held events of an anonymous id')
    .action(async (id: string, o: { anonymous?: boolean; json?: boolean }) => {
      const store = new IdentityStore(clients.redis, { prefix: clients.redisPrefix });
      const view = await identityView(store, id, { anonymous: o.anonymous });
      if (o.json) printJson(view);
      else print(renderIdentityView(view));
    });
}

/** The text form of an identity view. */
export function renderIdentityView(v: IdentityView): string {
  if (v.kind === 'anonymous') {
    const alias = v.alias
      ? `aliased to ${v.alias.customer_id} at ${v.alias.at} (event ${v.alias.event_id}); counts for ${v.survivor}`
      : 'no alias yet';
    return `anonymous id ${v.id}: ${alias}; ${v.held_events ?? 0} events held`;
  }
  const out = [
    v.merged_into
      ? `customer ${v.id}: merged into ${v.merged_into.customer_id} at ${v.merged_into.at} (event ${v.merged_into.merge_id}); survivor ${v.survivor}`
      : `customer ${v.id}: survivor ${v.survivor}`,
  ];
  out.push(v.merged_ids.length === 0 ? 'merged ids: none' : `merged ids:\n${formatTable(v.merged_ids)}`);
  out.push(v.aliases.length === 0 ? 'aliases: none' : `aliases:\n${formatTable(v.aliases)}`);
  return out.join('\n');
}
