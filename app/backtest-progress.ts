// The progress line `cobalt backtest` keeps on a TTY's stderr: catalog build, then the replay. Nothing is written
// when stderr is not a terminal (logs and --json stay clean).
import type { BacktestProgress } from './backtest.ts';

/** Returns the text of one progress line. */
export function progressText(p: BacktestProgress, wallMs: number): string {
  if (p.phase === 'catalog') return `building the replay catalog: ${p.lines.toLocaleString('en-US')} lines decoded`;
  const pct = p.totalMs !== undefined && p.totalMs > 0 ? ` ${Math.min(100, (100 * p.doneMs) / p.totalMs).toFixed(0)}%,` : '';
  const speed = wallMs > 0 ? `, ${Math.round(p.doneMs / wallMs).toLocaleString('en-US')}x real time` : '';
  return `replaying:${pct} ${(p.doneMs / 60_000).toFixed(1)} min of data, ${p.lines.toLocaleString('en-US')} lines${speed}`;
}

/** A progress reporter writing to `out` when it is a TTY; `done()` clears the line. */
export function ttyProgress(out: NodeJS.WriteStream = process.stderr): { onProgress?: (p: BacktestProgress) => void; done(): void } {
  if (!out.isTTY) return { done: () => undefined };
  const t0 = performance.now();
  let shown = false;
  return {
    // The speed shown is over the wall time so far, start-up (and a catalog build) included.
    onProgress: (p) => {
      out.write(`\r\x1b[K${progressText(p, performance.now() - t0)}`);
      shown = true;
    },
    done: () => {
      if (shown) out.write('\r\x1b[K');
    },
  };
}
