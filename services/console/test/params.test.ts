import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { checkDimension, checkRange, day, dimension, intParam, parseQuery, tier } from '../src/routes/params';
import { HttpError } from '../src/types';

function status400(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(HttpError);
    expect((err as HttpError).status).toBe(400);
    return (err as Error).message;
  }
  throw new Error('expected a 400');
}

describe('route parameters', () => {
  const schema = z.object({ dimension: dimension.default('value_tier'), from: day, limit: intParam(50, 1, 1000) });

  it('parses and defaults', () => {
    expect(parseQuery(schema, { from: '2024-02-29' })).toEqual({
      dimension: 'value_tier',
      from: '2024-02-29',
      limit: 50,
    });
    expect(parseQuery(schema, { from: '2024-02-29', limit: '7', dimension: 'lifecycle' })).toEqual({
      dimension: 'lifecycle',
      from: '2024-02-29',
      limit: 7,
    });
  });

  it('names the bad parameter in a 400', () => {
    expect(status400(() => parseQuery(schema, {}))).toBe('from: is required');
    expect(status400(() => parseQuery(schema, { from: '2023-02-29' }))).toBe(
      'from: expected a day YYYY-MM-DD between 1970-01-01 and 2105-12-31, got "2023-02-29"',
    );
    expect(status400(() => parseQuery(schema, { from: "2024-01-01' OR 1=1" }))).toMatch(/^from: expected a day/);
    expect(status400(() => parseQuery(schema, { from: '2024-01-01', dimension: 'value tier' }))).toBe(
      'dimension: expected a dimension id (letters, digits, underscore, starting with a letter)',
    );
    expect(status400(() => parseQuery(schema, { from: '2024-01-01', limit: '0' }))).toBe('limit: expected at least 1');
    expect(status400(() => parseQuery(schema, { from: '2024-01-01', limit: 'ten' }))).toMatch(/^limit: /);
    expect(status400(() => parseQuery(z.object({ t: tier }), { t: "GOLD'" }))).toBe(
      't: expected a tier name or (none)',
    );
    expect(parseQuery(z.object({ t: tier }), { t: '(none)' })).toEqual({ t: '(none)' });
  });

  it('says "is required" only for a missing parameter, not for a wrong or repeated one', () => {
    expect(status400(() => parseQuery(schema, { from: '2024-01-01', limit: 'ten' }))).toBe(
      'limit: expected an integer',
    );
    expect(status400(() => parseQuery(schema, { from: ['2024-01-01', '2024-01-02'] }))).toBe(
      'from: expected one value, got 2',
    );
  });

  it('accepts every dimension id and tier name a rules file may use (identifiers, upper case and long ones too)', () => {
    const long = `Tier_${'x'.repeat(90)}`;
    expect(parseQuery(schema, { from: '2024-01-01', dimension: 'VIP_Club' }).dimension).toBe('VIP_Club');
    expect(parseQuery(schema, { from: '2024-01-01', dimension: long }).dimension).toBe(long);
    expect(parseQuery(z.object({ t: tier }), { t: long })).toEqual({ t: long });
  });

  it('checks ranges and dimensions', () => {
    expect(() => checkRange('2024-01-01', '2024-01-01')).not.toThrow();
    expect(status400(() => checkRange('2024-01-02', '2024-01-01'))).toBe('from: 2024-01-02 is after to (2024-01-01)');
    expect(status400(() => checkRange('2000-01-01', '2024-01-01'))).toBe(
      'to: the range 2000-01-01..2024-01-01 has 8767 days; at most 3660',
    );
    expect(status400(() => checkDimension('tier', [{ id: 'value_tier' }, { id: 'lifecycle' }]))).toBe(
      "dimension: unknown dimension 'tier' (known: value_tier, lifecycle)",
    );
  });
});
