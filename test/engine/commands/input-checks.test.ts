// `cobalt input` refuses a kline directory that does not exist and says what the recording held that was skipped.
// Regression tests of the CLI review (the `--klines /nonexistent` finding and finding 7).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { captureOutput } from '../../capture-output.ts';
import { inputFromRecordings, register } from '../../../engine/commands/input.ts';
import { configSchema } from '../../../engine/config/schema.ts';
import { readRecordingLinesSync } from '../../../engine/venues/replay/recording.ts';

const ETH8 = 'data/recordings/spot_ethusdt_20240808.jsonl.gz';
const dir = mkdtempSync(join(tmpdir(), 'input-checks-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('cobalt input', () => {
  afterEach(() => {
    process.exitCode = undefined;
  });
  const run = (args: string[]) => captureOutput(async () => {
    const program = new Command();
    register(program);
    await program.parseAsync(['node', 'cobalt', 'input', ...args]);
  });

  it('refuses a kline directory that does not exist, naming it', async () => {
    const missing = join(dir, 'no-such-klines');
    await expect(inputFromRecordings([ETH8], configSchema.parse({ data: { klinesDirs: [missing] } }))).rejects.toThrow(`kline directory ${missing} cannot be read`);
    const { out, err } = await run(['--replay', ETH8, '--klines', missing]);
    expect(process.exitCode).toBe(1);
    expect(err).toContain(`input: kline directory ${missing} cannot be read`);
    expect(out).toBe('');
  });

  it('prints the bad lines skipped in its text output', async () => {
    const file = join(dir, 'bad.jsonl');
    const lines = readRecordingLinesSync([ETH8]).slice(0, 3000);
    writeFileSync(file, `${lines.map((l) => `${l.tsLocalNs} ${l.text}`).join('\n')}\ngarbage-without-timestamp\n`);
    const { out } = await run(['--replay', file, '--klines', 'data/klines']);
    expect(out).toContain('  recording: 3000 lines, 1 bad lines skipped, 0 malformed, 0 trade-id gaps\n');
  }, 30_000);
});
