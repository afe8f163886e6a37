/**
 * Readable ClickHouse errors. @clickhouse/client recognises server errors by their `(TYPE)` suffix, which ClickHouse
 * 18.x does not send (it sends `Code: 60, e.displayText() = DB::Exception: ..., e.what() = DB::Exception`), so against
 * the old server errors arrive as plain Errors with the raw body. describeError() gives one readable line either way.
 */

/** Names of common server error codes (18.x does not send them). */
const CODE_NAMES: Record<number, string> = {
  16: 'NO_SUCH_COLUMN_IN_TABLE',
  26: 'CANNOT_PARSE_QUOTED_STRING',
  27: 'CANNOT_PARSE_INPUT_ASSERTION_FAILED',
  36: 'BAD_ARGUMENTS',
  41: 'CANNOT_PARSE_DATETIME',
  43: 'ILLEGAL_TYPE_OF_ARGUMENT',
  46: 'UNKNOWN_FUNCTION',
  47: 'UNKNOWN_IDENTIFIER',
  53: 'TYPE_MISMATCH',
  57: 'TABLE_ALREADY_EXISTS',
  60: 'UNKNOWN_TABLE',
  62: 'SYNTAX_ERROR',
  81: 'UNKNOWN_DATABASE',
  115: 'UNKNOWN_SETTING',
  117: 'INCORRECT_DATA',
  159: 'TIMEOUT_EXCEEDED',
  164: 'READONLY',
  202: 'TOO_MANY_SIMULTANEOUS_QUERIES',
  209: 'SOCKET_TIMEOUT',
  210: 'NETWORK_ERROR',
  241: 'MEMORY_LIMIT_EXCEEDED',
  252: 'TOO_MANY_PARTS',
  516: 'AUTHENTICATION_FAILED',
};

/** Server-side codes worth retrying: overload and transient network trouble, not bad SQL or bad data. */
const RETRIABLE_SERVER_CODES = new Set([202, 209, 210, 252]);

const CONNECTION_ERROR_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);

const CONNECTION_MESSAGE_RE =
  /socket hang up|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|Timeout error|timed out|other side closed/i;

export interface ParsedServerError {
  code: number;
  type: string | undefined;
  message: string;
}

/** Parses both the current (`Code: 60. DB::Exception: msg. (UNKNOWN_TABLE) (version ...)`) and 18.x formats. */
export function parseServerError(text: string): ParsedServerError | undefined {
  const m = /Code: (\d+)[.,]\s*(?:e\.displayText\(\) = )?(?:DB::Exception: )?([\s\S]*)/.exec(text);
  if (!m) return undefined;
  const code = Number(m[1]);
  let message = (m[2] ?? '').trim();
  // 18.x suffix
  message = message.replace(/,?\s*e\.what\(\) = [\s\S]*$/, '');
  // current suffix: "(TYPE) (version x.y)"
  const typed = /^([\s\S]*?)\s*\(([A-Z0-9_]*[A-Z]{3}[A-Z0-9_]*)\)(?:\s*\(version [^)]*\))?\s*$/.exec(message);
  let type = CODE_NAMES[code];
  if (typed) {
    message = (typed[1] ?? '').trim();
    type = typed[2];
  }
  message = message.replace(/\s*\(version [^)]*\)\s*$/, '').trim();
  return { code, type, message };
}

function errorCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    const cause = (err as { cause?: unknown }).cause;
    if (cause && cause !== err) return errorCode(cause);
  }
  return undefined;
}

function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/** True for failures to reach the server or a dropped connection; these are safe to retry because inserts are idempotent. */
export function isConnectionError(err: unknown): boolean {
  const code = errorCode(err);
  if (code !== undefined && CONNECTION_ERROR_CODES.has(code)) return true;
  const msg = errorMessage(err);
  if (parseServerError(msg)) return false;
  return CONNECTION_MESSAGE_RE.test(msg);
}

export function isRetriable(err: unknown): boolean {
  if (isConnectionError(err)) return true;
  const numeric = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  if (typeof numeric === 'string' && /^\d+$/.test(numeric) && RETRIABLE_SERVER_CODES.has(Number(numeric))) return true;
  const parsed = parseServerError(errorMessage(err));
  return parsed !== undefined && RETRIABLE_SERVER_CODES.has(parsed.code);
}

/** One readable line: `ClickHouse error 60 UNKNOWN_TABLE: Table x.y doesn't exist`. */
export function describeError(err: unknown): string {
  // @clickhouse/client's ClickHouseError (recognised by shape: several copies of the class may be loaded).
  const e = err as Error & { code?: unknown; type?: unknown };
  if (err instanceof Error && typeof e.code === 'string' && /^\d+$/.test(e.code) && 'type' in err) {
    const type = typeof e.type === 'string' && e.type ? ` ${e.type}` : ` ${CODE_NAMES[Number(e.code)] ?? ''}`.trimEnd();
    return `ClickHouse error ${e.code}${type}: ${e.message.trim().replace(/\.$/, '')}`;
  }
  const msg = errorMessage(err);
  const parsed = parseServerError(msg);
  if (parsed) {
    return `ClickHouse error ${parsed.code}${parsed.type ? ` ${parsed.type}` : ''}: ${parsed.message.replace(/\.$/, '')}`;
  }
  const code = errorCode(err);
  return code && !msg.includes(code) ? `${code}: ${msg}` : msg;
}

export class WarehouseError extends Error {
  constructor(
    message: string,
    readonly retriable = false,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'WarehouseError';
  }
}
