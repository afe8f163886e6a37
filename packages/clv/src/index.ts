export * from './bgnbd';
export * from './clv';
export * from './fit';
export * from './gamma-gamma';
export * from './simulate';
export * from './stats';
export * from './validate';
