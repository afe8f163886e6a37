import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT, type ServiceProcess, startService, stopService } from './supervisor';

/** What the demo prints once the console is up (pure, for the test). */
export function consoleBanner(url: string, token: { value?: string; file?: string; generated: boolean }): string {
  const how = token.file
    ? `the viewer token in ${token.file} (CONSOLE_VIEWER_TOKEN_FILE)`
    : `viewer token ${token.value}${token.generated ? '  (made for this run; set CONSOLE_VIEWER_TOKEN to choose one)' : ''}`;
  return [
    '',
    `The console is up on the demo's data: ${url}/`,
    `  log in with ${how}`,
    '  Ctrl-C stops it (npm run demo -- --no-console ends after the report instead); docs/console.md',
    '',
  ].join('\n');
}

/**
 * After the demo's report: runs the console (services/console) on the demo's data until SIGINT/SIGTERM, prints its URL
 * and a viewer token (CONSOLE_VIEWER_TOKEN, or the file of CONSOLE_VIEWER_TOKEN_FILE, else one made for this run).
 * The console logs to .stack/logs/console.log. Resolves with the exit code the demo should end with: 0 when stopped
 * by a signal, 1 when the console failed (the reason is printed: a port in use, say).
 */
export async function serveDemoConsole(say: (msg: string) => void): Promise<number> {
  const given = process.env.CONSOLE_VIEWER_TOKEN;
  const file = process.env.CONSOLE_VIEWER_TOKEN_FILE;
  const token = given || file ? { value: given, file: given ? undefined : file, generated: false } : null;
  const generated = token ?? { value: randomBytes(18).toString('base64url'), generated: true };
  const logDir = path.join(REPO_ROOT, '.stack', 'logs');
  mkdirSync(logDir, { recursive: true });
  const log = createWriteStream(path.join(logDir, 'console.log'), { flags: 'w' });
  let onUrl: (url: string) => void = () => undefined;
  const listening = new Promise<string>((resolve) => {
    onUrl = resolve;
  });
  const lastLines: string[] = [];
  const svc: ServiceProcess = startService(
    'console',
    generated.generated ? { CONSOLE_VIEWER_TOKEN: generated.value! } : {},
    (_name, line) => {
      log.write(`${line}\n`);
      lastLines.push(line);
      if (lastLines.length > 5) lastLines.shift();
      const m = /"msg":"console listening"/.test(line) ? /"url":"([^"]+)"/.exec(line) : null;
      if (m?.[1]) onUrl(m[1]);
    },
  );
  const exited = svc.exited.then((code) => ({ code }));
  const first = await Promise.race([listening.then((url) => ({ url })), exited]);
  if (!('url' in first)) {
    say(`the console did not start (exit ${first.code}): ${lastLines.join(' | ')} — see .stack/logs/console.log`);
    log.end();
    return 1;
  }
  process.stdout.write(`${consoleBanner(first.url, generated)}\n`);
  let stopping = false;
  const stopped = new Promise<number>((resolve) => {
    const stop = () => {
      stopping = true;
      say('stopping the console');
      stopService(svc).then(() => resolve(0));
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  const code = await Promise.race([
    stopped,
    exited.then(({ code: c }) => {
      if (stopping) return stopped;
      say(`the console exited (code ${c}); see .stack/logs/console.log`);
      return 1;
    }),
  ]);
  log.end();
  return code;
}
