import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { TierStateStore } from '@tierstream/tierstate';
import { MIGRATIONS_DIR, migrate } from '@tierstream/warehouse';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Clients } from '../src/clients';
import { loadCliConfig } from '../src/config';
import { auditTrail } from '../src/ops/audit';
import { applyRules, showRules } from '../src/ops/rules';
import { REPO_ROOT } from '../src/supervisor';

/** `rules show` on the stack's Redis and Kafka (the signals topic's partitions), under a prefix of its own. */
describe('rules show: a version applied while no engine runs', () => {
  const prefix = `rulesshow${process.pid}`;
  // A database of its own too: an apply is recorded in audit_log.
  const clients = new Clients(() =>
    loadCliConfig({ ...process.env, REDIS_PREFIX: prefix, CLICKHOUSE_DATABASE: prefix, OPERATOR_NAME: 'alice' }),
  );
  beforeAll(async () => {
    await migrate(clients.clickhouse, { database: prefix, dir: MIGRATIONS_DIR });
  });
  afterAll(async () => {
    const keys = await clients.redis.keys(`${prefix}:*`);
    if (keys.length > 0) await clients.redis.del(...keys);
    await clients.clickhouse.command({ query: `DROP DATABASE IF EXISTS ${prefix}` });
    await clients.close();
  });

  it('names the partitions still on the earlier apply, and none once they ran it', async () => {
    const text = readFileSync(path.join(REPO_ROOT, 'rules/default.yaml'), 'utf8');
    const tierState = new TierStateStore(clients.redis, prefix);
    const first = await tierState.rules.apply('2026-11.1', text, 'engine start: RULES_FILE rules/default.yaml');
    const meta = await (await clients.admin()).fetchTopicMetadata({ topics: [clients.signalsTopic] });
    const partitions = meta.topics[0]!.partitions.map((p) => p.partitionId).sort();
    expect(partitions.length).toBeGreaterThan(0);
    for (const p of partitions)
      await tierState.setPartitionMeta(p, { rules_seq: first.entry.seq, rules_version: '2026-11.1' });
    expect((await showRules(clients, null)).partitions_behind).toEqual([]);

    const file = path.join(mkdtempSync(path.join(tmpdir(), 'rules-show-')), 'next.yaml');
    writeFileSync(file, text.replace(/^version: .*$/m, 'version: "next-1"'));
    const applied = await applyRules(clients, file);
    const show = await showRules(clients, null);
    expect(show.active?.seq).toBe(applied.apply);
    expect(show.change).toBeNull(); // no engine has reported: nothing else said so
    expect(show.partitions_behind).toEqual(partitions);
    // Who applied what is in the audit trail (OPERATOR_NAME), once; an apply of the same text again changes nothing.
    expect((await applyRules(clients, file)).changed).toBe(false);
    const audit = await auditTrail(clients, { action: 'rules.apply' });
    expect(audit.map((a) => [a.actor, a.subject, JSON.parse(a.details)])).toEqual([
      ['alice', 'next-1', { apply: applied.apply, previous: '2026-11.1' }],
    ]);

    for (const p of partitions)
      await tierState.setPartitionMeta(p, { rules_seq: applied.apply, rules_version: 'next-1' });
    expect((await showRules(clients, null)).partitions_behind).toEqual([]);
  });
});
