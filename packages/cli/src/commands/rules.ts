import { readFileSync } from 'node:fs';
import { formatTable } from '@tierstream/warehouse';
import type { Command } from 'commander';
import type { Clients } from '../clients';
import {
  applyRules,
  diffRules,
  type RulesApplied,
  rollbackRules,
  rulesHistory,
  showRules,
  validateRulesText,
} from '../ops/rules';
import { print, printJson } from './args';

const appliedLine = (r: RulesApplied) =>
  r.changed
    ? `rules ${r.applied} is active (apply ${r.apply}; was ${r.previous ?? 'none'}); every engine recomputes the cut points for it and re-evaluates every customer (reason RULES_CHANGED)`
    : `rules ${r.applied} is already active (apply ${r.apply}) with this text: nothing changed`;

/** `rules validate | diff | apply | show | history | rollback`. */
export function registerRulesCommands(program: Command, clients: Clients): void {
  const rules = program
    .command('rules')
    .description(
      'tier rules: validate, preview a change (dry run), apply it, show the active version, history, rollback',
    );
  rules
    .command('validate')
    .argument('<file>', 'rules YAML')
    .option('--json', 'print JSON')
    .action((file: string, o: { json?: boolean }) => {
      const summary = validateRulesText(readFileSync(file, 'utf8'), file);
      if (o.json) printJson(summary);
      else print(`${file}: valid (version ${summary.version}; dimensions ${summary.dimensions.join(', ')})`);
    });

  rules
    .command('diff')
    .argument('<file>', 'the new rules YAML')
    .option('--customers', 'list the customer ids of each move and held demotion')
    .option('--json', 'print JSON')
    .description(
      'dry run: who would move from which tier to which, with the cut points the new rules would get, and which demotions grace would hold (changes nothing)',
    )
    .action(async (file: string, o: { json?: boolean; customers?: boolean }) => {
      const diff = await diffRules(clients, file, { customers: o.customers, aggregateConfig: clients.aggregateConfig });
      if (o.json) {
        printJson(diff);
        return;
      }
      print(
        `rules ${diff.version} (active: ${diff.active?.version ?? 'none'}): population as of ${diff.measured_day ?? '-'}, customers re-evaluated as of ${diff.day ?? '-'}${diff.aligned ? '' : ' (partitions are at different days: exact once they caught up)'}`,
      );
      if (diff.cutpoints) {
        const cuts = Object.entries(diff.cutpoints.cuts).map(([key, values]) => `${key} [${values.join(', ')}]`);
        print(`cut points ${diff.cutpoints.version} (population ${diff.cutpoints.population}): ${cuts.join('; ')}`);
      }
      const ids = (row: { ids?: string[] }) => (row.ids ? { customer_ids: row.ids.join(' ') } : {});
      print('');
      print('moves (applied in one wave, reason RULES_CHANGED):');
      print(
        diff.moves.length === 0
          ? 'no customer would change tier'
          : formatTable(diff.moves.map(({ ids: _, ...m }) => ({ ...m, ...ids({ ids: _ }) }))),
      );
      print('');
      print('held by grace (the tier stays, the lower tier is pending until grace_days have passed):');
      print(
        diff.held.length === 0
          ? 'none'
          : formatTable(diff.held.map(({ ids: _, ...h }) => ({ ...h, ...ids({ ids: _ }) }))),
      );
    });

  rules
    .command('apply')
    .argument('<file>', 'the new rules YAML')
    .option('--json', 'print JSON')
    .description(
      'activate a rules version: the engines recompute the cut points for it at once and re-evaluate every customer in one wave (reason RULES_CHANGED)',
    )
    .action(async (file: string, o: { json?: boolean }) => {
      const result = await applyRules(clients, file);
      if (o.json) printJson(result);
      else print(appliedLine(result));
    });

  rules
    .command('show')
    .option(
      '--file <path>',
      'rules file to compare with the active version (default: RULES_FILE or rules/default.yaml)',
    )
    .option('--json', 'print JSON')
    .description('the active rules version, where it came from and when, its rules change, and rules files that differ')
    .action(async (o: { json?: boolean; file?: string }) => {
      const file = o.file ?? clients.config.RULES_FILE;
      const show = await showRules(clients, file);
      if (o.json) {
        printJson(show);
        return;
      }
      const a = show.active;
      if (!a) {
        print('no active rules version recorded (an engine records its RULES_FILE at start)');
      } else {
        print(
          `active: rules ${a.version} (apply ${a.seq}, ${a.source}, applied at ${a.applied_at}, sha256 ${a.sha256})`,
        );
      }
      if (show.change) {
        const c = show.change;
        print(
          `rules change: ${c.done}/${c.partitions} partitions re-evaluated${c.day ? ` as of ${c.day}` : ''}${c.cutpoints ? `, cut points ${c.cutpoints} (population as of ${c.measured_day})` : ''}`,
        );
      }
      if (a && show.partitions_behind.length > 0 && !show.change) {
        print(
          `WARNING: no engine has started apply ${a.seq} yet: partitions ${show.partitions_behind.join(', ')} still run an earlier version (engines look for a new version every RULES_POLL_MS: is a tier engine running?)`,
        );
      }
      if (show.file) {
        const f = show.file;
        print(
          f.differs
            ? `WARNING: ${f.path} (${f.version === null ? `unreadable: ${f.error}` : `version ${f.version}`}) differs from the active version: engines use the active version; \`tierctl rules apply ${f.path}\` to use the file`
            : `${f.path}: same as the active version`,
        );
      }
      for (const e of show.engine_files.filter((c) => c.differs)) {
        print(
          `WARNING: an engine's RULES_FILE ${e.file} (${e.version === null ? 'unreadable' : `version ${e.version}`}) differed from the active ${e.activeVersion} at ${new Date(e.checkedAt).toISOString()}`,
        );
      }
    });

  rules
    .command('history')
    .option('--json', 'print JSON')
    .description('every applied rules version, newest first: apply number, version, when, source')
    .action(async (o: { json?: boolean }) => {
      const rows = await rulesHistory(clients);
      if (o.json) printJson(rows);
      else print(rows.length === 0 ? 'no rules version applied yet' : formatTable(rows));
    });

  rules
    .command('rollback')
    .argument('<version>', 'a rules version from `tierctl rules history`')
    .option('--json', 'print JSON')
    .description(
      'activate the stored text of an earlier version again: a new apply of the old text (cut points recomputed, every customer re-evaluated, reason RULES_CHANGED; grace applies to demotions)',
    )
    .action(async (version: string, o: { json?: boolean }) => {
      const result = await rollbackRules(clients, version);
      if (o.json) printJson(result);
      else print(appliedLine(result));
    });
}
