export * from './connections';
export * from './env';
export * from './erasure';
export * from './redis';
export * from './redis-requirements';
export * from './stack';
export * from './wipe-guard';
