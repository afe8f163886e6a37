export * from './cdnow';
export * from './heap';
export * from './random';
export * from './summary';
export * from './workload';
