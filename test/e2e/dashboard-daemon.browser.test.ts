// Issue 7 acceptance: the dashboard of the real daemon (what `npm start` runs: `cobalt run --config
// configs/default.yaml`, here at --speed 20) in headless Debian chromium driven by playwright-core. The daemon is a
// child process with its store in a temp dir, port 0 and a known control token; nothing is published by the test, so
// every chart, heatmap cell and state change comes from the engine replaying the bundled recording. Skips when
// /usr/bin/chromium is absent (install it with scripts/install-chromium.sh). Writes test-artifacts/dashboard-daemon.png.
//
// Waits are bounded polls (playwright's waitForFunction / a stderr line watcher with a deadline), never fixed sleeps.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { haveChromium, openPage, setThresholdsInPage, saveScreenshot, waitForControlResult } from './browser.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TOKEN = 'e2e-daemon-token-91d2';
const chromiumPresent = haveChromium('dashboard daemon browser test');

/** The daemon's environment: ours minus vitest's markers (they silence the logger) and any COBALT_ override of ours. */
function daemonEnv(dir: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('VITEST') && !k.startsWith('COBALT_')) env[k] = v;
  return {
    ...env, NODE_ENV: 'production', COBALT_LOG_LEVEL: 'info', COBALT_DASHBOARD__PORT: '0',
    COBALT_STORE__PATH: join(dir, 'store'), COBALT_STORE__ARCHIVE_DIR: join(dir, 'archive'), COBALT_DASHBOARD_TOKEN: TOKEN,
  };
}

/** A running daemon: its stderr lines as they arrive, and a bounded wait for one matching a pattern. */
class Daemon {
  readonly lines: string[] = [];
  private readonly waiters: { re: RegExp; from: number; resolve: (m: RegExpMatchArray) => void }[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private partial = '';

  constructor(readonly proc: ChildProcess) {
    proc.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      const parts = (this.partial + chunk).split('\n');
      this.partial = parts.pop()!;
      for (const line of parts) this.push(line);
    });
    proc.stdout!.resume();
    this.exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  }

  private push(line: string): void {
    this.lines.push(line);
    for (const w of [...this.waiters]) {
      const m = line.match(w.re);
      if (m) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  }

  /** Resolves with the first stderr line (from index `from` on) matching `re`; rejects on exit or after `ms`. */
  waitLine(re: RegExp, ms: number, from = 0): Promise<RegExpMatchArray> {
    for (const line of this.lines.slice(from)) {
      const m = line.match(re);
      if (m) return Promise.resolve(m);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no stderr line matching ${re} within ${ms} ms; last lines:\n${this.lines.slice(-10).join('\n')}`)), ms);
      const w = { re, from, resolve: (m: RegExpMatchArray) => { clearTimeout(timer); resolve(m); } };
      this.waiters.push(w);
      void this.exited.then(({ code, signal }) => {
        clearTimeout(timer);
        reject(new Error(`daemon exited (code ${code}, signal ${signal}) before a line matching ${re}; last lines:\n${this.lines.slice(-10).join('\n')}`));
      });
    });
  }

  /** The parsed pino records with this message. */
  records(msg: string): Record<string, unknown>[] {
    return this.lines.flatMap((l) => {
      if (!l.startsWith('{')) return [];
      try {
        const r = JSON.parse(l) as Record<string, unknown>;
        return r.msg === msg ? [r] : [];
      } catch {
        return [];
      }
    });
  }
}

// The heatmap canvas as `<checksum>:<lit pixels>`, evaluated in the page (a string, so it can also be polled there).
const HEAT_SIGNATURE = `(() => {
  const c = document.getElementById('heatmap');
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let sum = 0;
  let lit = 0;
  for (let i = 0; i < d.length; i += 4) {
    sum = (sum + d[i] * 3 + d[i + 1] * 7 + d[i + 2] * 11 + i) % 1000000007;
    if (d[i] + d[i + 1] + d[i + 2] > 60) lit++;
  }
  return sum + ':' + lit;
})()`;

describe.skipIf(!chromiumPresent)('dashboard in a browser, served by the running daemon (npm start, --speed 20)', () => {
  let daemon: Daemon;
  let url: string;
  let dir: string;
  let profile: string;
  let browser: BrowserContext;
  let page: Page;
  let pageErrors: string[] = [];

  const heatPixels = (): Promise<string> => page.evaluate(HEAT_SIGNATURE) as Promise<string>;
  const state = async (): Promise<{ models: { thresholds: unknown } }> =>
    (await (await fetch(`${url}api/state`)).json()) as { models: { thresholds: unknown } };

  beforeAll(async () => {
    if (!existsSync(join(ROOT, 'dist/web/index.html'))) execFileSync(process.execPath, [join(ROOT, 'web/build.mjs')], { stdio: 'pipe', cwd: ROOT });
    dir = mkdtempSync(join(tmpdir(), 'cobalt-daemon-e2e-'));
    daemon = new Daemon(spawn(process.execPath, ['bin/cobalt.mjs', 'run', '--config', 'configs/default.yaml', '--speed', '20'], {
      cwd: ROOT, env: daemonEnv(dir), stdio: ['ignore', 'pipe', 'pipe'],
    }));
    // A known token is not printed (only a generated one is), so the line is just the address.
    url = (await daemon.waitLine(/^dashboard: (http:\/\/127\.0\.0\.1:\d+\/)/, 40_000))[1]!;
    ({ browser, page, errors: pageErrors, profile } = await openPage(url));
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    if (daemon && daemon.proc.exitCode === null && daemon.proc.signalCode === null) {
      daemon.proc.kill('SIGKILL');
      await daemon.exited;
    }
    for (const d of [profile, dir]) if (d) rmSync(d, { recursive: true, force: true });
  });

  it('draws candles from the engine replaying the recording: bars with traded volume and moving prices', async () => {
    await page.waitForFunction(() => (window as unknown as { __cobalt?: { price: { bars: number } } }).__cobalt?.price.bars! >= 10, undefined, { timeout: 30_000, polling: 100 });
    // What the chart itself holds (lightweight-charts series data), not only its bar count: a feed paced behind the
    // engine's clock gives a row of flat, zero-volume bars, which a count alone would pass.
    const chart = await page.evaluate(() => {
      type S = { data(): readonly { value?: number; close?: number }[] };
      const p = (window as unknown as { __cobalt: { price: { bars: number; candles: S; volume: S } } }).__cobalt.price;
      const volumes = p.volume.data().map((d) => d.value ?? 0);
      return { bars: p.bars, traded: volumes.filter((v) => v > 0).length, closes: new Set(p.candles.data().map((d) => d.close)).size };
    });
    const chartCanvases = await page.locator('#price-chart canvas').count();
    expect(chart.bars).toBeGreaterThanOrEqual(10);
    expect(chart.traded).toBeGreaterThanOrEqual(chart.bars / 2); // ETH/USDT trades in most recorded seconds
    expect(chart.closes).toBeGreaterThanOrEqual(3);
    expect(chartCanvases).toBeGreaterThan(0);
  }, 40_000);

  it('updates the heatmap as the recorded market moves', async () => {
    type W = { __cobalt: { heat: { draws: number } } };
    await page.waitForFunction(() => (window as unknown as W).__cobalt.heat.draws > 0, undefined, { timeout: 20_000, polling: 100 });
    const before = await heatPixels();
    const draws = await page.evaluate(() => (window as unknown as W).__cobalt.heat.draws);
    await page.waitForFunction((d) => (window as unknown as W).__cobalt.heat.draws > d + 2, draws, { timeout: 20_000, polling: 100 });
    // More draws need not mean new pixels: wait (bounded) for the canvas itself to change.
    await page.waitForFunction(`${HEAT_SIGNATURE} !== ${JSON.stringify(before)}`, undefined, { timeout: 20_000, polling: 100 });
    const after = await heatPixels();
    expect(after).not.toBe(before);
    expect(Number(after.split(':')[1])).toBeGreaterThan(500); // lit cells, not a blank canvas
  }, 50_000);

  it('round-trips a threshold change: page controls with the token → POST → orchestrator → /api/state → page', async () => {
    const seenBefore = daemon.records('thresholds set').length;
    const from = daemon.lines.length;
    await setThresholdsInPage(page, TOKEN, { buy: '0.73', sell: '0.64', conf: '0.55' });
    const response = page.waitForResponse((r) => r.url().endsWith('/api/control/thresholds'));
    await page.click('#btn-thresholds');
    const status = (await response).status();
    // The orchestrator inside the daemon logs what it now uses: the command reached the engine, not only the page.
    const applied = await daemon.waitLine(/"msg":"thresholds set"/, 15_000, from);
    await page.waitForFunction(() => (document.getElementById('th-current')?.textContent ?? '').includes('buy 0.73'), undefined, { timeout: 15_000, polling: 100 });
    const shown = await page.textContent('#th-current');
    expect(status).toBe(200);
    expect(daemon.records('thresholds set').length).toBe(seenBefore + 1);
    expect((JSON.parse(applied.input!) as { thresholds: unknown }).thresholds).toEqual({ buy: 0.73, sell: 0.64, minConfidence: 0.55 });
    expect((await state()).models.thresholds).toEqual({ buy: 0.73, sell: 0.64, minConfidence: 0.55 });
    expect(shown).toContain('sell 0.64');
    expect(shown).toContain('conf 0.55');
    expect(await waitForControlResult(page, 'thresholds: sent')).toContain('thresholds: sent');
  }, 40_000);

  it('sets risk limits at run time: page form with the token → POST → RiskManager → log line, alert and risk panel', async () => {
    const from = daemon.lines.length;
    // A quote amount sent as a JSON number is refused: a float would round it.
    const refused = await fetch(`${url}api/control/limits`, {
      method: 'POST', body: JSON.stringify({ maxOrderNotional: 321 }), headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${TOKEN}` },
    });
    await page.fill('#lim-order', '321.5');
    await page.fill('#lim-dd', '750');
    await page.fill('#lim-exposure', '4000');
    await page.fill('#lim-sl', '150');
    await page.fill('#lim-tp', '350');
    await page.fill('#lim-var99-warn', 'off');
    await page.fill('#lim-var99-max', '450');
    await page.selectOption('#lim-exit-type', 'limit');
    await page.fill('#lim-exit-slip', '15');
    await page.fill('#lim-move', '300');
    await page.fill('#lim-spread', '80');
    const response = page.waitForResponse((r) => r.url().endsWith('/api/control/limits'));
    await page.click('#btn-limits');
    const status = (await response).status();
    await daemon.waitLine(/"msg":"risk limits set"/, 15_000, from);
    const set = daemon.records('risk limits set').at(-1)!;
    await page.waitForFunction(() => (document.getElementById('risk-stats')?.textContent ?? '').includes('321.5'), undefined, { timeout: 15_000, polling: 100 });
    const panel = await page.textContent('#risk-stats');
    type Risk = { risk: { alerts: { items: { code: string; message: string }[] }; limits: { maxOrderNotional: string; maxDrawdownBps: number; stopLossBps?: number } } };
    const risk = ((await (await fetch(`${url}api/state`)).json()) as Risk).risk;
    expect(refused.status).toBe(400);
    expect(status).toBe(200);
    expect([set.maxOrderNotional, set.maxDrawdownBps, set.maxExposure, set.stopLossBps, set.takeProfitBps, set.warnVar99, set.maxVar99, set.exitOrderType, set.maxMoveBps, set.maxSpreadBps])
      .toEqual(['321.5', 750, '4000', 150, 350, undefined, '450', 'limit', 300, 80]);
    expect(risk.limits).toEqual({
      maxOrderNotional: '321.5', maxPositionNotional: '5000', maxExposure: '4000', maxSubmitsPerSecond: 5, maxDrawdownBps: 750, reduceAtDrawdownBps: 500,
      stopLossBps: 150, takeProfitBps: 350, maxVar99: '450', exitOrderType: 'limit', exitSlippageBps: 15,
      // The market circuit breaker: move and spread limits from the form, the rest at the config defaults (risk.breaker).
      maxMoveBps: 300, moveWindowMs: 300_000, moveCooldownMs: 300_000, markStaleMs: 60_000, maxSpreadBps: 80, spreadMs: 2_000,
    });
    expect(panel).toMatch(/VaR 99 warn\/max\s*off \/ 450/);
    expect(panel).toMatch(/breaker move\s*3% \/ 5 min, cooldown 5 min/);
    expect(panel).toMatch(/breaker stale\s*60 s/);
    expect(panel).toMatch(/exits\s*limit, 15 bps/);
    expect(risk.alerts.items.filter((a) => a.code === 'LIMITS_SET').at(-1)?.message).toContain('VaR 99 warn/max off/450, exits limit 15 bps through the mark');
    expect(risk.alerts.items.filter((a) => a.code === 'LIMITS_SET').at(-1)?.message).toContain('max order 321.5');
    expect(risk.alerts.items.filter((a) => a.code === 'LIMITS_SET').at(-1)?.message).toContain('stop loss 150 bps, take profit 350 bps');
    expect(panel).toContain('7.5%');
    expect(panel).toMatch(/stop loss\s*1\.5%/);
    expect(panel).toMatch(/take profit\s*3\.5%/);
    expect(await waitForControlResult(page, 'limits: sent')).toContain('limits: sent');
  }, 30_000);

  it('refuses a control without the token (401), from outside and from the page, and applies nothing', async () => {
    const applied = daemon.records('thresholds set').length;
    const body = JSON.stringify({ buy: 0.11, sell: 0.12, minConfidence: 0.13 });
    const post = (headers: Record<string, string>): Promise<Response> =>
      fetch(`${url}api/control/thresholds`, { method: 'POST', body, headers: { 'Content-Type': 'application/json', ...headers } });
    const bare = await post({});
    const wrong = await post({ Authorization: 'Bearer nope' });
    await page.fill('#token', '');
    await page.locator('#token').dispatchEvent('change');
    const response = page.waitForResponse((r) => r.url().endsWith('/api/control/stop'));
    await page.click('#btn-stop');
    const fromPage = (await response).status();
    expect(bare.status).toBe(401);
    expect(wrong.status).toBe(401);
    expect(fromPage).toBe(401);
    expect(await waitForControlResult(page, 'refused')).toContain('refused');
    // Still trading with the thresholds set above: neither the refused change nor the refused stop got through.
    expect(daemon.records('thresholds set').length).toBe(applied);
    expect((await state()).models.thresholds).toEqual({ buy: 0.73, sell: 0.64, minConfidence: 0.55 });
    expect(daemon.proc.exitCode).toBe(null);
  }, 30_000);

  it('saves a screenshot, with no script error or refused resource on the page', async () => {
    const file = await saveScreenshot(page, 'dashboard-daemon.png');
    expect(existsSync(file)).toBe(true);
    // The one expected console error is the browser logging the deliberate 401 of the refused-control test.
    expect(pageErrors.filter((e) => !/status of 401/.test(e))).toEqual([]);
  }, 30_000);

  it('stops gracefully on SIGTERM (exit 0)', async () => {
    await browser.close();
    daemon.proc.kill('SIGTERM');
    const { code, signal } = await daemon.exited;
    expect({ code, signal }).toEqual({ code: 0, signal: null });
    expect(daemon.records('shutdown finished').length).toBe(1);
  }, 30_000);

  it('comes back on the same store with the thresholds and limits set through the page', async () => {
    daemon = new Daemon(spawn(process.execPath, ['bin/cobalt.mjs', 'run', '--config', 'configs/default.yaml', '--speed', '20'], {
      cwd: ROOT, env: daemonEnv(dir), stdio: ['ignore', 'pipe', 'pipe'],
    }));
    url = (await daemon.waitLine(/^dashboard: (http:\/\/127\.0\.0\.1:\d+\/)/, 40_000))[1]!;
    // The dashboard serves before the actors start: wait for the orchestrator's word that it is up.
    await daemon.waitLine(/"msg":"orchestrator state restored"/, 30_000);
    type State = { models: { thresholds: unknown }; risk: { limits: Record<string, unknown> } };
    const s = (await (await fetch(`${url}api/state`)).json()) as State;
    const restored = daemon.records('orchestrator state restored');
    expect(s.models.thresholds).toEqual({ buy: 0.73, sell: 0.64, minConfidence: 0.55 });
    expect(s.risk.limits).toMatchObject({ maxOrderNotional: '321.5', maxDrawdownBps: 750, stopLossBps: 150, takeProfitBps: 350, maxVar99: '450', exitOrderType: 'limit', exitSlippageBps: 15 });
    expect(s.risk.limits).not.toHaveProperty('warnVar99');
    expect(restored.map((r) => r.thresholds)).toEqual([{ buy: 0.73, sell: 0.64, minConfidence: 0.55 }]);
    daemon.proc.kill('SIGTERM');
    expect(await daemon.exited).toEqual({ code: 0, signal: null });
  }, 60_000);
});
