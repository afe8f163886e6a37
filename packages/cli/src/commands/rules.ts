import { readFileSync } from 'node:fs';
import { AggregateStore, metricsAt } from '@tierstream/aggregates';
import { evaluateTiers, initialCutPoints, parseRules } from '@tierstream/tiering';
import { endOfDay, TierStateStore } from '@tierstream/tierstate';
import { formatTable } from '@tierstream/warehouse';
import type { Command } from 'commander';
import type { Clients } from '../clients';
import { print, printJson } from './args';

function loadRulesFile(file: string) {
  return parseRules(readFileSync(file, 'utf8'), file);
}

/** Every known customer's current tiers against what `file` would decide now: a from → to count per dimension. */
async function diffRules(
  clients: Clients,
  file: string,
): Promise<Array<{ dimension: string; from: string; to: string; customers: number }>> {
  const next = loadRulesFile(file);
  const tierState = new TierStateStore(clients.redis, clients.redisPrefix);
  const store = new AggregateStore(clients.redis, { prefix: clients.redisPrefix, config: clients.aggregateConfig });
  await store.init();
  const cutPoints = (await tierState.getCutPoints()) ?? initialCutPoints(next);
  const admin = await clients.admin();
  const meta = await admin.fetchTopicMetadata({ topics: [clients.signalsTopic] });
  const partitions = meta.topics[0]?.partitions.length ?? 0;
  const counts = new Map<string, number>();
  for (let p = 0; p < partitions; p++) {
    // As of the day the engine's re-evaluation will use (the partition's last closed day, or a later last
    // evaluation): a customer last evaluated days ago may cross a new threshold in between.
    const closed = (await tierState.getPartitionMeta(p)).closed_day;
    const applyDay = closed === undefined ? Number.NEGATIVE_INFINITY : Number(closed);
    for await (const ids of tierState.customers(p, 1000)) {
      const [aggs, states, attrs] = await Promise.all([
        store.readMany(ids),
        tierState.readStates(ids),
        tierState.readAttributes(ids),
      ]);
      for (const id of ids) {
        const state = states.get(id);
        const agg = aggs.get(id);
        if (!state || !agg) continue;
        const day = Math.max(state.last_eval_day, applyDay);
        const result = evaluateTiers({
          rules: next,
          cutPoints,
          customerId: id,
          metrics: metricsAt(agg, endOfDay(day), clients.aggregateConfig),
          attributes: attrs.get(id) ?? null,
          previous: state,
          day,
          at: endOfDay(day),
          rulesChanged: true,
        });
        for (const t of result.transitions) {
          const k = `${t.dimension}\u0000${t.from_tier ?? '-'}\u0000${t.to_tier}`;
          counts.set(k, (counts.get(k) ?? 0) + 1);
        }
      }
    }
  }
  return [...counts]
    .map(([k, customers]) => {
      const [dimension, from, to] = k.split('\u0000') as [string, string, string];
      return { dimension, from, to, customers };
    })
    .sort((a, b) => a.dimension.localeCompare(b.dimension) || b.customers - a.customers);
}

/** `rules validate | diff | apply`. */
export function registerRulesCommands(program: Command, clients: Clients): void {
  const rules = program.command('rules').description('tier rules: validate, preview a change (dry run), apply it');
  rules
    .command('validate')
    .argument('<file>', 'rules YAML')
    .option('--json', 'print JSON')
    .action((file: string, o: { json?: boolean }) => {
      const r = loadRulesFile(file);
      const summary = { file, version: r.version, dimensions: r.dimensions.map((d) => d.id) };
      if (o.json) printJson(summary);
      else print(`${file}: valid (version ${r.version}; dimensions ${summary.dimensions.join(', ')})`);
    });

  rules
    .command('diff')
    .argument('<file>', 'the new rules YAML')
    .option('--json', 'print JSON')
    .description('dry run: how many customers would move from which tier to which, per dimension (changes nothing)')
    .action(async (file: string, o: { json?: boolean }) => {
      const moves = await diffRules(clients, file);
      if (o.json) printJson(moves);
      else print(moves.length === 0 ? 'no customer would change tier' : formatTable(moves));
    });
  rules
    .command('apply')
    .argument('<file>', 'the new rules YAML')
    .option('--json', 'print JSON')
    .description(
      'activate a rules version: the tier engine re-evaluates every customer at a bounded rate (reason RULES_CHANGED)',
    )
    .action(async (file: string, o: { json?: boolean }) => {
      const text = readFileSync(file, 'utf8');
      const parsed = parseRules(text, file);
      const tierState = new TierStateStore(clients.redis, clients.redisPrefix);
      const current = await tierState.getActiveRules();
      if (current && current.version === parsed.version && current.text !== text) {
        throw new Error(
          `rules version ${parsed.version} is already active with different content: give the new file a new version`,
        );
      }
      await tierState.setActiveRules(parsed.version, text, Date.now());
      const result = { applied: parsed.version, previous: current?.version ?? null };
      if (o.json) printJson(result);
      else
        print(
          `rules ${parsed.version} is active (was ${result.previous ?? 'the file the engine started with'}); the engine re-evaluates every customer`,
        );
    });
}
