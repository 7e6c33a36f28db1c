// A backtest of a symbol that is not bundled (SOL/USDT), given only by config `instruments`: before, the schema refused
// it ("no bundled instrument increments") and the system, the data provider, the paper venue and the replay catalog
// all read the bundled table. The recording is the bundled ETH one rewritten to SOL (test/e2e/other-symbol.ts), the
// increments a grid finer than ETH's, so the run decides and trades on the config's grid: the position and cash the
// RiskManager ends with are exactly what the fills imply in 0.00001 SOL lots, through the replay catalog and through
// the recording's text alike.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBacktest, type BacktestResult } from '../../app/backtest.ts';
import { configSchema, type Config } from '../../engine/config/schema.ts';
import { SOL_INCREMENTS, SOL_LOT9, writeSolRecording, type SolRecording } from './other-symbol.ts';

// The bundled ETH run first buys at 00:00:00.3 and sells at 00:01:59.9 (test/e2e/paper.test.ts, seed 3).
const UNTIL_MS = Date.parse('2024-08-09T00:02:30Z');
const USDT9 = 10_000_000_000_000n;

let dir: string;
let rec: SolRecording;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'cobalt-backtest-sol-'));
  rec = writeSolRecording(dir, UNTIL_MS);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function solConfig(): Config {
  return configSchema.parse({
    mode: 'backtest', seed: 42,
    symbols: { primary: 'SOL/USDT', reference: 'BTC/USDT', cobBucketSize: { 'SOL/USDT': '1', 'BTC/USDT': '10' } },
    instruments: { 'SOL/USDT': SOL_INCREMENTS },
    data: { replayFiles: [rec.sol, rec.btc], klinesDirs: [rec.klinesDir], speed: 0, catalogDir: path.join(dir, 'catalog') },
    models: { cnn: { enabled: false }, dqn: { enabled: false }, checkpointDir: path.join(dir, 'checkpoints') },
    orchestrator: { buyThreshold: 0.2, sellThreshold: 0.5, minConfidence: 0 },
    store: { path: path.join(dir, 'store'), archiveDir: path.join(dir, 'archive') },
    dashboard: { enabled: false },
    log: { level: 'silent' },
  });
}

// Cash and SOL held as the fills alone imply them, in the config's lots (0.00001 SOL, 1e-9 units); price ticks of 0.001.
function replayFills(r: BacktestResult): { cash: bigint; base9: bigint; lots: number } {
  let cash = USDT9;
  let base9 = 0n;
  let lots = 0;
  for (const f of r.fills) {
    const quote = (BigInt(f.price) * BigInt(f.lots) * SOL_LOT9) / 1_000n; // ticks × 0.001 × lots × 0.00001, in 1e-9
    const sign = f.side === 'buy' ? 1 : -1;
    cash -= BigInt(sign) * quote;
    base9 += BigInt(sign) * BigInt(f.lots) * SOL_LOT9;
    lots += sign * f.lots;
    if (f.feeAsset === 'USDT') cash -= f.fee;
    else base9 -= f.fee;
    if (sign < 0) lots = Math.min(lots, Number(base9 / SOL_LOT9));
  }
  return { cash, base9, lots };
}

const untimed = (r: BacktestResult): Record<string, unknown> => ({ ...r.summary, durationMs: 0, speedX: 0, replayMs: 0, replaySpeedX: 0 });

describe('a backtest of a symbol given by config instruments', () => {
  it('decides and trades SOL/USDT on the configured grid, the same from the replay catalog and from the text', async () => {
    const config = solConfig();
    const a = await runBacktest(config, { seed: 3 });
    const text = await runBacktest(config, { seed: 3, catalog: false });
    const implied = replayFills(a);

    expect(a.summary.symbol).toBe('SOL/USDT');
    expect(a.summary.engineFailure).toBeNull();
    expect(a.summary.decisions['BUY']).toBeGreaterThan(0);
    expect(a.fills.length).toBeGreaterThanOrEqual(1);
    expect(new Set(a.fills.map((f) => f.symbol))).toEqual(new Set(['SOL/USDT']));
    // 2,682.51 USDT in 0.001 ticks: the price grid is the config's, not ETH's bundled 0.01.
    expect(a.fills[0]!.price).toBeGreaterThan(2_000_000);
    expect(a.finalRisk).toEqual({ lots: implied.lots, base9: implied.base9, cash: implied.cash });
    expect(text.fills).toEqual(a.fills);
    expect(untimed(text)).toEqual(untimed(a));
  }, 120_000);
});
