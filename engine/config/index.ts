// The engine configuration: schemas, loader, environment overrides and secrets, JSON Schema export.
export * from './schema.ts';
export * from './env.ts';
export * from './load.ts';
export * from './data-paths.ts';
export * from './settings-key.ts';
