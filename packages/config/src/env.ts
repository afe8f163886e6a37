import { readFileSync } from 'node:fs';
import { isMap, isScalar, isSeq, parseDocument } from 'yaml';
import { z } from 'zod';
import {
  clickhouseSecuritySettings,
  connectionProblems,
  kafkaSecuritySettings,
  redisSecuritySettings,
  registrySecuritySettings,
  resolveSecretFiles,
  secretValues,
} from './connections';
import { STACK_DEFAULTS } from './stack';

/** A configuration problem, worded for the operator: it names the variable (or file key) and what was expected. */
export class ConfigError extends Error {
  constructor(readonly issues: string[]) {
    super(`invalid configuration: ${issues.join('; ')}`);
    this.name = 'ConfigError';
  }
}

/**
 * Reads a service's settings from environment variables, optionally layered over a YAML file named by CONFIG_FILE
 * (environment wins). The schema's keys are the environment variable names; the file uses the same names. A secret
 * may come from its `<NAME>_FILE` (SECRET_FILE_SETTINGS); connection settings are checked across fields
 * (connectionProblems). The secrets found are remembered for the loggers' scrubbing (knownSecrets).
 */
export function loadConfig<S extends z.ZodObject>(schema: S, env: NodeJS.ProcessEnv = process.env): z.infer<S> {
  let fromFile: Record<string, unknown> = {};
  const file = env.CONFIG_FILE;
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new ConfigError([`CONFIG_FILE: cannot read ${file}: ${(err as Error).message}`]);
    }
    fromFile = settingsFromYaml(text, file);
  }
  const merged: Record<string, unknown> = { ...fromFile };
  for (const key of Object.keys(schema.shape)) {
    const value = env[key];
    if (value !== undefined && value !== '') merged[key] = value;
  }
  const secretFileProblems = resolveSecretFiles(new Set(Object.keys(schema.shape)), env, fromFile, merged);
  if (secretFileProblems.length > 0) throw new ConfigError(secretFileProblems);
  const result = schema.safeParse(merged);
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.map((issue) => {
        const key = issue.path.join('.') || '(root)';
        const name = String(issue.path[0] ?? '');
        const got = issue.path.length > 0 ? merged[name] : undefined;
        return `${key}: ${issue.message}${got !== undefined ? ` (got ${JSON.stringify(redactSecret(name, got))})` : ''}`;
      }),
    );
  }
  const crossField = connectionProblems(result.data as Record<string, unknown>);
  if (crossField.length > 0) throw new ConfigError(crossField);
  for (const value of secretValues(result.data as Record<string, unknown>)) secrets.add(value);
  return result.data;
}

const secrets = new Set<string>();

/**
 * The secret values of every configuration loaded in this process (passwords, tokens): the loggers replace them
 * with `***` in any line (createLogger), whatever field or message they would appear in.
 */
export function knownSecrets(): readonly string[] {
  return [...secrets];
}

/**
 * The settings of a CONFIG_FILE's text as environment strings. A number or boolean is taken as written (`0123`,
 * `12345678901234567890`, `0x1F` and `1e3` stay those characters: YAML would read 123, a rounded float, 31 and 1000,
 * which silently changes a password or a key prefix); a list is joined with commas; a key without a value (or `~`) is
 * unset, as an empty environment variable is. Throws ConfigError on invalid YAML (position only: the offending line
 * may hold a password), on a file that is not a mapping, and on a setting whose value is a mapping.
 */
function settingsFromYaml(text: string, file: string): Record<string, string> {
  const doc = parseDocument(text);
  const error = doc.errors[0];
  if (error) {
    const pos = error.linePos?.[0];
    throw new ConfigError([
      `CONFIG_FILE: ${file} is not valid YAML${pos ? ` at line ${pos.line}, column ${pos.col}` : ''}`,
    ]);
  }
  if (doc.contents === null) return {};
  if (!isMap(doc.contents))
    throw new ConfigError([`CONFIG_FILE: ${file} must hold a mapping of setting names to values`]);
  const asText = (node: unknown): string | undefined => {
    if (isScalar(node)) {
      if (node.value === null || node.value === undefined) return undefined;
      if (typeof node.value === 'string') return node.value;
      return node.type === 'PLAIN' && node.source !== undefined ? node.source : String(node.value);
    }
    if (isSeq(node))
      return node.items
        .map(asText)
        .filter((v) => v !== undefined)
        .join(',');
    return undefined;
  };
  const out: Record<string, string> = {};
  const problems: string[] = [];
  for (const pair of doc.contents.items) {
    const key = String(isScalar(pair.key) ? pair.key.value : pair.key);
    if (isMap(pair.value)) {
      problems.push(`${key}: expected a value or a list in CONFIG_FILE ${file}, got a mapping`);
      continue;
    }
    const value = asText(pair.value);
    if (value !== undefined && value !== '') out[key] = value;
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return out;
}

/**
 * What an error line may show of a setting's value: nothing of a password, secret or token setting, and URLs (also
 * in lists) with the password of their user info replaced by `***` (`redis://user:***@host:6379`).
 */
export function redactSecret(name: string, value: unknown): unknown {
  if (/PASSWORD|SECRET|TOKEN/i.test(name)) return '***';
  if (typeof value !== 'string') return value;
  return value.replace(/([A-Za-z][A-Za-z0-9+.-]*:\/\/[^\s/@,]*?:)[^\s/@,]*@/g, '$1***@');
}

/** Field helpers that coerce environment strings and say what they expect. */
export const env = {
  int: (def: number, min = 0, max = Number.MAX_SAFE_INTEGER) =>
    z.coerce
      .number({ error: `expected an integer` })
      .int({ error: 'expected an integer' })
      .min(min, { error: `expected an integer >= ${min}` })
      .max(max, { error: `expected an integer <= ${max}` })
      .default(def),
  list: (def: string) =>
    z
      .string()
      .default(def)
      .transform((s) =>
        s
          .split(',')
          .map((x) => x.trim())
          .filter(Boolean),
      ),
  url: (def: string, protocols: string[]) =>
    z
      .string()
      .default(def)
      .refine(
        (s) => {
          try {
            return protocols.includes(new URL(s).protocol.replace(':', ''));
          } catch {
            return false;
          }
        },
        { error: `expected a URL with scheme ${protocols.join(' or ')}` },
      ),
  /** redis://host:port[/db], rediss://..., or redis-cluster://host:port,host:port (Redis Cluster seed nodes). */
  redisUrl: (def: string) =>
    z
      .string()
      .default(def)
      .refine((s) => /^rediss?:\/\/\S+$/.test(s) || /^redis-cluster:\/\/[^\s,:]+:\d+(,[^\s,:]+:\d+)*$/.test(s), {
        error: 'expected redis://host:port, rediss://host:port or redis-cluster://host:port,host:port,...',
      }),
  bool: (def: boolean) =>
    z
      .enum(['true', 'false', '1', '0', 'yes', 'no'], { error: 'expected true or false' })
      .default(def ? 'true' : 'false')
      .transform((s) => s === 'true' || s === '1' || s === 'yes'),
  /** A Kafka topic name (letters, digits, `.`, `_`, `-`; at most 249 characters). */
  topic: (def: string) =>
    z
      .string()
      .regex(/^[A-Za-z0-9._-]{1,249}$/, { error: 'expected a Kafka topic name (letters, digits, . _ -)' })
      .default(def),
  instant: () =>
    z
      .string()
      .optional()
      .refine((s) => s === undefined || !Number.isNaN(Date.parse(s)), {
        error: 'expected an ISO-8601 instant such as 2026-06-30T23:59:59Z',
      })
      .transform((s) => (s === undefined ? undefined : Date.parse(s))),
};

/** Prints one clear line and exits 2: what a process does when its configuration is invalid. */
export function exitOnConfigError(service: string, err: unknown): never {
  const message = err instanceof ConfigError ? err.message : (err as Error).message;
  process.stderr.write(`${service}: ${message}\n`);
  process.exit(2);
}

/**
 * Where a service serves /metrics and /health/*: HTTP_HOST (bind address; default 127.0.0.1, set 0.0.0.0 in a
 * container so probes and scrapes from outside reach it) and HTTP_PORT (0 = any free port).
 */
export const httpServiceSettings = (defaultPort: number) => ({
  HTTP_HOST: z
    .string()
    .regex(/^(?:[A-Za-z0-9.-]+|[0-9A-Fa-f:]+)$/, { error: 'expected an IP address or host name, e.g. 0.0.0.0' })
    .default('127.0.0.1'),
  HTTP_PORT: env.int(defaultPort, 0, 65_535),
});

/**
 * Settings every Kafka service has: where the broker and the schema registry are, and how it authenticates to them
 * (SASL, TLS, registry basic auth: docs/security.md).
 */
export const kafkaServiceSettings = {
  KAFKA_BROKERS: env.list(STACK_DEFAULTS.KAFKA_BROKERS),
  ...kafkaSecuritySettings,
  ...registrySecuritySettings,
  // No user info: the registry calls (fetch) refuse a URL with credentials, so a service would wait for it forever.
  SCHEMA_REGISTRY_URL: env.url(STACK_DEFAULTS.SCHEMA_REGISTRY_URL, ['http', 'https']).refine(
    (s) => {
      try {
        const u = new URL(s);
        return u.username === '' && u.password === '';
      } catch {
        return true; // reported by the URL check
      }
    },
    {
      error:
        'expected a URL without user:password@ (set SCHEMA_REGISTRY_USERNAME and SCHEMA_REGISTRY_PASSWORD instead)',
    },
  ),
};

/** Settings of the services that keep state in Redis (the key prefix isolates deployments sharing one Redis). */
export const redisServiceSettings = {
  REDIS_URL: env.redisUrl(STACK_DEFAULTS.REDIS_URL),
  REDIS_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_.-]+$/, { error: 'expected letters, digits, _ . -' })
    .default('ts'),
  ...redisSecuritySettings,
};

/**
 * Where the warehouse is and who connects: CLICKHOUSE_URL (http or https), CLICKHOUSE_DATABASE (an identifier,
 * default `tierstream`), CLICKHOUSE_USER (default `default`) and CLICKHOUSE_PASSWORD (default empty).
 */
export const clickhouseServiceSettings = {
  CLICKHOUSE_URL: env.url(STACK_DEFAULTS.CLICKHOUSE_URL, ['http', 'https']),
  CLICKHOUSE_DATABASE: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: 'expected a ClickHouse identifier' })
    .default(STACK_DEFAULTS.CLICKHOUSE_DATABASE),
  CLICKHOUSE_USER: z.string().default('default'),
  CLICKHOUSE_PASSWORD: z.string().default(''),
  ...clickhouseSecuritySettings,
};
