// LMDB stores (one environment, named databases), the candles cache and the in-memory model-output store.
export * from './lmdb.ts';
export * from './model-output-store.ts';
export * from './inference-history.ts';
export * from './candle-cache.ts';
