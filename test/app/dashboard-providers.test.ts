import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { dashboardProviders, portfolioFigures } from '../../app/dashboard-providers.ts';
import type { System } from '../../app/system.ts';
import { DEFAULT_LIMITS } from '../../actors/risk-manager/limits.ts';
import { createRiskState, onFill, onMark, type RiskState } from '../../actors/risk-manager/logic.ts';
import { equity } from '../../actors/risk-manager/positions.ts';
import { DashboardViewModel, type PortfolioBooks } from '../../engine/dashboard/view-model.ts';
import type { EngineMsg } from '../../engine/messages/index.ts';
import type { Fill } from '../../engine/messages/orders.ts';
import { Bus } from '../../engine/runtime/bus.ts';
import { ModelRegistry } from '../../actors/orchestrator/registry.ts';
import { loadConfig } from '../../engine/config/index.ts';
import { SimulatedClock } from '../../engine/runtime/clock.ts';
import { BINANCE_SPOT_DEFAULTS, makeInstrument, priceToTicks, qtyToLots } from '../../engine/types/instrument.ts';
import { money, moneyToFloat } from '../../engine/types/money.ts';
import { BUNDLED_CNN_DIR } from '../../models/bundled/index.ts';

const eth = makeInstrument(BINANCE_SPOT_DEFAULTS['ETH/USDT']!);

describe('dashboard providers', () => {
  let root: string | undefined;
  afterEach(() => {
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('reports equity, exposure and drawdown from the risk books, the thresholds in force, and the checkpoints beside the active version', async () => {
    root = mkdtempSync(join(tmpdir(), 'cobalt-dash-'));
    mkdirSync(join(root, 'cnn'), { recursive: true });
    cpSync(BUNDLED_CNN_DIR, join(root, 'cnn', 'v000001'), { recursive: true });
    const clock = new SimulatedClock(1_723_161_300_000);
    // 1 ETH held at 2,680 with 7,320 USDT cash: equity 10,000 at 2,680, then the mark falls to 2,546 (−134).
    let risk: RiskState = createRiskState({
      limits: DEFAULT_LIMITS, instruments: [eth], cash: money('7320'),
      positions: { 'ETH/USDT': { lots: qtyToLots(eth, '1'), cost: money('2680') } },
    });
    risk = onMark(risk, 'ETH/USDT', priceToTicks(eth, '2680'), clock.now()).state;
    risk = onMark(risk, 'ETH/USDT', priceToTicks(eth, '2546'), clock.now()).state;
    const registry = new ModelRegistry();
    registry.register('cnn', { version: 'v000001', run: async () => { throw new Error('not run'); } }, clock.now());
    const { config } = loadConfig('configs/default.yaml', {});
    // The orchestrator handle points at no instance between a stop and a restart.
    const orchestrator: { current?: { thresholds: object } } = {};
    const cob = { current: { bookCounters: () => [{ venue: 'binance', symbol: 'ETH/USDT', gaps: 3, resyncs: 4 }] } };
    const sys = {
      config: { ...config, models: { ...config.models, checkpointDir: root } }, clock,
      handles: { risk: () => risk, orchestrator, cob } as unknown as System['handles'],
      models: { registry, pool: undefined, ownsPool: false, loaded: ['cnn@v000001'], skipped: [], cnnBound: [] },
    };
    const p = dashboardProviders(sys);
    expect(p.risk!()).toMatchObject({ equity: 9866, exposure: 2546, drawdownPct: 1.34 });
    // The portfolio panel reads the same books: the position held at start, marked by the RiskManager's own mark.
    expect(p.portfolio!()).toEqual({
      quote: 'USDT', cash: 7320, equity: 9866, otherFees: {},
      positions: [{ symbol: 'ETH/USDT', qty: 1, avgPrice: 2680, mark: 2546, realized: 0, unrealized: -134, fees: 0 }],
    });
    // The aggregator's own counters, per venue book.
    expect(p.bookCounters!()).toEqual([{ venue: 'binance', symbol: 'ETH/USDT', gaps: 3, resyncs: 4 }]);
    // The limits as the page's limit form sends them: quote amounts as decimal strings.
    expect((p.risk!() as { limits: unknown }).limits).toEqual({
      maxOrderNotional: '1000', maxPositionNotional: '5000', maxExposure: '8000', maxSubmitsPerSecond: 5, maxDrawdownBps: 1_000, reduceAtDrawdownBps: 500,
      stopLossBps: 200, takeProfitBps: 400, exitOrderType: 'market', exitSlippageBps: 20,
    });
    // What the form's lot caps count in: the RiskManager's instruments.
    expect((p.risk!() as { instruments: unknown }).instruments).toEqual([{ symbol: 'ETH/USDT', base: 'ETH', lotSize: '0.0001' }]);
    p.training!();
    // The list is read from disk in the background: wait for it (bounded), not for a fixed number of turns.
    for (let i = 0; i < 1_000_000 && p.training!()!.checkpoints.length === 0; i++) await new Promise((r) => setImmediate(r));
    expect(p.training!()).toEqual({
      jobs: [{ model: 'cnn', status: 'in the blend as v000001 (active)' }],
      checkpoints: [expect.objectContaining({ model: 'cnn', version: 'v000001', active: true })],
    });
    expect(p.status!['inference pool']!()).toBe('no pool (no ONNX model loaded)');
    expect(p.status!['inference history']!()).toEqual({ recorded: 0, failedWrites: 0, keep: '10000 per model and symbol, 30 days', retention: 'off (a backtest keeps no history)' });
    expect(p.thresholds!()).toBeUndefined();
    orchestrator.current = { thresholds: { buy: 0.62, sell: 0.6, minConfidence: 0.1 } };
    expect(p.thresholds!()).toEqual({ buy: 0.62, sell: 0.6, minConfidence: 0.1 });
  });

  it('says why online learning is off, and lists promoted online versions with the held-out log loss they won on', async () => {
    root = mkdtempSync(join(tmpdir(), 'cobalt-dash-'));
    const clock = new SimulatedClock(1_723_161_300_000);
    // Two promoted versions as the learner writes them; the older one's online.json is gone.
    for (const [v, at] of [['online-v000001', 1_723_150_000_000], ['online-v000002', 1_723_160_000_000]] as const) {
      // The store names a checkpoint vNNNNNN; the registry runs it as online-vNNNNNN.
      const stored = v.slice('online-'.length);
      const dir = join(root, 'online', 'cnn', stored);
      cpSync(BUNDLED_CNN_DIR, dir, { recursive: true });
      const meta = JSON.parse(readFileSync(join(dir, 'checkpoint.json'), 'utf8')) as Record<string, unknown>;
      writeFileSync(join(dir, 'checkpoint.json'), JSON.stringify({ ...meta, version: stored, createdAt: at, metric: { name: 'promotedAt', value: at, higherIsBetter: true } }));
      if (v === 'online-v000002') writeFileSync(join(dir, 'online.json'), JSON.stringify({ base: 'v000001', parent: 'online-v000001', promotedAt: at, candidate: { logLoss: 0.7123 } }));
    }
    const registry = new ModelRegistry();
    registry.register('cnn', { version: 'online-v000002', run: async () => { throw new Error('not run'); } }, clock.now());
    const { config } = loadConfig('configs/default.yaml', {});
    const sys = {
      config: { ...config, models: { ...config.models, checkpointDir: root, online: { ...config.models.online, enabled: true } } }, clock,
      handles: { risk: () => undefined, orchestrator: {} } as unknown as System['handles'],
      models: { registry, pool: undefined, ownsPool: false, loaded: ['cnn@online-v000002'], skipped: [], cnnBound: [] },
      online: undefined, onlineOff: 'dqn@bundled-v000001 was trained on the outputs of cnn@bundled-v000001',
    };
    const p = dashboardProviders(sys);
    p.training!();
    for (let i = 0; i < 1_000_000 && p.training!()!.checkpoints.length === 0; i++) await new Promise((r) => setImmediate(r));
    expect(p.training!()).toEqual({
      jobs: [
        { model: 'cnn', status: 'in the blend as online-v000002 (active)' },
        { model: 'cnn (online)', status: 'off: dqn@bundled-v000001 was trained on the outputs of cnn@bundled-v000001' },
      ],
      checkpoints: [
        { model: 'cnn', version: 'online-v000002', metric: 0.7123, metricName: 'held-out log loss (online)', active: true, ts: 1_723_160_000_000 },
        { model: 'cnn', version: 'online-v000001', metric: Number.NaN, metricName: 'held-out log loss (online)', active: false, ts: 1_723_150_000_000 },
      ],
    });
  });
});

describe('portfolio panel: the RiskManager\'s books, not a second accounting of the fills seen since start', () => {
  const T0 = 1_723_161_000_000;
  let seq = 0;
  const fill = (side: 'buy' | 'sell', px: string, qty: string, fee: string, feeAsset: string): Fill => ({
    clientOrderId: `o${++seq}` as never, venueOrderId: `v${seq}` as never, tradeId: `t${seq}`, venue: 'paper', symbol: 'ETH/USDT', side,
    price: priceToTicks(eth, px), lots: qtyToLots(eth, qty), fee: money(fee), feeAsset, liquidity: 'taker', ts: T0 + seq * 1000,
  });

  /**
   * A RiskManager's state as a start left it (`start`: paper from its starting balance, restored from the store, or live
   * from the venue's balance), fed the fills and the mark through the bus as the risk child feeds its machine; the
   * dashboard's view model reads it through the provider the daemon gives it.
   */
  function run(start: RiskState, fills: readonly Fill[], markPx: string) {
    const bus = new Bus<EngineMsg>();
    let risk = start;
    bus.subscribe('exec.orderFilled', (m) => { risk = onFill(risk, m.fill); });
    bus.subscribe('risk.mark', (m) => { risk = onMark(risk, m.symbol, m.price, m.ts).state; });
    const view = new DashboardViewModel({ bus, instruments: [eth], providers: { portfolio: () => portfolioFigures(risk) } });
    view.start();
    for (const f of fills) bus.publish({ type: 'exec.orderFilled', fill: f, ts: f.ts });
    bus.publish({ type: 'risk.mark', symbol: 'ETH/USDT', price: priceToTicks(eth, markPx), ts: T0 + 100_000 });
    const payload = view.build('portfolio', new Map()) as { books: PortfolioBooks; equitySeries: { items: [number, number][] } };
    return { books: payload.books, series: payload.equitySeries.items, engineEquity: moneyToFloat(equity(risk.portfolio, risk.instruments, risk.marks)) };
  }
  const paperStart = () => createRiskState({ limits: DEFAULT_LIMITS, instruments: [eth], cash: money('10000') });

  it('after a restart with an open position, shows the position held and its flatten as flat, not as a short', () => {
    // Restored at start: 1 ETH bought at 1,900 (1.9 USDT fee) before this process; the kill switch then sells it at 2,000.
    const restored = createRiskState({
      limits: DEFAULT_LIMITS, instruments: [eth], cash: money('8098.1'), positions: { 'ETH/USDT': { lots: qtyToLots(eth, '1'), cost: money('1900') } },
    });
    const before = run(restored, [], '1950');
    const after = run(restored, [fill('sell', '2000', '1', '2', 'USDT')], '2100');
    expect(before.books.positions).toEqual([{ symbol: 'ETH/USDT', qty: 1, avgPrice: 1900, mark: 1950, realized: 0, unrealized: 50, fees: 0 }]);
    expect(before.books.equity).toBeCloseTo(10048.1, 9);
    expect(after.books.positions).toEqual([{ symbol: 'ETH/USDT', qty: 0, avgPrice: 0, mark: 2100, realized: 100, unrealized: 0, fees: 2 }]);
    expect(after.books.equity).toBeCloseTo(10096.1, 9);
    expect(after.books.equity).toBe(after.engineEquity);
  });

  it('in live mode shows the venue\'s cash plus the holdings, and a BNB fee apart (not subtracted as quote)', () => {
    // The venue holds 523.4 USDT; a buy of 0.1 ETH at 2,000 pays 0.003 BNB.
    const live = createRiskState({ limits: DEFAULT_LIMITS, instruments: [eth], cash: money('523.4') });
    const buy = fill('buy', '2000', '0.1', '0.003', 'BNB');
    const r = run(live, [buy], '2100');
    expect(r.books).toMatchObject({ quote: 'USDT', realized: 0, fees: 0, otherFees: { BNB: 0.003 } });
    expect(r.books.cash).toBeCloseTo(323.4, 9);
    expect(r.books.equity).toBeCloseTo(533.4, 9);
    expect(r.books.unrealized).toBeCloseTo(10, 9);
    // One equity point per data second the books moved in: at the fill (the holding at cost, unmarked), then at the mark.
    expect(r.series).toEqual([[Math.floor(buy.ts / 1000), 523.4], [Math.floor((T0 + 100_000) / 1000), r.engineEquity]]);
  });

  it('in paper mode counts a buy fee paid in the base asset: a round trip of the sellable lots leaves no residual position', () => {
    const r = run(paperStart(), [fill('buy', '2000', '0.05', '0.00005', 'ETH'), fill('sell', '2200', '0.0499', '0.10978', 'USDT')], '2500');
    expect(r.books.positions).toHaveLength(1);
    expect(r.books.positions[0]).toMatchObject({ qty: 0, unrealized: 0 });
    expect(r.books.equity).toBe(r.engineEquity);
    expect(r.books.equity).toBeCloseTo(10009.79522, 9);
  });
});
