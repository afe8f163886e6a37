import { afterAll, describe, expect, it } from 'vitest';
import { createTestRedis } from '../../../test/support/stack';
import { RulesApplyError, RulesApplyRefusal, RulesStore } from '../src/rules';

// The rules history in Redis (rules_apply-3.lua through RulesStore) on the real stack's Redis.

describe('RulesStore', () => {
  const t = createTestRedis('rules');
  const store = new RulesStore(t.redis, 'ts');
  afterAll(() => t.cleanup());

  const refusal = async (p: Promise<unknown>) => {
    const err = await p.then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(RulesApplyError);
    return (err as RulesApplyError).refusal;
  };

  it('keeps every activation with its text, newest first; a rollback is a new apply of old text', async () => {
    expect(await store.active()).toBeNull();
    const first = await store.apply('v1', 'text 1', 'engine start: RULES_FILE a.yaml', {
      onlyIfNone: true,
      appliedAt: 1,
    });
    expect(first).toEqual({
      entry: { seq: 1, version: 'v1', text: 'text 1', appliedAt: 1, source: 'engine start: RULES_FILE a.yaml' },
      created: true,
    });
    // A second engine start does not overwrite it.
    expect(await refusal(store.apply('v0', 'text 0', 'engine start', { onlyIfNone: true }))).toBe(
      RulesApplyRefusal.AlreadyActive,
    );
    await store.apply('v2', 'text 2', 'tierctl rules apply /tmp/b.yaml', { appliedAt: 2 });
    // The same text again changes nothing; the active version with other content, or a known version with other
    // content, is refused.
    expect((await store.apply('v2', 'text 2', 'again')).created).toBe(false);
    expect(await refusal(store.apply('v2', 'other', 'x'))).toBe(RulesApplyRefusal.ActiveWithOtherText);
    expect(await refusal(store.apply('v1', 'other', 'x'))).toBe(RulesApplyRefusal.VersionNamesOtherText);
    const old = await store.byVersion('v1');
    const rolled = await store.apply(old!.version, old!.text, 'tierctl rules rollback v1 (the text of apply 1)', {
      appliedAt: 3,
    });
    expect(rolled.entry.seq).toBe(3);
    expect((await store.history()).map((e) => [e.seq, e.version, e.text, e.appliedAt, e.source])).toEqual([
      [3, 'v1', 'text 1', 3, 'tierctl rules rollback v1 (the text of apply 1)'],
      [2, 'v2', 'text 2', 2, 'tierctl rules apply /tmp/b.yaml'],
      [1, 'v1', 'text 1', 1, 'engine start: RULES_FILE a.yaml'],
    ]);
    expect(await store.active()).toMatchObject({ seq: 3, version: 'v1', text: 'text 1' });
  });

  it('an active version stored before the history existed becomes its first entry', async () => {
    const legacy = new RulesStore(t.redis, 'legacy');
    await t.redis.hset(legacy.keys.legacy(), { version: 'old', text: 'old text', appliedAt: '5' });
    expect(await legacy.active()).toMatchObject({ seq: 0, version: 'old', text: 'old text', appliedAt: 5 });
    await legacy.apply('new', 'new text', 'tierctl rules apply n.yaml');
    expect((await legacy.history()).map((e) => [e.seq, e.version])).toEqual([
      [2, 'new'],
      [1, 'old'],
    ]);
    expect(await t.redis.exists(legacy.keys.legacy())).toBe(0);
  });
});
