#!/usr/bin/env node
import path from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { CDNOW_DIR, DEMO_DEFAULT_TIMEOUT_MINUTES, runDemo } from './demo';
import {
  OPTIONAL_SERVICES,
  SERVICES,
  type ServiceName,
  type ServiceProcess,
  startService,
  stopService,
} from './supervisor';
import { collectTargets, I_KNOW_HELP } from './wipe-guard';

const program = new Command('tierstream')
  .description('Run tierstream services: one service, all of them under a local supervisor, or the demo.')
  .showHelpAfterError();

for (const name of [...SERVICES, ...OPTIONAL_SERVICES]) {
  program
    .command(name)
    .description(`run the ${name} service in the foreground (configured by environment variables)`)
    .action(async () => {
      const svc = startService(name);
      process.on('SIGTERM', () => svc.child.kill('SIGTERM'));
      process.on('SIGINT', () => svc.child.kill('SIGINT'));
      process.exitCode = (await svc.exited) ?? 1;
    });
}

program
  .command('run')
  .argument('<what>', 'all, or a comma-separated list of services', (v) => {
    const names = v === 'all' ? [...SERVICES] : v.split(',');
    for (const n of names)
      if (!(SERVICES as readonly string[]).includes(n)) throw new InvalidArgumentError(`unknown service ${n}`);
    return names as ServiceName[];
  })
  .description('start services together (local supervisor); Ctrl-C or SIGTERM stops them cleanly')
  .action(async (names: ServiceName[]) => {
    const procs: ServiceProcess[] = names.map((n) =>
      startService(n, {}, (name, line) => process.stdout.write(`${name.padEnd(16)} | ${line}\n`)),
    );
    let stopping = false;
    const stopAll = async () => {
      if (stopping) return;
      stopping = true;
      const codes = await Promise.all(procs.map((p) => stopService(p)));
      process.exit(codes.every((c) => c === 0) ? 0 : 1);
    };
    process.on('SIGTERM', stopAll);
    process.on('SIGINT', stopAll);
    // If one service dies, stop the others: a supervisor that hides a dead service helps nobody.
    const first = await Promise.race(procs.map((p) => p.exited.then((code) => ({ p, code }))));
    if (!stopping) {
      process.stderr.write(`${first.p.name} exited with code ${first.code}; stopping the others\n`);
      await stopAll();
    }
  });

program
  .command('demo')
  .description('the whole pipeline on the local stack over a demo workload, ending with a report from ClickHouse')
  .option('--source <source>', 'generator or cdnow', process.env.DEMO_SOURCE ?? 'generator')
  .option('--profile <profile>', 'generator profile: tiny, demo or standard', process.env.DEMO_PROFILE ?? 'demo')
  .option('--cdnow-file <file>', 'CDNOW file for --source cdnow', path.join(CDNOW_DIR, 'CDNOW_master.txt'))
  .option(
    '--timeout-minutes <minutes>',
    'give up after this long (the whole demo); on timeout it says how far the replay got and exits 1',
    process.env.DEMO_TIMEOUT_MINUTES ?? String(DEMO_DEFAULT_TIMEOUT_MINUTES),
  )
  .option(
    '--engine-instances <n>',
    'tier-engine processes sharing the signal partitions (default: one per core, at most one per partition)',
  )
  .option('--i-know-this-wipes <endpoint>', I_KNOW_HELP, collectTargets, [])
  .option('--no-console', 'end after the report instead of serving the console on the demo data until Ctrl-C')
  .addHelpText(
    'after',
    `
It WIPES tierstream's topics, consumer groups, Redis keys under the prefix and the ClickHouse database first, and
refuses (exit 2) any endpoint other than the local stack (a loopback host on the stack's port) unless
--i-know-this-wipes <endpoint> names it (the exact value of KAFKA_BROKERS, REDIS_URL or CLICKHOUSE_URL).
The default limit (${DEMO_DEFAULT_TIMEOUT_MINUTES} min, or DEMO_TIMEOUT_MINUTES) is meant for the full CDNOW master on a 2-core machine.
Examples:
  npm run demo                                   generator profile demo (2,000 customers, 365 days)
  npm run demo -- --source cdnow                 CDNOW_master.txt from data/cdnow/ (23,570 customers, 546 days)
  npm run demo -- --profile tiny --timeout-minutes 5
  npm run demo -- --no-console                   end after the report (no console, nothing waits for Ctrl-C)
After the report the demo serves the console (docs/console.md) on its data and prints the URL and a viewer token
(CONSOLE_VIEWER_TOKEN, or one made for the run) until Ctrl-C.`,
  )
  .action(
    async (o: {
      source: string;
      profile: string;
      cdnowFile: string;
      timeoutMinutes: string;
      engineInstances?: string;
      iKnowThisWipes: string[];
      console: boolean;
    }) => {
      if (o.source !== 'generator' && o.source !== 'cdnow')
        throw new InvalidArgumentError(`--source must be generator or cdnow, got ${o.source}`);
      if (!['tiny', 'demo', 'standard'].includes(o.profile))
        throw new InvalidArgumentError(`--profile must be tiny, demo or standard`);
      const minutes = Number(o.timeoutMinutes);
      if (!Number.isFinite(minutes) || minutes <= 0)
        throw new InvalidArgumentError(`--timeout-minutes must be a positive number, got ${o.timeoutMinutes}`);
      const engines = o.engineInstances === undefined ? undefined : Number(o.engineInstances);
      if (engines !== undefined && (!Number.isInteger(engines) || engines < 1 || engines > 64))
        throw new InvalidArgumentError(`--engine-instances must be an integer from 1 to 64, got ${o.engineInstances}`);
      await runDemo({
        source: o.source,
        profile: o.profile as 'tiny' | 'demo' | 'standard',
        cdnowFile: o.cdnowFile,
        timeoutMs: minutes * 60_000,
        engineInstances: engines,
        confirmedTargets: o.iKnowThisWipes,
        console: o.console,
      });
    },
  );

program.parseAsync().catch((err: unknown) => {
  process.stderr.write(`tierstream: ${(err as Error).message}\n`);
  process.exit(1);
});
