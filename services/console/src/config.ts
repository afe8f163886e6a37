import { type CliConfig, cliConfigSchema } from '@tierstream/cli';
import { ConfigError, env, loadConfig } from '@tierstream/config';
import { z } from 'zod';
import { serviceHealthSettings } from './service-health';

/** A bearer token: at least 16 characters, no whitespace (it travels in an HTTP header and a cookie). */
const token = z
  .string()
  .regex(/^\S{16,512}$/, { error: 'expected at least 16 characters without spaces' })
  .optional();

/**
 * The console's own settings (docs/console.md "Settings"). Keys are environment variable names; CONFIG_FILE holds the
 * same names. The stack settings (KAFKA_BROKERS, REDIS_URL, REDIS_PREFIX, CLICKHOUSE_*, group ids, topic names,
 * RULES_FILE, AGGREGATES_CONFIG_FILE) are tierctl's (cliConfigSchema), so one configuration serves both.
 */
export const consoleSettingsSchema = z.object({
  /** Bind address. Default 127.0.0.1 (loopback only); set 0.0.0.0 to serve other machines (behind TLS). */
  CONSOLE_HOST: z
    .string()
    .regex(/^(?:[A-Za-z0-9.-]+|[0-9A-Fa-f:]+)$/, { error: 'expected an IP address or host name, e.g. 127.0.0.1' })
    .default('127.0.0.1'),
  /** HTTP port of the UI, the API and /metrics, /health/*. Default 9405; 0 = any free port. */
  CONSOLE_PORT: env.int(9405, 0, 65_535),
  /**
   * Bearer token of the viewer role (every page and GET route). Or CONSOLE_VIEWER_TOKEN_FILE, a file holding it (one
   * trailing newline dropped; loadConfig reads it, SECRET_FILE_SETTINGS). Default none.
   */
  CONSOLE_VIEWER_TOKEN: token,
  /** Bearer token of the admin role (viewer rights plus applying rules). Or CONSOLE_ADMIN_TOKEN_FILE. Default none. */
  CONSOLE_ADMIN_TOKEN: token,
  /** Mark the session cookie `Secure` (only sent over HTTPS): set true behind a TLS proxy. Default false. */
  CONSOLE_COOKIE_SECURE: env.bool(false),
  /** The services' readiness URLs the Operations page probes, and the probe timeout (src/service-health.ts). */
  ...serviceHealthSettings,
});

type ConsoleSettings = z.infer<typeof consoleSettingsSchema>;

/** The console's settings: tierctl's stack settings plus its own. */
export type ConsoleConfig = CliConfig & ConsoleSettings;

/**
 * The console's validated settings from the environment over CONFIG_FILE. Throws ConfigError (one issue per bad
 * setting, each naming it, never showing a token) when a value is invalid, a token file (`*_FILE`) is unreadable, or no
 * token is configured at all (a console nobody can log in to is a mistake, not a locked door).
 */
export function loadConsoleConfig(environment: NodeJS.ProcessEnv = process.env): ConsoleConfig {
  const problems: string[] = [];
  let cli: CliConfig | undefined;
  let own: ConsoleSettings | undefined;
  try {
    cli = loadConfig(cliConfigSchema, environment);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    problems.push(...err.issues);
  }
  try {
    own = loadConfig(consoleSettingsSchema, environment);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    problems.push(...err.issues);
  }
  if (!cli || !own) throw new ConfigError(problems);
  const viewer = own.CONSOLE_VIEWER_TOKEN;
  const admin = own.CONSOLE_ADMIN_TOKEN;
  if (!viewer && !admin)
    problems.push('CONSOLE_VIEWER_TOKEN: no token configured (set CONSOLE_VIEWER_TOKEN or CONSOLE_VIEWER_TOKEN_FILE)');
  if (viewer && viewer === admin) problems.push('CONSOLE_ADMIN_TOKEN: must differ from CONSOLE_VIEWER_TOKEN');
  if (problems.length > 0) throw new ConfigError(problems);
  return { ...cli, ...own };
}
