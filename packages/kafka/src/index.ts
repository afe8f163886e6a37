export * from './client';
export * from './runner';
export * from './types';
