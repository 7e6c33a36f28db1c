// Loaded with `node --import` into a real `cobalt run` by run-crash-daemon.test.ts (test code, never the product's):
// throws from a timer, as a bug in a timer callback would, once the file CRASH_TRIGGER names exists (the test writes
// it when the daemon says it is running).
import { existsSync } from 'node:fs';

const trigger = process.env.CRASH_TRIGGER;
if (trigger) {
  const poll = setInterval(() => {
    if (!existsSync(trigger)) return;
    clearInterval(poll);
    throw new Error('injected crash: a timer callback threw');
  }, 20);
  poll.unref();
}
