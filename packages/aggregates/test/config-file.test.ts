import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { DEFAULT_AGGREGATE_CONFIG } from '../src/config';
import { aggregatesConfigFileSetting, loadAggregateConfig } from '../src/config-file';

const dir = mkdtempSync(path.join(os.tmpdir(), 'aggcfg-'));
const file = (name: string, text: string) => {
  const f = path.join(dir, name);
  writeFileSync(f, text);
  return f;
};
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('loadAggregateConfig', () => {
  it('gives the defaults without a file', () => {
    expect(loadAggregateConfig(undefined)).toBe(DEFAULT_AGGREGATE_CONFIG);
    expect(loadAggregateConfig('')).toBe(DEFAULT_AGGREGATE_CONFIG);
  });

  it('merges partial weights over the defaults and reads the other settings', () => {
    const c = loadAggregateConfig(file('ok.yaml', 'halfLifeDays: 7\nweights:\n  PAGE_VIEW: 15\n'));
    expect(c.weights.PAGE_VIEW).toBe(15);
    expect(c.weights.ADD_TO_CART).toBe(DEFAULT_AGGREGATE_CONFIG.weights.ADD_TO_CART);
    expect(c.halfLifeDays).toBe(7);
    expect(c.fxRates).toEqual(DEFAULT_AGGREGATE_CONFIG.fxRates);
  });

  it('throws one line naming the file for a missing file, bad YAML or an invalid value', () => {
    expect(() => loadAggregateConfig(path.join(dir, 'missing.yaml'))).toThrow(/^cannot read .*missing\.yaml/);
    expect(() => loadAggregateConfig(file('bad.yaml', 'weights: [1, \n'))).toThrow(/bad\.yaml is not YAML/);
    const invalid = file('invalid.yaml', 'weights:\n  PAGE_VEIW: 2\n');
    expect(() => loadAggregateConfig(invalid)).toThrow(/invalid\.yaml: .*PAGE_VEIW/);
    expect(() => loadAggregateConfig(invalid)).not.toThrow(/\n/);
  });

  it('as a setting: an invalid file is an issue of that setting', () => {
    const schema = z.object({ AGGREGATES_CONFIG_FILE: aggregatesConfigFileSetting });
    expect(schema.safeParse({}).success).toBe(true);
    const r = schema.safeParse({ AGGREGATES_CONFIG_FILE: path.join(dir, 'missing.yaml') });
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.path).toEqual(['AGGREGATES_CONFIG_FILE']);
  });
});
