import { existsSync, readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';

/**
 * The secured local stack (`STACK_SECURE=1 npm run stack:up`, docs/security.md) as the e2e-secure project sees it:
 * its client settings (infra/local/.secure/client.env, written by the stack script) and its secrets.
 */
const REPO_ROOT = path.resolve(import.meta.dirname, '../..');

/** Where the stack script writes the certificates, passwords and client.env (TIERSTREAM_SECURE_DIR). */
export const SECURE_DIR = process.env.TIERSTREAM_SECURE_DIR ?? path.join(REPO_ROOT, 'infra/local/.secure');

/** The client settings of the secured stack (KEY=value lines of client.env); empty when the stack never ran. */
export function secureClientEnv(dir: string = SECURE_DIR): Record<string, string> {
  const file = path.join(dir, 'client.env');
  if (!existsSync(file)) return {};
  const out: Record<string, string> = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

/** Every password of the secured stack (secrets/*.txt): none may appear in any log line or CLI output. */
export function secureSecrets(dir: string = SECURE_DIR): string[] {
  const secrets = path.join(dir, 'secrets');
  return readdirSync(secrets)
    .filter((f) => f.endsWith('.txt'))
    .map((f) => readFileSync(path.join(secrets, f), 'utf8').trim())
    .filter((s) => s.length >= 8);
}

/** The secrets of `secrets` found in `texts`, each with where (`<label>: …<context>…`); empty when none leaked. */
export function leaks(texts: Array<{ label: string; text: string }>, secrets: readonly string[]): string[] {
  const found: string[] = [];
  for (const { label, text } of texts)
    for (const secret of secrets) {
      const at = text.indexOf(secret);
      // The context without the secret itself: the failure message must not print it either.
      if (at >= 0) found.push(`${label}: …${text.slice(Math.max(0, at - 60), at)}<secret>…`);
    }
  return found;
}

/**
 * vitest globalSetup of the e2e-secure project: the secured stack must run (every endpoint of client.env accepts a
 * TCP connection); otherwise the run stops at once with the command that starts it.
 */
export default async function setup(): Promise<void> {
  const env = secureClientEnv();
  if (Object.keys(env).length === 0)
    throw new Error(`secured stack not set up (no ${SECURE_DIR}/client.env): run \`STACK_SECURE=1 npm run stack:up\``);
  const endpoints = [
    env.KAFKA_BROKERS!.split(',')[0]!,
    new URL(env.SCHEMA_REGISTRY_URL!).host,
    new URL(env.REDIS_URL!).host,
    new URL(env.CLICKHOUSE_URL!).host,
  ];
  const down = (await Promise.all(endpoints.map(async (e) => ((await reachable(e)) ? null : e)))).filter(Boolean);
  if (down.length > 0)
    throw new Error(
      `secured stack not running: run \`STACK_SECURE=1 npm run stack:up\` (unreachable: ${down.join(', ')})`,
    );
}

function reachable(hostPort: string): Promise<boolean> {
  const at = hostPort.lastIndexOf(':');
  return new Promise((resolve) => {
    const socket = net.connect({ host: hostPort.slice(0, at), port: Number(hostPort.slice(at + 1)) });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(2_000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}
