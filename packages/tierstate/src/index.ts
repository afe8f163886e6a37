export * from './partition';
export * from './store';
export * from './time';
