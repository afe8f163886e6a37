#!/usr/bin/env node
import { RulesError } from '@tierstream/tiering';
import { Clients } from './clients';
import { buildTierctl } from './program';

const clients = new Clients();
const program = buildTierctl(clients);

program
  .parseAsync()
  .then(() => clients.close())
  .catch(async (err: unknown) => {
    const message = err instanceof RulesError ? err.issues.join('\n') : (err as Error).message;
    process.stderr.write(`tierctl: ${message}\n`);
    await clients.close().catch(() => undefined);
    process.exit(1);
  });
