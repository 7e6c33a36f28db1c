// Real data for the dashboard tests: the bundled Binance recordings pumped through the bus on a SimulatedClock,
// with the COBAggregator (books, cob.snapshot, cob.heatmap) and the DataProvider (md.candle from trades) attached.
// The caller decides how much recorded time to pump, so a test can observe the page between steps.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CobAggregator } from '../../../actors/cob-aggregator/logic.ts';
import type { KlineSource } from '../../../actors/data-provider/market-source.ts';
import { DataProvider } from '../../../actors/data-provider/provider.ts';
import type { EngineMsg } from '../../../engine/messages/index.ts';
import { Bus } from '../../../engine/runtime/bus.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import type { TsMs } from '../../../engine/types/time.ts';
import { nsToMs } from '../../../engine/types/time.ts';
import { BinanceFramePublisher } from '../../../engine/venues/binance/binance-feed.ts';
import { replayInstrument } from '../../../engine/venues/replay/book-replay.ts';
import { RecordingMerge } from '../../../engine/venues/sim/replay.ts';

const DATA = fileURLToPath(new URL('../../../data/recordings/', import.meta.url));
/** The first day of both bundled recordings. */
export const RECORDINGS = [join(DATA, 'spot_btcusdt_20240808.jsonl.gz'), join(DATA, 'spot_ethusdt_20240808.jsonl.gz')];

/** The recording replayed onto a bus, stepwise. */
export class ReplayHarness {
  readonly bus = new Bus<EngineMsg>();
  readonly clock = new SimulatedClock(0);
  lines = 0;
  private constructor(private readonly merge: RecordingMerge, private readonly publisher: BinanceFramePublisher, readonly cob: CobAggregator, readonly provider: DataProvider) {}

  /**
   * Opens the recordings and wires the aggregator and the data provider (nothing is pumped yet). With `history`, the
   * clock starts at the first line (as a replay's does) and the provider loads its kline history there.
   */
  static async open(files: readonly string[] = RECORDINGS, opts: { readonly history?: KlineSource } = {}): Promise<ReplayHarness> {
    const merge = await RecordingMerge.open(files);
    const insts = merge.symbols.map((s) => replayInstrument(s));
    const bus = new Bus<EngineMsg>();
    const clock = new SimulatedClock(0);
    const publisher = new BinanceFramePublisher({ bus, venue: 'binance', instruments: insts, depth: 'raw' });
    const cob = new CobAggregator({
      bus, clock, snapshots: { requestSnapshot: () => {} },
      symbols: insts.map((i) => ({ symbol: i.symbol, bucketSize: i.symbol.startsWith('BTC') ? '10' : '1', venues: [i] })),
      settings: { heatmap: { seconds: 300, range: 10 } },
    });
    const provider = new DataProvider({ bus, clock, maintenanceMs: 0, ...(opts.history ? { history: opts.history } : {}) });
    const h = new ReplayHarness(merge, publisher, cob, provider);
    Object.assign(h, { bus, clock });
    if (opts.history) clock.set(h.nextTs());
    cob.start();
    await provider.start();
    return h;
  }

  /** Returns the receive time (ms) of the next line, or NaN at the end. */
  nextTs(): TsMs {
    const ns = this.merge.peekNs();
    return ns === undefined ? NaN : nsToMs(ns);
  }

  /** Publishes every line received up to `untilMs`, moving the clock to each line's time; returns the lines pumped. */
  async pumpUntil(untilMs: TsMs): Promise<number> {
    let n = 0;
    for (let ts = this.nextTs(); ts <= untilMs; ts = this.nextTs()) {
      const line = await this.merge.next();
      if (line === undefined) break;
      const t = nsToMs(line.tsLocalNs);
      if (t > this.clock.now()) this.clock.set(t);
      this.publisher.publish(line.text, t, line.symbol);
      n++;
    }
    if (untilMs > this.clock.now()) this.clock.set(untilMs);
    this.lines += n;
    return n;
  }

  /**
   * A hole in the recording, as the replay feed shows one: md.feedReset for every symbol, then the lines received up
   * to `untilMs` are read and not published. Returns the lines left out.
   */
  async skipUntil(untilMs: TsMs): Promise<number> {
    for (const s of this.merge.symbols) this.bus.publish({ type: 'md.feedReset', venue: 'binance', symbol: replayInstrument(s).symbol, reason: 'hole in the recording', ts: this.clock.now() });
    let n = 0;
    for (let ts = this.nextTs(); ts <= untilMs; ts = this.nextTs()) {
      if ((await this.merge.next()) === undefined) break;
      n++;
    }
    if (untilMs > this.clock.now()) this.clock.set(untilMs);
    return n;
  }

  /** Pumps `ms` of recorded time past the current clock (from the first line on the first call). */
  async pumpFor(ms: number): Promise<number> {
    const from = this.clock.now() === 0 ? this.nextTs() : this.clock.now();
    return this.pumpUntil(from + ms);
  }

  /** Stops the actors and closes the files. */
  async close(): Promise<void> {
    this.cob.stop();
    this.provider.stop();
    await this.merge.close();
  }
}
