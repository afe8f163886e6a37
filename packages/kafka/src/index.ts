export * from './client';
export * from './runner';
export * from './security';
export * from './types';
