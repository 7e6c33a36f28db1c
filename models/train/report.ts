// Shared pieces of the training reports: a stderr progress bar for terminals, classification figures, data spans.
import { createHash } from 'node:crypto';
import { accuracy, logLoss } from '../metrics.ts';
import { NUM_CLASSES } from '../labels/triple-barrier.ts';

/** Accuracy and log loss of one set of predictions. */
export interface ClassFigures {
  readonly n: number;
  readonly accuracy: number;
  readonly logLoss: number;
}

/** Returns accuracy and log loss of row-major [n, 3] probabilities against labels; hard predictions are the argmax. */
export function classFigures(probs: ArrayLike<number>, labels: ArrayLike<number>, pred?: ArrayLike<number>): ClassFigures {
  const hard = pred ?? argmaxRows(probs, labels.length);
  return { n: labels.length, accuracy: accuracy(hard, labels), logLoss: logLoss(probs, labels, NUM_CLASSES) };
}

/** Returns the argmax class of each row of row-major [n, 3] probabilities (first on ties). */
export function argmaxRows(probs: ArrayLike<number>, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let j = 1; j < NUM_CLASSES; j++) if (probs[i * NUM_CLASSES + j]! > probs[i * NUM_CLASSES + best]!) best = j;
    out[i] = best;
  }
  return out;
}

/** A span of bars by open time. */
export interface DataSpan {
  readonly fromMs: number;
  readonly toMs: number;
  readonly from: string;
  readonly to: string;
  readonly bars: number;
}

/** Returns the span of bars [from, to] (inclusive) of a series of open times. */
export function dataSpan(openTimeMs: ArrayLike<number>, from: number, to: number): DataSpan {
  const a = openTimeMs[from]!, b = openTimeMs[to]!;
  return { fromMs: a, toMs: b, from: new Date(a).toISOString(), to: new Date(b).toISOString(), bars: to - from + 1 };
}

/** Returns a short stable hash of a JSON-able value (key order as written). */
export function hashOf(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 16);
}

/**
 * One-line progress bar on stderr: `label [####----] step/total loss x ETA s`. Draws only when stderr is a TTY
 * (non-TTY runs leave stderr to the pino logs), at most every `minIntervalMs`.
 */
export class Progress {
  private readonly started = performance.now();
  private lastDraw = 0;
  private readonly enabled: boolean;

  constructor(private readonly total: number, opts: { enabled?: boolean; minIntervalMs?: number } = {}) {
    this.enabled = opts.enabled ?? process.stderr.isTTY === true;
    this.minIntervalMs = opts.minIntervalMs ?? 200;
  }

  private readonly minIntervalMs: number;

  /** Redraws the bar at `done` steps of the total. */
  update(done: number, label: string, loss?: number): void {
    if (!this.enabled) return;
    const now = performance.now();
    if (done < this.total && now - this.lastDraw < this.minIntervalMs) return;
    this.lastDraw = now;
    const frac = this.total > 0 ? Math.min(1, done / this.total) : 1;
    const width = 24;
    const filled = Math.round(frac * width);
    const elapsed = (now - this.started) / 1000;
    const eta = done > 0 ? (elapsed / done) * (this.total - done) : NaN;
    const lossText = loss !== undefined && Number.isFinite(loss) ? ` loss ${loss.toFixed(4)}` : '';
    const etaText = Number.isFinite(eta) ? ` ETA ${eta.toFixed(0)}s` : '';
    process.stderr.write(`\r${label} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${done}/${this.total}${lossText}${etaText}\x1b[K`);
  }

  /** Ends the bar's line. */
  done(): void {
    if (this.enabled) process.stderr.write('\n');
  }
}
