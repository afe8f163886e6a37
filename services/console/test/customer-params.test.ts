import { describe, expect, it } from 'vitest';
import { roleOf } from '../src/auth';
import type { ConsoleConfig } from '../src/config';
import { asOfParam, customerIdParam } from '../src/routes/customer';
import { HttpError } from '../src/types';

describe('customer route parameters', () => {
  it('takes a day as the close of that UTC day and an ISO instant as is', () => {
    expect(asOfParam('2026-04-10')).toBe(Date.parse('2026-04-10T23:59:59.999Z'));
    expect(asOfParam('2026-04-10T08:30:00Z')).toBe(Date.parse('2026-04-10T08:30:00Z'));
    expect(asOfParam(undefined)).toBeUndefined();
    expect(asOfParam('')).toBeUndefined();
  });

  it('refuses impossible days and other text with a 400 naming as_of', () => {
    for (const bad of ['2026-13-01', '2026-02-30', 'yesterday', '1712345678901', '2026-4-1']) {
      expect(() => asOfParam(bad), bad).toThrow(HttpError);
      try {
        asOfParam(bad);
      } catch (err) {
        expect((err as HttpError).status).toBe(400);
        expect((err as HttpError).message).toMatch(/^as_of: /);
      }
    }
  });

  it('accepts any printable id up to 200 characters and refuses control characters', () => {
    expect(customerIdParam('C000001')).toBe('C000001');
    expect(customerIdParam('a}b{ ü')).toBe('a}b{ ü');
    for (const bad of ['', 'a\u0000b', 'tab\there', 'x'.repeat(201), undefined])
      expect(() => customerIdParam(bad), JSON.stringify(bad)).toThrow(/customer id/);
  });
});

describe('roleOf', () => {
  const config = {
    CONSOLE_VIEWER_TOKEN: 'viewer-0123456789abcdef',
    CONSOLE_ADMIN_TOKEN: 'admin-0123456789abcdef',
  } as ConsoleConfig;

  it('maps each token to its role and anything else to none', () => {
    expect(roleOf('viewer-0123456789abcdef', config)).toBe('viewer');
    expect(roleOf('admin-0123456789abcdef', config)).toBe('admin');
    expect(roleOf('viewer-0123456789abcde', config)).toBeNull();
    expect(roleOf('', config)).toBeNull();
    expect(roleOf(undefined, config)).toBeNull();
    expect(roleOf('viewer-0123456789abcdef', { ...config, CONSOLE_VIEWER_TOKEN: undefined })).toBeNull();
  });
});
