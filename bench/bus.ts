// Messages per second through the bus (publish to one subscriber; enqueue + drain) and through an xstate actor
// (`actor.send` into a machine with `assign`), side by side. Prints one JSON line.
import { performance } from 'node:perf_hooks';
import { assign, createActor, setup } from 'xstate';
import { Bus } from '../engine/runtime/bus.ts';
import type { EngineMsg } from '../engine/messages/index.ts';
import type { Trade } from '../engine/messages/market.ts';
import type { Lots, Ticks } from '../engine/types/price.ts';

const N = Number(process.env.BENCH_BUS_N ?? 1_000_000);
const N_XSTATE = Number(process.env.BENCH_XSTATE_N ?? 300_000);
const ROUNDS = 3;

// A pool of realistic small messages, reused so the benchmark measures delivery, not allocation.
const POOL = 1024;
const msgs: Trade[] = Array.from({ length: POOL }, (_, i) => ({
  type: 'md.trade', venue: 'binance', symbol: 'BTC/USDT', tsExchange: 1_700_000_000_000 + i, tsLocal: 1_700_000_000_001 + i,
  tradeId: i, price: (6_500_000 + (i % 100)) as Ticks, lots: (1 + (i % 7)) as Lots, buyerMaker: (i & 1) === 0,
}));
const fills: EngineMsg[] = Array.from({ length: POOL }, (_, i) => ({ type: 'sys.actorStatus', actor: `a${i % 4}`, status: 'running', ts: i }));

function best(run: () => number): number {
  let top = 0;
  for (let r = 0; r < ROUNDS; r++) top = Math.max(top, run());
  return top;
}

function busPublish(): number {
  const bus = new Bus();
  let sum = 0;
  bus.subscribe('md.trade', (m) => { sum += m.lots; });
  const t0 = performance.now();
  for (let i = 0; i < N; i++) bus.publish(msgs[i & (POOL - 1)]);
  const s = (performance.now() - t0) / 1000;
  if (sum === 0) throw new Error('bus delivered nothing');
  return N / s;
}

// Every 8th message is a control message so the drain exercises both lanes.
function busQueued(): number {
  const bus = new Bus();
  let sum = 0;
  bus.subscribe('md.trade', (m) => { sum += m.lots; });
  bus.subscribe('sys.actorStatus', () => { sum++; });
  const BATCH = 4096;
  const t0 = performance.now();
  for (let i = 0; i < N; ) {
    const end = Math.min(N, i + BATCH);
    for (; i < end; i++) bus.enqueue((i & 7) === 7 ? fills[i & (POOL - 1)] : msgs[i & (POOL - 1)]);
    bus.drain();
  }
  const s = (performance.now() - t0) / 1000;
  if (sum === 0) throw new Error('bus delivered nothing');
  return N / s;
}

function xstateSend(): number {
  const m = setup({ types: { context: {} as { sum: number }, events: {} as Trade } }).createMachine({
    context: { sum: 0 },
    on: { 'md.trade': { actions: assign({ sum: ({ context, event }) => context.sum + event.lots }) } },
  });
  const actor = createActor(m).start();
  const t0 = performance.now();
  for (let i = 0; i < N_XSTATE; i++) actor.send(msgs[i & (POOL - 1)]);
  const s = (performance.now() - t0) / 1000;
  if (actor.getSnapshot().context.sum === 0) throw new Error('actor received nothing');
  actor.stop();
  return N_XSTATE / s;
}

const busPublishPerSec = best(busPublish);
const busQueuedPerSec = best(busQueued);
const xstatePerSec = best(xstateSend);
console.log(JSON.stringify({
  bench: 'bus',
  messages: N,
  xstateMessages: N_XSTATE,
  rounds: ROUNDS,
  busPublishPerSec: Math.round(busPublishPerSec),
  busQueuedPerSec: Math.round(busQueuedPerSec),
  xstatePerSec: Math.round(xstatePerSec),
  ratio: Math.round((busPublishPerSec / xstatePerSec) * 10) / 10,
  node: process.version,
}));
