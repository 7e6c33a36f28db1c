// ReceiveLag: the least receive lag over the current and the previous 10 s window; a skipped window breaks it.
import { expect, it } from 'vitest';
import { ReceiveLag } from '../../../engine/market/receive-lag.ts';

it('keeps the least lag of this window and the one before, forgets older ones, and restarts after a skipped window', () => {
  const l = new ReceiveLag(10_000);
  expect([l.least(), l.settled]).toEqual([0, false]);
  l.note(300, 1_000);
  l.note(120, 5_000);
  const first = [l.least(), l.settled];
  l.note(400, 12_000); // the next window: the previous one's 120 still counts
  const second = [l.least(), l.settled];
  l.note(450, 21_000); // two windows on: 120 is gone, 400 is the previous window's
  const third = l.least();
  l.note(900, 45_000); // a skipped window: only this window's lag
  const afterGap = [l.least(), l.settled];
  l.note(-50, 46_000); // the exchange's clock ahead of ours: no lead
  expect([first, second, third, afterGap, l.least()]).toEqual([[120, false], [120, true], 400, [900, false], 0]);
});
