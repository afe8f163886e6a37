import { z } from 'zod';

/**
 * The services' readiness as the Operations page shows it: each service serves /health/ready on its HTTP_PORT
 * (aggregator 9401, tier engine 9402, warehouse writer 9403, destinations 9404 by default; packages/config
 * httpServiceSettings). The console cannot discover where they run, so it probes the URLs configured in
 * CONSOLE_SERVICE_HEALTH_URLS.
 */

/** The services' readiness URLs at their default HTTP_PORTs on this machine. */
export const DEFAULT_SERVICE_HEALTH_URLS =
  'aggregator=http://127.0.0.1:9401/health/ready,tier-engine=http://127.0.0.1:9402/health/ready,' +
  'warehouse-writer=http://127.0.0.1:9403/health/ready,destinations=http://127.0.0.1:9404/health/ready';

/** One service to probe: its name and its readiness URL. */
export interface ServiceProbe {
  name: string;
  url: string;
}

/** `name=url` pairs, comma-separated; each URL http(s) without user info. Returns the problem or the probes. */
export function parseServiceHealthUrls(text: string): ServiceProbe[] | string {
  const probes: ServiceProbe[] = [];
  for (const item of text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const eq = item.indexOf('=');
    const name = eq > 0 ? item.slice(0, eq).trim() : '';
    const url = eq > 0 ? item.slice(eq + 1).trim() : '';
    if (!/^[\w.-]+$/.test(name)) return `expected name=url pairs separated by commas, got "${item}"`;
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      return `expected an http(s) URL for ${name}, got "${url}"`;
    }
    if (!['http:', 'https:'].includes(parsed.protocol) || parsed.username || parsed.password)
      return `expected an http(s) URL without user:password@ for ${name}`;
    if (probes.some((p) => p.name === name)) return `service ${name} is named twice`;
    probes.push({ name, url });
  }
  return probes;
}

/** The console settings of the service probes (spread into the console's schema). */
export const serviceHealthSettings = {
  /**
   * The services' readiness URLs as `name=url` pairs, comma-separated (empty: probe none). Default: the four
   * services' /health/ready at their default HTTP_PORTs on 127.0.0.1.
   */
  CONSOLE_SERVICE_HEALTH_URLS: z
    .string()
    .default(DEFAULT_SERVICE_HEALTH_URLS)
    .superRefine((s, ctx) => {
      const parsed = parseServiceHealthUrls(s);
      if (typeof parsed === 'string') ctx.addIssue({ code: 'custom', message: parsed });
    }),
  /** How long one readiness probe may take before the service counts as down (ms). Default 1000. */
  CONSOLE_SERVICE_HEALTH_TIMEOUT_MS: z.coerce.number().int().min(50).max(60_000).default(1000),
};

/** A service's readiness: `ready`, `not ready` (503 with what fails), or `down` (no answer: why). */
export interface ServiceHealth {
  name: string;
  url: string;
  state: 'ready' | 'not ready' | 'down';
  /** `not ready`: the service's failing checks; `down`: the connection error or the unexpected status. */
  failing: string[];
  /** Round trip in ms (null when down). */
  ms: number | null;
}

/**
 * Probes every service's readiness URL at once (GET, at most `timeoutMs` each). 200 → ready; 503 → not ready with the
 * body's `failing` list (the shared health server's shape); anything else or no answer → down. Never throws.
 */
export async function probeServices(probes: readonly ServiceProbe[], timeoutMs: number): Promise<ServiceHealth[]> {
  return Promise.all(
    probes.map(async ({ name, url }): Promise<ServiceHealth> => {
      const started = performance.now();
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'error' });
        const ms = Math.round(performance.now() - started);
        const body = (await res.json().catch(() => null)) as { failing?: unknown } | null;
        const failing = Array.isArray(body?.failing) ? body.failing.map(String) : [];
        if (res.status === 200) return { name, url, state: 'ready', failing: [], ms };
        if (res.status === 503) return { name, url, state: 'not ready', failing, ms };
        return { name, url, state: 'down', failing: [`HTTP ${res.status}`], ms };
      } catch (err) {
        const e = err as Error & { cause?: { code?: string } };
        const why = e.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (e.cause?.code ?? e.message);
        return { name, url, state: 'down', failing: [why], ms: null };
      }
    }),
  );
}
