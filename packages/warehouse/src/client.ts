import {
  type ClickHouseClient,
  type ClickHouseClientConfigOptions,
  ClickHouseLogLevel,
  createClient,
} from '@clickhouse/client';
import { readSettingFile } from '@tierstream/config';

/** The ClickHouse connection settings of a validated configuration (clickhouseServiceSettings). */
export interface ClickHouseSettings {
  CLICKHOUSE_URL: string;
  CLICKHOUSE_USER: string;
  CLICKHOUSE_PASSWORD: string;
  CLICKHOUSE_TLS_CA_FILE: string;
}

/**
 * @clickhouse/client options from the settings: the URL (http or https), user and password, and for an https URL
 * signed by a private CA the CA of CLICKHOUSE_TLS_CA_FILE (read now). The client's own logger is off: it prints
 * multi-line stacks to stderr outside the structured log, and every caller reports the errors it gets. Throws an
 * Error naming the setting when the file cannot be read.
 */
export function clickhouseClientOptions(settings: ClickHouseSettings): ClickHouseClientConfigOptions {
  const out: ClickHouseClientConfigOptions = {
    url: settings.CLICKHOUSE_URL,
    username: settings.CLICKHOUSE_USER || 'default',
    password: settings.CLICKHOUSE_PASSWORD,
    log: { level: ClickHouseLogLevel.OFF },
  };
  if (settings.CLICKHOUSE_TLS_CA_FILE)
    out.tls = { ca_cert: readSettingFile('CLICKHOUSE_TLS_CA_FILE', settings.CLICKHOUSE_TLS_CA_FILE) };
  return out;
}

/** A ClickHouse client for a validated configuration, with `extra` options (database, log, timeouts) on top. */
export function createClickHouseFrom(
  settings: ClickHouseSettings,
  extra: ClickHouseClientConfigOptions = {},
): ClickHouseClient {
  return createClient({ ...clickhouseClientOptions(settings), ...extra });
}
