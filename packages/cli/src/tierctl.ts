#!/usr/bin/env node
import { RulesError } from '@tierstream/tiering';
import { Command } from 'commander';
import { Clients } from './clients';
import { registerCustomerCommand } from './commands/customer';
import { registerDlqCommands } from './commands/dlq';
import { registerImportCommand } from './commands/import';
import { registerRulesCommands } from './commands/rules';
import { registerSetupCommands } from './commands/setup';
import { registerSqlCommand } from './commands/sql';
import { registerStatusCommands } from './commands/status';
import { registerWorkloadCommands } from './commands/workload';

const clients = new Clients();

const program = new Command('tierctl')
  .description(
    'Operate tierstream: contracts, topics, warehouse, workloads, replays, dead letters, rules, customers, SQL.',
  )
  .showHelpAfterError()
  .configureOutput({ writeErr: (s) => process.stderr.write(s) });

registerSetupCommands(program, clients);
registerWorkloadCommands(program, clients);
registerImportCommand(program, clients);
registerDlqCommands(program, clients);
registerCustomerCommand(program, clients);
registerRulesCommands(program, clients);
registerSqlCommand(program, clients);
registerStatusCommands(program, clients);

program
  .parseAsync()
  .then(() => clients.close())
  .catch(async (err: unknown) => {
    const message = err instanceof RulesError ? err.issues.join('\n') : (err as Error).message;
    process.stderr.write(`tierctl: ${message}\n`);
    await clients.close().catch(() => undefined);
    process.exit(1);
  });
