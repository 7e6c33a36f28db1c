// `cobalt exchange-sim --speed` had no bounds while a run's data.speed is held to 0.01..1000; a
// simulator at --speed 100000 outran every client (and one at 0.0001 seemed to stand still). It now refuses what
// the run config refuses, in one line like its other flags.
import { Command } from 'commander';
import { afterEach, describe, expect, it } from 'vitest';
import { parseSpeed, register } from '../../../engine/commands/exchange-sim.ts';
import { captureOutput } from '../../capture-output.ts';

describe('cobalt exchange-sim --speed', () => {
  afterEach(() => {
    process.exitCode = undefined;
  });

  it.each(['1000.5', '5000', '100000', '0.001', '0.009'])("refuses '%s' in one line", async (speed) => {
    const { err } = await captureOutput(async () => {
      const program = new Command();
      register(program);
      await program.parseAsync(['node', 'cobalt', 'exchange-sim', '--data', 'absent.jsonl', '--port', '0', '--speed', speed]);
    });

    expect([err, process.exitCode]).toEqual([`--speed must be 0 (as fast as possible) or 0.01..1000, not '${speed}'\n`, 1]);
  });

  it.each([['1000', 1000], ['0.01', 0.01], ['1', 1], ['0', 'max'], ['max', 'max'], ['manual', 'manual']])("takes '%s'", (speed, want) => {
    expect(parseSpeed(speed)).toBe(want);
  });
});
