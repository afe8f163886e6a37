import { type ChildProcess, spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { TOPICS } from '@tierstream/contracts';
import type { Admin } from 'kafkajs';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const SERVICES = ['aggregator', 'tier-engine', 'warehouse-writer'] as const;
/**
 * Services the pipeline does not need, started on demand (startService): `destinations` delivers tier changes to
 * webhooks and CRMs and needs destination files (DESTINATIONS_DIR), so the demo and the pipeline tests leave it out;
 * `console` is the web console (services/console, docs/console.md), a reader of Redis, ClickHouse and Kafka admin
 * that needs a token (CONSOLE_VIEWER_TOKEN): the demo starts it after its report.
 */
export const OPTIONAL_SERVICES = ['destinations', 'console'] as const;
export type ServiceName = (typeof SERVICES)[number];
export type AnyServiceName = ServiceName | (typeof OPTIONAL_SERVICES)[number];

export interface ServiceProcess {
  name: AnyServiceName;
  child: ChildProcess;
  exited: Promise<number | null>;
}

/**
 * Starts one service as its own Node process (the same entry point a deployment runs), with `env` layered over
 * this process's environment. Output goes to `onLine` (prefixed) or is inherited. `opts.root` runs the service of
 * another checkout (the bench's baseline worktree) from that checkout's directory; default this repository.
 */
export function startService(
  name: AnyServiceName,
  env: Record<string, string> = {},
  onLine?: (name: AnyServiceName, line: string) => void,
  opts: { root?: string } = {},
): ServiceProcess {
  const root = opts.root ?? REPO_ROOT;
  const entry = path.join(root, 'services', name, 'src', 'main.ts');
  // A larger young generation: the services allocate many short-lived objects per record (decoded values, metric
  // maps), and fewer scavenges measurably cut GC time (deployments can set the same flag in NODE_OPTIONS).
  const child = spawn(process.execPath, ['--max-semi-space-size=64', '--import', 'tsx', entry], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: onLine ? ['ignore', 'pipe', 'pipe'] : 'inherit',
  });
  if (onLine) {
    for (const stream of [child.stdout, child.stderr]) {
      let rest = '';
      stream?.on('data', (chunk: Buffer) => {
        const lines = (rest + chunk.toString('utf8')).split('\n');
        rest = lines.pop() ?? '';
        for (const line of lines) if (line.trim()) onLine(name, line);
      });
    }
  }
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { name, child, exited };
}

/**
 * Tier-engine processes for a replay: one per core, at most one per signal partition (instances split the
 * partitions through the consumer group and meet at the cut-point barrier; more than the partitions would idle).
 * Measured on 2 cores and 3 partitions: the CDNOW demo is faster with 2 than with 3 (the writer and Kafka need the
 * CPU), the `standard` replay with 3 (the barrier waits for the instance with 2 partitions); docs/performance.md.
 * Throws when the signals topic does not exist (bootstrap first).
 */
export async function defaultEngineInstances(admin: Admin, signalsTopic: string = TOPICS.signals): Promise<number> {
  const meta = await admin.fetchTopicMetadata({ topics: [signalsTopic] });
  const partitions = meta.topics[0]?.partitions.length ?? 1;
  return Math.max(1, Math.min(partitions, availableParallelism()));
}

/** SIGTERM (graceful: finish the batch, commit, exit 0), then SIGKILL after `timeoutMs`. Returns the exit code. */
export async function stopService(svc: ServiceProcess, timeoutMs = 30_000): Promise<number | null> {
  if (svc.child.exitCode !== null || svc.child.signalCode !== null) return svc.child.exitCode;
  svc.child.kill('SIGTERM');
  const timer = setTimeout(() => svc.child.kill('SIGKILL'), timeoutMs);
  const code = await svc.exited;
  clearTimeout(timer);
  return code;
}

/** kill -9: no shutdown hook runs (chaos and crash tests). */
export async function killService(svc: ServiceProcess): Promise<void> {
  if (svc.child.exitCode !== null || svc.child.signalCode !== null) return;
  svc.child.kill('SIGKILL');
  await svc.exited;
}
