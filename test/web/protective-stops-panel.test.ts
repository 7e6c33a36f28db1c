// The page's protective-stops panel (web/src/panels.ts protectiveStopsHtml), rendered from the risk topic's
// `protectiveStops` as the view model builds it: one line when they are off or cannot be read; otherwise a row per
// symbol with whether a stop rests at the venue, its stop and limit prices and size, and what holds one back.
import { describe, expect, it } from 'vitest';
import type { ProtectiveStopRow } from '../../engine/dashboard/metrics.ts';
import type { ProtectiveStopsView } from '../../engine/dashboard/view-model.ts';
import { protectiveStopsHtml } from '../../web/src/panels.ts';

const at = Date.UTC(2024, 7, 8, 12, 5, 0);
const stop = { clientOrderId: 'pstop-abc', status: 'accepted', stopPrice: '60291.68', price: '59688.76', qty: '0.10000', filledQty: '0.00000' };
const counts = { placed: 3, cancelled: 2, skippedDust: 0, resting: 1 };
const on = (...symbols: ProtectiveStopRow[]): ProtectiveStopsView => ({ enabled: true, figures: { ...counts, symbols } });

// The panel's table as cells of text, one array per body row.
function cells(html: string): string[][] {
  const body = /<tbody>(.*)<\/tbody>/.exec(html)?.[1] ?? '';
  return [...body.matchAll(/<tr>(.*?)<\/tr>/g)].map((m) => [...m[1]!.matchAll(/<td[^>]*>(.*?)<\/td>/g)].map((c) => c[1]!.replace(/<[^>]+>/g, '')));
}

describe('protective-stops panel', () => {
  it.each([
    ['off', { enabled: false } as const, 'protective stops off (execution.protectiveStop.enabled is false): none rests at the venue'],
    ['no executor', { enabled: true, figures: null } as const, 'no executor running: no protective stops to show'],
    ['unreadable', { enabled: true, figures: null, error: 'executor restarting' } as const, 'protective stops unreadable: executor restarting'],
    ['an older engine', undefined, 'no protective-stop figures from the engine yet'],
  ])('says so in one line when %s', (_what, view, line) => {
    expect(protectiveStopsHtml(view)).toEqual({ meta: '', html: `<div class="muted">${line}</div>` });
  });

  it('shows a resting stop\'s prices and size, and the counters in the head', () => {
    const out = protectiveStopsHtml(on({ symbol: 'BTC/USDT', positionQty: '0.10000', state: 'resting', stop }));

    expect(cells(out.html)).toEqual([['BTC/USDT', '0.10000', 'resting', '60291.68', '59688.76', '0.10000', '']]);
    expect(out.html).toContain('<span class="pill ok">resting</span>');
    expect(out.meta).toBe('resting 1 · placed 3 · cancelled 2');
  });

  it('shows a refused stop in red with the venue\'s code and the time of the next try', () => {
    const out = protectiveStopsHtml(on({
      symbol: 'BTC/USDT', positionQty: '0.10000', state: 'refused', refusal: { code: 'VENUE_REJECTED', through: false, retryAt: at },
    }));

    expect(cells(out.html)).toEqual([['BTC/USDT', '0.10000', 'refused', '—', '—', '—', 'refused by the venue (VENUE_REJECTED): tried again at 12:05:00']]);
    expect(out.html).toContain('<span class="pill bad">refused</span>');
  });

  it('shows a stop through the price as retried every 5 min', () => {
    const out = protectiveStopsHtml(on({
      symbol: 'BTC/USDT', positionQty: '0.10000', state: 'through', refusal: { code: 'INVALID_ORDER', through: true, retryAt: at },
    }));

    expect(cells(out.html)[0]!.slice(2)).toEqual(['through', '—', '—', '—', 'the price is through the stop (INVALID_ORDER): tried again every 5 min, next 12:05:00']);
  });

  it('names a stale stop and a cancelled stop whose trades are unread, with what it may have sold', () => {
    const out = protectiveStopsHtml(on(
      { symbol: 'BTC/USDT', positionQty: '0.20000', state: 'stale', stale: [stop] },
      { symbol: 'ETH/USDT', positionQty: '1.0000', state: 'unresolved', unresolved: { clientOrderIds: ['pstop-def'], qty: '1.0000' } },
    ));

    expect(cells(out.html)).toEqual([
      ['BTC/USDT', '0.20000', 'stale', '—', '—', '—', 'stale: pstop-abc (stop 60291.68, 0.10000) no longer fits and could not be cancelled; tried again'],
      ['ETH/USDT', '1.0000', 'unresolved', '—', '—', '—', 'trades unread: pstop-def may have sold up to 1.0000; no stop until they are read'],
    ]);
  });

  it('says flat when no symbol has a position, and escapes what the venue said', () => {
    const flat = protectiveStopsHtml(on());
    const odd = protectiveStopsHtml(on({ symbol: 'BTC/USDT', positionQty: '0.10000', state: 'refused', refusal: { code: '<b>', through: false, retryAt: at } }));

    expect(cells(flat.html)).toEqual([['flat: no position to protect']]);
    expect(odd.html).not.toContain('<b>');
    expect(odd.html).toContain('&lt;b&gt;');
  });

  it('shows a stop not yet reconciled with the venue in amber as unverified, never as resting or being placed', () => {
    const last = protectiveStopsHtml(on({ symbol: 'BTC/USDT', positionQty: '0.10000', state: 'unverified', stop }));
    const none = protectiveStopsHtml(on({ symbol: 'BTC/USDT', positionQty: '0.10000', state: 'unverified' }));

    expect(cells(last.html)).toEqual([[
      'BTC/USDT', '0.10000', 'unverified', '60291.68', '59688.76', '0.10000',
      'last known before reconciliation with the venue: it may have been cancelled or filled since',
    ]]);
    expect(last.html).toContain('<span class="pill mid">unverified</span>');
    expect(cells(none.html)[0]![6]).toBe('none known before reconciliation with the venue: none is placed until it succeeds');
    expect(none.html).not.toContain('being placed');
  });

  it('shows a state it does not know as its name in red instead of throwing (which would freeze every panel)', () => {
    const out = protectiveStopsHtml(on({ symbol: 'BTC/USDT', positionQty: '0.10000', state: '<paused>' as ProtectiveStopRow['state'] }));

    expect(out.html).toContain('<span class="pill bad">&lt;paused&gt;</span>');
  });

  it('shows a stop whose cancel failed and whose fills are unread in amber: it still rests', () => {
    const out = protectiveStopsHtml(on({
      symbol: 'BTC/USDT', positionQty: '0.10000', state: 'resting', stop, unresolved: { clientOrderIds: ['pstop-abc'], qty: '0.10000' },
    }));

    expect(cells(out.html)[0]!.slice(2)).toEqual([
      'resting', '60291.68', '59688.76', '0.10000', 'cancel failed: the stop still rests; its fills are unread (pstop-abc may have sold up to 0.10000)',
    ]);
    expect(out.html).toContain('<span class="pill mid">resting</span>');
  });

  it('counts stops sent without an answer as open in the head, apart from those resting', () => {
    const out = protectiveStopsHtml({ enabled: true, figures: { ...counts, resting: 0, open: 1, symbols: [] } });

    expect(out.meta).toBe('resting 0 · open 1 · placed 3 · cancelled 2');
  });

  it('shows what the venue said when it refused a stop, escaped', () => {
    const out = protectiveStopsHtml(on({
      symbol: 'BTC/USDT', positionQty: '0.10000', state: 'refused',
      refusal: { code: 'VENUE_REJECTED', through: false, retryAt: at, message: 'Account has <insufficient> balance.' },
    }));

    expect(cells(out.html)[0]![6]).toBe(
      'refused by the venue (VENUE_REJECTED): tried again at 12:05:00 · the venue said: Account has &lt;insufficient&gt; balance.',
    );
    expect(out.html).not.toContain('<insufficient>');
  });
});
