import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type RulesDiff, rollbackRules, showRules, validateRulesText } from '@tierstream/cli';
import { parseRules, RulesError } from '@tierstream/tiering';
import { type RulesVersion, TierStateStore } from '@tierstream/tierstate';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tierctl } from '../support/run-node';
import { consoleFixture } from './support/console-fixture';

/** `text` with `from` replaced by `to` (once); fails the test when `from` is not there. */
function edit(text: string, from: string | RegExp, to: string): string {
  const out = text.replace(from, to);
  expect(out, `the rules text should contain ${from}`).not.toBe(text);
  return out;
}

/** Opens the Rules page and waits until it has rendered. */
async function openRules(page: Page, url: string): Promise<void> {
  await page.goto(`${url}/#/rules`);
  await expect.poll(() => page.getByTestId('page').getAttribute('aria-busy')).toBe('false');
  await page.getByTestId('active-version').waitFor();
}

/** Uploads `file` in the page's file input and waits for its preview (valid or not). */
async function upload(page: Page, file: string): Promise<void> {
  await page.getByTestId('rules-file').setInputFiles(file);
  await page.getByTestId('preview').waitFor({ timeout: 60_000 });
}

/** What the page shows of the preview: `dimension|from|to` → customers, and held `dimension|tier|pending` → customers. */
async function shownPreview(page: Page): Promise<{ moves: Record<string, number>; held: Record<string, number> }> {
  const read = (prefix: string) =>
    page
      .locator(`[data-testid^="${prefix}-"]`)
      .evaluateAll((els) => els.map((e) => [e.getAttribute('data-testid'), Number(e.getAttribute('data-value'))]));
  const moves: Record<string, number> = {};
  const held: Record<string, number> = {};
  for (const [id, n] of (await read('move')) as Array<[string, number]>) moves[id] = n;
  for (const [id, n] of (await read('held')) as Array<[string, number]>) held[id] = n;
  return { moves, held };
}

/**
 * The Rules page in Chromium over the browser run's data: the active version as `tierctl rules show` has it, the
 * preview of an uploaded file equal to what `tierctl rules diff` reports for the same file, validation errors as
 * `tierctl rules validate` reports them, and applying only for the admin role.
 */
describe('console Rules page (headless Chromium)', () => {
  const fx = consoleFixture();
  let dir: string;
  let original: RulesVersion;
  /** The active rules with changes that move customers (lifecycle) and demote some held by grace (value_tier). */
  let changedText: string;
  let changedFile: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'console-rules-'));
    const active = await new TierStateStore(fx.redis, fx.prefix).getActiveRules();
    if (!active) throw new Error('the browser run recorded no active rules version');
    original = active;
    let text = edit(original.text, /^version: .*$/m, 'version: "console-preview-1"');
    // LOYAL from 1 order a year (was 4): customers move NEW/ACTIVE → LOYAL at once (grace 0).
    text = edit(
      text,
      '{ metric: orders, window: 365d, op: gte, value: 4 }',
      '{ metric: orders, window: 365d, op: gte, value: 1 }',
    );
    // A much smaller top of the value pyramid: demotions, held by the dimension's 14 days of grace.
    text = edit(text, '{ tier: PLATINUM, share: 0.2 } # top 20 %', '{ tier: PLATINUM, share: 0.05 }');
    text = edit(text, '{ tier: GOLD, share: 0.3 } # next 30 %', '{ tier: GOLD, share: 0.05 }');
    text = edit(text, '{ tier: SILVER, share: 0.3 } # next 30 %', '{ tier: SILVER, share: 0.1 }');
    text = edit(text, '{ tier: BRONZE, share: 0.2 } # bottom 20 %', '{ tier: BRONZE, share: 0.8 }');
    changedText = text;
    changedFile = path.join(dir, 'changed-rules.yaml');
    writeFileSync(changedFile, changedText);
  });

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('shows the active version as tierctl rules show does, and its dimensions with the cut points in force', async () => {
    const show = await showRules(fx.clients, fx.clients.config.RULES_FILE);
    const cutPoints = await new TierStateStore(fx.redis, fx.prefix).getCutPoints();
    expect(show.active).not.toBeNull();
    const page = await fx.newPage('viewer');
    await openRules(page, fx.url);
    expect(await page.getByTestId('active-version').getAttribute('data-value')).toBe(show.active!.version);
    expect(Number(await page.getByTestId('active-apply').getAttribute('data-value'))).toBe(show.active!.seq);
    // Whether the file on disk (RULES_FILE) differs from the active version, as `tierctl rules show` says.
    expect(show.file?.differs).toBe(false);
    expect(await page.getByTestId('rules-file-status').getAttribute('data-value')).toBe('same');
    const rules = parseRules(original.text, 'active');
    for (const d of rules.dimensions) await expect.poll(() => page.getByTestId(`dimension-${d.id}`).count()).toBe(1);
    // value_tier: the minimum of each tier in force is the cut point in Redis (best first; the last tier has none).
    expect(cutPoints?.cuts.value_tier).toBeDefined();
    const minima = await page
      .getByTestId('dimension-value_tier')
      .locator('table')
      .first()
      .locator('tbody tr')
      .evaluateAll((rows) => rows.map((r) => r.querySelectorAll('td')[3]?.getAttribute('data-value') ?? null));
    expect(minima).toEqual([...cutPoints!.cuts.value_tier!.map(String), null]);
    await fx.screenshot(page, 'rules-active');
  });

  it('previews a changed file with the moves and held demotions tierctl rules diff reports for it', async () => {
    const cli = await tierctl(['rules', 'diff', changedFile, '--json'], { env: fx.run.settings });
    expect(cli.code, cli.stderr).toBe(0);
    const diff = JSON.parse(cli.stdout) as RulesDiff;
    // The change must move customers and hold demotions, or the comparison below would prove little.
    expect(diff.moves.length).toBeGreaterThan(0);
    expect(diff.held.length).toBeGreaterThan(0);

    const page = await fx.newPage('viewer');
    await openRules(page, fx.url);
    await upload(page, changedFile);
    expect(await page.getByTestId('preview').getAttribute('data-valid')).toBe('true');
    expect(await page.getByTestId('preview-version').getAttribute('data-value')).toBe('console-preview-1');
    const shown = await shownPreview(page);
    expect(shown.moves).toEqual(
      Object.fromEntries(diff.moves.map((m) => [`move-${m.dimension}-${m.from}-${m.to}`, m.customers])),
    );
    expect(shown.held).toEqual(
      Object.fromEntries(diff.held.map((h) => [`held-${h.dimension}-${h.tier}-${h.pending}`, h.customers])),
    );
    await fx.screenshot(page, 'rules-preview');
  });

  it('shows the validation errors of an invalid file (path or line) as tierctl rules validate reports them', async () => {
    const badText = edit(
      edit(original.text, '{ tier: GOLD, share: 0.3 } # next 30 %', '{ tier: GOLD, share: 0.35 }'),
      '{ metric: recency_days, op: lte, value: 60 }',
      '{ metric: recency_dayz, op: lte, value: 60 }',
    );
    const badFile = path.join(dir, 'invalid-rules.yaml');
    writeFileSync(badFile, badText);
    let expected: string[] = [];
    try {
      validateRulesText(badText, 'invalid-rules.yaml');
    } catch (err) {
      expect(err).toBeInstanceOf(RulesError);
      expected = (err as RulesError).issues;
    }
    expect(expected.some((i) => i.includes('dimensions[0].scoring.tiers'))).toBe(true);
    expect(expected.some((i) => i.includes('unknown metric "recency_dayz"'))).toBe(true);

    const page = await fx.newPage('viewer');
    await openRules(page, fx.url);
    await upload(page, badFile);
    expect(await page.getByTestId('preview').getAttribute('data-valid')).toBe('false');
    expect(await page.getByTestId('validation-error').allTextContents()).toEqual(expected);
    await fx.screenshot(page, 'rules-invalid');

    // Broken YAML: the error names the line and column.
    const yamlFile = path.join(dir, 'broken-yaml.yaml');
    writeFileSync(yamlFile, `${original.text}\n  - id: [unclosed\n`);
    await upload(page, yamlFile);
    await expect
      .poll(() => page.getByTestId('validation-error').first().textContent())
      .toMatch(/^broken-yaml\.yaml: line \d+, column \d+: invalid YAML/);
  });

  it('gives a viewer no apply button; the apply API answers 403 to a viewer token and 401 without one', async () => {
    const page = await fx.newPage('viewer');
    await openRules(page, fx.url);
    await upload(page, changedFile);
    await page.getByTestId('apply-hint').waitFor();
    expect(await page.getByTestId('apply-hint').textContent()).toContain('tierctl rules apply');
    expect(await page.getByTestId('rules-apply').count()).toBe(0);
    await fx.screenshot(page, 'rules-viewer');

    const post = (headers: Record<string, string>) =>
      fetch(`${fx.url}/api/v1/rules/apply`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ text: changedText, name: 'changed-rules.yaml' }),
      });
    expect((await post({ authorization: `Bearer ${fx.viewerToken}` })).status).toBe(403);
    expect((await post({})).status).toBe(401);
    const active = await new TierStateStore(fx.redis, fx.prefix).getActiveRules();
    expect({ seq: active?.seq, version: active?.version }).toEqual({ seq: original.seq, version: original.version });
  });

  it('lets an admin apply the previewed file as tierctl rules apply does', async () => {
    const page = await fx.newPage('admin');
    await openRules(page, fx.url);
    await upload(page, changedFile);
    expect(await page.getByTestId('apply-hint').count()).toBe(0);
    try {
      await page.getByTestId('rules-apply').click();
      await page.getByTestId('apply-result').waitFor();
      const show = await showRules(fx.clients, null);
      expect(show.active?.version).toBe('console-preview-1');
      expect(show.active?.source).toBe('console rules apply changed-rules.yaml (admin)');
      expect(Number(await page.getByTestId('apply-result').getAttribute('data-value'))).toBe(show.active?.seq);
      expect((await new TierStateStore(fx.redis, fx.prefix).getActiveRules())?.text).toBe(changedText);
      await fx.screenshot(page, 'rules-admin-applied');
      // The page now shows the new version, and that RULES_FILE differs from it.
      await page.reload();
      await expect.poll(() => page.getByTestId('active-version').getAttribute('data-value')).toBe('console-preview-1');
      expect(await page.getByTestId('rules-file-status').getAttribute('data-value')).toBe('differs');
    } finally {
      // The other pages read the run's active rules: give them their text back (a new apply of the old text).
      const active = await new TierStateStore(fx.redis, fx.prefix).getActiveRules();
      if (active?.version !== original.version) await rollbackRules(fx.clients, original.version);
    }
    expect((await new TierStateStore(fx.redis, fx.prefix).getActiveRules())?.text).toBe(original.text);
  });
});
