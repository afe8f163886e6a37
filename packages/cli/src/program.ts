import { Command } from 'commander';
import type { Clients } from './clients';
import { registerClvCommands } from './commands/clv';
import { registerCustomerCommand } from './commands/customer';
import { registerDestinationsCommands } from './commands/destinations';
import { registerDlqCommands } from './commands/dlq';
import { registerImportCommand } from './commands/import';
import { registerRulesCommands } from './commands/rules';
import { registerSetupCommands } from './commands/setup';
import { registerSqlCommand } from './commands/sql';
import { registerStatusCommands } from './commands/status';
import { registerWorkloadCommands } from './commands/workload';

/**
 * The `tierctl` command tree. Registering connects nothing: `clients` is used only when a command runs, so the docs
 * check (packages/cli/test/docs-vs-code.test.ts) can walk the commands and options offline.
 */
export function buildTierctl(clients: Clients): Command {
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
  registerDestinationsCommands(program, clients);
  registerClvCommands(program, clients);
  return program;
}
