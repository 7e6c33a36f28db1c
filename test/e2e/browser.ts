// Shared by the browser tests: Debian's chromium driven by playwright-core with the flags this closed network needs
// (STACK.md "Browser tests"), a fresh profile per run, page errors collected, and the page actions both tests use.
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

/** Returns true when chromium is installed; otherwise says once why the caller's browser test is skipped. */
export function haveChromium(what: string): boolean {
  const ok = existsSync(CHROMIUM);
  if (!ok) console.warn(`${what} skipped: ${CHROMIUM} not found (run scripts/install-chromium.sh)`);
  return ok;
}

/** A headless chromium with its first page, opened at `url`; script and console errors land in `errors`. */
export async function openPage(url: string): Promise<{ browser: BrowserContext; page: Page; errors: string[]; profile: string }> {
  const profile = mkdtempSync(join(tmpdir(), 'cobalt-chromium-'));
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1600, height: 1300 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  const errors: string[] = [];
  const page = browser.pages()[0] ?? (await browser.newPage());
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  await page.goto(url);
  return { browser, page, errors, profile };
}

/** Types the token into the page and moves the threshold sliders, as a trader would, without applying them. */
export async function setThresholdsInPage(page: Page, token: string, v: { buy: string; sell: string; conf: string }): Promise<void> {
  await page.fill('#token', token);
  await page.locator('#token').dispatchEvent('change');
  await page.evaluate((vals) => {
    for (const [id, value] of Object.entries(vals)) {
      const el = document.getElementById(id) as HTMLInputElement;
      el.value = value;
      el.dispatchEvent(new Event('input'));
    }
  }, { 'th-buy': v.buy, 'th-sell': v.sell, 'th-conf': v.conf });
}

/** Waits until the control panel's verdict line contains `text` (the page writes it after the response resolves). */
export async function waitForControlResult(page: Page, text: string): Promise<string> {
  await page.waitForFunction((t) => (document.getElementById('ctl-result')?.textContent ?? '').includes(t), text, { timeout: 10_000, polling: 50 });
  return (await page.textContent('#ctl-result')) ?? '';
}

/** Saves a full-page screenshot as a test artifact (test-artifacts/<name>, gitignored) and returns its path. */
export async function saveScreenshot(page: Page, name: string): Promise<string> {
  const dir = fileURLToPath(new URL('../../test-artifacts/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  const file = join(dir, name);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}
