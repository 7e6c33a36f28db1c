// Module hooks of run-import-signal-preload.mjs (they run on the loader's thread; the signal goes to the process).
let sent = false;
export async function resolve(specifier, context, next) {
  if (!sent && /(^|\/)app\/run\.ts$/.test(specifier) && /engine\/commands\/run\.ts$/.test(context.parentURL ?? '')) {
    sent = true;
    process.kill(process.pid, 'SIGTERM');
  }
  return next(specifier, context);
}
