export * from './config';
export * from './keyspace';
export * from './metrics';
export { oracleMetrics } from './oracle';
export * from './store';
