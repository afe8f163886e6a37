export * from './clients';
export * from './demo';
export * from './feed';
export * from './pipeline';
export * from './supervisor';
