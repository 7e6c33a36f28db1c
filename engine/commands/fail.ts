// What a command does with a bad file or option: that is the user's input, not a usage error, so it says what was
// wrong in one line, without commander's whole help text, and the process exits 1 once the action returns.

/** Writes `message` to stderr and sets the exit status to 1; returns nothing, so `return fail(...)` ends an action. */
export function fail(message: string): void {
  process.stderr.write(`${message}\n`);
  process.exitCode = 1;
}
