export * from './time';
export * from './partition';
export * from './store';
