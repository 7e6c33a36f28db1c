// The protective-stops panel in a real browser (Debian chromium driven by playwright-core, as test/e2e does): the
// dashboard server fed by a protectiveStops provider, the page's panel drawn from the risk topic over /ws, redrawn
// when a stop's exec.* event marks the topic. Skips when /usr/bin/chromium is absent (scripts/install-chromium.sh).
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { haveChromium, openPage } from '../e2e/browser.ts';
import { startDashboard, type DashboardHandle } from '../../engine/dashboard/index.ts';
import type { ProtectiveStopFigures } from '../../engine/dashboard/metrics.ts';
import type { EngineMsg } from '../../engine/messages/index.ts';
import { Bus } from '../../engine/runtime/bus.ts';
import { LiveClock } from '../../engine/runtime/clock.ts';
import type { ClientOrderId } from '../../engine/types/ids.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TOKEN = 'stops-browser-token-5e1a';
const chromiumPresent = haveChromium('protective-stops browser test');
const STOP = { clientOrderId: 'pstop-abc', status: 'accepted', stopPrice: '60291.68', price: '59688.76', qty: '0.10000', filledQty: '0.00000' };

describe.skipIf(!chromiumPresent)('protective-stops panel in a browser', () => {
  const bus = new Bus<EngineMsg>();
  let figures: ProtectiveStopFigures = {
    placed: 1, cancelled: 0, skippedDust: 0, resting: 1, symbols: [{ symbol: 'BTC/USDT', positionQty: '0.10000', state: 'resting', stop: STOP }],
  };
  let dash: DashboardHandle;
  let browser: BrowserContext;
  let page: Page;
  let profile: string;
  let errors: string[] = [];
  const panelText = async (text: string): Promise<string> => {
    await page.waitForFunction((t) => (document.getElementById('stops')?.textContent ?? '').includes(t), text, { timeout: 10_000, polling: 50 });
    return (await page.textContent('#stops')) ?? '';
  };

  beforeAll(async () => {
    execFileSync(process.execPath, [join(ROOT, 'web/build.mjs')], { stdio: 'pipe' });
    dash = await startDashboard({
      bus, clock: new LiveClock(), config: { host: '127.0.0.1', port: 0 }, token: { token: TOKEN, generated: false },
      providers: { protectiveStops: () => figures },
    });
    ({ browser, page, errors, profile } = await openPage(dash.url));
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await dash?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  it('shows the resting stop\'s prices and size, then a refusal once the stop\'s rejection is published', async () => {
    const resting = await panelText('resting');
    const meta = await page.textContent('#stops-meta');
    figures = {
      placed: 2, cancelled: 0, skippedDust: 0, resting: 0,
      symbols: [{ symbol: 'BTC/USDT', positionQty: '0.10000', state: 'refused', refusal: { code: 'VENUE_REJECTED', through: false, retryAt: Date.UTC(2024, 7, 8, 12, 5, 0) } }],
    };
    bus.publish({ type: 'exec.orderRejected', clientOrderId: 'pstop-def' as ClientOrderId, code: 'VENUE_REJECTED', message: 'insufficient balance', ts: Date.now() });
    const refused = await panelText('refused by the venue');

    expect(resting).toContain('BTC/USDT0.10000resting60291.6859688.760.10000');
    expect(meta).toBe('resting 1 · placed 1 · cancelled 0');
    expect(refused).toContain('refused by the venue (VENUE_REJECTED): tried again at 12:05:00');
    expect(errors).toEqual([]);
  });
});
