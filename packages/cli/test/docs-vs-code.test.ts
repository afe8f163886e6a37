import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { DLQ_HEADERS } from '@tierstream/kafka';
import { listQueries, QUERIES_DIR } from '@tierstream/warehouse';
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import type { Clients } from '../src/clients';
import { buildTierctl } from '../src/program';

/**
 * Docs that match the code: every `tierctl` command and flag, SQL-pack query and parameter, npm script, environment
 * variable, metric and repository path that the Markdown files name in code (backticks or fenced blocks) must exist.
 * Also: the runbook's dead-letter headers and settings-table defaults equal the code's. Runs in `npm test` (unit
 * project, no stack); what it does not check (prose claims about behaviour) is said in README "Tests".
 */
const ROOT = path.resolve(import.meta.dirname, '../../..');
const SKIP_DIRS = new Set(['node_modules', '.git', 'data', 'results']);

function walk(dir: string, keep: (f: string) => boolean, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    if (SKIP_DIRS.has(name) || name.startsWith('.')) continue;
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) walk(p, keep, out);
    else if (keep(p)) out.push(p);
  }
  return out;
}

interface Snippet {
  file: string;
  line: number;
  text: string;
}

/** The code of a Markdown file: inline `spans` and the lines of fenced blocks, each with its line number. */
export function codeSnippets(file: string, text: string): Snippet[] {
  const out: Snippet[] = [];
  let fenced = false;
  text.split('\n').forEach((raw, i) => {
    const line = i + 1;
    if (/^\s*```/.test(raw)) {
      fenced = !fenced;
      return;
    }
    if (fenced) out.push({ file, line, text: raw });
    else for (const m of raw.matchAll(/`([^`]+)`/g)) out.push({ file, line, text: m[1]! });
  });
  return out;
}

const docs = walk(ROOT, (f) => f.endsWith('.md')).map((file) => ({
  file: path.relative(ROOT, file),
  text: readFileSync(file, 'utf8'),
}));
const snippets = docs.flatMap((d) => codeSnippets(d.file, d.text));
const where = (s: Snippet) => `${s.file}:${s.line}`;

/** Everything the product's code, scripts and config files say: a name found only in docs does not exist. */
const corpus = [
  ...['packages', 'services', 'scripts', 'infra', 'bench', 'test', 'rules', 'schemas', 'bin', '.ci'].flatMap((d) =>
    existsSync(path.join(ROOT, d))
      ? walk(path.join(ROOT, d), (f) => !f.endsWith('.md') && !f.endsWith('docs-vs-code.test.ts'))
      : [],
  ),
  ...['docker-compose.yml', 'package.json'].map((f) => path.join(ROOT, f)),
]
  .map((f) => readFileSync(f, 'utf8'))
  .join('\n');

const tierctl = buildTierctl({} as Clients);

/** The tokens after `tierctl` in a snippet (up to a shell comment, pipe to another program or the end). */
function tierctlInvocations(s: Snippet): string[][] {
  const out: string[][] = [];
  for (const m of s.text.matchAll(/(?:^|[\s(;&])(?:npm run )?tierctl(?: --)?((?: +[^ #]+)*)/g)) {
    const tokens = (m[1] ?? '').trim().split(/\s+/).filter(Boolean);
    const cut = tokens.findIndex((t) => t === '|' || t === '&&' || t === ';' || t === '>' || t === '2>&1');
    out.push(cut >= 0 ? tokens.slice(0, cut) : tokens);
  }
  return out;
}

function optionNames(cmd: Command): Set<string> {
  const names = new Set(['--help', '-h']);
  for (const o of cmd.options) {
    if (o.long) names.add(o.long);
    if (o.short) names.add(o.short);
    if (o.negate && o.long) names.add(o.long.replace(/^--no-/, '--'));
  }
  return names;
}

describe('the docs name only commands and flags tierctl has', () => {
  const invocations = snippets.flatMap((s) => tierctlInvocations(s).map((tokens) => ({ s, tokens })));

  it('finds the tierctl examples of the docs', () => {
    expect(invocations.length).toBeGreaterThan(30);
  });

  it('every command path and flag exists', async () => {
    const queries = new Map((await listQueries(QUERIES_DIR)).map((q) => [q.name, q]));
    const problems: string[] = [];
    for (const { s, tokens } of invocations) {
      let cmd = tierctl;
      let i = 0;
      for (; i < tokens.length; i++) {
        const sub = cmd.commands.find((c) => c.name() === tokens[i] || c.aliases().includes(tokens[i]!));
        if (!sub) break;
        cmd = sub;
      }
      const first = tokens[0];
      if (cmd === tierctl && first !== undefined && /^[a-z][a-z-]*$/.test(first)) {
        problems.push(`${where(s)}: tierctl has no command "${first}"`);
        continue;
      }
      const options = optionNames(cmd);
      const rest = tokens.slice(i);
      for (const t of rest) {
        const flag = t.replace(/^[[(]+/, '').replace(/[=,)\].:]+.*$/, '');
        if (/^--?[a-z]/.test(flag) && !options.has(flag))
          problems.push(`${where(s)}: "tierctl ${cmd.name()}" has no option ${flag}`);
      }
      if (cmd.name() === 'sql') {
        const name = rest.find((t) => !t.startsWith('-') && !t.includes('='));
        if (name && /^[a-z_]+$/.test(name)) {
          const q = queries.get(name);
          if (!q) problems.push(`${where(s)}: the SQL pack has no query "${name}"`);
          for (const [, param] of rest.join(' ').matchAll(/--param ([a-z_]+)=/g))
            if (q && !q.params.some((p) => p.name === param))
              problems.push(`${where(s)}: query "${name}" has no parameter "${param}"`);
        }
      }
    }
    expect(problems).toEqual([]);
  });
});

describe('the docs name only things the code has', () => {
  it('npm scripts', () => {
    const scripts = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).scripts as Record<string, string>;
    const problems = snippets.flatMap((s) =>
      [...s.text.matchAll(/npm run ([\w:.-]+)/g)]
        .filter(([, name]) => !(name! in scripts))
        .map(([, name]) => `${where(s)}: no npm script "${name}"`),
    );
    expect(problems).toEqual([]);
  });

  it('environment variables and other UPPER_CASE names', () => {
    const problems = snippets.flatMap((s) =>
      [...s.text.matchAll(/(?<![\w$-])([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)(?![\w(])/g)]
        .filter(([, name]) => name!.length >= 5 && !corpus.includes(name!)) // shorter: placeholders such as M_W
        .map(([, name]) => `${where(s)}: ${name} appears nowhere in the code`),
    );
    expect(problems).toEqual([]);
  });

  it('settings tables name variables some process reads', () => {
    // The first cell of a Markdown table row: `NAME` (or `A` / `B`) is a setting the docs promise.
    const reads = (name: string) =>
      new RegExp(`(?:\\b${name}\\s*:|env\\.${name}\\b|env\\[['"]${name}['"]\\]|\\$\\{?${name}\\b|\\b${name}=)`).test(
        corpus,
      );
    const problems: string[] = [];
    let rows = 0;
    for (const d of docs) {
      d.text.split('\n').forEach((line, i) => {
        const first = /^\|([^|]+)\|/.exec(line)?.[1] ?? '';
        for (const [, name] of first.matchAll(/`([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)`/g)) {
          rows++;
          if (!reads(name!)) problems.push(`${d.file}:${i + 1}: setting ${name} is read by no process`);
        }
      });
    }
    expect(rows).toBeGreaterThan(20);
    expect(problems).toEqual([]);
  });

  it('the dead-letter headers listed in the runbook are the ones the services set', () => {
    const runbook = docs.find((d) => d.file === path.join('docs', 'operations.md'))!.text;
    const listed = [...new Set([...runbook.matchAll(/`(tierstream-dlq-[a-z-]+)`/g)].map((m) => m[1]))].sort();
    expect(listed).toEqual(Object.values(DLQ_HEADERS).sort());
  });

  it('the defaults in the settings tables of the runbook are those of the config schemas', async () => {
    // Tables under a heading naming the schema's file, e.g. **aggregator** (`services/aggregator/src/config.ts`); a
    // row `| \`NAME\` | \`default\` | ... |` (one variable, one literal default) is checked against the schema.
    const runbook = docs.find((d) => d.file === path.join('docs', 'operations.md'))!.text;
    const problems: string[] = [];
    let checked = 0;
    type Shape = Record<string, { safeParse(v: unknown): { success: boolean; data?: unknown } }>;
    let schema = null as Shape | null;
    for (const [i, line] of runbook.split('\n').entries()) {
      const heading = /^\*\*[^*]+\*\* \(`((?:services|packages)\/[\w/-]+\.ts)`\)/.exec(line);
      if (heading) {
        const mod = (await import(path.join(ROOT, heading[1]!))) as Record<string, unknown>;
        const found = Object.entries(mod).find(([k]) => /ConfigSchema$/.test(k))?.[1] as { shape: unknown } | undefined;
        schema = found ? (found.shape as Shape) : null;
        continue;
      }
      if (/^#/.test(line)) schema = null;
      const row = /^\| `([A-Z][A-Z0-9_]+)`\s*\| `([^`]*)`\s*\|/.exec(line);
      if (!schema || !row) continue;
      const field = schema[row[1]!];
      if (!field) {
        problems.push(`docs/operations.md:${i + 1}: ${row[1]} is not in the schema of its section`);
        continue;
      }
      const parsed = field.safeParse(undefined);
      const value = parsed.success ? parsed.data : undefined;
      const shown = Array.isArray(value) ? value.join(',') : String(value);
      checked++;
      if (shown !== row[2])
        problems.push(`docs/operations.md:${i + 1}: ${row[1]} defaults to ${shown}, docs say ${row[2]}`);
    }
    expect(checked).toBeGreaterThan(25);
    expect(problems).toEqual([]);
  });

  it('metrics', () => {
    const problems = docs.flatMap((d) =>
      [...d.text.matchAll(/\btierstream_[a-z0-9_]*[a-z0-9]/g)]
        .map((m) => m[0].replace(/_(bucket|sum|count)$/, ''))
        .filter((name) => !corpus.includes(`'${name}`) && !corpus.includes(`"${name}`) && !corpus.includes(name))
        .map((name) => `${d.file}: metric ${name} is not registered anywhere`),
    );
    expect(problems).toEqual([]);
  });

  it('repository paths and relative links', () => {
    // Files the commands write (reject files of `tierctl import`), not in the repository.
    const GENERATED = /\.rejects\.csv$/;
    const TOP = /^(?:\.\/)?(?:packages|services|infra|docs|rules|scripts|bench|test|examples|schemas|bin)\/[\w./-]*\w$/;
    const problems: string[] = [];
    for (const s of snippets) {
      for (const token of s.text.split(/[\s,;()'"]+/)) {
        const p = token.replace(/:\d+(-\d+)?$/, '');
        const exists = [ROOT, path.join(ROOT, path.dirname(s.file))].some((base) => existsSync(path.join(base, p)));
        if (TOP.test(p) && !p.includes('*') && !GENERATED.test(p) && !exists)
          problems.push(`${where(s)}: ${p} does not exist`);
      }
    }
    for (const d of docs) {
      for (const [, target] of d.text.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)) {
        if (/^[a-z]+:/.test(target!)) continue;
        if (!existsSync(path.resolve(ROOT, path.dirname(d.file), target!)))
          problems.push(`${d.file}: link target ${target} does not exist`);
      }
    }
    expect(problems).toEqual([]);
  });
});
