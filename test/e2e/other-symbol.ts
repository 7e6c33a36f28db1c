// A recording of a symbol that is not bundled, for the tests of config `instruments`: the bundled ETH/USDT lines
// (data/recordings) up to a cut-off, rewritten to SOL/USDT (`ethusdt` → `solusdt` in stream names, `ETHUSDT` →
// `SOLUSDT` in payloads) and gzipped into a scratch directory, with the BTC/USDT lines of the same span as the reference
// symbol, and a kline folder with the ETH history copied under SOL names beside BTC's (the model input needs 1m/1h/1d
// history of the traded symbol; without it every inference is refused as incomplete and nothing is decided).
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';

/**
 * SOL/USDT increments of the tests: finer than ETH/USDT's bundled ones (0.01, 0.0001), so every rewritten ETH price
 * and quantity lies on them, and a run that used the bundled ETH grid instead would count ticks and lots 10× off.
 */
export const SOL_INCREMENTS = { tickSize: '0.001', lotSize: '0.00001', minNotional: '5' } as const;
/** 0.00001 SOL in 1e-9 units. */
export const SOL_LOT9 = 10_000n;

/** The files `writeSolRecording` made. */
export interface SolRecording {
  readonly sol: string;
  readonly btc: string;
  /** Kline CSVs of SOL/USDT (ETH's, renamed) and BTC/USDT, for config data.klinesDirs and the simulator's klinesDir. */
  readonly klinesDir: string;
}

// The lines of the bundled recordings of `symbol` (eth, btc) received before `untilNs`, in file order.
function linesUntil(symbol: 'eth' | 'btc', untilNs: bigint): string[] {
  const out: string[] = [];
  for (const day of ['20240808', '20240809']) {
    const text = gunzipSync(readFileSync(`data/recordings/spot_${symbol}usdt_${day}.jsonl.gz`)).toString('utf8');
    for (const line of text.split('\n')) {
      if (line.length > 0 && BigInt(line.slice(0, line.indexOf(' '))) < untilNs) out.push(line);
    }
  }
  return out;
}

/** Writes the SOL/USDT recording (ETH lines received before `untilMs`), the BTC/USDT lines of that span and SOL klines into `dir`. */
export function writeSolRecording(dir: string, untilMs: number): SolRecording {
  const untilNs = BigInt(untilMs) * 1_000_000n;
  const sol = path.join(dir, 'spot_solusdt.jsonl.gz');
  const btc = path.join(dir, 'spot_btcusdt.jsonl.gz');
  const rewritten = linesUntil('eth', untilNs).map((l) => l.replaceAll('ethusdt', 'solusdt').replaceAll('ETHUSDT', 'SOLUSDT'));
  writeFileSync(sol, gzipSync(`${rewritten.join('\n')}\n`));
  writeFileSync(btc, gzipSync(`${linesUntil('btc', untilNs).join('\n')}\n`));
  const klinesDir = path.join(dir, 'klines');
  mkdirSync(klinesDir);
  for (const f of ['mintanam-ftrade_ETH_USDT-1m.csv.gz', 'moudux1-ft_userdata_ETH_USDT-1h.csv.gz', 'rocketalerts_ETHUSDT_1d.csv.gz']) {
    copyFileSync(path.join('data/klines', f), path.join(klinesDir, f.replace('ETH', 'SOL')));
    copyFileSync(path.join('data/klines', f.replace('ETH', 'BTC')), path.join(klinesDir, f.replace('ETH', 'BTC')));
  }
  return { sol, btc, klinesDir };
}
