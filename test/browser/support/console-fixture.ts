import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { ClickHouseClient } from '@clickhouse/client';
import { type Clients, REPO_ROOT } from '@tierstream/cli';
import type { RedisClient } from '@tierstream/config';
import { consoleLogger, loadConsoleConfig, type Role, type RunningConsole, startConsole } from '@tierstream/console';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, inject } from 'vitest';
import { launchChromium } from './chromium';
import { type BrowserRun, runClients } from './pipeline-run';

/** Where the browser tests save their screenshots (git-ignored). */
export const SCREENSHOT_DIR = path.join(REPO_ROOT, 'test-artifacts', 'browser');

export interface ConsoleFixture {
  /** The run's data (tiny workload + journey, see pipeline-run.ts). */
  readonly run: BrowserRun;
  /** Base URL of the console under test (http://127.0.0.1:<port>). */
  readonly url: string;
  readonly viewerToken: string;
  readonly adminToken: string;
  /** The test's own connections to the run's data (same Redis prefix and ClickHouse database as the console). */
  readonly clients: Clients;
  readonly ch: ClickHouseClient;
  readonly redis: RedisClient;
  /** The run's ClickHouse database and Redis prefix. */
  readonly database: string;
  readonly prefix: string;
  /** Requests the pages tried to send anywhere but the console (aborted); a test may assert it stays empty. */
  readonly externalRequests: string[];
  /** Uncaught page errors and console.error messages of the pages. */
  readonly pageErrors: string[];
  /**
   * A new page in a fresh browser context, logged in as `role` (the session cookie set as the login page sets it);
   * null: not logged in.
   */
  newPage(role?: Role | null): Promise<Page>;
  /**
   * Logs in through the login page with `token`: the page it is on when that is the login page (which returns to the
   * page that sent it there), else /login.html (which ends on the start page).
   */
  login(page: Page, token: string): Promise<void>;
  /** Saves a full-page screenshot as test-artifacts/browser/<name>.png; returns its path. */
  screenshot(page: Page, name: string): Promise<string>;
  /** GET a console API path with a role's bearer token; the parsed JSON and the status. */
  api<T = unknown>(pathname: string, role?: Role): Promise<{ status: number; body: T }>;
}

/**
 * Call inside a `describe` of a `*.browser.test.ts` file: starts a console (in this process, on a free loopback port,
 * with fresh viewer and admin tokens) on the run's data and a headless Chromium in `beforeAll`, stops both in
 * `afterAll`. The run itself (the pipeline over the tiny workload) happens once per test run, in the project's
 * globalSetup. `opts.settings`: console settings of the test file over the run's, called in `beforeAll` (after the
 * file's own earlier `beforeAll` hooks, so they may name ports opened there).
 */
export function consoleFixture(opts: { settings?: () => Record<string, string> } = {}): ConsoleFixture {
  const run = inject('browserRun');
  const viewerToken = `viewer-${randomBytes(16).toString('hex')}`;
  const adminToken = `admin-${randomBytes(16).toString('hex')}`;
  const clients = runClients(run.settings);
  let consoleServer: RunningConsole | null = null;
  let browser: Browser | null = null;
  const contexts: BrowserContext[] = [];
  const externalRequests: string[] = [];
  const pageErrors: string[] = [];

  beforeAll(async () => {
    mkdirSync(SCREENSHOT_DIR, { recursive: true });
    const config = loadConsoleConfig({
      ...process.env,
      ...run.settings,
      CONSOLE_HOST: '127.0.0.1',
      CONSOLE_PORT: '0',
      CONSOLE_VIEWER_TOKEN: viewerToken,
      CONSOLE_ADMIN_TOKEN: adminToken,
      CONSOLE_VIEWER_TOKEN_FILE: '',
      CONSOLE_ADMIN_TOKEN_FILE: '',
      // A test's own console settings (e.g. CONSOLE_SERVICE_HEALTH_URLS), read when the console starts.
      ...opts.settings?.(),
    });
    const logger = consoleLogger();
    logger.level = 'warn';
    consoleServer = await startConsole(config, logger);
    browser = await launchChromium();
  });

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close();
    await consoleServer?.stop();
    await clients.close();
  });

  const url = () => {
    if (!consoleServer) throw new Error('the console is not started yet (use the fixture inside tests or hooks)');
    return consoleServer.url;
  };

  return {
    run,
    get url() {
      return url();
    },
    viewerToken,
    adminToken,
    clients,
    get ch() {
      return clients.clickhouse;
    },
    get redis() {
      return clients.redis;
    },
    database: run.settings.CLICKHOUSE_DATABASE!,
    prefix: run.settings.REDIS_PREFIX!,
    externalRequests,
    pageErrors,
    async newPage(role: Role | null = 'viewer') {
      if (!browser) throw new Error('the browser is not started yet');
      const base = new URL(url());
      const context = await browser.newContext({ viewport: { width: 1366, height: 850 }, locale: 'en-US' });
      contexts.push(context);
      await context.route('**/*', (route) => {
        const target = new URL(route.request().url());
        if (target.host === base.host || target.protocol === 'data:') return route.continue();
        externalRequests.push(route.request().url());
        return route.abort();
      });
      if (role) {
        await context.addCookies([
          {
            name: 'tierstream_console',
            value: role === 'admin' ? adminToken : viewerToken,
            domain: base.hostname,
            path: '/',
            httpOnly: true,
            sameSite: 'Strict',
          },
        ]);
      }
      const page = await context.newPage();
      page.on('pageerror', (err) => pageErrors.push(err.message));
      page.on('console', (msg) => {
        if (msg.type() === 'error') pageErrors.push(msg.text());
      });
      return page;
    },
    async login(page: Page, token: string) {
      if (!new URL(page.url()).pathname.endsWith('/login.html')) await page.goto(`${url()}/login.html`);
      await page.getByTestId('login-token').fill(token);
      await Promise.all([
        page.waitForURL((u) => !u.pathname.endsWith('login.html')),
        page.getByTestId('login-submit').click(),
      ]);
    },
    async screenshot(page: Page, name: string) {
      const file = path.join(SCREENSHOT_DIR, `${name}.png`);
      await page.screenshot({ path: file, fullPage: true });
      return file;
    },
    async api<T>(pathname: string, role: Role = 'viewer') {
      const res = await fetch(`${url()}${pathname}`, {
        headers: { authorization: `Bearer ${role === 'admin' ? adminToken : viewerToken}` },
      });
      return { status: res.status, body: (await res.json()) as T };
    },
  };
}
