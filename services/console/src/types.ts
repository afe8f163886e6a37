import type { ConsoleConfig } from './config';
import type { ConsoleDeps } from './deps';

export type { ConsoleConfig } from './config';
export type { ConsoleDeps } from './deps';

/** What every route plugin (src/routes/*.ts) is registered with: `app.register(plugin, { deps, config })`. */
export interface ConsoleRouteOptions {
  deps: ConsoleDeps;
  config: ConsoleConfig;
}

/** The two roles. admin has every viewer right. */
export type Role = 'viewer' | 'admin';

/**
 * An error a route throws to answer with `{ error: message }` and `status` (400 bad parameter, 404 unknown id, ...).
 * Anything else thrown is a 500 whose body says only "internal error" (the message is logged).
 */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The role a route needs; default 'viewer' for every /api route. */
    role?: Role;
  }
  interface FastifyRequest {
    /** The role of the caller's token (set by the auth hook on /api routes). */
    role?: Role;
  }
}
