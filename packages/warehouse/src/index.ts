import { fileURLToPath } from 'node:url';

export * from './buffer';
export * from './client';
export * from './erasure';
export * from './errors';
export * from './health';
export * from './migrations';
export * from './queries';
export * from './rows';
export * from './sql';
export * from './writer';

/** infra/clickhouse/migrations and infra/clickhouse/queries in this repository. */
export const MIGRATIONS_DIR = fileURLToPath(new URL('../../../infra/clickhouse/migrations', import.meta.url));
export const QUERIES_DIR = fileURLToPath(new URL('../../../infra/clickhouse/queries', import.meta.url));
