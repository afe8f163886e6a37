import { knownSecrets } from '@tierstream/config';
import pino, { type DestinationStream, type Logger } from 'pino';
import { prettyFactory } from 'pino-pretty';

/** Object paths whose values are never logged (credentials a caller might pass in a log object by mistake). */
export const REDACTED_LOG_PATHS = [
  'password',
  '*.password',
  '*.*.password',
  'sasl',
  '*.sasl',
  'auth.password',
  'authorization',
  '*.authorization',
  'headers.authorization',
  '*.headers.authorization',
];

/**
 * Replaces every secret of `secrets` in a log line with `***` (as written, and as escaped inside a JSON string).
 * Pure; `line` unchanged when no secret occurs.
 */
export function scrubSecrets(line: string, secrets: readonly string[]): string {
  let out = line;
  for (const secret of secrets) {
    if (secret.length === 0) continue;
    const escaped = JSON.stringify(secret).slice(1, -1);
    for (const form of escaped === secret ? [secret] : [secret, escaped])
      if (out.includes(form)) out = out.split(form).join('***');
  }
  return out;
}

/**
 * One JSON line per event that matters. LOG_PRETTY=1 (or a TTY in development) pretty-prints through pino-pretty.
 * Secrets are never written (docs/security.md): credential fields are redacted by path (REDACTED_LOG_PATHS), and
 * every line is scrubbed of the secret values of the configurations loaded in this process (knownSecrets), so an
 * error message that quotes a URL with a password cannot leak it either. `destination`: where the lines go (default
 * stdout).
 */
export function createLogger(
  service: string,
  level = process.env.LOG_LEVEL ?? 'info',
  destination?: DestinationStream,
): Logger {
  const pretty = process.env.LOG_PRETTY === '1';
  const options = {
    name: service,
    level,
    base: { service, pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: REDACTED_LOG_PATHS, censor: '***' },
  };
  const secrets = knownSecrets();
  if (!pretty && secrets.length === 0) return destination ? pino(options, destination) : pino(options);
  // Pretty lines are formatted here, in the process, after the scrubbing (a pino-pretty transport would receive the
  // lines in a worker, unscrubbed).
  const format = pretty
    ? prettyFactory({ colorize: destination === undefined, translateTime: 'SYS:HH:MM:ss.l' })
    : (line: string) => line;
  const out = destination ?? pino.destination({ fd: 1, sync: true });
  const scrubbing: DestinationStream = { write: (line: string) => out.write(format(scrubSecrets(line, secrets))) };
  return pino(options, scrubbing);
}

export type { Logger };
