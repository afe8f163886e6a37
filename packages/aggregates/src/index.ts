export * from './clv-inputs';
export * from './config';
export * from './config-file';
export * from './existence';
export * from './keyspace';
export * from './metrics';
export { oracleMetrics } from './oracle';
export * from './store';
export * from './timeline';
