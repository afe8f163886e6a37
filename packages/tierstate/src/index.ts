export * from './clv-models';
export * from './erasure';
export * from './erasure-ports';
export * from './partition';
export * from './rules';
export * from './store';
export * from './time';
