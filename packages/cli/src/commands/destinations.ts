import { destinationDlqTopic } from '@tierstream/destinations';
import { formatTable } from '@tierstream/warehouse';
import type { Command } from 'commander';
import type { Clients } from '../clients';
import {
  destinationNamed,
  destinationsSettings,
  destinationsStatus,
  listDestinations,
  readDestinationFiles,
  replayDestination,
  testDestination,
} from '../ops/destinations';
import { parseInstant, parsePositiveInt, print, printJson } from './args';
import { readDlq } from './dlq';

/** `destinations list|validate|test|status|replay|dlq`: the files of DESTINATIONS_DIR and their delivery. */
export function registerDestinationsCommands(program: Command, clients: Clients): void {
  const cmd = program
    .command('destinations')
    .description('webhooks and CRM upserts fed with tier changes (destination files in DESTINATIONS_DIR)');
  const dirOf = (o: { dir?: string }) => o.dir ?? destinationsSettings().DESTINATIONS_DIR;
  cmd
    .command('list')
    .option('--dir <dir>', 'destination files (default DESTINATIONS_DIR, else destinations)')
    .option('--json', 'print JSON')
    .description('the destinations, their target and filter (secrets are never printed)')
    .action((o: { dir?: string; json?: boolean }) => {
      const rows = listDestinations(dirOf(o));
      if (o.json) printJson(rows);
      else
        print(
          rows.length === 0
            ? 'no destination files'
            : formatTable(rows.map((r) => ({ ...r, filter: JSON.stringify(r.filter ?? {}), error: r.error ?? '' }))),
        );
    });
  cmd
    .command('validate')
    .option('--dir <dir>', 'destination files (default DESTINATIONS_DIR, else destinations)')
    .description('check every destination file like the service does at start; exit 2 naming each bad file and key')
    .action((o: { dir?: string }) => {
      const entries = readDestinationFiles(dirOf(o));
      for (const e of entries) print('error' in e ? `invalid ${e.error}` : `ok      ${e.file}`);
      if (entries.some((e) => 'error' in e)) process.exitCode = 2;
    });
  cmd
    .command('test')
    .argument('<name>', 'destination name (its file name without .yaml)')
    .option('--dir <dir>', 'destination files (default DESTINATIONS_DIR, else destinations)')
    .option('--json', 'print JSON')
    .description('send one signed test transition (customer tierctl-test) to a webhook; exit 1 unless it answers 2xx')
    .action(async (name: string, o: { dir?: string; json?: boolean }) => {
      const r = await testDestination(destinationNamed(dirOf(o), name));
      if (o.json) printJson(r);
      else print(r.ok ? `delivered in ${r.ms} ms (Idempotency-Key ${r.idempotencyKey})` : `failed: ${r.error}`);
      if (!r.ok) process.exitCode = 1;
    });
  cmd
    .command('status')
    .option('--dir <dir>', 'destination files (default DESTINATIONS_DIR, else destinations)')
    .option('--json', 'print JSON')
    .description('per destination: consumer group state and members, records not yet delivered, dead letters')
    .action(async (o: { dir?: string; json?: boolean }) => {
      const settings = destinationsSettings();
      const dests = readDestinationFiles(dirOf(o)).flatMap((e) => ('destination' in e ? [e.destination] : []));
      const rows = await destinationsStatus(await clients.admin(), settings, dests);
      if (o.json) printJson(rows);
      else print(rows.length === 0 ? 'no destinations' : formatTable(rows));
    });
  cmd
    .command('replay')
    .argument('<name>', 'destination name')
    .requiredOption(
      '--from <instant>',
      'deliver again everything from this time on (ISO-8601 or epoch ms)',
      parseInstant,
    )
    .option('--dir <dir>', 'destination files (default DESTINATIONS_DIR, else destinations)')
    .option('--json', 'print JSON')
    .description("move a (stopped) destination's consumer group back in time: items are delivered again, same keys")
    .action(async (name: string, o: { from: number; dir?: string; json?: boolean }) => {
      const settings = destinationsSettings();
      const rows = await replayDestination(await clients.admin(), settings, destinationNamed(dirOf(o), name), o.from);
      if (o.json) printJson(rows);
      else print(formatTable(rows));
    });
  cmd
    .command('dlq')
    .argument('<name>', 'destination name')
    .option('--limit <n>', 'at most this many dead letters', parsePositiveInt, 20)
    .option('--json', 'print JSON (the full dead letters)')
    .description('dead letters of a destination: reason, last status, attempts, body excerpt')
    .action(async (name: string, o: { limit: number; json?: boolean }) => {
      const records = await readDlq(clients, destinationDlqTopic(name), o.limit);
      const letters = records.map((r) => JSON.parse(r.value?.toString('utf8') ?? '{}') as Record<string, unknown>);
      if (o.json) printJson(letters);
      else
        print(
          letters.length === 0
            ? 'no dead letters'
            : formatTable(
                letters.map((l) => ({
                  customer: l.customer_id,
                  key: l.idempotency_key,
                  reason: l.reason,
                  status: l.status,
                  attempts: l.attempts,
                  body: String(l.body_excerpt ?? '').slice(0, 60),
                  at: l.dead_lettered_at,
                })),
              ),
        );
    });
}
