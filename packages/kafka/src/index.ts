export * from './client';
export * from './offsets';
export * from './partitioner';
export * from './runner';
export * from './security';
export * from './types';
