#!/usr/bin/env node
import { anyCredentialFailure, ConfigError, redactSecret } from '@tierstream/config';
import { RulesError } from '@tierstream/tiering';
import type { Command } from 'commander';
import { Clients } from './clients';
import { buildTierctl } from './program';

/** Commands that touch no part of the stack: they run whatever the configuration says. */
const OFFLINE_COMMANDS = new Set(['rules validate']);

const commandPath = (cmd: Command): string => {
  const names: string[] = [];
  for (let c: Command | null = cmd; c?.parent; c = c.parent) names.unshift(c.name());
  return names.join(' ');
};

const clients = new Clients();
const program = buildTierctl(clients);
// Every command that touches the stack validates the configuration before it does anything (exit 2 when invalid,
// like the services); the configuration is loaded only then, so `--help` works with any environment.
program.hook('preAction', (_program, action) => {
  if (!OFFLINE_COMMANDS.has(commandPath(action))) void clients.config;
});

program
  .parseAsync()
  .then(() => clients.close())
  .catch(async (err: unknown) => {
    if (err instanceof ConfigError) {
      process.stderr.write(`tierctl: ${err.message}\n`);
      process.exit(2);
    }
    // Refused credentials or TLS trust: one line naming the dependency, exit 2 (a configuration problem).
    const refused = anyCredentialFailure(err) ?? clients.redisRefusal();
    if (refused !== null) {
      process.stderr.write(`tierctl: ${refused}\n`);
      await clients.close().catch(() => undefined);
      process.exit(2);
    }
    const message = err instanceof RulesError ? err.issues.join('\n') : (clients.explain(err) as Error).message;
    // A URL in an error (a broker or registry address) never shows the password of its user info.
    process.stderr.write(`tierctl: ${String(redactSecret('error', message))}\n`);
    await clients.close().catch(() => undefined);
    process.exit(1);
  });
