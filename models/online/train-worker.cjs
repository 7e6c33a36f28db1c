// The entry piscina loads in the online trainer's thread (pipeline.ts `workerTrainer`): models/train/worker.mjs, loaded
// through import(). CommonJS on purpose: piscina loads its entry with require() first, and on Node >= 20.19 require()
// loads an ES module synchronously (require(esm)). A thread terminated while that instantiates the module graph aborts
// the whole process: "FATAL ERROR: v8::Module::IsGraphAsync must be used on an instantiated module" (Node's
// ModuleWrap::InstantiateSync goes on to ask the module it failed to instantiate). The trainer's thread is terminated
// while it loads whenever a learner stops soon after it started (a daemon stopped within a second or two: the vitest
// fork running test/app/online-learning.test.ts died that way). A CommonJS entry is required without require(esm), and
// the asynchronous import() only stops when its thread is terminated.
'use strict';

// Started at once, but an idle piscina worker parks its thread in Atomics.wait, which stalls a pending import(): the
// load finishes when the first task wakes the thread. A function export on purpose (engine/infer/worker-entry.cjs
// exports the promise instead): a trainer that cannot load then fails its task, which the learner reports; a worker
// that fails before it is ready makes piscina stop starting workers (workerFailsDuringBootstrap), and a task queued
// for one would wait for ever.
const entry = import('../train/worker.mjs');
// A load that failed (or stopped at termination) is reported by the tasks that await it, not as an unhandled rejection.
entry.catch(() => {});

module.exports = async function handle(task) {
  return (await entry).default(task);
};
