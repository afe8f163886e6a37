import path from 'node:path';
import { applyTopics, loadTopicsSpec } from '@tierstream/contracts';
import { MIGRATIONS_DIR, migrate } from '@tierstream/warehouse';
import type { Command } from 'commander';
import { type Clients, registerContracts } from '../clients';
import { REPO_ROOT } from '../supervisor';
import { print, printJson } from './args';
/** `schemas register`, `topics apply`, `warehouse migrate`: what a deployment needs before the services start. */
export function registerSetupCommands(program: Command, clients: Clients): void {
  program
    .command('schemas')
    .description('Avro contracts in the schema registry')
    .command('register')
    .description(
      'register every schemas/*.avsc under <topic>-value with BACKWARD compatibility (input contracts also under ORDERS_TOPIC, WEB_BEHAVIOR_TOPIC, TICKETS_TOPIC when renamed)',
    )
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) => {
      const ids = await registerContracts(clients);
      if (o.json) printJson(ids);
      else for (const [subject, id] of Object.entries(ids)) print(`${subject.padEnd(40)} id ${id}`);
    });

  program
    .command('topics')
    .description('Kafka topics as code (infra/kafka/topics.yaml)')
    .command('apply')
    .description('create missing topics, raise partition counts, fix config drift (never deletes)')
    .option('--file <file>', 'topics file', path.join(REPO_ROOT, 'infra/kafka/topics.yaml'))
    .option('--json', 'print JSON')
    .action(async (o: { file: string; json?: boolean }) => {
      const result = await applyTopics(await clients.admin(), loadTopicsSpec(o.file));
      if (o.json) printJson(result);
      else
        print(
          `created: ${result.created.join(', ') || '-'}\nupdated: ${result.updated.join(', ') || '-'}\nunchanged: ${result.unchanged.length}`,
        );
    });

  program
    .command('warehouse')
    .description('ClickHouse tables')
    .command('migrate')
    .description('apply infra/clickhouse/migrations in order (idempotent; refuses edited applied files)')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) => {
      const result = await migrate(clients.clickhouse, {
        database: clients.endpoints.clickhouseDatabase,
        dir: MIGRATIONS_DIR,
      });
      if (o.json) printJson(result);
      else print(`applied: ${result.applied.join(', ') || '-'}\nalready applied: ${result.skipped.length}`);
    });
}
