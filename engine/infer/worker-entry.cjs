// The entry piscina loads in each inference worker (pool.ts): worker.mjs, loaded through import(). CommonJS on purpose:
// piscina loads its entry with require() first, and on Node >= 20.19 require() of an ES module instantiates its graph
// synchronously (require(esm)); a thread terminated inside that aborts the whole process ("FATAL ERROR:
// v8::Module::IsGraphAsync must be used on an instantiated module"). A CommonJS entry is required without require(esm).
//
// It exports the promise of the handler, not a function that awaits the import: piscina awaits an exported promise
// before it reports the worker ready. Once ready, an idle piscina worker blocks its thread in Atomics.wait until a task
// comes, so an import() still pending there stops: with a function export, only the worker that got the pool's first
// task ever finished loading its sessions (and posted its loaded message); the others loaded when a task woke them.
'use strict';

module.exports = import('./worker.mjs').then((m) => m.default);
