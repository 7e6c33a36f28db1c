// The DataProvider's incremental BaseDataInput (BdiAssembler) against a from-scratch assembly on a real replay: at
// every decision tick (a primary 1s bar closing) the packed bytes and the validation are identical.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { mergeCandles } from '../../../actors/data-provider/logic.ts';
import { DataProvider, type CobQuery } from '../../../actors/data-provider/provider.ts';
import { assembleBaseDataInput, BdiAssembler, BDI_LENGTH, type BaseDataInput } from '../../../engine/market/base-data-input.ts';
import type { EngineMsg } from '../../../engine/messages/index.ts';
import type { Trade } from '../../../engine/messages/market.ts';
import { Bus } from '../../../engine/runtime/bus.ts';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import { nsToMs } from '../../../engine/types/time.ts';
import { BinanceFrameDecoder } from '../../../engine/venues/binance/frames.ts';
import { readRecordingLinesSync } from '../../../engine/venues/replay/recording.ts';
import { archive, BTC, ETH, ethBook, ethCob, REC_START } from './helpers.ts';

const REC = 'data/recordings';

/** Every trade of both recordings, in local receive order. */
function trades(): Trade[] {
  const out: { ts: number; t: Trade }[] = [];
  for (const [sym, inst] of [['eth', ETH], ['btc', BTC]] as const) {
    const dec = new BinanceFrameDecoder(inst);
    for (const line of readRecordingLinesSync([`${REC}/spot_${sym}usdt_20240808.jsonl.gz`, `${REC}/spot_${sym}usdt_20240809.jsonl.gz`])) {
      if (!line.text.includes('@trade')) continue;
      const m = dec.decode(line);
      if (m.type === 'md.trade') out.push({ ts: nsToMs(line.tsLocalNs), t: m });
    }
  }
  return out.sort((a, b) => a.ts - b.ts).map((x) => x.t);
}

const bytes = (b: BaseDataInput): Buffer => Buffer.from(b.data.buffer, b.data.byteOffset, b.data.byteLength);
const digest = (b: BaseDataInput): string => createHash('sha1').update(bytes(b)).digest('hex');

describe('incremental BaseDataInput', () => {
  it('equals a from-scratch pack and validation at every decision tick of the real replay', async () => {
    const clock = new SimulatedClock(REC_START);
    const bus = new Bus<EngineMsg>();
    const cob = ethCob(ethBook(), REC_START, REC_START);
    const query: CobQuery = { latest: () => cob.update(clock.now()) };
    const dp = new DataProvider({ bus, clock, history: archive, cob: query, maintenanceMs: 0 });
    await dp.start();
    let ticks = 0;
    let mismatches = 0;
    const reused = new Float32Array(BDI_LENGTH);
    // A second assembler on the same sources, to read its counters: most ticks take the one-bar shift.
    const asm = new BdiAssembler();
    // Every input kept to the end keeps its own bytes (a caller may keep an input: the inference history does).
    const kept: { inc: BaseDataInput; digest: string }[] = [];
    bus.subscribe('md.candle', (m) => {
      if (m.symbol !== 'ETH/USDT' || m.timeframe !== '1s' || !m.candle.closed) return;
      ticks++;
      const scratch = assembleBaseDataInput(dp.inputSources());
      const inc = dp.assembleInput();
      const intoBuffer = dp.assembleInput(reused);
      const own = asm.assemble(dp.inputSources());
      if (!bytes(inc).equals(bytes(scratch)) || !bytes(intoBuffer).equals(bytes(scratch)) || !bytes(own).equals(bytes(scratch))) mismatches++;
      // JSON equality: the validation holds only plain numbers, strings and booleans (cheaper than toEqual 650 times).
      if (JSON.stringify(inc.validation) !== JSON.stringify(scratch.validation)) mismatches++;
      if (JSON.stringify(dp.validateInput()) !== JSON.stringify(scratch.validation)) mismatches++;
      // A fresh array each call unless one is passed: a caller may keep an input (the inference history does).
      if (inc.data === intoBuffer.data || intoBuffer.data !== reused) mismatches++;
      kept.push({ inc, digest: digest(scratch) });
    });
    let nextMaintain = REC_START + 60_000;
    for (const t of trades()) {
      if (t.tsLocal > clock.now()) clock.set(t.tsLocal);
      dp.onTrade(t);
      // A backfill now and then merges archive bars into the 1m/1h/1d series (the non-append path).
      if (clock.now() >= nextMaintain) {
        await dp.maintain();
        nextMaintain += 60_000;
      }
    }
    dp.stop();
    expect(ticks).toBeGreaterThan(500);
    expect(mismatches).toBe(0);
    // Nearly every rebuilt series was a clean append (1,136 of 1,141 on this recording); the rest walked again.
    expect(asm.stats.seriesShifted).toBeGreaterThan(asm.stats.seriesBuilt * 0.9);
    expect(asm.stats.seriesShifted).toBeLessThan(asm.stats.seriesBuilt);
    expect(kept.filter((k) => digest(k.inc) !== k.digest).length).toBe(0);
    expect(new Set(kept.map((k) => k.digest)).size).toBeGreaterThan(500);
  }, 60_000);

  it('reuses unchanged series and notices a bar replaced in the middle of a window', async () => {
    const clock = new SimulatedClock(REC_START);
    const dp = new DataProvider({ bus: new Bus<EngineMsg>(), clock, history: archive, maintenanceMs: 0 });
    await dp.start();
    dp.stop();
    const src = dp.inputSources();
    const asm = new BdiAssembler();
    asm.assemble(src);
    expect(asm.stats.seriesBuilt).toBe(5);
    asm.assemble(src);
    expect(asm.stats.seriesReused).toBe(5);
    expect(asm.stats.pivotsReused).toBe(1);
    // Same open time, another object: mergeCandles replaces the bar in place, length and both ends unchanged.
    const m1 = dp.series('ETH/USDT', '1m');
    const mid = m1.get(m1.length - 150)!;
    const len = m1.length;
    mergeCandles(m1, [{ ...mid, high: mid.high * 1.01, close: mid.close * 1.005 }]);
    expect(m1.length).toBe(len);
    const after = asm.assemble(src);
    expect(asm.stats.seriesBuilt).toBe(6);
    expect(asm.stats.pivotsBuilt).toBe(2);
    const scratch = assembleBaseDataInput(src);
    expect(bytes(after).equals(bytes(scratch))).toBe(true);
    expect(after.validation).toEqual(scratch.validation);
  });
});
