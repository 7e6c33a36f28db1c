// The decision path alone: an Orchestrator (one instantaneous rule model saying BUY, SELL, BUY, … one per tick) and
// the RiskManager as the engine runs it (app/risk-child.ts around the xstate machine) on one Bus with a SimulatedClock,
// fed real 1s bars of the bundled recording and real BaseDataInputs assembled beforehand (so assembly is not timed).
// Every approval is filled at once, so nearly every tick makes an intent and gets a verdict.
// Figures, wall µs from the moment the orchestrator has its input:
//   inputToDecision   -> signal.decision published
//   inputToVerdict    -> risk.orderApproved / risk.orderDenied of that tick's intent
// `digest` hashes every decision, intent and verdict: it must not change with a speed-up.
// One JSON line on stdout.   npx tsx bench/decide.ts
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { createActor } from 'xstate';
import { Orchestrator } from '../actors/orchestrator/orchestrator.ts';
import { ModelRegistry } from '../actors/orchestrator/registry.ts';
import { DEFAULT_LIMITS } from '../actors/risk-manager/limits.ts';
import { riskChild } from '../app/risk-child.ts';
import { setLogger, createLogger } from '../engine/log.ts';
import type { BaseDataInput } from '../engine/market/base-data-input.ts';
import type { EngineMsg } from '../engine/messages/index.ts';
import { Bus } from '../engine/runtime/bus.ts';
import { SimulatedClock } from '../engine/runtime/clock.ts';
import { ModelOutputStore } from '../engine/store/model-output-store.ts';
import { clientOrderIdFor, venueOrderId } from '../engine/types/ids.ts';
import { money, type Money } from '../engine/types/money.ts';
import type { Lots, Ticks } from '../engine/types/price.ts';
import { ETH, loadRealWorld, realInput } from '../test/actors/orchestrator/real-input.ts';
import { alternate, stats } from './lib/probes.ts';

setLogger(createLogger({ level: 'silent' }));

const TICKS = Number(process.env.BENCH_DECIDE_TICKS ?? 600);
const WARMUP = 100;
const DISTINCT_INPUTS = 60;



const world = loadRealWorld();
const bars = world.primary['1s'].filter((c) => c.openTime + 1_000 <= world.end);
const ticks = Math.min(TICKS, bars.length);
const first = bars.length - ticks;
// Inputs of the last real seconds of the recording (full history: every one passes validation), reused round-robin:
// the models and the policy read them, nothing checks their time.
const inputs: BaseDataInput[] = [];
for (let j = 0; j < DISTINCT_INPUTS; j++) inputs.push(realInput(world, bars[bars.length - DISTINCT_INPUTS + j]!.openTime + 1_000));

const ROUNDS = Number(process.env.BENCH_DECIDE_ROUNDS ?? 5);
const toDecision: number[] = [];
const toVerdict: number[] = [];
const hash = createHash('sha256');
const record = (m: unknown): void => void hash.update(JSON.stringify(m, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v)));
let approvals = 0;
let denials = 0;
let decisions = 0;
let refused = 0;
let noIntent: Record<string, number> = {};

// One pass over the bars with a fresh rig; the first round's samples warm the JIT and are not kept.
async function round(keep: boolean): Promise<void> {
  const bus = new Bus<EngineMsg>();
  const clock = new SimulatedClock(bars[first]!.openTime);
  const registry = new ModelRegistry();
  registry.register('rule', { version: 'r1', run: alternate() }, clock.now());
  let inputAt = 0;
  let n = 0;
  const orch = new Orchestrator({
    bus, clock, registry, outputs: new ModelOutputStore(),
    input: () => {
      const x = inputs[n++ % DISTINCT_INPUTS]!;
      inputAt = performance.now();
      return x;
    },
    thresholds: { buy: 0.6, sell: 0.6, minConfidence: 0 },
    subscriptions: { symbol: 'ETH/USDT', triggerTimeframe: '1s', requireCob: false },
    trading: { inst: ETH, limits: DEFAULT_LIMITS, cash: money('10000'), policy: { orderType: 'limit', slippageBps: 10, sizing: { kind: 'fixed-fraction', fractionBps: 500 } } },
    outcomes: { horizonMs: 60_000, deadBandBps: 1 },
    owner: 'orchestrator',
  });
  // The RiskManager as the engine runs it: the risk child (app/risk-child.ts) around the xstate machine, on the bus.
  const risk = createActor(riskChild, { input: { bus, clock, initial: { limits: DEFAULT_LIMITS, instruments: [ETH], cash: money('10000') }, fills: () => [] } });
  risk.start();

  let measuring = false;
  let fillSeq = 0;
  let price = 0 as Ticks;
  bus.subscribe('signal.decision', (m) => {
    if (measuring) toDecision.push(performance.now() - inputAt);
    decisions++;
    record(m);
  });
  bus.subscribe('risk.intent', (m) => record(m));
  bus.subscribe('risk.orderDenied', (m) => {
    if (measuring) toVerdict.push(performance.now() - inputAt);
    denials++;
    record(m);
  });
  bus.subscribe('risk.orderApproved', (m) => {
    if (measuring) toVerdict.push(performance.now() - inputAt);
    approvals++;
    record(m);
    // Filled at once at the last trade price (after the timing): the position flips so the next decision can trade.
    const { intent } = m;
    // Under the id the executor gives the order: the RiskManager keys its open orders by it, and settles them on its fill.
    const cid = clientOrderIdFor(intent.id);
    ++fillSeq;
    const ts = clock.now();
    bus.publish({ type: 'exec.orderSubmitted', clientOrderId: cid, intentId: intent.id, ts });
    bus.publish({ type: 'exec.orderFilled', ts, fill: {
      clientOrderId: cid, venueOrderId: venueOrderId(`v-${fillSeq}`), tradeId: `t-${fillSeq}`, venue: 'binance', symbol: intent.symbol, side: intent.side, price, lots: intent.lots, fee: 0n as Money, feeAsset: 'USDT', liquidity: 'taker', ts,
    } });
  });
  orch.start();

  for (let i = 0; i < ticks; i++) {
    const c = bars[first + i]!;
    measuring = keep && i >= WARMUP;
    clock.set(c.openTime + 1_000);
    price = Math.round(c.close * 100) as Ticks;
    bus.publish({ type: 'md.trade', venue: 'binance', symbol: 'ETH/USDT', tradeId: i, price, lots: 1 as Lots, buyerMaker: false, tsExchange: clock.now(), tsLocal: clock.now() });
    bus.publish({ type: 'md.candle', venue: 'binance', symbol: 'ETH/USDT', timeframe: '1s', candle: c, tsExchange: clock.now(), tsLocal: clock.now() });
    await orch.idle();
  }
  orch.stop();
  risk.stop();
  refused += orch.coordinator.stats.refused;
  noIntent = orch.stats.noIntent;
}

for (let r = 0; r <= ROUNDS; r++) await round(r > 0);

process.stdout.write(`${JSON.stringify({
  bench: 'decide', ticks, rounds: ROUNDS, warmup: WARMUP, decisions, refused, approvals, denials,
  inputToDecisionUs: stats(toDecision.map((x) => x * 1_000)),
  inputToVerdictUs: stats(toVerdict.map((x) => x * 1_000)),
  noIntent,
  digest: hash.digest('hex').slice(0, 16),
  targetP99VerdictUs: 200,
})}\n`);
