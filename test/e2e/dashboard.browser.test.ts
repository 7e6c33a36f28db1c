// The dashboard in a real browser (Debian chromium driven by playwright-core), fed by the bundled Binance recording
// replayed through the bus: COBAggregator books and heatmap, DataProvider candles. Skips when /usr/bin/chromium is
// absent (install it with scripts/install-chromium.sh). Writes test-artifacts/dashboard.png.
//
// The engine's time is a SimulatedClock moved by the data, and the dashboard's push throttle runs on it too, so the
// test moves data forward while it waits for the page: each wait step pumps one recorded second, then looks again.
import { execFileSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { haveChromium, openPage, setThresholdsInPage, saveScreenshot, waitForControlResult } from './browser.ts';
import { portfolioFigures } from '../../app/dashboard-providers.ts';
import { DEFAULT_LIMITS } from '../../actors/risk-manager/limits.ts';
import { createRiskState, onFill, onMark, type RiskState } from '../../actors/risk-manager/logic.ts';
import { startDashboard, type DashboardHandle } from '../../engine/dashboard/index.ts';
import { BINANCE_SPOT_DEFAULTS, makeInstrument } from '../../engine/types/instrument.ts';
import { money } from '../../engine/types/money.ts';
import type { EngineMsg } from '../../engine/messages/index.ts';
import type { ClientOrderId, VenueOrderId } from '../../engine/types/ids.ts';
import type { Money } from '../../engine/types/money.ts';
import type { Lots, Ticks } from '../../engine/types/price.ts';
import { ReplayHarness } from '../engine/dashboard/replay-harness.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TOKEN = 'e2e-token-7f3c';
const chromiumPresent = haveChromium('dashboard browser test');

interface PageHooks {
  __cobalt: {
    price: { bars: number; markerCount(): number };
    heat: { draws: number };
    models: { pointCounts(): Record<string, number> };
    frames: number;
    symbol: string;
  };
}

describe.skipIf(!chromiumPresent)('dashboard in a browser, fed by the replayed recording', () => {
  let h: ReplayHarness;
  let dash: DashboardHandle;
  let browser: BrowserContext;
  let page: Page;
  let profile: string;
  const seen: EngineMsg[] = [];
  let pageErrors: string[] = [];

  /** Pumps recorded seconds until `cond` holds in the page (at most `maxSeconds`); returns whether it did. */
  async function pumpUntil(cond: () => Promise<boolean>, maxSeconds = 120): Promise<boolean> {
    for (let i = 0; i < maxSeconds; i++) {
      if (await cond()) return true;
      await h.pumpFor(1000);
    }
    return cond();
  }
  const hooks = <T>(f: (w: PageHooks['__cobalt']) => T): Promise<T> =>
    page.evaluate(`(${f.toString()})(window.__cobalt)`) as Promise<T>;
  const heatPixels = (): Promise<string> =>
    page.evaluate(() => {
      const c = document.getElementById('heatmap') as HTMLCanvasElement;
      const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
      let sum = 0;
      let lit = 0;
      for (let i = 0; i < d.length; i += 4) {
        sum = (sum + d[i]! * 3 + d[i + 1]! * 7 + d[i + 2]! * 11 + i) % 1_000_000_007;
        if (d[i]! + d[i + 1]! + d[i + 2]! > 60) lit++;
      }
      return `${sum}:${lit}`;
    });

  beforeAll(async () => {
    execFileSync(process.execPath, [join(ROOT, 'web/build.mjs')], { stdio: 'pipe' });
    h = await ReplayHarness.open();
    h.bus.subscribePrefix('orchestrator.', (m) => seen.push(m));
    h.bus.subscribePrefix('risk.', (m) => seen.push(m));
    // A RiskManager's books fed as the daemon feeds them (fills; trades as risk.mark): the portfolio panel shows them.
    let risk: RiskState = createRiskState({
      limits: DEFAULT_LIMITS, instruments: ['ETH/USDT', 'BTC/USDT'].map((s) => makeInstrument(BINANCE_SPOT_DEFAULTS[s]!)), cash: money('10000'),
    });
    h.bus.subscribe('exec.orderFilled', (m) => { risk = onFill(risk, m.fill); });
    h.bus.subscribe('risk.mark', (m) => { risk = onMark(risk, m.symbol, m.price, m.ts).state; });
    h.bus.subscribe('md.trade', (m) => h.bus.publish({ type: 'risk.mark', symbol: m.symbol, price: m.price, ts: h.clock.now() }));
    dash = await startDashboard({
      bus: h.bus, clock: h.clock, config: { host: '127.0.0.1', port: 0 }, token: { token: TOKEN, generated: false },
      providers: { portfolio: () => portfolioFigures(risk) },
    });
    await h.pumpFor(30_000);
    ({ browser, page, errors: pageErrors, profile } = await openPage(dash.url));
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await dash?.close();
    await h?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  it('draws candles from the replayed trades', async () => {
    const ok = await pumpUntil(() => hooks((w) => w !== undefined && w.price.bars >= 10));
    const bars = await hooks((w) => w.price.bars);
    const chartCanvases = await page.locator('#price-chart canvas').count();
    expect(ok).toBe(true);
    expect(bars).toBeGreaterThanOrEqual(10);
    expect(chartCanvases).toBeGreaterThan(0);
  }, 60_000);

  it('updates the heatmap as the market moves', async () => {
    await pumpUntil(() => hooks((w) => w.heat.draws > 0));
    const before = await heatPixels();
    const draws = await hooks((w) => w.heat.draws);
    const moved = await pumpUntil(async () => (await hooks((w) => w.heat.draws)) > draws + 2 && (await heatPixels()) !== before, 60);
    const after = await heatPixels();
    expect(moved).toBe(true);
    expect(after).not.toBe(before);
    expect(Number(after.split(':')[1])).toBeGreaterThan(1000); // lit cells, not a blank canvas
  }, 60_000);

  it('round-trips a threshold change: page → POST with token → bus → state → page', async () => {
    await setThresholdsInPage(page, TOKEN, { buy: '0.73', sell: '0.64', conf: '0.55' });
    const response = page.waitForResponse((r) => r.url().endsWith('/api/control/thresholds'));
    await page.click('#btn-thresholds');
    const status = (await response).status();
    const shown = await pumpUntil(async () => ((await page.textContent('#th-current')) ?? '').includes('buy 0.73'), 30);
    const state = (await (await fetch(`${dash.url}api/state`)).json()) as { models: { thresholds: unknown } };
    expect(status).toBe(200);
    expect(seen).toContainEqual({ type: 'orchestrator.setThresholds', buy: 0.73, sell: 0.64, minConfidence: 0.55 });
    expect(state.models.thresholds).toEqual({ buy: 0.73, sell: 0.64, minConfidence: 0.55 });
    expect(shown).toBe(true);
    expect(await waitForControlResult(page, 'thresholds: sent')).toContain('thresholds: sent');
  }, 60_000);

  it('shows the engine\'s thresholds on the sliders and applies only the one the trader moved', async () => {
    // The thresholds in force (the orchestrator's, e.g. from the config), unlike the page's HTML defaults.
    h.bus.publish({ type: 'orchestrator.setThresholds', buy: 0.7, sell: 0.75, minConfidence: 0.65 });
    const sliders = () => page.evaluate(() => ['th-buy', 'th-sell', 'th-conf'].map((id) => (document.getElementById(id) as HTMLInputElement).value).join(' / '));
    const synced = await pumpUntil(async () => (await sliders()) === '0.7 / 0.75 / 0.65', 30);
    const fromEngine = await sliders();
    // The trader raises buy to 0.72; meanwhile the engine's sell moves to 0.76: the slider being edited stays as moved.
    await page.fill('#token', TOKEN);
    await page.locator('#token').dispatchEvent('change');
    await page.evaluate(() => {
      const el = document.getElementById('th-buy') as HTMLInputElement;
      el.value = '0.72';
      el.dispatchEvent(new Event('input'));
    });
    h.bus.publish({ type: 'orchestrator.setThresholds', sell: 0.76 });
    await pumpUntil(async () => ((await page.textContent('#th-current')) ?? '').includes('sell 0.76'), 30);
    const whileEdited = await sliders();
    const before = seen.length;
    const response = page.waitForResponse((r) => r.url().endsWith('/api/control/thresholds'));
    await page.click('#btn-thresholds');
    const status = (await response).status();
    const state = (await (await fetch(`${dash.url}api/state`)).json()) as { models: { thresholds: unknown } };
    expect(synced).toBe(true);
    expect(fromEngine).toBe('0.7 / 0.75 / 0.65');
    expect(whileEdited).toBe('0.72 / 0.76 / 0.65');
    expect(status).toBe(200);
    expect(seen.slice(before)).toEqual([{ type: 'orchestrator.setThresholds', buy: 0.72 }]);
    expect(state.models.thresholds).toEqual({ buy: 0.72, sell: 0.76, minConfidence: 0.65 });
  }, 60_000);

  it('greys the ladder and the header\'s spread and imbalance, and says why, while the book is stale; live again clears it', async () => {
    const sym = await hooks((w) => w.symbol);
    const status = (s: 'stale' | 'live'): EngineMsg => ({
      type: 'md.bookStatus', venue: 'binance', symbol: sym, status: s, ...(s === 'stale' ? { reason: 'no update for 5000 ms' } : {}),
      tsExchange: h.clock.now(), tsLocal: h.clock.now(),
    });
    const ladder = () => page.evaluate(() => {
      const panel = document.querySelector('.ladder-panel')!;
      return { off: panel.classList.contains('book-off'), status: document.getElementById('ladder-status')!.textContent ?? '', spread: document.getElementById('kpi-spread')!.textContent ?? '', imb: document.getElementById('kpi-imb')!.className };
    });
    h.bus.publish(status('stale'));
    const marked = await pumpUntil(async () => (await ladder()).off, 10);
    const stale = await ladder();
    h.bus.publish(status('live'));
    const cleared = await pumpUntil(async () => !(await ladder()).off, 10);
    const live = await ladder();
    expect(marked).toBe(true);
    expect(stale.status).toBe('binance stale (no update for 5000 ms)');
    expect(stale.spread).toContain('(stale)');
    expect(stale.imb).toContain('book-off');
    expect(cleared).toBe(true);
    expect(live).toMatchObject({ status: '', imb: expect.not.stringContaining('book-off') });
    expect(live.spread).not.toContain('stale');
  }, 60_000);

  it('refuses a control without the token (401), from outside and from the page', async () => {
    const before = seen.length;
    const bare = await fetch(`${dash.url}api/control/stop`, { method: 'POST', body: '{}' });
    const wrong = await fetch(`${dash.url}api/control/stop`, { method: 'POST', body: '{}', headers: { Authorization: 'Bearer nope' } });
    await page.fill('#token', '');
    const response = page.waitForResponse((r) => r.url().endsWith('/api/control/stop'));
    await page.click('#btn-stop');
    const fromPage = (await response).status();
    expect(bare.status).toBe(401);
    expect(wrong.status).toBe(401);
    expect(fromPage).toBe(401);
    expect(seen.length).toBe(before);
    expect(await waitForControlResult(page, 'refused')).toContain('refused');
  }, 60_000);

  it('takes the token from the printed link fragment and removes it from the address bar', async () => {
    const p2 = await browser.newPage();
    await p2.goto(`${dash.url}#token=${TOKEN}`);
    const value = await p2.inputValue('#token');
    const hash = await p2.evaluate(() => location.hash);
    await p2.close();
    expect(value).toBe(TOKEN);
    expect(hash).toBe('');
  }, 60_000);

  it('marks our fills on the chart and books them as a position', async () => {
    // No executor runs in this harness: the test itself publishes two paper fills at recorded prices.
    const sym = await hooks((w) => w.symbol);
    const px = (h.provider.series(sym, '1s').last()?.close ?? NaN);
    const ticks = Math.round(px * 100) as Ticks;
    const fill = (id: string, side: 'buy' | 'sell', lots: number): EngineMsg => ({
      type: 'exec.orderFilled', ts: h.clock.now(),
      fill: { clientOrderId: id as ClientOrderId, venueOrderId: `v-${id}` as VenueOrderId, tradeId: `t-${id}`, venue: 'paper', symbol: sym, side, price: ticks, lots: lots as Lots, fee: 1_000_000n as Money, feeAsset: 'USDT', liquidity: 'taker', ts: h.clock.now() },
    });
    h.bus.publish(fill('e2e-1', 'buy', sym.startsWith('BTC') ? 2000 : 5000));
    await h.pumpFor(5000);
    h.bus.publish(fill('e2e-2', 'sell', sym.startsWith('BTC') ? 1000 : 2500));
    const marked = await pumpUntil(() => hooks((w) => w.price.markerCount() >= 2), 30);
    const rows = await page.locator('#fills-table tbody tr').count();
    const fees = await page.locator('#fills-table tbody tr td:nth-child(6)').allTextContents();
    const booked = await pumpUntil(async () => ((await page.textContent('#positions-table tbody')) ?? '').includes(sym), 10);
    const position = await page.locator('#positions-table tbody tr td:nth-child(2)').textContent();
    expect(Number.isFinite(px)).toBe(true);
    expect(marked).toBe(true);
    expect(rows).toBe(2);
    expect(fees).toEqual(['0.001 USDT', '0.001 USDT']);
    expect(booked).toBe(true);
    // What the RiskManager's books hold: bought 5,000 lots, sold 2,500 (0.25 ETH; 0.01 BTC).
    expect(position).toBe(sym.startsWith('BTC') ? '0.0100' : '0.2500');
  }, 60_000);

  it('shows model outputs and the blended decision with its MoE weights', async () => {
    // No model runs in this harness: the test publishes outputs derived from the replayed book's near imbalance.
    const sym = await hooks((w) => w.symbol);
    for (let i = 0; i < 20; i++) {
      const imb = h.cob.latest(sym)?.imbalanceNear ?? 0;
      const buy = Math.max(0.05, Math.min(0.9, 0.45 + imb / 2));
      const sell = Math.max(0.05, 0.9 - buy);
      const p: [number, number, number] = [buy, sell, Math.max(0, 1 - buy - sell)];
      const ts = h.clock.now();
      h.bus.publish({ type: 'signal.modelOutput', output: { model: 'cnn', version: 'v3', symbol: sym, ts, action: buy > sell ? 'BUY' : 'SELL', probabilities: p, confidence: Math.max(buy, sell), extra: { accuracy: 0.54, latencyMs: 0.5 } } });
      h.bus.publish({ type: 'signal.modelOutput', output: { model: 'dqn', version: 'v1', symbol: sym, ts, action: 'HOLD', probabilities: [0.3, 0.3, 0.4], confidence: 0.4 } });
      h.bus.publish({ type: 'signal.decision', symbol: sym, action: buy > 0.6 ? 'BUY' : 'HOLD', confidence: buy, weights: { cnn: 0.65, dqn: 0.35 }, ts });
      await h.pumpFor(1000);
    }
    const shown = await pumpUntil(async () => (await page.locator('#models-table tbody tr').count()) === 2, 10);
    const table = await page.textContent('#models-table tbody');
    expect(shown).toBe(true);
    expect(table).toContain('cnn');
    expect(table).toContain('dqn');
    expect(table).toContain('0.65');
    expect(table).toContain('54.0%');
    expect(await page.textContent('#decision')).toMatch(/decision (BUY|HOLD)/);
  }, 60_000);

  it('clears the model chart\'s lines when the symbol shown has no outputs (none kept from the previous symbol)', async () => {
    const sym = await hooks((w) => w.symbol);
    const other = sym === 'ETH/USDT' ? 'BTC/USDT' : 'ETH/USDT';
    const shown = await hooks((w) => w.models.pointCounts());
    await page.selectOption('#symbol', other);
    const switched = await pumpUntil(async () => (await hooks((w) => w.symbol)) === other, 5);
    const onOther = await hooks((w) => w.models.pointCounts());
    await page.selectOption('#symbol', sym);
    await pumpUntil(async () => (await hooks((w) => w.symbol)) === sym, 5);
    expect(shown).toMatchObject({ cnn: expect.any(Number), dqn: expect.any(Number), decision: expect.any(Number) });
    expect(Object.values(shown).every((n) => n > 0)).toBe(true);
    expect(switched).toBe(true);
    expect(onOther).toEqual({ cnn: 0, dqn: 0, decision: 0 });
  }, 60_000);

  it('saves a screenshot, with no script error or refused resource on the page', async () => {
    await h.pumpFor(10_000);
    const file = await saveScreenshot(page, 'dashboard.png');
    expect(existsSync(file)).toBe(true);
    // The one expected console error is the browser logging the deliberate 401 of the refused-control test.
    expect(pageErrors.filter((e) => !/status of 401/.test(e))).toEqual([]);
  }, 60_000);
});
