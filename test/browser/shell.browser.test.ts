import { describe, expect, it } from 'vitest';
import { consoleFixture } from './support/console-fixture';

/** The console's shell in Chromium: the login page, the navigation, and no request leaving the console. */
describe('console shell (headless Chromium)', () => {
  const fx = consoleFixture();

  it('sends an unauthenticated visitor to the login page, and logs in with a token into an HttpOnly cookie', async () => {
    const page = await fx.newPage(null);
    await page.goto(`${fx.url}/#/overview`);
    await page.waitForURL(/\/login\.html/);
    await page.getByTestId('login-token').fill('not-the-right-token-at-all');
    await page.getByTestId('login-submit').click();
    await expect.poll(() => page.getByTestId('login-error').textContent()).toBe('Unknown token.');
    await fx.login(page, fx.viewerToken);
    await expect.poll(() => page.getByTestId('role').textContent()).toBe('viewer');
    const cookie = (await page.context().cookies()).find((c) => c.name === 'tierstream_console');
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict' });
    // No script can read the token, and the page never shows it.
    expect(await page.evaluate('document.cookie')).toBe('');
    expect(await page.content()).not.toContain(fx.viewerToken);
    await fx.screenshot(page, 'shell-login');
  });

  it('shows the five pages in the navigation and loads each one without an error or an outside request', async () => {
    fx.pageErrors.length = 0; // the first test's refused login logged a 401
    const page = await fx.newPage('viewer');
    await page.goto(`${fx.url}/`);
    const nav = page.getByTestId('nav');
    expect(await nav.locator('a').allTextContents()).toEqual([
      'Overview',
      'Movements',
      'Customer',
      'Rules',
      'Operations',
    ]);
    for (const id of ['overview', 'movements', 'customer', 'rules', 'operations']) {
      await page.getByTestId(`nav-${id}`).click();
      await expect.poll(() => page.getByTestId('page').getAttribute('data-page')).toBe(id);
      await expect.poll(() => page.getByTestId('page').getAttribute('aria-busy')).toBe('false');
    }
    // ECharts comes from the console itself.
    expect(await page.evaluate("import('/vendor/echarts.mjs').then((m) => typeof m.init)")).toBe('function');
    expect(fx.externalRequests).toEqual([]);
    expect(fx.pageErrors).toEqual([]);
  });

  it('opens a hand-typed URL with a stray % (not percent-encoding) on its page instead of failing', async () => {
    fx.pageErrors.length = 0;
    const page = await fx.newPage('viewer');
    await page.goto(`${fx.url}/#/customer/100%off`);
    await expect.poll(() => page.getByTestId('page').getAttribute('data-page')).toBe('customer');
    await expect.poll(() => page.getByTestId('page').getAttribute('aria-busy')).toBe('false');
    expect(await page.getByTestId('page').textContent()).toContain('unknown customer 100%off');
    expect(fx.pageErrors.filter((e) => /URI/.test(e))).toEqual([]);
  });
});
