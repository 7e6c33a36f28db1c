export {
  CobAggregator, cobSettingsFromConfig, cobSymbolsFromConfig, DEFAULT_COB_SETTINGS,
  type CobAggregatorCounters, type CobAggregatorOptions, type CobReader, type CobSettings, type CobSymbolSpec,
} from './logic.ts';
export { COB_AGGREGATOR_ID, CobHandle, cobAggregatorActor, cobAggregatorChild, type CobAggregatorInput } from './actor.ts';
