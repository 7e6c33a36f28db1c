// The least receive-minus-exchange time of a stream's messages (a symbol's trades) over the current and the previous
// window of local time (10 s each by default: 10-20 s of history). Latency only adds to a message's lag, so the least
// one bounds how far the local clock runs ahead of the exchange's; it cannot tell that from a stream running behind.
// Read by the DataProvider (how late idle 1s bars close) and the Orchestrator (how late a bar may be and still count).

/** The least receive lag over the last one to two windows. */
export class ReceiveLag {
  private window = NaN;
  private min = Infinity;
  private prev = Infinity;

  constructor(private readonly windowMs = 10_000) {}

  /** Notes one message's receive-minus-exchange time `lag` (ms), received at local time `at`. */
  note(lag: number, at: number): void {
    const w = Math.floor(at / this.windowMs);
    if (w !== this.window) {
      // A skipped window breaks the history: the previous one is not the window before this.
      this.prev = w === this.window + 1 ? this.min : Infinity;
      this.min = Infinity;
      this.window = w;
    }
    if (lag < this.min) this.min = lag;
  }

  /** The least lag of this window and the one before (ms); 0 with none, or when the exchange's clock is ahead. */
  least(): number {
    const m = Math.min(this.min, this.prev);
    return Number.isFinite(m) && m > 0 ? m : 0;
  }

  /** True once a whole window before the current one was seen: least() then spans at least one full window. */
  get settled(): boolean {
    return Number.isFinite(this.prev);
  }
}
