import { describe, expect, it } from 'vitest';
import { frameStreamOf } from '../../../../engine/venues/replay/recording.ts';

describe('frameStreamOf', () => {
  it.each([
    ['{"stream":"btcusdt@depth@100ms","data":{}}', { symbol: 'BTCUSDT', kind: 'depth' }],
    ['{"stream":"ethusdt@aggTrade","data":{}}', { symbol: 'ETHUSDT', kind: 'aggTrade' }],
    ['{"stream":"btcusdt@kline_1m","data":{}}', { symbol: 'BTCUSDT', kind: 'kline' }],
    ['{"stream":"btcusdt@bookTicker","data":{}}', { symbol: 'BTCUSDT', kind: 'bookTicker' }],
  ])('names the symbol and kind of the combined-stream frame %s', (text, stream) => {
    expect(frameStreamOf(text)).toEqual(stream);
  });

  it.each([
    ['a REST snapshot', '{"lastUpdateId":1,"bids":[],"asks":[]}'],
    ['a bare event', '{"e":"trade","s":"BTCUSDT"}'],
    ['a line still carrying its timestamp', '1700000000000000000 {"stream":"btcusdt@trade","data":{}}'],
    ['an upper-case stream name', '{"stream":"BTCUSDT@trade","data":{}}'],
  ])('finds no stream in %s', (_what, text) => {
    expect(frameStreamOf(text)).toBeUndefined();
  });
});
