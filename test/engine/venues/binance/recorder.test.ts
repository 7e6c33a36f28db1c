import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ticksToPrice } from '../../../../engine/types/instrument.ts';
import { LiveClock } from '../../../../engine/runtime/clock.ts';
import { Recorder } from '../../../../engine/venues/binance/recorder.ts';
import { BinanceRest } from '../../../../engine/venues/binance/rest.ts';
import { combinedStreamUrl } from '../../../../engine/venues/binance/stream-client.ts';
import { replayBook } from '../../../../engine/venues/replay/book-replay.ts';
import { startExchangeSim, type ExchangeSim } from '../../../../engine/venues/sim/server.ts';
import { until } from '../../../wait-until.ts';

const ETH = ['data/recordings/spot_ethusdt_20240808.jsonl.gz'];

describe('Recorder against the exchange simulator', () => {
  let sim: ExchangeSim | undefined;
  let dir: string | undefined;
  afterEach(async () => {
    await sim?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('writes a recording that book-replay syncs with no gaps, and resyncs over a disconnect from the next snapshot', async () => {
    sim = await startExchangeSim({ files: ETH, port: 0, speed: 'manual' });
    dir = mkdtempSync(join(tmpdir(), 'cobalt-rec-'));
    const rest = new BinanceRest({ baseUrl: sim.url, rateLimit: false });
    const [eth] = await rest.instruments(['ETH/USDT']);
    const rec = new Recorder({ instruments: [eth!], streams: ['depth@100ms', 'trade', 'bookTicker'], outDir: dir, wsUrl: combinedStreamUrl(sim.wsUrl), rest, clock: new LiveClock() });
    let subscribed = 0;
    sim.events.on('subscribe', () => subscribed++);
    rec.start();
    await until(() => subscribed >= 3, 'subscriptions');

    // First stretch: the snapshot is taken after the first diff, then diffs continue the chain.
    await sim.replay.advanceBy(1000);
    await until(() => rec.counts.snapshots === 1, 'snapshot written');
    for (let i = 0; i < 20; i++) await sim.replay.advanceBy(1000);
    const before = rec.counts.messages;
    await sim.replay.advanceBy(1000);
    await until(() => rec.counts.messages > before, 'frames after the snapshot');

    // A disconnect while the market moves on: the diffs of that stretch are lost to the recording.
    subscribed = 0;
    sim.dropAllConnections();
    await until(() => rec.streamStats.drops === 1, 'drop noticed');
    await sim.replay.advanceBy(5000);
    await until(() => subscribed >= 3, 'resubscribed');
    for (let i = 0; i < 10; i++) await sim.replay.advanceBy(1000);
    await until(() => rec.counts.snapshots === 2, 'snapshot after reconnect');
    for (let i = 0; i < 5; i++) await sim.replay.advanceBy(1000);
    const depth = await rest.depthSnapshot(eth!, 5);
    await rec.stop();

    const result = await replayBook(rec.files, { symbol: 'ETH/USDT' });
    expect(rec.files).toHaveLength(1);
    expect(result.snapshots).toBe(2);
    expect(result.gaps).toBe(1);
    expect(result.resyncs).toBe(1);
    expect(result.crossed).toBe(0);
    expect(result.malformed).toBe(0);
    expect(result.state).toBe('live');
    expect(result.applied).toBeGreaterThan(100);
    expect(result.bookTickerMatched).toBe(result.bookTickerChecked);
    // The recording ends where the simulator's book is now.
    expect(result.finalTop?.bid).toBe(ticksToPrice(eth!, depth.bids[0]![0]));
    expect(result.finalTop?.ask).toBe(ticksToPrice(eth!, depth.asks[0]![0]));
  });
});
