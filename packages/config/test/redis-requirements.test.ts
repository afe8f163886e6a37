import { describe, expect, it } from 'vitest';
import { redisFindings } from '../src/redis-requirements';

const GOOD = { 'maxmemory-policy': 'noeviction', appendonly: 'yes', appendfsync: 'always' };

describe('redisFindings', () => {
  it('nothing to say when every requirement is met', () => {
    expect(redisFindings('r:6379', GOOD)).toEqual([]);
  });

  it('one finding per unmet setting, each naming the setting, the value and what is needed', () => {
    const f = redisFindings('r:6379', { ...GOOD, 'maxmemory-policy': 'volatile-lru', appendfsync: 'everysec' });
    expect(f.map((x) => [x.setting, x.value, x.required])).toEqual([
      ['maxmemory-policy', 'volatile-lru', 'noeviction'],
      ['appendfsync', 'everysec', 'always'],
    ]);
    expect(f[0]!.message).toMatch(/^redis r:6379: maxmemory-policy is volatile-lru, tierstream needs noeviction: /);
    expect(f[1]!.message).toMatch(/^redis r:6379: appendfsync is everysec, tierstream needs always: /);
  });

  it('AOF off: the appendonly finding only (appendfsync does not matter without AOF)', () => {
    const f = redisFindings('r:6379', { ...GOOD, appendonly: 'no', appendfsync: 'everysec' });
    expect(f.map((x) => x.setting)).toEqual(['appendonly']);
  });

  it('CONFIG disabled or renamed: one "could not check" finding, no exception', () => {
    const f = redisFindings('r:6379', null, "ERR unknown command 'CONFIG'");
    expect(f).toHaveLength(1);
    expect(f[0]).toMatchObject({ setting: 'CONFIG', value: null });
    expect(f[0]!.message).toContain(
      "could not check maxmemory-policy, appendonly and appendfsync (CONFIG GET failed: ERR unknown command 'CONFIG')",
    );
  });
});
