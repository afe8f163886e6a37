import { formatTable, listQueries, QUERIES_DIR, runNamedQuery } from '@tierstream/warehouse';
import { type Command, Option } from 'commander';
import type { Clients } from '../clients';
import { collectParam, print, printJson } from './args';
/** `sql [name]`: the analyst SQL pack. */
export function registerSqlCommand(program: Command, clients: Clients): void {
  program
    .command('sql')
    .argument('[name]', 'query name (see --list)')
    .option('--list', 'list the queries and their parameters')
    .option('--param <k=v>', 'query parameter (repeatable)', collectParam, {})
    .addOption(new Option('--format <format>', 'table | csv | json').choices(['table', 'csv', 'json']).default('table'))
    .option('--json', 'same as --format json')
    .option('--show-sql', 'print the SQL that runs')
    .description('run a query of the analyst SQL pack (infra/clickhouse/queries) against ClickHouse')
    .action(
      async (
        name: string | undefined,
        o: {
          list?: boolean;
          param: Record<string, string>;
          format: 'table' | 'csv' | 'json';
          json?: boolean;
          showSql?: boolean;
        },
      ) => {
        if (o.list || !name) {
          const queries = await listQueries(QUERIES_DIR);
          const rows = queries.map((q) => ({
            name: q.name,
            title: q.title,
            params: q.params
              .map((p) => `${p.name}:${p.type}${p.default !== undefined ? `=${p.default}` : ''}`)
              .join(' '),
          }));
          if (o.json) printJson(rows);
          else print(formatTable(rows));
          return;
        }
        const result = await runNamedQuery(clients.clickhouse, {
          dir: QUERIES_DIR,
          name,
          params: o.param,
          database: clients.endpoints.clickhouseDatabase,
          format: o.json ? 'json' : o.format,
        });
        if (o.showSql) process.stderr.write(`${result.sql}\n`);
        print(result.output);
      },
    );
}
