import { formatTable } from '@tierstream/warehouse';
import { type Command, InvalidArgumentError } from 'commander';
import type { Clients } from '../clients';
import { auditTrail } from '../ops/audit';
import { eraseCustomer, requestErasure } from '../ops/erasure';
import { parsePositiveInt, print, printJson } from './args';

const nonBlank = (what: string) => (v: string) => {
  if (v.trim() === '') throw new InvalidArgumentError(`${what} must not be empty`);
  return v;
};

/**
 * `customer erase <id> --reason <text>` (under the `customer` command registered before) and `audit`.
 * docs/security.md "Erasure" and "Audit".
 */
export function registerErasureCommands(program: Command, clients: Clients): void {
  const customer = program.commands.find((c) => c.name() === 'customer');
  if (!customer) throw new Error('register the customer command before the erasure commands');
  customer
    .command('erase')
    .argument('<id>', 'customer id')
    .requiredOption(
      '--reason <text>',
      'why (kept in the erasure log and the audit trail; no personal data)',
      nonBlank('--reason'),
    )
    .option(
      '--request-id <id>',
      'idempotence key: a request id already executed is skipped (default: a new UUID)',
      nonBlank('--request-id'),
    )
    .option(
      '--no-suppress',
      'do not drop later events of this id (by default they are dropped for ERASURE_SUPPRESS_DAYS)',
    )
    .option(
      '--suppress-days <n>',
      'drop later events of this id for n days (default: ERASURE_SUPPRESS_DAYS)',
      parsePositiveInt,
    )
    .option('--via-topic', 'send the request to ERASURE_REQUESTS_TOPIC for the warehouse writer to execute, and return')
    .option('--json', 'print JSON')
    .description(
      'erase a customer: its Redis state, warehouse rows and compacted-topic keys; later events of the id are dropped while suppressed (transitions already delivered to destinations are not recalled)',
    )
    .action(
      async (
        id: string,
        o: {
          reason: string;
          requestId?: string;
          suppress: boolean;
          suppressDays?: number;
          viaTopic?: boolean;
          json?: boolean;
        },
      ) => {
        const opts = { reason: o.reason, requestId: o.requestId, suppress: o.suppress, suppressDays: o.suppressDays };
        if (o.viaTopic) {
          const request = await requestErasure(clients, id, opts);
          if (o.json) printJson({ request_id: request.request_id, topic: clients.config.ERASURE_REQUESTS_TOPIC });
          else print(`erasure request ${request.request_id} sent to ${clients.config.ERASURE_REQUESTS_TOPIC}`);
          return;
        }
        const outcome = await eraseCustomer(clients, id, opts);
        if (o.json) {
          printJson(outcome);
          return;
        }
        if (outcome.status === 'skipped') {
          print(`skipped: ${outcome.reason}`);
          return;
        }
        const l = outcome.log;
        const rows = l.table_names.map((t, i) => `${t} ${l.table_rows[i]}`).join(', ');
        print(
          `erased (request ${l.request_id}): redis ${l.redis_keys} keys, ${l.redis_members} index entries; warehouse rows ${rows || 'none'}; tombstones on ${l.compacted_topics.join(', ') || 'no topic'}${l.suppressed_until ? `; events of this id dropped until ${new Date(l.suppressed_until).toISOString()}` : ''}${l.late_redis + l.late_rows > 0 ? `; the second sweep found ${l.late_redis} Redis entries and ${l.late_rows} rows written meanwhile` : ''}`,
        );
      },
    );

  program
    .command('audit')
    .option('--action <action>', 'only this action: rules.apply, rules.rollback, cutpoints.override, customer.erase')
    .option('--limit <n>', 'at most n entries (default 100)', parsePositiveInt)
    .option('--json', 'print JSON')
    .description('the audit trail, newest first: who applied rules, overrode cut points, erased customers, and when')
    .action(async (o: { action?: string; limit?: number; json?: boolean }) => {
      const rows = await auditTrail(clients, { action: o.action, limit: o.limit });
      if (o.json) printJson(rows);
      else print(rows.length === 0 ? 'no audit entries' : formatTable(rows.map((r) => ({ ...r }))));
    });
}
