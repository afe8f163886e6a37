import { spawn } from 'node:child_process';
import { appendFileSync, readdirSync, readFileSync } from 'node:fs';
import { type ServiceName, type ServiceProcess, startService, stopService } from '@tierstream/cli';

/**
 * A service started by the bench: the real entry point as a child process (startService), with its peak RSS sampled
 * from /proc, its health/metrics port read from its start-up log line (HTTP_PORT=0), and its last log lines kept for
 * the error message when it dies. Every one is registered so that the bench stops them all, whatever fails.
 */
export interface BenchService {
  name: ServiceName;
  svc: ServiceProcess;
  pid: number;
  port: Promise<number>;
  maxRssBytes: () => number;
  /** CPU seconds (user + system) of the service's process and its descendants so far, from /proc. */
  cpuSeconds: () => number;
  lastLines: () => string[];
  /** When the service logged that it joined its consumer group (0 until then). */
  joinedAt: () => number;
  /** null while running, else a description of how it ended. */
  dead: () => string | null;
  stop: () => Promise<number | null>;
}

const running = new Set<BenchService>();

export function startBenchService(
  name: ServiceName,
  env: Record<string, string>,
  opts: { cpuProfDir?: string; root?: string } = {},
): BenchService {
  const childEnv: Record<string, string> = { HTTP_PORT: '0', LOG_LEVEL: 'info', ...env };
  if (opts.cpuProfDir) {
    // Node 20 refuses --cpu-prof in NODE_OPTIONS: a preload starts the same V8 profiler through the inspector.
    const preload = new URL('./cpu-prof-preload.mjs', import.meta.url).href;
    childEnv.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} --import ${preload}`.trim();
    childEnv.BENCH_CPU_PROF_DIR = opts.cpuProfDir;
    childEnv.BENCH_CPU_PROF_NAME = `${name}-${Date.now()}`;
  }
  const lines: string[] = [];
  // BENCH_SERVICE_LOG_DIR=<dir>: every line of the service also goes to <dir>/<name>-<pid>.log (diagnosing a run).
  const logDir = process.env.BENCH_SERVICE_LOG_DIR;
  let logFile: string | undefined;
  let joinedAt = 0;
  let resolvePort: (p: number) => void = () => undefined;
  let rejectPort: (e: Error) => void = () => undefined;
  const port = new Promise<number>((res, rej) => {
    resolvePort = res;
    rejectPort = rej;
  });
  port.catch(() => undefined);
  const svc = startService(
    name,
    childEnv,
    (_n, line) => {
      if (logFile) appendFileSync(logFile, `${line}\n`);
      lines.push(line);
      if (lines.length > 40) lines.shift();
      if (joinedAt === 0 && line.includes('joined consumer group')) joinedAt = Date.now();
      if (line.includes('started') && line.includes('"port"')) {
        const m = /"port":(\d+)/.exec(line);
        if (m) resolvePort(Number(m[1]));
      }
    },
    { root: opts.root },
  );
  const pid = svc.child.pid ?? -1;
  if (logDir) logFile = `${logDir}/${name}-${pid}.log`;
  let maxRss = 0;
  const sampler = setInterval(() => {
    maxRss = Math.max(maxRss, rssOf(pid));
  }, 250);
  let ended: string | null = null;
  void svc.exited.then((code) => {
    clearInterval(sampler);
    ended = `${name} exited with code ${code ?? svc.child.signalCode}`;
    rejectPort(new Error(`${ended}; last log lines:\n${lines.slice(-15).join('\n')}`));
  });
  const bench: BenchService = {
    name,
    svc,
    pid,
    port,
    maxRssBytes: () => Math.max(maxRss, rssOf(pid)),
    cpuSeconds: () => cpuSecondsOfTree(pid),
    lastLines: () => [...lines],
    joinedAt: () => joinedAt,
    dead: () => (ended ? `${ended}; last log lines:\n${lines.slice(-15).join('\n')}` : null),
    stop: async () => {
      running.delete(bench);
      maxRss = Math.max(maxRss, rssOf(pid));
      const code = await stopService(svc, 40_000);
      clearInterval(sampler);
      return code;
    },
  };
  running.add(bench);
  return bench;
}

export async function stopAllServices(): Promise<void> {
  await Promise.all([...running].map((s) => s.stop().catch(() => null)));
}

/** Resident set size of a process in bytes (VmRSS), 0 when it is gone. */
export function rssOf(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(status);
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** CPU seconds (utime + stime) of a process and its live descendants (/proc/<pid>/stat), 0 when it is gone. */
export function cpuSecondsOfTree(pid: number): number {
  const ticks = 100; // USER_HZ on Linux
  const stats = new Map<number, { ppid: number; cpu: number }>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // Fields after the command (which may hold spaces) in parentheses: state ppid ... utime(14) stime(15).
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      stats.set(Number(entry), { ppid: Number(f[1]), cpu: (Number(f[11]) + Number(f[12])) / ticks });
    } catch {
      // The process ended meanwhile.
    }
  }
  let total = 0;
  const todo = [pid];
  while (todo.length > 0) {
    const p = todo.pop()!;
    total += stats.get(p)?.cpu ?? 0;
    for (const [child, s] of stats) if (s.ppid === p) todo.push(child);
  }
  return total;
}

/** Waits until GET /health/ready answers 200 (or the service dies, or the timeout passes). */
export async function waitReady(s: BenchService, timeoutMs: number): Promise<number> {
  const port = await withTimeout(s.port, timeoutMs, `${s.name}: start-up log line with its port`);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const dead = s.dead();
    if (dead) throw new Error(dead);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/health/ready`);
      if (res.status === 200) return port;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline)
      throw new Error(
        `${s.name} not ready after ${timeoutMs} ms; last log lines:\n${s.lastLines().slice(-10).join('\n')}`,
      );
    await sleep(250);
  }
}

/** Sum of a Prometheus counter/gauge over its label sets, from a service's /metrics. */
/** The sum of a metric over several services (null when none exposes it). */
export async function scrapeMetricSum(ports: readonly number[], name: string): Promise<number | null> {
  const values = await Promise.all(ports.map((p) => scrapeMetric(p, name)));
  return values.every((v) => v === null) ? null : values.reduce<number>((a, v) => a + (v ?? 0), 0);
}

export async function scrapeMetric(port: number, name: string): Promise<number | null> {
  try {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    let sum = 0;
    let found = false;
    for (const line of text.split('\n')) {
      if (line.startsWith(`${name}{`) || line.startsWith(`${name} `)) {
        sum += Number(line.slice(line.lastIndexOf(' ') + 1));
        found = true;
      }
    }
    return found ? sum : null;
  } catch {
    return null;
  }
}

/** Runs a command, returns stdout; rejects on non-zero exit or after `timeoutMs` (the child is killed). */
export function runCommand(cmd: string, args: string[], timeoutMs: number, cwd?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      err += c.toString();
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${cmd} timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${cmd} exited with ${code}: ${err.slice(-2000) || out.slice(-2000)}`));
    });
  });
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timeout after ${Math.round(ms / 1000)} s: ${what}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
