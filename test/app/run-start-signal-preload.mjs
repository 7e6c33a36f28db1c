// Loaded with `node --import` into a real `cobalt run` by run-start-signal.test.ts (test code, never the product's):
// sends the process SIGTERM as soon as runCommand has begun, i.e. while the daemon loads its config, scans the
// recordings and builds the system. runCommand's first act is to install its crash handlers (the only
// unhandledRejection listener of the process); the signal goes out once the code running then yields.
let sent = false;
process.on('newListener', (event) => {
  if (event !== 'unhandledRejection' || sent) return;
  sent = true;
  setImmediate(() => process.kill(process.pid, 'SIGTERM'));
});
