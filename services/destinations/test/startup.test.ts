/**
 * A bad destination file stops the service before it connects to anything: one line on stderr naming the file and
 * the key, exit code 2 (the process is started like a deployment starts it; no stack is needed).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const MAIN = path.resolve(import.meta.dirname, '../src/main.ts');

function start(files: Record<string, string>, env: Record<string, string> = {}) {
  const dir = mkdtempSync(path.join(tmpdir(), 'destinations-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  const r = spawnSync(process.execPath, ['--import', 'tsx', MAIN], {
    env: { ...process.env, DESTINATIONS_DIR: dir, KAFKA_BROKERS: '127.0.0.1:1', ...env },
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { code: r.status, lines: r.stderr.trim().split('\n'), dir };
}

const good = 'kind: webhook\nurl: http://127.0.0.1:9/h\nsecret: { env: HOOK_SECRET }\n';

describe('destinations service start', () => {
  it('exits 2 with one line naming the file and the unknown key', () => {
    const r = start({ 'a.yaml': good, 'b.yaml': `${good}retry: 3\n` }, { HOOK_SECRET: 'x' });
    expect(r.code).toBe(2);
    expect(r.lines).toEqual([`destinations: ${path.join(r.dir, 'b.yaml')}: retry: unknown key`]);
  });

  it('exits 2 naming an invalid URL and a missing secret', () => {
    const bad = start({ 'a.yaml': good.replace('http://127.0.0.1:9/h', 'localhost:9') }, { HOOK_SECRET: 'x' });
    expect(bad.code).toBe(2);
    expect(bad.lines).toEqual([`destinations: ${path.join(bad.dir, 'a.yaml')}: url: expected an http(s) URL`]);
    const unset = start({ 'a.yaml': good }, { HOOK_SECRET: '' });
    expect(unset.code).toBe(2);
    expect(unset.lines).toEqual([
      `destinations: ${path.join(unset.dir, 'a.yaml')}: secret: environment variable HOOK_SECRET is not set`,
    ]);
  });
});
