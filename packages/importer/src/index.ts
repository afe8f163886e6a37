export * from './common';
export * from './fields';
export * from './importer';
export * from './mapping';
export * from './numbers';
export * from './orders';
export * from './rejects';
export * from './time';
