// Test helper: replays a real Binance recording (data/recordings) into a BookSync book and tells a paper venue what
// changed, moving a SimulatedClock to each line's local receive time. The same wiring a live paper run uses.
import { BookSync } from '../../../../engine/venues/binance/book-sync.ts';
import { BinanceFrameDecoder, classifyFrame } from '../../../../engine/venues/binance/frames.ts';
import { readRecordingLinesSync, type RecordedLine } from '../../../../engine/venues/replay/recording.ts';
import { replayInstrument } from '../../../../engine/venues/replay/book-replay.ts';
import type { PaperVenue } from '../../../../engine/venues/paper/paper-venue.ts';
import type { Trade } from '../../../../engine/messages/market.ts';
import type { SimulatedClock } from '../../../../engine/runtime/clock.ts';
import type { Instrument } from '../../../../engine/types/instrument.ts';
import type { Lots, Ticks } from '../../../../engine/types/price.ts';
import { nsToMs } from '../../../../engine/types/time.ts';

/** One symbol's recording, replayed on demand. */
export class ReplayFeed {
  readonly inst: Instrument;
  readonly sync: BookSync;
  readonly trades: Trade[] = [];
  private readonly decoder: BinanceFrameDecoder;
  private readonly lines: RecordedLine[];
  private i = 0;
  venue: PaperVenue | undefined;

  constructor(file: string, symbol: string, private readonly clock: SimulatedClock) {
    this.inst = { ...replayInstrument(symbol), venue: 'paper' };
    this.decoder = new BinanceFrameDecoder(this.inst, 'paper');
    this.sync = new BookSync(this.inst.venueSymbol, { rules: 'spot' });
    this.lines = readRecordingLinesSync([file]);
  }

  /** The local receive time (ms) of the first line. */
  get startMs(): number {
    return nsToMs(this.lines[0]!.tsLocalNs);
  }

  /** True once every line has been replayed. */
  get ended(): boolean {
    return this.i >= this.lines.length;
  }

  /** Replays every line up to `ms` (local receive time), then moves the clock there. */
  advanceTo(ms: number): void {
    while (this.i < this.lines.length) {
      const line = this.lines[this.i]!;
      const t = nsToMs(line.tsLocalNs);
      if (t > ms) break;
      this.i++;
      if (t > this.clock.now()) this.clock.set(t);
      this.onLine(line);
    }
    if (ms > this.clock.now()) this.clock.set(ms);
  }

  /** Replays until the book is live (the recording's snapshot plus the first diff on top of it). */
  primeUntilLive(): void {
    while (!this.sync.isLive() && this.i < this.lines.length) this.advanceTo(nsToMs(this.lines[this.i]!.tsLocalNs));
  }

  private onLine(line: RecordedLine): void {
    const kind = classifyFrame(line.text);
    if (kind === 'depth') {
      const f = this.decoder.decodeDepthFrame(line.text);
      if (typeof f === 'string') return this.sync.onMalformed();
      const wasLive = this.sync.isLive();
      const out = this.sync.onDepth(f);
      if (!wasLive && this.sync.isLive()) this.venue?.onSnapshot(this.inst.symbol);
      else if (out === 'applied') this.venue?.onDepth(this.inst.symbol, pairs(f.bids, f.bidCount), pairs(f.asks, f.askCount), f.eventTime);
      return;
    }
    if (kind === 'snapshot') {
      const m = this.decoder.decode(line);
      if (m.type !== 'md.snapshot') return;
      const wasLive = this.sync.isLive();
      this.sync.onSnapshot(m);
      if (!wasLive && this.sync.isLive()) this.venue?.onSnapshot(this.inst.symbol);
      return;
    }
    if (kind === 'trade') {
      const m = this.decoder.decode(line);
      if (m.type !== 'md.trade') return;
      this.trades.push(m);
      this.venue?.onTrade(this.inst.symbol, m.price, m.lots, m.buyerMaker, m.tsExchange);
    }
  }
}

function pairs(flat: ArrayLike<number>, n: number): Array<readonly [Ticks, Lots]> {
  const out: Array<readonly [Ticks, Lots]> = new Array(n);
  for (let i = 0; i < n; i++) out[i] = [flat[2 * i]! as Ticks, flat[2 * i + 1]! as Lots];
  return out;
}
