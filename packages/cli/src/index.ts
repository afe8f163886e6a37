export * from './clients';
export * from './demo';
export * from './feed';
export * from './ops/csv-records';
export * from './ops/customer-view';
export * from './ops/import-file';
export * from './pipeline';
export * from './supervisor';
