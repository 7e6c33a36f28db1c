import { describe, expect, it } from 'vitest';
import { replayBook } from '../../../../engine/venues/replay/book-replay.ts';

const rec = (sym: string) => [`data/recordings/spot_${sym}usdt_20240808.jsonl.gz`, `data/recordings/spot_${sym}usdt_20240809.jsonl.gz`];

describe('replayBook over the bundled recordings', () => {
  it.each([
    // applied: every diff after the snapshot (BTC: 6,495 frames, 2 covered by the snapshot).
    ['btc', 'BTC/USDT', 6495, 6493],
    ['eth', 'ETH/USDT', 6470, 6468],
  ])('%s: both days as one recording, 0 gaps, 0 crossed, >= 99.9%% bookTicker matches', async (sym, symbol, frames, applied) => {
    const r = await replayBook(rec(sym));
    expect([r.symbol, r.rules, r.state, r.frames, r.applied]).toEqual([symbol, 'spot', 'live', frames, applied]);
    expect([r.gaps, r.crossed, r.malformed, r.resyncs, r.duplicates, r.staleSnapshots]).toEqual([0, 0, 0, 0, 0, 0]);
    expect(r.bookTickerChecked).toBe(applied);
    expect(r.bookTickerMatched / r.bookTickerChecked).toBeGreaterThanOrEqual(0.999);
    expect(r.finalTop).not.toBeNull();
    expect(Number(r.finalTop!.bid)).toBeLessThan(Number(r.finalTop!.ask));
  }, 60_000);

  it('the second day alone never goes live (no snapshot in it) and applies nothing', async () => {
    const r = await replayBook([rec('eth')[1]!], { symbol: 'ETH/USDT' });
    expect([r.state, r.applied, r.gaps, r.finalTop, r.bookTickerChecked]).toEqual(['syncing', 0, 0, null, 0]);
    expect(r.frames).toBe(3036);
  }, 60_000);

  it('names the problem when the symbol is unknown and no sizes are given', async () => {
    await expect(replayBook(rec('eth'), { symbol: 'DOGE/USDT' })).rejects.toThrow(/not a bundled instrument/);
  });
});
