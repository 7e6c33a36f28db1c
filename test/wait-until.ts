// Waits on real socket, HTTP and timer events without fixed sleeps: for tests of network code.

/** Resolves once `cond` holds, checking after each event-loop turn; fails naming `what` after `turns` turns. */
export async function until(cond: () => boolean, what: string, turns = 200_000): Promise<void> {
  for (let i = 0; i < turns; i++) {
    if (cond()) return;
    await new Promise((r) => setImmediate(r));
  }
  throw new Error(`timed out waiting for ${what}`);
}
