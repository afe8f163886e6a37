import { existsSync, readFileSync } from 'node:fs';
import { TOPICS } from '@tierstream/contracts';
import { IMPORT_KINDS, type ImportKind, MappingError, parseMapping } from '@tierstream/importer';
import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import type { Clients } from '../clients';
import { sendWatermarks } from '../feed';
import { FileError } from '../ops/csv-records';
import { type ImportProgress, importFile, writeRejectFile } from '../ops/import-file';

/** The (configured) input topic an import of `kind` produces to. */
const importTopic = (clients: Clients, kind: string): string =>
  clients.inputTopicNames[kind === 'orders' ? TOPICS.orders : kind === 'web' ? TOPICS.web : TOPICS.tickets];

/** Exit code of an invalid mapping or invalid arguments (1 stays "ran, but something was rejected or failed"). */
export const EXIT_USAGE = 2;

/**
 * The lines printed for an invalid mapping (or a mapping that does not fit the file): one problem per line, after a
 * one-line summary when there are several.
 */
export function mappingProblemLines(mappingFile: string, issues: readonly string[]): string[] {
  if (issues.length <= 1) return [...issues];
  return [`mapping ${mappingFile}: ${issues.length} problems`, ...issues];
}

interface ImportOptions {
  mapping?: string;
  allowRejects?: boolean;
  rejects?: string;
  dryRun?: boolean;
  endAt?: string;
  json?: boolean;
}

/**
 * `tierctl import <orders|web|tickets> <file> --mapping <mapping.yaml>`: history from CSV/NDJSON exports. Parses
 * arguments and prints; the work is ops/import-file.ts. Exit 0, 1 when rows were rejected (unless
 * --allow-rejects) or the file could not be read to its end (nothing produced), 2 for an invalid mapping or arguments.
 */
export function registerImportCommand(program: Command, clients: Clients): void {
  program
    .command('import')
    .description('import history from a CSV or NDJSON export, mapped by a YAML file (README "Bring your own history")')
    .argument('<kind>', `what the file holds: ${IMPORT_KINDS.join(' | ')}`)
    .argument('<file>', 'the export (.csv or .ndjson; the mapping may set format)')
    .option('--mapping <file>', 'the mapping (YAML; examples/import/*.mapping.yaml)')
    .option('--allow-rejects', 'exit 0 even when rows were rejected')
    .option('--rejects <file>', 'where to write rejected rows (default: <file>.rejects.csv)')
    .option('--dry-run', 'read, convert and report, but produce nothing')
    .option('--end-at <instant>', 'after the data, close a replay at this instant (watermark records)')
    .option('--json', 'print the summary as JSON')
    .action(async (kind: string, file: string, o: ImportOptions) => {
      const usage = (lines: string[]) => {
        for (const l of lines) process.stderr.write(`tierctl import: ${l}\n`);
        process.exitCode = EXIT_USAGE;
      };
      if (!(IMPORT_KINDS as readonly string[]).includes(kind))
        return usage([`<kind> must be one of ${IMPORT_KINDS.join(', ')}, got "${kind}"`]);
      if (!o.mapping) return usage(['--mapping <file> is required']);
      if (!existsSync(o.mapping)) return usage([`mapping ${o.mapping} does not exist`]);
      if (!existsSync(file)) return usage([`file ${file} does not exist`]);
      let endAt: number | undefined;
      if (o.endAt !== undefined) {
        endAt = /^\d+$/.test(o.endAt) ? Number(o.endAt) : Date.parse(o.endAt);
        if (!Number.isFinite(endAt)) return usage([`--end-at: expected an ISO-8601 instant, got "${o.endAt}"`]);
      }
      const rejectFile = o.rejects ?? `${file}.rejects.csv`;
      const bar = new cliProgress.SingleBar(
        { format: '{phase} {bar} {percentage}% {value}/{total} {unit}', hideCursor: true },
        cliProgress.Presets.shades_classic,
      );
      const tty = process.stderr.isTTY === true;
      let phase: ImportProgress['phase'] | null = null;
      const onProgress = (p: ImportProgress) => {
        if (!tty) return;
        if (p.phase !== phase) {
          if (phase !== null) bar.stop();
          phase = p.phase;
          const total = p.phase === 'read' ? p.totalBytes : p.total;
          bar.start(total, 0, {
            phase: p.phase === 'read' ? 'reading  ' : 'producing',
            unit: p.phase === 'read' ? 'bytes' : 'events',
          });
        }
        bar.update(p.phase === 'read' ? p.bytes : p.sent);
      };
      let result: Awaited<ReturnType<typeof importFile>>;
      try {
        const mapping = parseMapping(readFileSync(o.mapping, 'utf8'), o.mapping);
        if (!o.dryRun)
          await clients.requireTopics(endAt !== undefined ? clients.inputTopics : [importTopic(clients, kind)]);
        result = await importFile({
          kind: kind as ImportKind,
          file,
          mapping,
          onProgress,
          producer: o.dryRun
            ? undefined
            : { producer: await clients.producer(), serde: clients.serde, topics: clients.inputTopicNames },
        });
      } catch (err) {
        if (phase !== null) bar.stop();
        if (err instanceof MappingError) return usage(mappingProblemLines(o.mapping, err.issues));
        if (err instanceof FileError) {
          process.stderr.write(`tierctl import: ${err.message}\n`);
          process.exitCode = 1;
          return;
        }
        throw err;
      }
      if (phase !== null) bar.stop();
      if (endAt !== undefined && !o.dryRun)
        await sendWatermarks(await clients.admin(), await clients.producer(), endAt, clients.inputTopics);
      if (result.rejects.length > 0 || existsSync(rejectFile)) writeRejectFile(rejectFile, result.rejects);
      const s = result.summary;
      const rejected = Object.values(s.rejected).reduce((a, b) => a + (b ?? 0), 0);
      if (o.json) {
        const { rejects: _rejects, ...rest } = result;
        process.stdout.write(
          `${JSON.stringify({ ...rest, rejectFile: rejected > 0 ? rejectFile : null, dryRun: o.dryRun === true }, null, 2)}\n`,
        );
      } else {
        const list = (r: Record<string, number | undefined>) =>
          Object.entries(r)
            .map(([k, v]) => `${k} ${v}`)
            .join(', ') || '-';
        const rate = s.rowsRead / Math.max(0.001, result.seconds.read + result.seconds.produce);
        process.stdout.write(
          `${[
            `${o.dryRun ? 'dry run: ' : ''}imported ${kind} from ${file} (${result.format}, ${Math.round(rate).toLocaleString('en')} rows/s)`,
            `rows read        ${s.rowsRead}`,
            `events           ${list(s.events)}${o.dryRun ? ' (not produced)' : `; produced ${list(result.produced)}`}`,
            `time range       ${result.from ?? '-'} … ${result.to ?? '-'}`,
            `rows rejected    ${rejected}${rejected > 0 ? `: ${list(s.rejected)} (lines and reasons in ${rejectFile})` : ''}`,
          ].join('\n')}\n`,
        );
      }
      if (rejected > 0 && !o.allowRejects) {
        process.stderr.write(
          `tierctl import: ${rejected} row(s) rejected (see ${rejectFile}; --allow-rejects to accept)\n`,
        );
        process.exitCode = 1;
      }
    });
}
