import { describe, expect, it } from 'vitest';
import { DestinationFileError, describeDestination, parseDestination, type SecretSource } from '../src/spec';

const secrets: SecretSource = {
  env: (name) => ({ HOOK_SECRET: 's3cret', CRM_TOKEN: 'tok' })[name],
  readFile: (file) => {
    if (file === '/run/secrets/hook') return 'from-file\n';
    throw new Error('ENOENT: no such file');
  },
};

const webhook = `kind: webhook
url: http://127.0.0.1:8080/hooks
secret: { env: HOOK_SECRET }
headers: { X-Team: sales }
filter:
  dimensions: [value]
  entered: [PLATINUM]
  directions: [UP]
  exclude_reasons: [RULES_CHANGED]
delivery:
  timeout_ms: 2000
`;

function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(DestinationFileError);
    return (err as Error).message;
  }
  throw new Error('expected a DestinationFileError');
}

describe('parseDestination', () => {
  it('parses a webhook, names it after the file, resolves the secret and fills delivery defaults', () => {
    const d = parseDestination('destinations/vip-hook.yaml', webhook, secrets);
    expect(d).toMatchObject({
      name: 'vip-hook',
      kind: 'webhook',
      url: 'http://127.0.0.1:8080/hooks',
      secret: 's3cret',
      headers: { 'X-Team': 'sales' },
      filter: { dimensions: ['value'], entered: ['PLATINUM'], directions: ['UP'], exclude_reasons: ['RULES_CHANGED'] },
      delivery: { timeout_ms: 2000, max_attempts: 8, concurrency: 16, rate_per_second: 0 },
    });
    expect(JSON.stringify(describeDestination(d))).not.toContain('s3cret');
  });

  it('reads a secret from a file (trimmed)', () => {
    const d = parseDestination(
      'a.yaml',
      webhook.replace('{ env: HOOK_SECRET }', '{ file: /run/secrets/hook }'),
      secrets,
    );
    expect(d.kind === 'webhook' && d.secret).toBe('from-file');
  });

  it('names the file and the unknown key, also nested ones', () => {
    expect(errorOf(() => parseDestination('d/a.yaml', `${webhook}retries: 3\n`, secrets))).toBe(
      'd/a.yaml: retries: unknown key',
    );
    const nested = webhook.replace('  timeout_ms: 2000', '  timeout_ms: 2000\n  timout: 5');
    expect(errorOf(() => parseDestination('d/a.yaml', nested, secrets))).toBe('d/a.yaml: delivery.timout: unknown key');
  });

  it('names the file and key of an invalid URL', () => {
    const bad = webhook.replace('http://127.0.0.1:8080/hooks', 'ftp://127.0.0.1/x');
    expect(errorOf(() => parseDestination('d/a.yaml', bad, secrets))).toBe('d/a.yaml: url: expected an http(s) URL');
    const notUrl = webhook.replace('http://127.0.0.1:8080/hooks', 'not a url');
    expect(errorOf(() => parseDestination('d/a.yaml', notUrl, secrets))).toBe('d/a.yaml: url: expected an http(s) URL');
  });

  it('names the missing secret variable and the unreadable secret file', () => {
    const unset = webhook.replace('HOOK_SECRET', 'NOT_SET');
    expect(errorOf(() => parseDestination('d/a.yaml', unset, secrets))).toBe(
      'd/a.yaml: secret: environment variable NOT_SET is not set',
    );
    const missing = webhook.replace('{ env: HOOK_SECRET }', '{ file: /nope }');
    expect(errorOf(() => parseDestination('d/a.yaml', missing, secrets))).toBe(
      'd/a.yaml: secret: cannot read secret file /nope: ENOENT: no such file',
    );
    const noSecret = webhook.replace('secret: { env: HOOK_SECRET }\n', '');
    expect(errorOf(() => parseDestination('d/a.yaml', noSecret, secrets))).toMatch(/^d\/a\.yaml: secret: /);
  });

  it('refuses an unknown kind, a bad direction and a bad file name', () => {
    expect(errorOf(() => parseDestination('a.yaml', 'kind: email\n', secrets))).toMatch(/^a\.yaml: kind: /);
    const dir = webhook.replace('directions: [UP]', 'directions: [SIDEWAYS]');
    expect(errorOf(() => parseDestination('a.yaml', dir, secrets))).toMatch(/^a\.yaml: filter\.directions\.0: /);
    expect(errorOf(() => parseDestination('d/Bad Name.yaml', webhook, secrets))).toMatch(
      /^d\/Bad Name\.yaml: \(file name\): /,
    );
  });

  it('parses a crm-upsert destination with its token and mapping', () => {
    const text = `kind: crm-upsert
template: zoho-crm
base_url: http://127.0.0.1:9000
token: { env: CRM_TOKEN }
id_field: Tierstream_Id
fields: { value: Value_Tier }
picklists: { value: { PLATINUM: Platinum } }
batch_size: 50
`;
    const d = parseDestination('zoho.yaml', text, secrets);
    expect(d).toMatchObject({ kind: 'crm-upsert', token: 'tok', module: 'Contacts', batch_size: 50 });
    expect(errorOf(() => parseDestination('zoho.yaml', text.replace('zoho-crm', 'salesforce'), secrets))).toMatch(
      /^zoho\.yaml: template: /,
    );
  });
});
