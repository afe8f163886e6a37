import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCliConfig } from '../src/config';

describe("tierctl's configuration", () => {
  it("reads the engine's RULES_FILE from CONFIG_FILE (rules show compares the deployment's file, not the default)", () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'tierctl-cfg-')), 'deploy.yaml');
    writeFileSync(file, 'RULES_FILE: /etc/tierstream/rules.yaml\nREDIS_PREFIX: prod\n');
    expect(loadCliConfig({ CONFIG_FILE: file })).toMatchObject({
      RULES_FILE: '/etc/tierstream/rules.yaml',
      REDIS_PREFIX: 'prod',
    });
    expect(loadCliConfig({ CONFIG_FILE: file, RULES_FILE: 'rules/b2b.yaml' }).RULES_FILE).toBe('rules/b2b.yaml');
    expect(loadCliConfig({}).RULES_FILE).toBe('rules/default.yaml');
  });
});
