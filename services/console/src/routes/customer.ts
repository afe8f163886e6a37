import type { FastifyInstance } from 'fastify';
import type { ConsoleRouteOptions } from '../types';

/** The customer page's API (stub: the page's owner fills it in). */
export default async function (_app: FastifyInstance, _opts: ConsoleRouteOptions): Promise<void> {}
