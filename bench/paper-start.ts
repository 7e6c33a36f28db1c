// What a paper start pays to rebuild the RiskManager's cash and positions from the executor's stored fills: an exec
// store (LMDB) holding N fills (default 100,000: ~5 months at the demo's pace) at the recording's real ETH prices,
// then the risk child (app/risk-child.ts, as system.ts gives it in paper mode) started three times, 100 fills booked
// between starts. The first start has no checkpoint (every fill read, sorted and applied); the next ones continue the
// checkpoint the previous start stored. `oneByOneMs`: the same fills applied with onFill one at a time (what every
// start did before onFills and the checkpoint).
// One JSON line on stdout.   npx tsx bench/paper-start.ts   (BENCH_FILLS=n to change N)
import { createActor } from 'xstate';
import { riskChild, type FillLog } from '../app/risk-child.ts';
import { storedFills } from '../app/system.ts';
import { createRiskState, onFill, onFills, type RiskState } from '../actors/risk-manager/logic.ts';
import { DEFAULT_LIMITS } from '../actors/risk-manager/limits.ts';
import { Bus } from '../engine/runtime/bus.ts';
import { SimulatedClock } from '../engine/runtime/clock.ts';
import { money, type Money } from '../engine/types/money.ts';
import { ETH, ETH_PX, fill } from '../test/actors/risk-manager/helpers.ts';
import { tempStore } from '../test/actors/trading-executor/helpers.ts';

const N = Number(process.env.BENCH_FILLS ?? 100_000);
const s = tempStore();
const px = Object.values(ETH_PX);
async function book(from: number, to: number): Promise<void> {
  let batch: Promise<void>[] = [];
  for (let i = from; i < to; i++) {
    const f = { ...fill(i % 2 === 0 ? 'buy' : 'sell', px[i % px.length]!, 10, 1_000n as Money), tradeId: String(i + 1), ts: 1_723_161_300_000 + i * 1_000 };
    batch.push(s.store.commit({ fill: f }));
    if (batch.length >= 5_000) {
      await Promise.all(batch);
      batch = [];
    }
  }
  await Promise.all(batch);
}

await book(0, N);
const initial = { limits: DEFAULT_LIMITS, instruments: [ETH], cash: money('10000') };
const log: FillLog = { id: `paper:${ETH.symbol}`, lastSeq: () => s.store.lastFillSeq('paper'), after: (seq) => s.store.fillsBookedAfter('paper', ETH.symbol, seq) };
const startsMs: number[] = [];
let cash = '';
for (let k = 0; k < 3; k++) {
  let read: (() => RiskState) | undefined;
  const t0 = performance.now();
  const a = createActor(riskChild, { input: { bus: new Bus(), clock: new SimulatedClock(0), initial, fills: () => storedFills(s.store, 'paper', ETH.symbol), fillLog: log, store: s.lmdb, onState: (g) => void (read = g) } });
  a.start();
  startsMs.push(Math.round((performance.now() - t0) * 10) / 10);
  cash = String(read!().portfolio.cash);
  a.stop();
  await s.lmdb.flush();
  await book(N + k * 100, N + (k + 1) * 100);
}
const every = storedFills(s.store, 'paper', ETH.symbol);
const t1 = performance.now();
let one = createRiskState(initial);
for (const f of every) one = onFill(one, f);
const oneByOneMs = Math.round(performance.now() - t1);
const t2 = performance.now();
const bulk = onFills(createRiskState(initial), every);
const onFillsMs = Math.round(performance.now() - t2);
if (bulk.portfolio.cash !== one.portfolio.cash) throw new Error('onFills and onFill disagree');
await s.cleanup();
process.stdout.write(`${JSON.stringify({ bench: 'paper-start', fills: N, startsMs, cashAfterThirdStart: cash, applyAll: { oneByOneMs, onFillsMs, fills: every.length } })}\n`);
