import { CredentialsRejectedError, loadConfig, redisServiceSettings } from '@tierstream/config';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createLogger, DependencyWaits, scrubSecrets, waitForDependency } from '../src';

const quiet = { warn: () => undefined, info: () => undefined };

describe('waitForDependency with refused credentials', () => {
  it('says "<dependency> authentication failed" on readiness while it retries, then gives up', async () => {
    const waits = new DependencyWaits();
    const seen: string[][] = [];
    let attempts = 0;
    const wait = waitForDependency(
      waits,
      'kafka',
      async () => {
        attempts++;
        seen.push(waits.problems());
        throw Object.assign(new Error('SASL SCRAM SHA512 authentication failed: Authentication failed'), {
          name: 'KafkaJSSASLAuthenticationError',
        });
      },
      { logger: quiet, initialDelayMs: 20, maxDelayMs: 40, authFailureGiveUpMs: 300 },
    );
    await expect(wait).rejects.toBeInstanceOf(CredentialsRejectedError);
    await expect(wait).rejects.toThrow(/^kafka authentication failed: SASL SCRAM SHA512 authentication failed/);
    expect(attempts).toBeGreaterThan(2);
    expect(seen[1]).toEqual([
      'kafka authentication failed: SASL SCRAM SHA512 authentication failed: Authentication failed',
    ]);
    expect(waits.problems()).toEqual([]);
  });

  it('keeps waiting through an outage (no give-up), and an outage resets the refused-credentials clock', async () => {
    const waits = new DependencyWaits();
    let attempts = 0;
    const result = await waitForDependency(
      waits,
      'redis',
      async () => {
        attempts++;
        if (attempts < 8) throw new Error(attempts % 2 ? 'WRONGPASS invalid username-password pair' : 'ECONNREFUSED');
        return 'up';
      },
      { logger: quiet, initialDelayMs: 20, maxDelayMs: 20, authFailureGiveUpMs: 50 },
    );
    expect(result).toBe('up');
  });
});

describe('scrubSecrets', () => {
  it('replaces each secret, raw and JSON-escaped, and leaves other text alone', () => {
    const line = JSON.stringify({ msg: 'connect rediss://svc:pa"ss@h failed', err: 'token abc123' });
    const out = scrubSecrets(line, ['pa"ss', 'abc123']);
    expect(out).not.toContain('pa\\"ss');
    expect(out).not.toContain('abc123');
    expect(out).toContain('rediss://svc:***@h');
    expect(scrubSecrets('nothing here', ['abc123'])).toBe('nothing here');
  });
});

describe('createLogger never writes a loaded secret or a credential field', () => {
  it('scrubs the secret values of the configurations loaded in the process, and redacts password fields', () => {
    loadConfig(z.object(redisServiceSettings), { REDIS_USERNAME: 'svc', REDIS_PASSWORD: 'pw-logged-by-mistake-7' });
    const lines: string[] = [];
    const logger = createLogger('test', 'info', { write: (line: string) => lines.push(line) });
    logger.error({ err: 'connect rediss://svc:pw-logged-by-mistake-7@h:6379 failed' }, 'auth pw-logged-by-mistake-7');
    logger.info({ password: 'other-secret', sasl: { password: 'third' } }, 'connecting');
    const text = lines.join('');
    expect(lines).toHaveLength(2);
    expect(text).not.toContain('pw-logged-by-mistake-7');
    expect(text).not.toContain('other-secret');
    expect(text).not.toContain('third');
    expect(text).toContain('rediss://svc:***@h:6379');
  });

  it('scrubs them with LOG_PRETTY=1 too (pretty lines, same scrubbing)', () => {
    loadConfig(z.object(redisServiceSettings), { REDIS_USERNAME: 'svc', REDIS_PASSWORD: 'pw-pretty-by-mistake-8' });
    const lines: string[] = [];
    const before = process.env.LOG_PRETTY;
    process.env.LOG_PRETTY = '1';
    try {
      const logger = createLogger('test', 'info', { write: (line: string) => lines.push(line) });
      logger.error({ err: 'connect rediss://svc:pw-pretty-by-mistake-8@h:6379 failed' }, 'auth pw-pretty-by-mistake-8');
    } finally {
      if (before === undefined) delete process.env.LOG_PRETTY;
      else process.env.LOG_PRETTY = before;
    }
    const text = lines.join('');
    expect(lines).toHaveLength(1);
    expect(text).not.toContain('pw-pretty-by-mistake-8');
    expect(text).toContain('rediss://svc:***@h:6379');
    expect(text).not.toMatch(/^\{/); // pretty, not JSON
  });
});
