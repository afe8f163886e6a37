import { readFileSync } from 'node:fs';

interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: CpuProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface ProfileSummary {
  file: string;
  totalMs: number;
  /** Self time per function (url:line), highest first. */
  topFunctions: Array<{ frame: string; selfMs: number; share: number }>;
  /** Self time per origin: a node_modules package, a workspace package, node internals, (gc), (idle), (program). */
  byOrigin: Array<{ origin: string; selfMs: number; share: number }>;
}

/** Self time of a V8 .cpuprofile (node --cpu-prof), aggregated per function and per package. */
export function summarizeCpuProfile(file: string, top = 15): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!;
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const perFrame = new Map<string, number>();
  const perOrigin = new Map<string, number>();
  let total = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    total += us;
    const { functionName, url, lineNumber } = node.callFrame;
    const frame = `${functionName || '(anonymous)'} ${shortUrl(url)}${url ? `:${lineNumber + 1}` : ''}`;
    perFrame.set(frame, (perFrame.get(frame) ?? 0) + us);
    const origin = originOf(url, functionName);
    perOrigin.set(origin, (perOrigin.get(origin) ?? 0) + us);
  }
  const rank = (m: Map<string, number>) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .map(([k, us]) => ({ key: k, selfMs: Math.round(us / 1000), share: total ? us / total : 0 }));
  return {
    file,
    totalMs: Math.round(total / 1000),
    topFunctions: rank(perFrame)
      .slice(0, top)
      .map(({ key, selfMs, share }) => ({ frame: key, selfMs, share })),
    byOrigin: rank(perOrigin)
      .slice(0, top)
      .map(({ key, selfMs, share }) => ({ origin: key, selfMs, share })),
  };
}

function shortUrl(url: string): string {
  if (!url) return '';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) return url.slice(nm + 'node_modules/'.length);
  const repo = url.search(/\/(packages|services|bench)\//);
  if (repo >= 0) return url.slice(repo + 1);
  return url.replace(/^file:\/\//, '');
}

function originOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/');
    return rest[0]?.startsWith('@') ? `${rest[0]}/${rest[1]}` : (rest[0] ?? url);
  }
  const ws = /\/(packages|services)\/([^/]+)\//.exec(url);
  if (ws) return `${ws[1]}/${ws[2]}`;
  if (url.startsWith('node:')) return 'node internals';
  return shortUrl(url);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const file of process.argv.slice(2)) {
    const s = summarizeCpuProfile(file);
    console.log(`\n${file} (${s.totalMs} ms sampled)`);
    console.log('  by origin:');
    for (const o of s.byOrigin) console.log(`    ${(o.share * 100).toFixed(1).padStart(5)} %  ${o.origin}`);
    console.log('  top functions (self time):');
    for (const f of s.topFunctions) console.log(`    ${(f.share * 100).toFixed(1).padStart(5)} %  ${f.frame}`);
  }
}
