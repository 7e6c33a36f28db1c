// Runs code with process.stdout and process.stderr captured (nothing reaches the terminal): for tests of commands
// that print their results and refusals.
import { vi } from 'vitest';

/** What `fn` returned and what it wrote to stdout and stderr. */
export interface Captured<T> {
  readonly result: T;
  readonly out: string;
  readonly err: string;
}

/** Runs `fn` with stdout and stderr captured; the writes are restored afterwards, also when `fn` throws. */
export async function captureOutput<T>(fn: () => Promise<T>): Promise<Captured<T>> {
  const out: string[] = [];
  const err: string[] = [];
  const so = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => out.push(String(s)) > 0);
  const se = vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => err.push(String(s)) > 0);
  try {
    const result = await fn();
    return { result, out: out.join(''), err: err.join('') };
  } finally {
    so.mockRestore();
    se.mockRestore();
  }
}
