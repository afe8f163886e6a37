export * from './auth';
export * from './config';
export * from './deps';
export * from './main';
export * from './server';
export * from './types';
