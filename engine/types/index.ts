export * from './errors.ts';
export * from './decimal.ts';
export * from './money.ts';
export * from './price.ts';
export * from './instrument.ts';
export * from './time.ts';
export * from './ids.ts';
