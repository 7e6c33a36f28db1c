// LMDB stores (one environment, named databases) and the in-memory model-output store.
export * from './lmdb.ts';
export * from './model-output-store.ts';
export * from './inference-history.ts';
