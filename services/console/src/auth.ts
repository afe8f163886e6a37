import { createHash, timingSafeEqual } from 'node:crypto';
import cookie from '@fastify/cookie';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ConsoleConfig } from './config';
import type { Role } from './types';

/** The session cookie: holds the bearer token, HttpOnly (no script reads it), SameSite=Strict, path /. */
export const SESSION_COOKIE = 'tierstream_console';

/** Paths open without a token: health, metrics, the login endpoints and the static UI (which holds no data). */
const OPEN_API = new Set(['/api/v1/session']);

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/**
 * The role a presented token grants: 'admin' for the admin token, 'viewer' for the viewer token, null otherwise.
 * Compares SHA-256 digests in constant time, so timing tells nothing about how much of a token matched.
 */
export function roleOf(presented: string | undefined, config: ConsoleConfig): Role | null {
  if (!presented) return null;
  const d = digest(presented);
  if (config.CONSOLE_ADMIN_TOKEN && timingSafeEqual(d, digest(config.CONSOLE_ADMIN_TOKEN))) return 'admin';
  if (config.CONSOLE_VIEWER_TOKEN && timingSafeEqual(d, digest(config.CONSOLE_VIEWER_TOKEN))) return 'viewer';
  return null;
}

/** The token a request presents: `Authorization: Bearer <token>`, else the session cookie. */
function presentedToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (header) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    return m?.[1];
  }
  return request.cookies[SESSION_COOKIE];
}

/**
 * Access control of the console:
 * - every route under /api/ needs a token (401 `{error}` without a valid one); a route that needs more than the viewer
 *   role says so in its route config: `app.post('/api/v1/...', { config: { role: 'admin' } }, handler)` (403 for a
 *   viewer token);
 * - `POST /api/v1/session` with JSON `{ token }` checks the token and sets it in the session cookie (HttpOnly,
 *   SameSite=Strict, Secure when CONSOLE_COOKIE_SECURE); `DELETE /api/v1/session` clears it; `GET /api/v1/session`
 *   says which role the caller has (401 without) and `sessionInfo` (the reporting currency) — never the token;
 * - /health/*, /healthz, /readyz, /metrics and the static UI are open (no data in them).
 * Tokens are never logged: request logging is off and the logger redacts the authorization and cookie headers.
 */
export async function registerAuth(
  app: FastifyInstance,
  config: ConsoleConfig,
  sessionInfo: Record<string, unknown> = {},
): Promise<void> {
  await app.register(cookie);
  app.decorateRequest('role', undefined);

  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    // The matched route decides, not the raw URL: the router decodes the path, so '/%61pi/v1/...' reaches an /api
    // route while its raw URL does not start with /api/. An unmatched URL (a 404) is checked by its raw path.
    const path = request.routeOptions.url ?? request.url.split('?')[0] ?? request.url;
    if (!path.startsWith('/api/') && !request.url.startsWith('/api/')) return;
    if (OPEN_API.has(path) && request.method === 'POST') return;
    const role = roleOf(presentedToken(request), config);
    if (!role) {
      reply.header('www-authenticate', 'Bearer realm="tierstream console"');
      return reply.code(401).send({ error: 'authentication required: log in or send Authorization: Bearer <token>' });
    }
    request.role = role;
    const needed = request.routeOptions.config?.role ?? 'viewer';
    if (needed === 'admin' && role !== 'admin')
      return reply.code(403).send({ error: 'this action needs the admin role' });
  });

  app.post<{ Body: { token?: unknown } }>('/api/v1/session', async (request, reply) => {
    const presented = typeof request.body?.token === 'string' ? request.body.token.trim() : undefined;
    const role = roleOf(presented, config);
    if (!role || !presented) return reply.code(401).send({ error: 'unknown token' });
    reply.setCookie(SESSION_COOKIE, presented, {
      httpOnly: true,
      sameSite: 'strict',
      secure: config.CONSOLE_COOKIE_SECURE,
      path: '/',
    });
    return { role };
  });
  app.get('/api/v1/session', async (request) => ({ role: request.role, ...sessionInfo }));
  app.delete('/api/v1/session', async (_request, reply) => {
    reply.clearCookie(SESSION_COOKIE, { path: '/' });
    return { role: null };
  });
}
