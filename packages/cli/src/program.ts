import { Command } from 'commander';
import type { Clients } from './clients';
import { registerClvCommands } from './commands/clv';
import { registerCustomerCommand } from './commands/customer';
import { registerDestinationsCommands } from './commands/destinations';
import { registerDlqCommands } from './commands/dlq';
import { registerErasureCommands } from './commands/erasure';
import { registerIdentityCommands } from './commands/identity';
import { EXIT_USAGE, registerImportCommand } from './commands/import';
import { registerRulesCommands } from './commands/rules';
import { registerSetupCommands } from './commands/setup';
import { registerSqlCommand } from './commands/sql';
import { registerStatusCommands } from './commands/status';
import { registerWorkloadCommands } from './commands/workload';

/**
 * The `tierctl` command tree (exit codes: 0 done, 1 failed, 2 usage or configuration error). Registering connects nothing: `clients` is used only when a command runs, so the docs
 * check (packages/cli/test/docs-vs-code.test.ts) can walk the commands and options offline.
 */
export function buildTierctl(clients: Clients): Command {
  const program = new Command('tierctl')
    .description(
      'Operate tierstream: contracts, topics, warehouse, workloads, replays, dead letters, rules, customers, SQL.',
    )
    .showHelpAfterError()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) })
    // Usage errors (unknown command or option, a missing or invalid argument) exit 2 like invalid configuration;
    // 1 stays "ran, and something failed". Subcommands inherit this.
    .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : EXIT_USAGE));
  registerSetupCommands(program, clients);
  registerWorkloadCommands(program, clients);
  registerImportCommand(program, clients);
  registerDlqCommands(program, clients);
  registerCustomerCommand(program, clients);
  registerErasureCommands(program, clients);
  registerIdentityCommands(program, clients);
  registerRulesCommands(program, clients);
  registerSqlCommand(program, clients);
  registerStatusCommands(program, clients);
  registerDestinationsCommands(program, clients);
  registerClvCommands(program, clients);
  return program;
}
