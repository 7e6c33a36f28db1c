// A silence breaks a backtest's books only when the depth lost updates across it (app/backtest-source.ts reads ahead to
// the symbol's next depth diff, through RecordingLookahead.peek for a text recording, and asks depthChains).
import { describe, expect, it } from 'vitest';
import { recordedDepthIds } from '../../../../app/backtest-source.ts';
import { depthChains, RecordingLookahead } from '../../../../engine/venues/replay/trade-ids.ts';

describe('depthChains', () => {
  it('spot: the next diff must straddle the last final id + 1', () => {
    expect(depthChains(100, { first: 101, final: 105, prevFinal: -1 })).toBe(true);
    expect(depthChains(100, { first: 99, final: 101, prevFinal: -1 })).toBe(true);
    expect(depthChains(100, { first: 103, final: 105, prevFinal: -1 })).toBe(false);
    expect(depthChains(100, { first: 90, final: 100, prevFinal: -1 })).toBe(false);
  });

  it('USD-M: the next diff must name the last final id as its pu', () => {
    expect(depthChains(100, { first: 140, final: 150, prevFinal: 100 })).toBe(true);
    expect(depthChains(100, { first: 101, final: 150, prevFinal: 120 })).toBe(false);
  });
});

describe('recordedDepthIds', () => {
  it('reads U, u and pu of a recorded diff', () => {
    const spot = '{"stream":"ethusdt@depth@100ms","data":{"e":"depthUpdate","E":1,"s":"ETHUSDT","U":35346587999,"u":35346588010,"b":[],"a":[]}}';
    expect(recordedDepthIds(spot)).toEqual({ first: 35346587999, final: 35346588010, prevFinal: -1 });
    const usdm = '{"e":"depthUpdate","E":1,"T":1,"s":"BTCUSDT","U":10,"u":20,"pu":7,"b":[],"a":[]}';
    expect(recordedDepthIds(usdm)).toEqual({ first: 10, final: 20, prevFinal: 7 });
    expect(recordedDepthIds('{"e":"depthUpdate","s":"BTCUSDT","b":[]}')).toBeUndefined();
  });
});

describe('RecordingLookahead.peek', () => {
  it('returns the lines pushed after the one taken, without taking them', () => {
    const ahead = new RecordingLookahead<string>();
    ['a', 'b', 'c'].forEach((l, i) => ahead.push(l, i, 'X', undefined));
    ahead.end();
    expect(ahead.take()).toBe(true);
    expect([ahead.peek(0), ahead.peek(1), ahead.peek(2), ahead.peek(-1)]).toEqual(['b', 'c', undefined, undefined]);
    expect(ahead.take() && ahead.item).toBe('b');
  });
});
