// Which files `book-replay` replays, and in what order. Regression tests of the CLI review (findings 7, 8 and 9).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { register } from '../../../../engine/commands/book-replay.ts';
import { replayBook } from '../../../../engine/venues/replay/book-replay.ts';
import { readRecordingLinesSync } from '../../../../engine/venues/replay/recording.ts';

const rec = (sym: string) => [`data/recordings/spot_${sym}usdt_20240808.jsonl.gz`, `data/recordings/spot_${sym}usdt_20240809.jsonl.gz`];
const dir = mkdtempSync(join(tmpdir(), 'book-replay-files-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('replayBook files', () => {
  // Finding 9: `book-replay 0809 0808` applied nothing and ended syncing, exit 0.
  it('chains the files by the time of their first line, whatever order they are given in', async () => {
    const r = await replayBook([rec('btc')[1]!, rec('btc')[0]!]);
    expect([r.state, r.applied, r.gaps, r.files]).toEqual(['live', 6493, 0, rec('btc')]);
  }, 60_000);

  // Finding 8: `--symbol ETHUSDT` over the BTC file decoded the BTC snapshot on ETH's grid, exit 0.
  it('fails when the symbol is not in the recording, naming the symbols found', async () => {
    await expect(replayBook([rec('btc')[0]!], { symbol: 'ETHUSDT' })).rejects.toThrow('symbol ETHUSDT not in recording (found BTCUSDT)');
  });

  it('replays only the files of the symbol asked for, and asks for one when the files hold several', async () => {
    const both = [rec('btc')[0]!, rec('eth')[0]!];
    await expect(replayBook(both)).rejects.toThrow('the files hold several symbols (BTCUSDT, ETHUSDT): choose one with --symbol');
    const r = await replayBook(both, { symbol: 'ETH/USDT' });
    expect([r.symbol, r.files, r.state, r.gaps, r.crossed]).toEqual(['ETH/USDT', [rec('eth')[0]!], 'live', 0, 0]);
  }, 60_000);
});

describe('cobalt book-replay output', () => {
  const out: string[] = [];
  afterEach(() => {
    vi.restoreAllMocks();
    process.exitCode = undefined;
    out.length = 0;
  });

  // Finding 7: the text output left badLines out (only --json had it).
  it('prints the bad lines skipped in its text output', async () => {
    const file = join(dir, 'bad.jsonl');
    const lines = readRecordingLinesSync([rec('eth')[0]!]).slice(0, 3000);
    writeFileSync(file, `${lines.map((l) => `${l.tsLocalNs} ${l.text}`).join('\n')}\ngarbage-without-timestamp\n`);
    vi.spyOn(process.stdout, 'write').mockImplementation((s) => out.push(String(s)) > 0);
    const program = new Command();
    register(program);
    await program.parseAsync(['node', 'cobalt', 'book-replay', file]);
    expect(out.join('').split('\n')[0]).toBe('ETH/USDT: 3000 lines from 1 file(s) (1 bad lines skipped), spot rules, final state live');
  });
});
