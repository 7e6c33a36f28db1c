// The terminal status line was ~188 characters with the trading state last, cut to the terminal width
// (160 when unknown), so at 80, 120 and 160 columns the state never showed and a halted engine looked like a running
// one. The state now comes first, with a short reason when not active, and the rest gives way by priority.
import { describe, expect, it } from 'vitest';
import { formatState, formatStatus, statusParts, StatusLine } from '../../app/status-line.ts';
import { DEFAULT_LIMITS } from '../../actors/risk-manager/limits.ts';
import { createRiskState, onKillSwitch, type RiskState } from '../../actors/risk-manager/logic.ts';
import type { EngineMsg } from '../../engine/messages/index.ts';
import { Bus } from '../../engine/runtime/bus.ts';
import { SimulatedClock } from '../../engine/runtime/clock.ts';
import { BINANCE_SPOT_DEFAULTS, makeInstrument, priceToTicks, qtyToLots } from '../../engine/types/instrument.ts';
import { money } from '../../engine/types/money.ts';
import type { TsMs } from '../../engine/types/time.ts';

const eth = makeInstrument(BINANCE_SPOT_DEFAULTS['ETH/USDT']!);
const btc = makeInstrument(BINANCE_SPOT_DEFAULTS['BTC/USDT']!);
const T0 = 1_723_161_600_000;

// The reviewer's figures: a halted engine after a kill switch, 379 intents denied since.
const FIELDS = statusParts({
  nowMs: Date.parse('2024-08-09T00:58:14Z'), prices: ['ETH 2681.21', 'BTC 61722.76'], position: '0.0744 ETH',
  pnl: { books: { realised: money('-0.08'), unrealised: money('-0.09'), fees: money('0.60'), total: money('-0.77') }, quote: 'USDT' },
  orders: { sent: 0, filled: 0, open: 0, denied: 379 },
  state: 'HALTED kill switch',
});

// Every form a part may take: whole, or one of its shorter forms; never a piece cut out of one.
const FORMS = new Set([
  'HALTED kill switch', '2024-08-09 00:58:14', '00:58:14', 'ETH 2681.21 BTC 61722.76', 'ETH 2681.21', 'pos 0.0744 ETH',
  'pnl -0.77 USDT vs cost (realised -0.08 + unrealised -0.09 - fees 0.60)', 'pnl -0.77 USDT vs cost', 'pnl -0.77 USDT',
  'orders 0 sent/0 filled/0 open/379 denied', 'orders 0s/0f/0o/379d',
]);

describe('status line width', () => {
  it.each([80, 120, 160])('at %i columns shows the trading state first and fits, with whole parts only', (width) => {
    const line = formatStatus(FIELDS, width);
    expect(line.length).toBeLessThanOrEqual(width);
    expect(line.startsWith('HALTED kill switch | ')).toBe(true);
    for (const part of line.split(' | ')) expect(FORMS.has(part), `'${part}' at ${width}`).toBe(true);
    // The position and the PnL total outlast everything else but the state.
    expect(line).toContain('pos 0.0744 ETH');
    expect(line).toContain('pnl -0.77 USDT');
  });

  it('drops the PnL breakdown before any price', () => {
    const line = formatStatus(FIELDS, 160);
    expect(line).toBe('HALTED kill switch | 2024-08-09 00:58:14 | ETH 2681.21 BTC 61722.76 | pos 0.0744 ETH | pnl -0.77 USDT vs cost | orders 0 sent/0 filled/0 open/379 denied');
  });

  it('keeps the traded price and the time of day at 120 columns', () => {
    expect(formatStatus(FIELDS, 120)).toBe('HALTED kill switch | 00:58:14 | ETH 2681.21 | pos 0.0744 ETH | pnl -0.77 USDT vs cost | orders 0s/0f/0o/379d');
  });

  it('shows everything as documented when there is room', () => {
    expect(formatStatus(FIELDS, 1000)).toBe('HALTED kill switch | 2024-08-09 00:58:14 | ETH 2681.21 BTC 61722.76 | pos 0.0744 ETH | pnl -0.77 USDT vs cost (realised -0.08 + unrealised -0.09 - fees 0.60) | orders 0 sent/0 filled/0 open/379 denied');
  });

  it('builds each part once in every form it may be shown in, longest first', () => {
    expect(FIELDS).toEqual({
      state: 'HALTED kill switch',
      time: ['2024-08-09 00:58:14', '00:58:14'],
      prices: ['ETH 2681.21 BTC 61722.76', 'ETH 2681.21'],
      position: ['0.0744 ETH'],
      pnl: ['-0.77 USDT vs cost (realised -0.08 + unrealised -0.09 - fees 0.60)', '-0.77 USDT vs cost', '-0.77 USDT'],
      orders: ['0 sent/0 filled/0 open/379 denied', '0s/0f/0o/379d'],
    });
  });

  it('keeps a part that has no shorter form whole until its turn to go', () => {
    const parts = statusParts({
      nowMs: Date.parse('2024-08-09T00:58:14Z'), prices: ['ETH 2681.21'], position: '0.0744 ETH', pnl: undefined,
      orders: { sent: 0, filled: 0, open: 0, denied: 379 }, state: 'starting',
    });
    const line = 'starting | 00:58:14 | ETH 2681.21 | pos 0.0744 ETH | pnl - | orders 0 sent/0 filled/0 open/379 denied';
    expect(formatStatus(parts, line.length)).toBe(line);
  });

  it('on a terminal narrower than the rest still starts with the state word', () => {
    const line = formatStatus(FIELDS, 12);
    expect(line.length).toBeLessThanOrEqual(12);
    expect(line.startsWith('HALTED')).toBe(true);
  });

  it('says why trading is not active, short', () => {
    const s = createRiskState({ limits: DEFAULT_LIMITS, instruments: [eth], cash: money('100') });
    expect(formatState(s, undefined)).toBe('active');
    expect(formatState(undefined, undefined)).toBe('starting');
    expect(formatState({ ...s, tradingState: 'halted', stateReason: 'drawdown 512 bps reached the maximum 500 bps' }, undefined)).toBe('HALTED drawdown 512 bps');
    expect(formatState({ ...s, tradingState: 'reducing', stateReason: 'VaR 99% 12 exceeds the limit 10 (1e-9 quote units)' }, undefined)).toBe('REDUCING VaR 99%');
    expect(formatState(s, { actor: 'risk' })).toBe('HALTED risk failed');
  });
});

describe('status line of a halted engine', () => {
  it('shows HALTED and the kill switch at 80 columns', () => {
    const start = createRiskState({ limits: DEFAULT_LIMITS, instruments: [eth], cash: money('10000') });
    // The machine applies the step's transition (machine.ts enterState); done here by hand.
    const step = onKillSwitch(start, true, 'operator', T0 as TsMs);
    const risk: RiskState = { ...step.state, tradingState: step.to!.to, stateReason: step.to!.reason };
    const bus = new Bus<EngineMsg>();
    const sys = {
      bus, clock: new SimulatedClock(T0), traded: eth, dataInstruments: [btc, eth],
      handles: { risk: () => risk, executor: () => undefined }, supervisor: { halted: undefined },
    };
    const status = new StatusLine(sys as never);
    for (const [i, px] of [[btc, '61722.76'], [eth, '2681.21']] as const) {
      bus.publish({ type: 'md.trade', venue: 'binance', symbol: i.symbol, price: priceToTicks(i, px), lots: qtyToLots(i, '0.01'), buyerMaker: false, tradeId: 1, tsExchange: T0, tsLocal: T0 });
    }
    const line = status.line(80);
    expect(line.length).toBeLessThanOrEqual(80);
    expect(line.startsWith('HALTED kill switch | ')).toBe(true);
    // The traded instrument's price is the one kept when only one fits.
    expect(line).toContain('ETH 2681.21');
    expect(line).not.toContain('BTC');
  });
});
