import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  bootstrapPipeline,
  Clients,
  feedEvents,
  GROUPS,
  REPO_ROOT,
  resetPipelineData,
  type ServiceProcess,
  startService,
  stopService,
} from '@tierstream/cli';
import type { InputEvent } from '@tierstream/contracts';
import { dayOf, endOfDay, isoDay, TierStateStore } from '@tierstream/tierstate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../support/free-port';
import {
  endOffsets,
  feedAndClose,
  isAfter,
  placed,
  type RunningPipeline,
  readTransitions,
  startPipeline,
  tierctl,
} from '../support/journeys';

/**
 * Issue 21 item 2 through the real services (replay mode): a rules change takes effect when applied. Twenty
 * customers rc-01…rc-20 buy once on day B (B % 7 == 0, a weekly cut-point day) for 1000…20000; the replay closes on
 * B + 3. With the default shares (20/30/30/20) the cut points of B make rc-17…rc-20 PLATINUM, rc-11…rc-16 GOLD,
 * rc-05…rc-10 SILVER, rc-01…rc-04 BRONZE. The new file changes only value_tier's shares to 10/50/20/20; by the
 * quantile rule (rules/README.md: m_k = round(C_k × N) = 2, 12, 16 of 20 distinct values) its cut points are
 * [19000, 9000, 5000]: rc-09 and rc-10 move up SILVER → GOLD at once, rc-17 and rc-18 would move down PLATINUM →
 * GOLD but value_tier's grace_days (14) holds them. Before issue 21 the apply kept the old cut points: nobody moved
 * until the next weekly recompute (two waves). Two tier-engine processes share the three signal partitions: the
 * change is decided once for all of them.
 */

const RULES_PATH = path.join(REPO_ROOT, 'rules/default.yaml');
const RULES_TEXT = readFileSync(RULES_PATH, 'utf8');
const DEFAULT_VERSION = /^version: "([^"]+)"/m.exec(RULES_TEXT)![1]!;
const NEW_VERSION = `${DEFAULT_VERSION}-e2e-top-tenth`;
const VALUE_GRACE = 14;

const firstDay = dayOf(Date.parse('2024-06-01T00:00:00Z'));
const B = firstDay + ((7 - (firstDay % 7)) % 7);
const END_DAY = B + 3;
const endAt = endOfDay(END_DAY);
const id = (i: number) => `rc-${String(i).padStart(2, '0')}`;
const ENV = {
  CUTPOINTS_EVERY_DAYS: '7',
  CUTPOINTS_YOUNG_BELOW: '0',
  CUTPOINTS_EARLY_CHANGE: '0',
  SWEEP_INTERVAL_MS: '20',
  RULES_POLL_MS: '200',
};

function script(): InputEvent[] {
  return Array.from({ length: 20 }, (_, i) => placed(id(i + 1), B, (i + 1) * 1000));
}

interface Diff {
  version: string;
  measured_day: string | null;
  day: string | null;
  aligned: boolean;
  cutpoints: { version: string; population: number; cuts: Record<string, number[]> } | null;
  moves: Array<{ dimension: string; from: string; to: string; customers: number; ids: string[] }>;
  held: Array<{
    dimension: string;
    tier: string;
    pending: string;
    applies_from: string;
    customers: number;
    ids: string[];
  }>;
}

const parseJson = <T>(r: { stdout: string; stderr: string; code: number | null }): T => {
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as T;
};

describe('rules changes take effect when applied (issue 21 item 2)', () => {
  const clients = new Clients();
  let pipeline: RunningPipeline | null = null;
  /** A second tier-engine instance: the partitions are split between two processes, which must agree. */
  let secondEngine: ServiceProcess | null = null;
  let tmp = '';
  let newFile = '';
  let diff: Diff | null = null;
  const tierState = new TierStateStore(clients.redis, clients.redisPrefix);

  async function partitions(): Promise<number[]> {
    const meta = await (await clients.admin()).fetchTopicMetadata({ topics: [clients.signalsTopic] });
    return meta.topics[0]!.partitions.map((p) => p.partitionId);
  }

  /** Waits until every partition finished rules apply number `seq` (its meta says so). */
  async function waitForApply(seq: number, version: string): Promise<void> {
    const ps = await partitions();
    const deadline = Date.now() + 90_000;
    for (;;) {
      const metas = await Promise.all(ps.map((p) => tierState.getPartitionMeta(p)));
      if (metas.every((m) => m.rules_seq === String(seq) && m.rules_version === version)) return;
      if (Date.now() > deadline) throw new Error(`rules apply ${seq} not finished: ${JSON.stringify(metas)}`);
      const dead = pipeline?.isAlive();
      if (dead) throw new Error(dead);
      await new Promise((r) => setTimeout(r, 300));
    }
  }

  beforeAll(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'tierstream-rules-'));
    newFile = path.join(tmp, 'top-tenth.yaml');
    const replacements: Array<[string, string]> = [
      [`version: "${DEFAULT_VERSION}"`, `version: "${NEW_VERSION}"`],
      ['- { tier: PLATINUM, share: 0.2 }', '- { tier: PLATINUM, share: 0.1 }'],
      ['- { tier: GOLD, share: 0.3 }', '- { tier: GOLD, share: 0.5 }'],
      ['- { tier: SILVER, share: 0.3 }', '- { tier: SILVER, share: 0.2 }'],
    ];
    let text = RULES_TEXT;
    for (const [from, to] of replacements) {
      if (!text.includes(from)) throw new Error(`rules/default.yaml has no "${from}"`);
      text = text.replace(from, to);
    }
    writeFileSync(newFile, text);
    await resetPipelineData(clients);
    await bootstrapPipeline(clients);
    pipeline = startPipeline(ENV);
    secondEngine = startService('tier-engine', { ...ENV, CLOCK_MODE: 'replay', HTTP_PORT: '0', LOG_LEVEL: 'warn' });
    await feedAndClose(clients, pipeline, script(), endAt);
  });

  afterAll(async () => {
    if (secondEngine) await stopService(secondEngine);
    await pipeline?.stop();
    await clients.close();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('the engine recorded the file it started with as the first version (show, history)', async () => {
    const show = parseJson<{
      active: { seq: number; version: string; source: string; applied_at: string };
      file: { differs: boolean; version: string };
    }>(await tierctl(['rules', 'show', '--file', RULES_PATH, '--json']));
    expect(show.active).toMatchObject({
      seq: 1,
      version: DEFAULT_VERSION,
      source: 'engine start: RULES_FILE rules/default.yaml',
    });
    expect(Date.parse(show.active.applied_at)).toBeGreaterThan(Date.now() - 600_000);
    expect(show.file).toMatchObject({ differs: false, version: DEFAULT_VERSION });
    const history = parseJson<Array<{ seq: number; version: string }>>(await tierctl(['rules', 'history', '--json']));
    expect(history.map((h) => [h.seq, h.version])).toEqual([[1, DEFAULT_VERSION]]);
  });

  it('diff --customers: the cut points the new rules get, the moves with their ids, the demotions grace holds', async () => {
    const statesBefore = await tierState.readStates(Array.from({ length: 20 }, (_, i) => id(i + 1)));
    const boundary = await endOffsets(clients, 'customer-tier-transitions.v1');
    diff = parseJson<Diff>(await tierctl(['rules', 'diff', newFile, '--customers', '--json']));
    expect(diff).toMatchObject({
      version: NEW_VERSION,
      measured_day: isoDay(END_DAY),
      day: isoDay(END_DAY),
      aligned: true,
    });
    expect(diff.cutpoints?.version).toBe(`cp-${isoDay(END_DAY)}+r2`);
    expect(diff.cutpoints?.cuts.value_tier).toEqual([19000, 9000, 5000]);
    expect(diff.moves.filter((m) => m.dimension === 'value_tier')).toEqual([
      { dimension: 'value_tier', from: 'SILVER', to: 'GOLD', customers: 2, ids: [id(9), id(10)] },
    ]);
    expect(diff.held).toEqual([
      {
        dimension: 'value_tier',
        tier: 'PLATINUM',
        pending: 'GOLD',
        applies_from: isoDay(END_DAY + VALUE_GRACE),
        customers: 2,
        ids: [id(17), id(18)],
      },
    ]);
    // The table says the same, ids included.
    const table = await tierctl(['rules', 'diff', newFile, '--customers']);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toContain(`${id(9)} ${id(10)}`);
    expect(table.stdout).toContain('held by grace');
    expect(table.stdout).toContain(`${id(17)} ${id(18)}`);
    // A dry run: nothing activated, no state changed, nothing published.
    expect((await tierState.getActiveRules())?.version).toBe(DEFAULT_VERSION);
    expect(await tierState.readStates(Array.from({ length: 20 }, (_, i) => id(i + 1)))).toEqual(statesBefore);
    expect(await endOffsets(clients, 'customer-tier-transitions.v1')).toEqual(boundary);
  });

  it('apply: exactly the customers the diff listed move, in one wave on one day; grace-held demotions do not', async () => {
    expect(diff).not.toBeNull();
    // Both engine processes own signal partitions (the rendezvous spans instances).
    const { groups } = await (await clients.admin()).describeGroups([GROUPS.engine]);
    expect(groups[0]?.members.length).toBe(2);
    const boundary = await endOffsets(clients, 'customer-tier-transitions.v1');
    const applied = parseJson<{ applied: string; apply: number; previous: string }>(
      await tierctl(['rules', 'apply', newFile, '--json']),
    );
    expect(applied).toMatchObject({ applied: NEW_VERSION, apply: 2, previous: DEFAULT_VERSION });
    await waitForApply(2, NEW_VERSION);
    const wave = (await readTransitions(clients)).filter(isAfter(boundary));
    const key = (customer: string, dimension: string, from: string | null, to: string) =>
      `${customer} ${dimension} ${from ?? '-'} → ${to}`;
    const expected = diff!.moves.flatMap((m) => m.ids.map((c) => key(c, m.dimension, m.from, m.to)));
    expect(wave.map((t) => key(t.customer_id, t.dimension, t.from_tier, t.to_tier)).sort()).toEqual(expected.sort());
    expect(expected).toContain(key(id(9), 'value_tier', 'SILVER', 'GOLD'));
    for (const t of wave) {
      expect(t.reason).toBe('RULES_CHANGED');
      expect(isoDay(dayOf(t.occurred_at))).toBe(isoDay(END_DAY));
      expect(t.rules_version).toBe(NEW_VERSION);
      expect(t.cutpoints_version).toBe(`cp-${isoDay(END_DAY)}+r2`);
    }
    const held = await tierState.readStates([id(17), id(18)]);
    for (const c of [id(17), id(18)]) {
      expect(held.get(c)?.tiers.value_tier, c).toBe('PLATINUM');
      expect(held.get(c)?.pending.value_tier, c).toEqual({ tier: 'GOLD', since_day: END_DAY });
    }
    const stored = (await tierState.getCutPointsHistory()).find((c) => c.version === `cp-${isoDay(END_DAY)}+r2`);
    expect(stored?.cuts.value_tier).toEqual([19000, 9000, 5000]);
  });

  it('show, history and rollback: a rollback is a new apply of the old text', async () => {
    const show = parseJson<{
      active: { seq: number; version: string; source: string };
      change: { done: number; partitions: number };
    }>(await tierctl(['rules', 'show', '--json']));
    expect(show.active).toMatchObject({ seq: 2, version: NEW_VERSION, source: `tierctl rules apply ${newFile}` });
    expect(show.change.done).toBe(show.change.partitions);

    const unknown = await tierctl(['rules', 'rollback', 'no-such-version']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('no applied rules version no-such-version');

    const boundary = await endOffsets(clients, 'customer-tier-transitions.v1');
    const rolled = parseJson<{ applied: string; apply: number; previous: string }>(
      await tierctl(['rules', 'rollback', DEFAULT_VERSION, '--json']),
    );
    expect(rolled).toMatchObject({ applied: DEFAULT_VERSION, apply: 3, previous: NEW_VERSION });
    await waitForApply(3, DEFAULT_VERSION);
    const history = parseJson<Array<{ seq: number; version: string; source: string; active: boolean }>>(
      await tierctl(['rules', 'history', '--json']),
    );
    expect(history.map((h) => [h.seq, h.version, h.active])).toEqual([
      [3, DEFAULT_VERSION, true],
      [2, NEW_VERSION, false],
      [1, DEFAULT_VERSION, false],
    ]);
    expect(history[0]!.source).toBe(`tierctl rules rollback ${DEFAULT_VERSION} (the text of apply 1)`);
    expect((await tierState.getActiveRules())?.text).toBe(RULES_TEXT);
    // The old cut points again: rc-09 and rc-10 back to SILVER is a demotion (held by grace), rc-17 and rc-18 are
    // PLATINUM candidates again (their pending demotion is dropped). Nobody moves in value_tier.
    const wave = (await readTransitions(clients)).filter(isAfter(boundary));
    expect(wave.filter((t) => t.dimension === 'value_tier')).toEqual([]);
    for (const t of wave) expect(t.reason).toBe('RULES_CHANGED');
    const states = await tierState.readStates([id(9), id(17)]);
    expect(states.get(id(9))?.pending.value_tier).toEqual({ tier: 'SILVER', since_day: END_DAY });
    expect(states.get(id(17))?.pending.value_tier).toBeUndefined();
  });

  it('an engine started with a RULES_FILE that differs from the active version says so (log, metric, show)', async () => {
    if (secondEngine) await stopService(secondEngine);
    secondEngine = null;
    await pipeline?.stop();
    pipeline = null;
    const edited = path.join(tmp, 'edited.yaml');
    writeFileSync(edited, RULES_TEXT.replace('grace_days: 14', 'grace_days: 10'));
    const port = await freePort();
    const lines: string[] = [];
    let engine: ServiceProcess | null = startService(
      'tier-engine',
      { ...ENV, CLOCK_MODE: 'replay', HTTP_PORT: String(port), LOG_LEVEL: 'info', RULES_FILE: edited },
      (_n, line) => lines.push(line),
    );
    try {
      const deadline = Date.now() + 60_000;
      while (!lines.some((l) => l.includes('tier engine started'))) {
        if (engine.child.exitCode !== null) throw new Error(`tier-engine exited: ${lines.slice(-20).join('\n')}`);
        if (Date.now() > deadline) throw new Error(`tier-engine did not start: ${lines.slice(-20).join('\n')}`);
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(lines.some((l) => l.includes(`rules ${DEFAULT_VERSION} active (apply 3, tierctl rules rollback`))).toBe(
        true,
      );
      const warning = lines.find((l) => l.includes('differs from the active rules'));
      expect(warning).toBeDefined();
      expect(warning).toContain(edited);
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      expect(metrics).toMatch(/^tierstream_rules_file_differs\{[^}]*\} 1$/m);
      const show = parseJson<{ file: { differs: boolean }; engine_files: Array<{ file: string; differs: boolean }> }>(
        await tierctl(['rules', 'show', '--file', edited, '--json']),
      );
      expect(show.file.differs).toBe(true);
      expect(show.engine_files.find((f) => f.file === edited)?.differs).toBe(true);
      const text = await tierctl(['rules', 'show', '--file', edited]);
      expect(text.stdout).toContain(`WARNING: ${edited} (version ${DEFAULT_VERSION}) differs from the active version`);
    } finally {
      await stopService(engine);
      engine = null;
    }
  });
});

/**
 * The same change in live mode (wall clock): the population is measured as of yesterday (the last closed day), the
 * cut points of the new rules are in force from today, and every customer moves in one wave dated today. Twenty
 * customers rl-01…rl-20 bought 1000…20000 two days ago; no cut points were computed yet (the engine starts closing
 * days at yesterday), so value_tier ranks by the fallback cuts until the apply: rl-10…rl-20 SILVER, the rest BRONZE.
 */
describe('rules change in live mode', () => {
  const clients = new Clients();
  const tierState = new TierStateStore(clients.redis, clients.redisPrefix);
  let pipeline: RunningPipeline | null = null;
  let tmp = '';
  const today = dayOf(Date.now());
  const ids = Array.from({ length: 20 }, (_, i) => `rl-${String(i + 1).padStart(2, '0')}`);

  beforeAll(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'tierstream-rules-live-'));
    await resetPipelineData(clients);
    await bootstrapPipeline(clients);
    pipeline = startPipeline({ ...ENV, CLOCK_MODE: 'live' });
    const producer = await clients.producer();
    await feedEvents(
      producer,
      clients.serde,
      ids.map((c, i) => placed(c, today - 2, (i + 1) * 1000)),
    );
    // Live: each customer is evaluated when its signal arrives.
    const deadline = Date.now() + 90_000;
    for (;;) {
      const states = await tierState.readStates(ids);
      if (ids.every((c) => states.get(c)?.tiers.value_tier)) break;
      if (Date.now() > deadline) throw new Error(`customers not evaluated: ${states.size}/${ids.length}`);
      const dead = pipeline.isAlive();
      if (dead) throw new Error(dead);
      await new Promise((r) => setTimeout(r, 300));
    }
  });

  afterAll(async () => {
    await pipeline?.stop();
    await clients.close();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('diff and apply agree: cut points measured yesterday, every move RULES_CHANGED today', async () => {
    const file = path.join(tmp, 'top-tenth.yaml');
    writeFileSync(
      file,
      RULES_TEXT.replace(`version: "${DEFAULT_VERSION}"`, `version: "${NEW_VERSION}"`)
        .replace('- { tier: PLATINUM, share: 0.2 }', '- { tier: PLATINUM, share: 0.1 }')
        .replace('- { tier: GOLD, share: 0.3 }', '- { tier: GOLD, share: 0.5 }')
        .replace('- { tier: SILVER, share: 0.3 }', '- { tier: SILVER, share: 0.2 }'),
    );
    const diff = parseJson<Diff>(await tierctl(['rules', 'diff', file, '--customers', '--json']));
    expect(diff).toMatchObject({ measured_day: isoDay(today - 1), day: isoDay(today), aligned: true });
    expect(diff.cutpoints).toMatchObject({ version: `cp-${isoDay(today - 1)}+r2`, population: 20 });
    expect(diff.cutpoints?.cuts.value_tier).toEqual([19000, 9000, 5000]);
    const value = Object.fromEntries(
      diff.moves.filter((m) => m.dimension === 'value_tier').map((m) => [`${m.from} → ${m.to}`, m.ids]),
    );
    expect(value).toEqual({
      'SILVER → PLATINUM': ['rl-19', 'rl-20'],
      'SILVER → GOLD': ['rl-10', 'rl-11', 'rl-12', 'rl-13', 'rl-14', 'rl-15', 'rl-16', 'rl-17', 'rl-18'],
      'BRONZE → GOLD': ['rl-09'],
      'BRONZE → SILVER': ['rl-05', 'rl-06', 'rl-07', 'rl-08'],
    });

    const boundary = await endOffsets(clients, 'customer-tier-transitions.v1');
    expect((await tierctl(['rules', 'apply', file])).code).toBe(0);
    const partitions = (
      await (await clients.admin()).fetchTopicMetadata({ topics: [clients.signalsTopic] })
    ).topics[0]!.partitions.map((p) => p.partitionId);
    const deadline = Date.now() + 90_000;
    for (;;) {
      const metas = await Promise.all(partitions.map((p) => tierState.getPartitionMeta(p)));
      if (metas.every((m) => m.rules_seq === '2')) break;
      if (Date.now() > deadline) throw new Error(`rules apply 2 not finished: ${JSON.stringify(metas)}`);
      await new Promise((r) => setTimeout(r, 300));
    }
    const wave = (await readTransitions(clients)).filter(isAfter(boundary));
    const key = (c: string, d: string, from: string | null, to: string) => `${c} ${d} ${from ?? '-'} → ${to}`;
    expect(wave.map((t) => key(t.customer_id, t.dimension, t.from_tier, t.to_tier)).sort()).toEqual(
      diff.moves.flatMap((m) => m.ids.map((c) => key(c, m.dimension, m.from, m.to))).sort(),
    );
    for (const t of wave) {
      expect(t.reason).toBe('RULES_CHANGED');
      expect(isoDay(dayOf(t.occurred_at))).toBe(isoDay(today));
      expect(t.cutpoints_version).toBe(`cp-${isoDay(today - 1)}+r2`);
    }
  });
});
