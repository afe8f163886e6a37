import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseDestination } from '../src/spec';

const DIR = path.resolve(import.meta.dirname, '../../../examples/destinations');

describe('examples/destinations', () => {
  it('every example file is a valid destination (secrets stubbed)', () => {
    const files = readdirSync(DIR).filter((f) => f.endsWith('.yaml'));
    expect(files.length).toBeGreaterThanOrEqual(3);
    for (const f of files) {
      const d = parseDestination(path.join(DIR, f), readFileSync(path.join(DIR, f), 'utf8'), {
        env: () => 'stub',
        readFile: () => 'stub',
      });
      expect(d.name).toBe(f.replace('.yaml', ''));
    }
  });

  it('take their secrets from the variables docs/destinations.md names (and one from a file)', () => {
    const asked: string[] = [];
    for (const f of readdirSync(DIR)
      .filter((x) => x.endsWith('.yaml'))
      .sort()) {
      parseDestination(f, readFileSync(path.join(DIR, f), 'utf8'), {
        env: (n) => {
          asked.push(n);
          return 'stub';
        },
        readFile: (file) => {
          asked.push(file);
          return 'stub';
        },
      });
    }
    expect(asked).toEqual(['/run/secrets/hubspot-token', 'EXAMPLE_WEBHOOK_SECRET', 'ZOHO_CRM_TOKEN']);
  });
});
