// DataProvider: candles 1s/1m/1h/1d per symbol, live price with failover, BaseDataInput on request.
export { DATA_PROVIDER_ID, dataProviderActor, dataProviderChild, type DataProviderActorInput, type DataProviderEvent } from './actor.ts';
export { KlinesArchive, klinesFileMatches } from './klines-archive.ts';
export { gapsToFill, mergeCandles, KLINE_TIMEFRAMES, TIMEFRAMES } from './logic.ts';
export {
  binanceSource, FailoverMarket, mexcSource,
  type FailoverOptions, type KlineQuery, type KlineSource, type MarketSource, type PriceSourceName, type SourcedPrice, type SourceName,
} from './market-source.ts';
export { DataProvider, defaultInstruments, type CobQuery, type DataProviderOptions, type DataProviderStats, type MaintenanceReport, type PriceSource } from './provider.ts';
export { recordingStartMs } from './replay.ts';
export { dataProviderOptions, type DataProviderDeps } from './from-config.ts';
export { summarizeInput, type InputSummary } from './summary.ts';
