// A recording that turns out corrupt mid-run (a truncated gzip) ends the replay with the file named, instead of an
// unhandled rejection that kills the simulator and drops every client (review finding 10 of the exchange simulator).
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startExchangeSim, type ExchangeSim } from '../../../../engine/venues/sim/server.ts';
import { until } from '../../../wait-until.ts';

const dir = mkdtempSync(join(tmpdir(), 'cobalt-sim-corrupt-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
// The first 300 kB of the ETH recording: its snapshot and some minutes of frames, then the gzip stream stops short.
const TRUNC = join(dir, 'spot_ethusdt_20240808.jsonl.gz');
writeFileSync(TRUNC, readFileSync('data/recordings/spot_ethusdt_20240808.jsonl.gz').subarray(0, 300_000));

describe('exchange simulator on a truncated recording', () => {
  let sim: ExchangeSim | undefined;
  afterEach(async () => {
    await sim?.close();
    sim = undefined;
  });

  it('ends the replay at --speed max naming the file, and REST keeps answering from the last state', async () => {
    sim = await startExchangeSim({ files: [TRUNC], port: 0, speed: 'max' });
    const s = sim;
    await until(() => s.replay.ended, 'the replay to stop');
    const depth = await fetch(`${s.url}/api/v3/depth?symbol=ETHUSDT&limit=5`);
    const book = (await depth.json()) as { bids: unknown[] };
    expect(s.replay.error?.message).toBe(`cannot read recording ${TRUNC}: unexpected end of file`);
    expect([depth.status, book.bids.length]).toEqual([200, 5]);
  });

  it('rejects the manual step that meets the damage, then stays frozen like at the end of data', async () => {
    sim = await startExchangeSim({ files: [TRUNC], port: 0, speed: 'manual' });
    const err = await sim.replay.advanceBy(3_600_000).then(() => undefined, (e: Error) => e);
    const t = sim.clock.now();
    await sim.replay.advanceBy(1000);
    expect(err?.message).toBe(`cannot read recording ${TRUNC}: unexpected end of file`);
    expect([sim.replay.ended, sim.replay.error, sim.clock.now()]).toEqual([true, err, t + 1000]);
  });
});
