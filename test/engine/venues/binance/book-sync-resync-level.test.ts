// Review (first hour, finding 4): `order book resync … reason "feed reset: replay lap N"` was logged at warn at every lap
// seam of `npm start`, which reads like a fault. A looped replay's lap is a planned reset (info); a gap, a crossed book
// or a dropped stream still warns.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CobAggregator } from '../../../../actors/cob-aggregator/logic.ts';
import type { Logger } from '../../../../engine/log.ts';
import type { EngineMsg } from '../../../../engine/messages/index.ts';
import { Bus } from '../../../../engine/runtime/bus.ts';
import { SimulatedClock } from '../../../../engine/runtime/clock.ts';
import { BINANCE_SPOT_DEFAULTS, makeInstrument } from '../../../../engine/types/instrument.ts';
import { BookSync } from '../../../../engine/venues/binance/book-sync.ts';
import { BinanceFrameDecoder } from '../../../../engine/venues/binance/frames.ts';
import type { DepthSnapshot } from '../../../../engine/messages/market.ts';
import { readRecordingLinesSync } from '../../../../engine/venues/replay/recording.ts';
import { ReplayFeed } from '../../../../engine/venues/replay/replay-feed.ts';

const BTC = makeInstrument(BINANCE_SPOT_DEFAULTS['BTC/USDT']!);
// The first 3,000 lines of the real BTC recording: the REST snapshot (line 8), diffs, bookTickers, trades.
const head = readRecordingLinesSync(['data/recordings/spot_btcusdt_20240808.jsonl.gz']).slice(0, 3000);
const dir = mkdtempSync(join(tmpdir(), 'book-sync-level-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Entry { readonly level: string; readonly reason?: string }

/** A logger stub that keeps the level and the `reason` field of each call. */
function recordingLogger(): { logger: Logger; entries: Entry[] } {
  const entries: Entry[] = [];
  const at = (level: string) => (obj: unknown) => {
    const reason = typeof obj === 'object' && obj !== null ? (obj as { reason?: unknown }).reason : undefined;
    entries.push({ level, ...(typeof reason === 'string' ? { reason } : {}) });
  };
  const logger = { trace: at('trace'), debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), fatal: at('fatal') } as Record<string, unknown>;
  logger['child'] = () => logger;
  return { logger: logger as unknown as Logger, entries };
}

// The resync line is the one with a `reason` field (pino fields, not the message text).
const resyncLevels = (entries: readonly Entry[]) => entries.filter((e) => e.reason !== undefined).map((e) => `${e.level} ${e.reason}`);

describe('BookSync resync log level', () => {
  it('logs the resync of a looped replay\'s new lap at info, not warn (the real feed and aggregator)', async () => {
    const file = join(dir, 'btc-head.jsonl');
    writeFileSync(file, `${head.map((l) => `${l.tsLocalNs} ${l.text}`).join('\n')}\n`);
    const { logger, entries } = recordingLogger();
    const bus = new Bus<EngineMsg>();
    const clock = new SimulatedClock(0);
    const feed = new ReplayFeed({ bus, clock, files: [file], loop: true, maxLaps: 3, kinds: ['depth', 'snapshot'] });
    const agg = new CobAggregator({ bus, clock, snapshots: feed, symbols: [{ symbol: 'BTC/USDT', bucketSize: '10', venues: [BTC] }], logger });
    agg.start();
    await feed.start();
    await feed.done;
    agg.stop();
    expect(resyncLevels(entries)).toEqual(['info feed reset: replay lap 2', 'info feed reset: replay lap 3']);
    expect(agg.counters()).toMatchObject({ resyncs: 2, gaps: 0 });
  }, 30_000);

  it.each([
    ['a dropped stream (reconnect)', 'feed reset: stream dropped (closed)'],
    ['a reason that only mentions a lap', 'feed reset: replay lap 2 ended early'],
    ['a caller\'s own reason', 'snapshot request failed'],
  ])('keeps warn for %s', (_, reason) => {
    const { logger, entries } = recordingLogger();
    new BookSync('BTCUSDT', { log: logger }).resync(reason);
    expect(resyncLevels(entries)).toEqual([`warn ${reason}`]);
  });

  it('keeps warn for the resync after a sequence gap', () => {
    const { logger, entries } = recordingLogger();
    const dec = new BinanceFrameDecoder(BTC);
    const snapshot = head.map((l) => dec.decode(l)).find((m): m is DepthSnapshot => m.type === 'md.snapshot')!;
    const diffs = head.filter((l) => l.text.includes('@depth')).map((l) => {
      const f = dec.decodeDepthFrame(l.text);
      if (typeof f === 'string') throw new Error(f);
      return f.clone();
    });
    const sync = new BookSync('BTCUSDT', { log: logger });
    let i = 0;
    do sync.onDepth(diffs[i]!); while (diffs[i++]!.finalUpdateId <= snapshot.lastUpdateId);
    expect(sync.onSnapshot(snapshot)).toBe('live');
    // One diff skipped: the next one does not follow the last applied.
    expect(sync.onDepth(diffs[i + 1]!)).toBe('gap');
    expect(resyncLevels(entries)).toEqual([expect.stringMatching(/^warn gap after update /)]);
  });
});
