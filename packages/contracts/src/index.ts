export * from './decode';
export * from './identity';
export * from './input-topics';
export * from './schemas';
export * from './serde';
export * from './topic-spec';
export * from './types';
export * from './validation';
