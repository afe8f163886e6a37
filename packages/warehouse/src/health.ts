import type { ClickHouseClient } from '@clickhouse/client';

/**
 * Whether the warehouse can be used as configured: a query as the configured user (credentials checked, unlike
 * `ping()`, whose /ping answers without authentication) that also finds `database`. Resolves to null when usable,
 * else to one line naming the problem (`Wrong password for user default`, `database tierstream does not exist`, a
 * connection error). Never rejects; gives up after `timeoutMs` (default 2 000 ms). `database` must be a validated
 * identifier (it is inlined: old servers have no query parameters).
 */
export async function clickhouseProblem(
  client: ClickHouseClient,
  database: string,
  timeoutMs = 2_000,
): Promise<string | null> {
  try {
    const result = await client.query({
      query: `SELECT count() AS n FROM system.databases WHERE name = '${database.replace(/[\\']/g, '\\$&')}'`,
      format: 'JSONEachRow',
      abort_signal: AbortSignal.timeout(timeoutMs),
    });
    const rows = (await result.json()) as Array<{ n: number | string }>;
    return Number(rows[0]?.n ?? 0) > 0
      ? null
      : `database ${database} does not exist (run \`tierctl warehouse migrate\`)`;
  } catch (err) {
    const message = (err as Error).message || String(err);
    // ClickHouse's text: "Code: 193, e.displayText() = DB::Exception: Wrong password for user default, e.what() = …".
    return /DB::Exception: ([^,]+)/.exec(message)?.[1] ?? message.split('\n')[0]!;
  }
}
