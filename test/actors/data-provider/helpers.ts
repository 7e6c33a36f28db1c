// Shared pieces of the DataProvider tests: real kline history (data/klines), a real ETH book from the recorded
// REST snapshot, and hand-written stubs of the venue port.
import { KlinesArchive } from '../../../actors/data-provider/klines-archive.ts';
import type { KlineQuery, MarketSource, SourceName } from '../../../actors/data-provider/market-source.ts';
import { ConsolidatedBook } from '../../../engine/market/cob.ts';
import { OrderBook } from '../../../engine/market/order-book.ts';
import type { Candle, Level } from '../../../engine/messages/market.ts';
import { makeInstrument, BINANCE_SPOT_DEFAULTS } from '../../../engine/types/instrument.ts';
import { VenueError } from '../../../engine/types/errors.ts';
import type { Timeframe } from '../../../engine/types/time.ts';
import { BinanceFrameDecoder } from '../../../engine/venues/binance/frames.ts';
import { readRecordingLinesSync } from '../../../engine/venues/replay/recording.ts';

export const ETH = makeInstrument(BINANCE_SPOT_DEFAULTS['ETH/USDT']!);
export const BTC = makeInstrument(BINANCE_SPOT_DEFAULTS['BTC/USDT']!);
export const archive = new KlinesArchive(['data/klines']);
/** 2024-08-08 23:54:13 UTC: where the bundled recording starts. */
export const REC_START = Date.UTC(2024, 7, 8, 23, 54, 13);

/** A venue port serving the CSV klines and a fixed price; `down` makes every call fail, `omit` drops bars from answers. */
export class StubVenue implements MarketSource {
  down = false;
  calls = 0;
  klineCalls = 0;
  omit: ((c: Candle, tf: Timeframe) => boolean) | undefined;
  constructor(readonly name: SourceName, public px: number) {}
  async klines(symbol: string, tf: Timeframe, q: KlineQuery): Promise<Candle[]> {
    this.calls++;
    this.klineCalls++;
    if (this.down) throw new VenueError(`${this.name} klines: HTTP 503`);
    const r = await archive.klines(symbol, tf, q);
    return this.omit ? r.candles.filter((c) => !this.omit!(c, tf)) : r.candles;
  }
  async price(): Promise<number> {
    this.calls++;
    if (this.down) throw new VenueError(`${this.name} ticker/price: HTTP 503`);
    return this.px;
  }
}

let snapshotLevels: { bids: readonly Level[]; asks: readonly Level[] } | undefined;

/** Returns an ETH/USDT order book loaded from the recording's REST snapshot line. */
export function ethBook(): OrderBook {
  if (!snapshotLevels) {
    const dec = new BinanceFrameDecoder(ETH);
    const line = readRecordingLinesSync(['data/recordings/spot_ethusdt_20240808.jsonl.gz']).find((l) => l.text.startsWith('{"lastUpdateId"'))!;
    const m = dec.decode(line);
    if (m.type !== 'md.snapshot') throw new Error('no snapshot in the ETH recording');
    snapshotLevels = { bids: m.bids, asks: m.asks };
  }
  const b = new OrderBook('ETH/USDT');
  b.replace(snapshotLevels.bids, snapshotLevels.asks);
  return b;
}

/** Returns a COB of ETH/USDT over `book` (Binance only), touched at `touchedAt` and snapshotted at `now`. */
export function ethCob(book: OrderBook, touchedAt: number, now: number): ConsolidatedBook {
  const cob = new ConsolidatedBook({ symbol: 'ETH/USDT', bucketSize: '1' });
  cob.addVenue({ venue: 'binance', book, tickSize: ETH.tickSize, lotSize: ETH.lotSize });
  cob.touch('binance', touchedAt);
  cob.update(now);
  return cob;
}
