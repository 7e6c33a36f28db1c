export * from './bus.ts';
export * from './clock.ts';
export * from './lifecycle.ts';
export * from './supervisor.ts';
