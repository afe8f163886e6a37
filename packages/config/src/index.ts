export * from './env';
export * from './redis';
export * from './stack';
export * from './wipe-guard';
