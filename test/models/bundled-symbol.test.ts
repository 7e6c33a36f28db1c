// Review: a checkpoint did not record the symbol it was trained on (45745c5); the bundled ones now say ETH/USDT in
// checkpoint.json, where app/models.ts reads it, as their train-report.json says, with their weights untouched.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BUNDLED_CNN_DIR, BUNDLED_DQN_DIR, bundledCnnCheckpoint, bundledDqnCheckpoint } from '../../models/bundled/index.ts';
import { fileSha256 } from '../../models/train/dqn-state.ts';

const report = (dir: string) => JSON.parse(readFileSync(path.join(dir, 'train-report.json'), 'utf8')) as {
  features?: { symbol?: string }; dataSpan: { series: string | string[] }; state?: { cnn: { onnxSha256: string } };
};

describe('the bundled checkpoints', () => {
  it('record in checkpoint.json the symbol their train-report.json names: ETH/USDT', () => {
    const cnn = bundledCnnCheckpoint()!;
    const dqn = bundledDqnCheckpoint()!;
    expect(cnn.meta.input?.symbol).toBe('ETH/USDT');
    expect(dqn.meta.input?.symbol).toBe('ETH/USDT');
    expect(report(BUNDLED_CNN_DIR).features?.symbol).toBe('ETH/USDT');
    expect(String(report(BUNDLED_DQN_DIR).dataSpan.series).split(' ')[0]).toBe('ETH/USDT');
    // Neither input reads the reference series, so neither records a reference symbol.
    expect([cnn.meta.input?.reference, dqn.meta.input?.reference]).toEqual([undefined, undefined]);
  });

  it('still pair the DQN with the bundled CNN ONNX it was trained beside', () => {
    const sha = fileSha256(path.join(BUNDLED_CNN_DIR, 'cnn.onnx'));
    const recorded = (bundledDqnCheckpoint()!.meta.input as unknown as { cnn: { onnxSha256: string } }).cnn.onnxSha256;
    expect(recorded).toBe(sha);
    expect(report(BUNDLED_DQN_DIR).state?.cnn.onnxSha256).toBe(sha);
  });
});
