import { accessSync, constants, readFileSync } from 'node:fs';
import { z } from 'zod';

/**
 * Secured connections (docs/security.md): the settings of each transport's credentials and TLS, the `*_FILE`
 * variants of every secret (container secrets), and the cross-field checks loadConfig runs after parsing.
 * Builders that turn these settings into client options live beside each client (kafka: kafkaSecurity,
 * config/redis: redisSecurity, warehouse: clickhouseClientOptions, contracts: createAvroSerde).
 */

/**
 * The secrets that may come from a file instead (`<NAME>_FILE` = a path; the file's text is the secret, one trailing
 * newline dropped). Setting both a secret and its file is an error. Keys are the file variables, values the secret.
 */
export const SECRET_FILE_SETTINGS = {
  KAFKA_SASL_PASSWORD_FILE: 'KAFKA_SASL_PASSWORD',
  SCHEMA_REGISTRY_PASSWORD_FILE: 'SCHEMA_REGISTRY_PASSWORD',
  REDIS_PASSWORD_FILE: 'REDIS_PASSWORD',
  CLICKHOUSE_PASSWORD_FILE: 'CLICKHOUSE_PASSWORD',
  ERASURE_DIGEST_SECRET_FILE: 'ERASURE_DIGEST_SECRET',
  /** The console's bearer tokens (services/console, docs/console.md). */
  CONSOLE_VIEWER_TOKEN_FILE: 'CONSOLE_VIEWER_TOKEN',
  CONSOLE_ADMIN_TOKEN_FILE: 'CONSOLE_ADMIN_TOKEN',
} as const;

/** A file path setting: empty (the default) means not set. */
const filePath = () => z.string().default('');
/** A credential that is not secret (a user name): empty means none. */
const userName = () => z.string().default('');
/** A secret: empty means none. Never shown (redactSecret, the logger's redaction). */
const secret = () => z.string().default('');
const flag = (def: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'], { error: 'expected true or false' })
    .default(def ? 'true' : 'false')
    .transform((s) => s === 'true' || s === '1' || s === 'yes');

/** Kafka SASL and TLS (kafkajs `sasl` and `ssl`). */
export const kafkaSecuritySettings = {
  /** none (default), plain, scram-sha-256 or scram-sha-512. */
  KAFKA_SASL_MECHANISM: z
    .enum(['none', 'plain', 'scram-sha-256', 'scram-sha-512'], {
      error: 'expected none, plain, scram-sha-256 or scram-sha-512',
    })
    .default('none'),
  /** The SASL user (required with a mechanism). Default empty. */
  KAFKA_SASL_USERNAME: userName(),
  /** The SASL password (or KAFKA_SASL_PASSWORD_FILE). Default empty. */
  KAFKA_SASL_PASSWORD: secret(),
  /** TLS to the brokers (SASL_SSL / SSL listeners). Default false; true when a KAFKA_TLS_*_FILE is set. */
  KAFKA_TLS: flag(false),
  /** PEM file of the CA that signed the brokers' certificates (default: the system CAs). */
  KAFKA_TLS_CA_FILE: filePath(),
  /** PEM client certificate for mutual TLS (with KAFKA_TLS_KEY_FILE). Default none. */
  KAFKA_TLS_CERT_FILE: filePath(),
  /** PEM private key of KAFKA_TLS_CERT_FILE. Default none. */
  KAFKA_TLS_KEY_FILE: filePath(),
};

/** Schema registry basic auth and TLS trust. */
export const registrySecuritySettings = {
  /** Basic-auth user of the registry. Default empty (anonymous). */
  SCHEMA_REGISTRY_USERNAME: userName(),
  /** Basic-auth password (or SCHEMA_REGISTRY_PASSWORD_FILE). Default empty. */
  SCHEMA_REGISTRY_PASSWORD: secret(),
  /** PEM CA of an https registry signed by a private CA. Default: the system CAs. */
  SCHEMA_REGISTRY_TLS_CA_FILE: filePath(),
};

/** Redis ACL user, password and TLS (`rediss://`, or REDIS_TLS for a Redis Cluster). */
export const redisSecuritySettings = {
  /** ACL user (Redis 6+). Default empty: the `default` user. */
  REDIS_USERNAME: userName(),
  /** Password of REDIS_USERNAME, or requirepass (or REDIS_PASSWORD_FILE). Default empty. */
  REDIS_PASSWORD: secret(),
  /** TLS to Redis. Default false; true with a `rediss://` URL or a REDIS_TLS_*_FILE. */
  REDIS_TLS: flag(false),
  /** PEM CA of the Redis server certificate. Default: the system CAs. */
  REDIS_TLS_CA_FILE: filePath(),
  /** PEM client certificate (Redis `tls-auth-clients yes`), with REDIS_TLS_KEY_FILE. Default none. */
  REDIS_TLS_CERT_FILE: filePath(),
  /** PEM private key of REDIS_TLS_CERT_FILE. Default none. */
  REDIS_TLS_KEY_FILE: filePath(),
};

/** ClickHouse over HTTPS with a private CA (the user and password are in clickhouseServiceSettings). */
export const clickhouseSecuritySettings = {
  /** PEM CA of an https CLICKHOUSE_URL signed by a private CA. Default: the system CAs. */
  CLICKHOUSE_TLS_CA_FILE: filePath(),
};

/** TLS of one transport: none, TLS (server verified, optionally with a private CA) or mutual TLS. */
export type TlsSettings =
  | { mode: 'none' }
  | { mode: 'tls'; caFile?: string }
  | { mode: 'mutual'; caFile?: string; certFile: string; keyFile: string };

type TlsPrefix = 'KAFKA' | 'REDIS';

/**
 * The TLS of `prefix` from parsed settings: `<P>_TLS`, `<P>_TLS_CA_FILE`, `<P>_TLS_CERT_FILE`, `<P>_TLS_KEY_FILE`
 * (`forced`: TLS on whatever `<P>_TLS` says, e.g. a `rediss://` URL). A CA, certificate or key file turns TLS on.
 * Pure; loadConfig has checked that a certificate comes with its key.
 */
export function tlsSettingsOf(config: Record<string, unknown>, prefix: TlsPrefix, forced = false): TlsSettings {
  const get = (suffix: string) => String(config[`${prefix}_TLS_${suffix}`] ?? '');
  const caFile = get('CA_FILE') || undefined;
  const certFile = get('CERT_FILE');
  const keyFile = get('KEY_FILE');
  if (certFile && keyFile) return { mode: 'mutual', caFile, certFile, keyFile };
  if (forced || config[`${prefix}_TLS`] === true || caFile) return { mode: 'tls', caFile };
  return { mode: 'none' };
}

/** Reads a PEM (or other) file a setting names; throws an Error naming the setting when it cannot. */
export function readSettingFile(setting: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new Error(
      `${setting}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
}

/**
 * Secrets from `<NAME>_FILE` settings: for each file setting given (environment over `fromFile`, the CONFIG_FILE's
 * values) whose secret the schema has, the file's text without one trailing newline becomes the secret's value in
 * `merged`. Returns one problem per unreadable file or per secret given both ways.
 */
export function resolveSecretFiles(
  keys: ReadonlySet<string>,
  env: NodeJS.ProcessEnv,
  fromFile: Record<string, unknown>,
  merged: Record<string, unknown>,
): string[] {
  const problems: string[] = [];
  for (const [fileKey, key] of Object.entries(SECRET_FILE_SETTINGS)) {
    if (!keys.has(key)) continue;
    const path = env[fileKey] || (fromFile[fileKey] as string | undefined);
    if (!path) continue;
    if (merged[key] !== undefined && merged[key] !== '') {
      problems.push(`${key}: set either ${key} or ${fileKey}, not both`);
      continue;
    }
    try {
      merged[key] = readFileSync(path, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      problems.push(`${fileKey}: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? 'unreadable'}`);
    }
  }
  return problems;
}

/**
 * Cross-field checks of the connection settings present in a parsed configuration (each only when the schema has
 * its keys): a SASL mechanism needs a user and a password, a user without a mechanism is a mistake; a TLS
 * certificate needs its key and the other way round; every file setting names a readable file. Pure but for
 * the file checks; returns one problem per finding, each naming the setting.
 */
export function connectionProblems(config: Record<string, unknown>): string[] {
  const problems: string[] = [];
  const has = (key: string) => key in config;
  if (has('KAFKA_SASL_MECHANISM')) {
    const mechanism = config.KAFKA_SASL_MECHANISM;
    if (mechanism !== 'none') {
      if (!config.KAFKA_SASL_USERNAME)
        problems.push(`KAFKA_SASL_USERNAME: required with KAFKA_SASL_MECHANISM ${mechanism}`);
      if (!config.KAFKA_SASL_PASSWORD)
        problems.push(
          `KAFKA_SASL_PASSWORD: required with KAFKA_SASL_MECHANISM ${mechanism} (or KAFKA_SASL_PASSWORD_FILE)`,
        );
    } else if (config.KAFKA_SASL_USERNAME || config.KAFKA_SASL_PASSWORD) {
      problems.push(
        'KAFKA_SASL_MECHANISM: a SASL user or password is set but no mechanism (plain, scram-sha-256 or scram-sha-512)',
      );
    }
  }
  if (
    has('SCHEMA_REGISTRY_USERNAME') &&
    Boolean(config.SCHEMA_REGISTRY_USERNAME) !== Boolean(config.SCHEMA_REGISTRY_PASSWORD)
  )
    problems.push(
      config.SCHEMA_REGISTRY_USERNAME
        ? 'SCHEMA_REGISTRY_PASSWORD: required with SCHEMA_REGISTRY_USERNAME (or SCHEMA_REGISTRY_PASSWORD_FILE)'
        : 'SCHEMA_REGISTRY_USERNAME: required with SCHEMA_REGISTRY_PASSWORD',
    );
  if (has('REDIS_USERNAME') && config.REDIS_USERNAME && !config.REDIS_PASSWORD)
    problems.push('REDIS_PASSWORD: required with REDIS_USERNAME (or REDIS_PASSWORD_FILE)');
  for (const prefix of ['KAFKA', 'REDIS'] as const) {
    if (!has(`${prefix}_TLS_CERT_FILE`)) continue;
    const cert = config[`${prefix}_TLS_CERT_FILE`];
    const key = config[`${prefix}_TLS_KEY_FILE`];
    if (cert && !key) problems.push(`${prefix}_TLS_KEY_FILE: required with ${prefix}_TLS_CERT_FILE (mutual TLS)`);
    if (key && !cert) problems.push(`${prefix}_TLS_CERT_FILE: required with ${prefix}_TLS_KEY_FILE (mutual TLS)`);
  }
  for (const key of Object.keys(config)) {
    if (!/_TLS_(CA|CERT|KEY)_FILE$/.test(key) || !config[key]) continue;
    try {
      accessSync(String(config[key]), constants.R_OK);
    } catch (err) {
      problems.push(`${key}: cannot read ${config[key]}: ${(err as NodeJS.ErrnoException).code ?? 'unreadable'}`);
    }
  }
  return problems;
}

/** Every secret value of a parsed configuration (non-empty PASSWORD/SECRET/TOKEN settings), for log scrubbing. */
export function secretValues(config: Record<string, unknown>): string[] {
  return Object.entries(config)
    .filter(([k, v]) => /PASSWORD|SECRET|TOKEN/i.test(k) && !/_FILE$/.test(k) && typeof v === 'string' && v !== '')
    .map(([, v]) => v as string);
}

/**
 * Credentials or TLS trust refused by a dependency: retrying does not help unless the configuration (or the server's
 * user) changes. Thrown by waitForDependency after its grace period; services exit 2 with its one-line message.
 */
export class CredentialsRejectedError extends Error {
  constructor(
    readonly dependency: string,
    message: string,
  ) {
    super(message);
    this.name = 'CredentialsRejectedError';
  }
}

/**
 * Whether `err` (from a connection attempt to `dependency`: kafka, schema registry, redis, clickhouse) says that the
 * credentials or the TLS trust were refused, as one line (`kafka authentication failed: <detail>`, `redis TLS
 * handshake failed: <detail>`); null for any other error (unreachable, timeout, missing topic). Never shows a secret:
 * the details are the server's or the TLS library's words, which do not echo passwords. Pure.
 */
export function credentialFailure(dependency: string, err: unknown): string | null {
  const texts: string[] = [];
  let cur = err as { name?: string; message?: string; code?: string; cause?: unknown } | undefined;
  for (let depth = 0; cur && depth < 5; depth++, cur = cur.cause as typeof cur)
    texts.push(`${cur.name ?? ''} ${cur.code ?? ''} ${cur.message ?? String(cur)}`);
  const text = texts.join(' | ');
  const first = err as { message?: string } | undefined;
  const detail = String(first?.message || err)
    .split('\n')[0]!
    .replace(/^\S+(?: \S+)? (?:authentication|TLS handshake) failed: /, '')
    .slice(0, 200);
  const auth =
    /KafkaJSSASLAuthenticationError|SASL .*authentication failed|Authentication failed during authentication|WRONGPASS|NOAUTH|NOPERM|invalid username-password|HTTP 401\b|HTTP 403\b|Wrong password for user|Unknown user|AUTHENTICATION_FAILED|Code: (?:192|193|516)\b|password is incorrect|REQUIRED_PASSWORD/i;
  if (auth.test(text)) return `${dependency} authentication failed: ${detail}`;
  const tls =
    /self[- ]signed certificate|unable to (?:verify|get local issuer)|certificate (?:has expired|verify failed)|ERR_TLS_CERT|DEPTH_ZERO_SELF_SIGNED|Hostname\/IP does not match|wrong version number|ERR_SSL_/i;
  if (tls.test(text)) return `${dependency} TLS handshake failed: ${detail}`;
  return null;
}

/**
 * The refused credentials or TLS trust of an error whose dependency is not known (tierctl's last catch): the
 * dependency is told from the error (kafkajs errors: kafka; WRONGPASS/NOAUTH: redis; ClickHouse codes: clickhouse;
 * WarehouseError (the warehouse package's): clickhouse; an HTTP 401/403 of the registry: schema registry). Null when it is no such failure. Pure.
 */
export function anyCredentialFailure(err: unknown): string | null {
  const e = err as { name?: string; message?: string; cause?: unknown };
  const text = `${e?.name ?? ''} ${e?.message ?? String(err)} ${(e?.cause as Error | undefined)?.message ?? ''}`;
  const dependency = /KafkaJS|SASL|broker/i.test(text)
    ? 'kafka'
    : /WRONGPASS|NOAUTH|NOPERM|redis/i.test(text)
      ? 'redis'
      : /DB::Exception|Code: \d+|clickhouse|WarehouseError|AUTHENTICATION_FAILED|Wrong password|Unknown user/i.test(
            text,
          )
        ? 'clickhouse'
        : /registry|subjects|HTTP 40[13]/i.test(text)
          ? 'schema registry'
          : null;
  return dependency === null ? null : credentialFailure(dependency, err);
}
