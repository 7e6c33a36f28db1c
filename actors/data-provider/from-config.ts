// Builds a DataProvider's sources from the engine config: the kline CSV archive when replaying recordings (read at
// the recording's own time when a daemon's replay gives its timeline: replay-history.ts), Binance REST with MEXC as
// fallback (circuit breaker settings from venues.fallback) when live.
import { instrumentSpecsOf, type Config } from '../../engine/config/schema.ts';
import type { Logger } from '../../engine/log.ts';
import type { EngineMsg } from '../../engine/messages/index.ts';
import type { Bus } from '../../engine/runtime/bus.ts';
import type { Clock } from '../../engine/runtime/clock.ts';
import type { ModelOutputStore } from '../../engine/store/model-output-store.ts';
import { BinanceRest } from '../../engine/venues/binance/rest.ts';
import { MexcRest } from '../../engine/venues/mexc/rest.ts';
import { KlinesArchive } from './klines-archive.ts';
import { binanceSource, FailoverMarket, mexcSource } from './market-source.ts';
import { defaultInstruments, type CobQuery, type DataProviderOptions } from './provider.ts';
import { ReplayHistory, type ReplayTimeline } from './replay-history.ts';

/** Runtime pieces the config cannot hold. */
export interface DataProviderDeps {
  readonly bus: Bus<EngineMsg>;
  readonly clock: Clock;
  readonly cob?: CobQuery;
  readonly modelOutputs?: ModelOutputStore;
  readonly log?: Logger;
  /** Where the kline archive keeps query results across processes (KlinesMemo); backtests set it. */
  readonly klinesMemoDir?: string;
  /** A daemon's looped or resumed replay (app/run.ts): kline history is read at the recording's own time by it. */
  readonly replayTimeline?: ReplayTimeline;
}

/** Returns DataProvider options for `config`: recorded data reads klines from `data.klinesDirs`, live data from REST. */
export function dataProviderOptions(config: Config, deps: DataProviderDeps): DataProviderOptions {
  const { primary, reference } = config.symbols;
  const instruments = defaultInstruments(primary === reference ? [primary] : [primary, reference], instrumentSpecsOf(config));
  const { klinesMemoDir, replayTimeline, ...rest } = deps;
  const base = { ...rest, primary, reference, instruments };
  if (config.data.replayFiles.length > 0) {
    const archive = new KlinesArchive(config.data.klinesDirs, deps.log, klinesMemoDir === undefined ? {} : { memoDir: klinesMemoDir });
    // A looped or resumed replay's engine time is not the recording's: history follows the replay's shift.
    return { ...base, history: replayTimeline !== undefined ? new ReplayHistory(archive, replayTimeline, deps.log) : archive };
  }
  const binance = binanceSource(new BinanceRest({ baseUrl: config.venues.binance.restUrl }), instruments);
  const mexc = config.venues.mexc.enabled ? mexcSource(new MexcRest({ baseUrl: config.venues.mexc.restUrl })) : undefined;
  const failover = new FailoverMarket(binance, mexc, {
    clock: deps.clock, failureThreshold: config.venues.fallback.failureThreshold, cooldownMs: config.venues.fallback.cooldownMs, log: deps.log, bus: deps.bus,
  });
  return { ...base, history: failover, prices: failover };
}
