import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from '@tierstream/cli';
import { runCommand } from './proc';

/**
 * A build the bench runs services of: the current checkout (working tree as it is) or a git worktree of a base
 * revision (the "previous build" of a side-by-side comparison). Services, the schema registration, topics and
 * ClickHouse migrations of a build all come from its own `root`; the bench's driver code (feed, watermarks, progress,
 * reset) is the current checkout's.
 */
export interface Build {
  /** 'baseline' or 'current'. */
  role: 'baseline' | 'current';
  /** e.g. "919a958" or "HEAD c585b43 + working-tree changes". */
  label: string;
  /** Full commit id (the current build's HEAD). */
  commit: string;
  root: string;
  /** How its node_modules came to be (baseline: linked to the main checkout's, or npm ci). */
  nodeModules?: string;
}

const git = (args: string[], cwd = REPO_ROOT) => execFileSync('git', args, { cwd, encoding: 'utf8' }).trim();

export function currentBuild(): Build {
  const commit = git(['rev-parse', 'HEAD']);
  const dirty = git(['status', '--porcelain', '--untracked-files=no']) !== '';
  return {
    role: 'current',
    label: `HEAD ${commit.slice(0, 7)}${dirty ? ' + working-tree changes' : ''}`,
    commit,
    root: REPO_ROOT,
  };
}

/** Dependencies of the root package.json and of every workspace package, as one comparable string. */
function dependencyFingerprint(root: string): string {
  const manifests = ['package.json'];
  for (const group of ['packages', 'services']) {
    const dir = path.join(root, group);
    if (!existsSync(dir)) continue;
    for (const name of readdirSync(dir).sort())
      if (existsSync(path.join(dir, name, 'package.json'))) manifests.push(path.join(group, name, 'package.json'));
  }
  return JSON.stringify(
    manifests.map((m) => {
      const pkg = JSON.parse(readFileSync(path.join(root, m), 'utf8')) as Record<string, unknown>;
      return [m, pkg.dependencies ?? {}, pkg.devDependencies ?? {}];
    }),
  );
}

/**
 * node_modules for a worktree without a second install. A plain symlink to the main checkout's node_modules would be
 * wrong with npm workspaces: `node_modules/@tierstream/*` are relative links to the workspace packages, and Node
 * resolves them to their real path, i.e. to the MAIN checkout's packages. So every entry is linked except
 * `@tierstream`, which gets its own links to the worktree's packages and services. Only when the dependencies are
 * those of the main checkout; otherwise `npm ci` in the worktree.
 */
function provideNodeModules(root: string, log: (msg: string) => void): Promise<string> | string {
  const target = path.join(root, 'node_modules');
  if (existsSync(path.join(target, '@tierstream'))) return 'present (reused)';
  if (dependencyFingerprint(root) !== dependencyFingerprint(REPO_ROOT)) {
    log(`  baseline: dependencies differ from the main checkout's: npm ci in ${root} (a few minutes)`);
    return runCommand('npm', ['ci', '--no-audit', '--no-fund'], 900_000, root).then(() => 'npm ci');
  }
  const main = path.join(REPO_ROOT, 'node_modules');
  mkdirSync(target, { recursive: true });
  for (const entry of readdirSync(main)) {
    if (entry === '@tierstream') continue;
    symlinkSync(path.join(main, entry), path.join(target, entry));
  }
  const scope = path.join(target, '@tierstream');
  mkdirSync(scope);
  for (const group of ['packages', 'services']) {
    const dir = path.join(root, group);
    if (!existsSync(dir)) continue;
    for (const name of readdirSync(dir)) {
      const manifest = path.join(dir, name, 'package.json');
      if (!existsSync(manifest)) continue;
      const pkgName = (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name ?? '';
      if (pkgName.startsWith('@tierstream/'))
        symlinkSync(path.join(dir, name), path.join(scope, pkgName.slice('@tierstream/'.length)));
    }
  }
  return "linked to the main checkout's (same dependencies), @tierstream/* to the worktree's packages";
}

/**
 * A git worktree of `rev` (detached) at `dir` (default: <tmp>/tierstream-baseline-<commit>), reused when it is
 * already there at that commit. Remove it with `git worktree remove --force <dir>`.
 */
export async function prepareBaseline(
  rev: string,
  dir: string | undefined,
  log: (msg: string) => void,
): Promise<Build> {
  const commit = git(['rev-parse', '--verify', `${rev}^{commit}`]);
  const root = dir ?? path.join(os.tmpdir(), `tierstream-baseline-${commit.slice(0, 12)}`);
  if (existsSync(root)) {
    let head = '';
    try {
      head = git(['rev-parse', 'HEAD'], root);
    } catch {
      // not a git checkout
    }
    if (head !== commit)
      throw new Error(
        `--baseline-dir ${root} exists but is not a checkout of ${commit.slice(0, 12)} (HEAD ${head || 'none'}): remove it (git worktree remove --force ${root}) or pick another directory`,
      );
    log(`  baseline: reusing worktree ${root} (${commit.slice(0, 12)})`);
  } else {
    git(['worktree', 'add', '--detach', root, commit]);
    log(`  baseline: git worktree ${root} at ${commit.slice(0, 12)}`);
  }
  const nodeModules = await provideNodeModules(root, log);
  return { role: 'baseline', label: `${rev} (${commit.slice(0, 7)})`, commit, root, nodeModules };
}

/** Subjects of the schema registry under its Confluent-compatible API. */
async function registry(method: string, url: string): Promise<unknown> {
  const res = await fetch(url, { method, headers: { accept: 'application/json' } });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${url}: HTTP ${res.status} ${text.slice(0, 300)}`);
  return text ? JSON.parse(text) : null;
}

/** Deletes (soft, then permanently) tierstream's value subjects (`<topic>.v1-value`) from the schema registry. */
export async function deleteTierstreamSubjects(registryUrl: string): Promise<string[]> {
  const base = registryUrl.replace(/\/+$/, '');
  const subjects = ((await registry('GET', `${base}/subjects`)) as string[]).filter((s) => /\.v\d+-value$/.test(s));
  for (const s of subjects) {
    const url = `${base}/subjects/${encodeURIComponent(s)}`;
    await registry('DELETE', url).catch(() => undefined);
    await registry('DELETE', `${url}?permanent=true`).catch(() => undefined);
  }
  return subjects;
}

/**
 * Registers the build's schemas, applies its topics and runs its ClickHouse migrations, with the build's own code
 * (a child process in the build's directory). The schema registry keeps subjects across resets: a baseline's older
 * TierChange schema is not BACKWARD compatible with a newer one registered by an earlier run (an enum symbol was
 * added), so on that refusal tierstream's subjects are deleted and the registration is repeated.
 */
export async function bootstrapBuild(build: Build, registryUrl: string, log: (msg: string) => void): Promise<string> {
  const code = [
    "import { bootstrapPipeline, Clients } from '@tierstream/cli';",
    'const clients = new Clients();',
    'try {',
    '  const r = await bootstrapPipeline(clients);',
    "  console.log('schemas', Object.keys(r.schemas).length + ',', 'topics created', r.topics.created.length + ',', 'migrations', r.migrations.applied.join(' '));",
    '} finally {',
    '  await clients.close();',
    '}',
  ].join('\n');
  const run = () =>
    runCommand(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], 180_000, build.root);
  try {
    return (await run()).trim();
  } catch (err) {
    if (!/not BACKWARD compatible|compatib/i.test((err as Error).message)) throw err;
    const deleted = await deleteTierstreamSubjects(registryUrl);
    log(`schema registry refused the build's schemas; deleted subjects ${deleted.join(', ')} and retried`);
    return (await run()).trim();
  }
}
