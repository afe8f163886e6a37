import { afterEach, describe, expect, it, vi } from 'vitest';
import { consoleBanner, serveDemoConsole } from '../src/demo-console';

/**
 * The demo's last step: the console on the demo's data, its URL and a viewer token printed, running until Ctrl-C
 * (here: a SIGINT emitted in this process), then stopped.
 */
describe('the demo serves the console until Ctrl-C', () => {
  const saved = { ...process.env };
  afterEach(() => {
    process.env = { ...saved };
    vi.restoreAllMocks();
  });

  it('prints the URL and a token made for the run that logs in, keeps serving, and stops on SIGINT with code 0', async () => {
    process.env.CONSOLE_PORT = '0';
    process.env.CONFIG_FILE = '';
    delete process.env.CONSOLE_VIEWER_TOKEN;
    delete process.env.CONSOLE_VIEWER_TOKEN_FILE;
    const printed: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array, ...rest: unknown[]) => {
      printed.push(String(chunk));
      return write(chunk, ...(rest as []));
    });
    const said: string[] = [];
    const done = serveDemoConsole((m) => said.push(m));
    await vi.waitFor(() => expect(printed.join('')).toContain('The console is up'), { timeout: 60_000, interval: 100 });
    const text = printed.join('');
    const url = /The console is up on the demo's data: (http:\/\/127\.0\.0\.1:\d+)\//.exec(text)?.[1];
    const token = /viewer token (\S+) {2}\(made for this run/.exec(text)?.[1];
    expect(url).toBeDefined();
    expect(token).toMatch(/^[A-Za-z0-9_-]{24}$/);
    const session = await fetch(`${url}/api/v1/session`, { headers: { authorization: `Bearer ${token}` } });
    expect(await session.json()).toMatchObject({ role: 'viewer' });
    // Still serving a moment later: nothing ends it but a signal.
    await new Promise((r) => setTimeout(r, 500));
    expect((await fetch(`${url}/health/live`)).status).toBe(200);
    process.emit('SIGINT');
    expect(await done).toBe(0);
    expect(said).toContain('stopping the console');
    await expect(fetch(`${url}/health/live`)).rejects.toThrow();
  });

  it('names the configured token file instead of printing a token', () => {
    expect(consoleBanner('http://127.0.0.1:9405', { file: '/run/secrets/viewer', generated: false })).toContain(
      'log in with the viewer token in /run/secrets/viewer (CONSOLE_VIEWER_TOKEN_FILE)',
    );
  });
});
