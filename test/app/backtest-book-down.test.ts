// Honest backtests (review H4, findings 2 and 4): after a depth gap with no recorded snapshot after it, the traded
// symbol's book never comes back in a backtest (there is no REST snapshot to ask for). The run says so: the time its
// book was not live, when it last went down and that it stayed down, a warning, and the orders left open (here one
// whose activation waited for that book). The HTML report shows fills and open orders in the instrument's decimals.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runBacktest } from '../../app/backtest.ts';
import { BookDowntime } from '../../app/backtest-metrics.ts';
import { backtestReportHtml } from '../../app/report-html.ts';
import { createLogger } from '../../engine/log.ts';
import { readRecordingLinesSync } from '../../engine/venues/replay/recording.ts';
import { RECORDINGS, testConfig } from '../e2e/helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'backtest-book-down-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The bundled recordings with the ETH depth lines received in [from, to) cut out (the book's only snapshot is at the start). */
function withoutDepth(from: number, to: number): string[] {
  const ms = (ns: bigint) => Number(ns / 1_000_000n);
  return RECORDINGS.map((rec, i) => {
    const lines = readRecordingLinesSync([rec]);
    const file = join(dir, `${i}.jsonl`);
    const cut = (l: { tsLocalNs: bigint; text: string }) => l.text.includes('ethusdt@depth') && ms(l.tsLocalNs) >= from && ms(l.tsLocalNs) < to;
    writeFileSync(file, `${lines.filter((l) => !cut(l)).map((l) => `${l.tsLocalNs} ${l.text}`).join('\n')}\n`);
    return file;
  });
}

// The first order of the bundled recording goes out at 00:00:00.277, 346 s in.
const SPAN_MS = 420_000;

describe('a backtest whose traded book goes down for good', () => {
  // A latency long enough that the first order is still waiting to activate when the book goes down.
  const config = (files?: string[]) => testConfig({
    execution: { latencyMs: 5_000 },
    data: { ...(files ? { replayFiles: files } : {}), catalogDir: join(dir, 'catalog') },
  });

  it('reports how long and since when, warns, and lists the order left open', async () => {
    // Where the first order goes out on the whole recording; the cut recording is the same up to there.
    let submittedAt = NaN;
    await runBacktest(config(), { seed: 1, maxSpanMs: SPAN_MS, onSystem: (s) => void s.bus.subscribe('exec.orderSubmitted', (m) => void (submittedAt = Number.isNaN(submittedAt) ? m.ts : submittedAt)) });
    expect(Number.isNaN(submittedAt)).toBe(false);
    const files = withoutDepth(submittedAt + 1, submittedAt + 2_000);
    const logged: Record<string, unknown>[] = [];
    const logger = createLogger({ level: 'warn', destination: { write: (line: string) => void logged.push(JSON.parse(line) as Record<string, unknown>) } });
    const r = await runBacktest(config(files), { seed: 1, maxSpanMs: SPAN_MS, logger });
    const warned = logged.filter((l) => l['code'] === 'BACKTEST_BOOK_DOWN');

    const s = r.summary;
    const downAt = Date.parse(s.bookLastDownAt!);
    expect(s.bookDownAtEnd).toBe(true);
    // Down at the first depth line after the cut, within the 2 s after it, and from then to the end.
    expect(downAt).toBeGreaterThanOrEqual(submittedAt + 2_000);
    expect(downAt).toBeLessThan(submittedAt + 4_000);
    expect(s.bookLastDownReason).toMatch(/gap/);
    const end = Date.parse(s.to) + 5_001; // the run ends a latency (+1 ms) after its last line
    expect(s.bookDownMs).toBeGreaterThanOrEqual(Math.floor(end - downAt));
    expect(s.bookDownMs).toBeLessThan(end - downAt + 1_000); // plus the wait for the first snapshot at the start
    expect(warned).toHaveLength(1);
    expect(warned[0]!['since']).toBe(s.bookLastDownAt);
    expect(s.openOrders).toHaveLength(1);
    expect(s.openOrders[0]).toMatchObject({ side: 'buy', type: 'limit', filledQty: '0.0000', status: 'accepted', createdAt: new Date(submittedAt).toISOString() });
    expect(s.openOrders[0]!.qty).toMatch(/^0\.\d{4}$/);
    expect(s.openOrders[0]!.price).toMatch(/^2\d{3}\.\d{2}$/);
    expect(s.orders).toBe(1);
    expect(r.fills).toEqual([]);
    const html = backtestReportHtml(r);
    expect(html).toContain(`down from ${s.bookLastDownAt} to the end`);
    expect(html).toContain(`<td>${s.openOrders[0]!.price}</td><td>accepted</td>`);
  }, 120_000);

  it('reports only the wait for the first snapshot on the whole recording, and no open order', async () => {
    const r = await runBacktest(config(), { seed: 1, maxSpanMs: 60_000 });

    // The first line is at 23:54:13.937, the snapshot at 23:54:14.152 and the first diff after it makes the book live.
    expect(r.summary.bookDownAtEnd).toBe(false);
    expect(r.summary.bookLastDownAt).toBe('2024-08-08T23:54:13.937Z');
    expect(r.summary.bookDownMs).toBeGreaterThan(0);
    expect(r.summary.bookDownMs).toBeLessThan(1_000);
  }, 60_000);
});

describe('the book downtime count', () => {
  it.each([
    ['never live', [], 1_000, { downMs: 1_000, lastDownAt: 0, downAtEnd: true }],
    ['live at 100 ms, stale (still in sync) later', [['binance', 'live', 100], ['binance', 'stale', 500]], 1_000, { downMs: 100, lastDownAt: 0, downAtEnd: false }],
    ['down from 400 to 700 ms', [['binance', 'live', 100], ['binance', 'resyncing', 400], ['binance', 'live', 700]], 1_000, { downMs: 400, lastDownAt: 400, downAtEnd: false }],
    ['up while another venue is live', [['binance', 'live', 100], ['mexc', 'live', 200], ['binance', 'resyncing', 400]], 1_000, { downMs: 100, lastDownAt: 0, downAtEnd: false }],
    ['down for good at 600 ms', [['binance', 'live', 100], ['binance', 'resyncing', 600]], 1_000, { downMs: 500, lastDownAt: 600, downAtEnd: true }],
  ] as const)('%s', (_, events, end, want) => {
    const b = new BookDowntime(0);
    for (const [venue, status, t] of events) b.onStatus(venue, status, t, status);
    b.finish(end);

    expect({ downMs: b.downMs, lastDownAt: b.lastDownAt, downAtEnd: b.downAtEnd }).toEqual(want);
  });
});

describe('the HTML report of a backtest with fills', () => {
  it('shows quantities, prices, values and fees as decimals of the instrument, not lots, ticks and 1e-9 units', async () => {
    const r = await runBacktest(testConfig({ data: { catalogDir: join(dir, 'catalog') } }), { seed: 3, maxSpanMs: SPAN_MS });
    const html = backtestReportHtml(r);
    const f = r.fills[0]!;

    expect(r.fills.length).toBeGreaterThan(0);
    const row = html.split('<tr>').find((x) => x.includes(f.clientOrderId))!;
    const cells = [...row.matchAll(/<td>([^<]*)<\/td>/g)].map((m) => m[1]);
    // ETH/USDT: lot 0.0001 ETH, tick 0.01 USDT.
    expect(cells[2]).toBe((f.lots / 10_000).toFixed(4));
    expect(cells[3]).toBe((f.price / 100).toFixed(2));
    expect(Number(cells[4])).toBeCloseTo((f.lots / 10_000) * (f.price / 100), 6);
    expect(cells[5]).toBe(`${Number(f.fee) / 1e9} ${f.feeAsset}`);
    expect(html).toContain('<th>quantity (ETH)</th><th>price (USDT)</th>');
  }, 60_000);
});
