import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadModels } from '../../app/models.ts';
import { BDI_LENGTH } from '../../engine/market/base-data-input.ts';
import { fileSha256 } from '../../models/train/dqn-state.ts';
import { loadConfig } from '../../engine/config/index.ts';
import { createLogger } from '../../engine/log.ts';
import { SimulatedClock } from '../../engine/runtime/clock.ts';
import { BUNDLED_CNN_DIR, BUNDLED_DQN_DIR } from '../../models/bundled/index.ts';

const logger = createLogger({ level: 'silent' });

/** Writes a checkpoint directory the way CheckpointStore lays it out, from the bundled CNN with `meta` changes. */
function checkpoint(root: string, model: string, version: string, meta: Record<string, unknown>, files: Record<string, string> = {}): void {
  const dir = join(root, model, version);
  mkdirSync(dir, { recursive: true });
  if (model === 'cnn') cpSync(BUNDLED_CNN_DIR, dir, { recursive: true });
  if (model === 'dqn' && files['meta.json'] === undefined) cpSync(BUNDLED_DQN_DIR, dir, { recursive: true });
  for (const [f, text] of Object.entries(files)) writeFileSync(join(dir, f), text);
  const bundled = { cnn: BUNDLED_CNN_DIR, dqn: BUNDLED_DQN_DIR }[model] ?? BUNDLED_CNN_DIR;
  const base = model === 'cnn' || files['meta.json'] === undefined ? JSON.parse(readFileSync(join(bundled, 'checkpoint.json'), 'utf8')) as Record<string, unknown> : {
    model, metric: { name: 'heldOutPnl', value: 0, higherIsBetter: true }, dataSpan: { fromMs: 0, toMs: 1 }, configHash: 'x', backend: 'js-mlp', createdAt: 0,
  };
  writeFileSync(join(dir, 'checkpoint.json'), JSON.stringify({ ...base, model, version, ...meta }));
}

describe('loadModels', () => {
  let root: string | undefined;
  let pool: { close(): Promise<void> } | undefined;
  afterEach(async () => {
    await pool?.close();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('passes over a CNN trained on kline features and a DQN trained on trading-env features, and runs the bundled CNN and DQN', async () => {
    root = mkdtempSync(join(tmpdir(), 'cobalt-models-'));
    checkpoint(root, 'cnn', 'v000001', { input: { kind: 'klines-v1', seqLen: 60, features: 10, tailLen: 0, size: 600 } });
    checkpoint(root, 'dqn', 'v000001', {}, { 'meta.json': '{}' });
    const { config } = loadConfig('configs/default.yaml', {});
    const models = await loadModels({ ...config, models: { ...config.models, checkpointDir: root } }, new SimulatedClock(0), logger);
    pool = models.pool;
    expect(models.loaded).toEqual(['momentum@rule-15m-10bps', expect.stringMatching(/^cnn@bundled-v\d+$/), expect.stringMatching(/^dqn@bundled-v\d+$/)]);
    expect(models.skipped).toEqual([
      expect.stringMatching(/^cnn@v000001: .*klines-v1.*passed over$/),
      expect.stringMatching(/^dqn@v000001: trained on trading-env features, the engine's RL agent feeds bdi-rl-v1/),
    ]);
    expect(models.registry.names().sort()).toEqual(['cnn', 'dqn', 'momentum']);
    expect(models.registry.active('dqn')!.dependsOn).toEqual(['cnn']); // the DQN reads the CNN's same-tick outputs
  });

  it('prefers a configured DQN checkpoint trained on the engine RL state beside the running CNN over the bundled one', async () => {
    root = mkdtempSync(join(tmpdir(), 'cobalt-models-'));
    checkpoint(root, 'dqn', 'v000004', {});
    const { config } = loadConfig('configs/default.yaml', {});
    const models = await loadModels({ ...config, models: { ...config.models, checkpointDir: root } }, new SimulatedClock(0), logger);
    pool = models.pool;
    expect(models.loaded).toContain('dqn@v000004');
    expect(models.skipped).toEqual([]);
  });

  it('passes over the bundled DQN when the CNN its state was built with does not run', async () => {
    root = mkdtempSync(join(tmpdir(), 'cobalt-models-'));
    const { config } = loadConfig('configs/default.yaml', {});
    const models = await loadModels({ ...config, models: { ...config.models, checkpointDir: root, cnn: { enabled: false } } }, new SimulatedClock(0), logger);
    pool = models.pool;
    expect(models.loaded).toEqual(['momentum@rule-15m-10bps']);
    expect(models.skipped).toEqual([
      'cnn: disabled by models.cnn.enabled',
      expect.stringMatching(/^dqn@bundled-v\d+: trained with CNN bundled-v000001 in its state, and no CNN runs; not in the blend$/),
      expect.stringMatching(/^dqn: no usable checkpoint under .* nor bundled; not in the blend$/),
    ]);
  });

  // Review finding 1: checkpoints were ranked by their test-span figure; now by a validation figure, never compared with those.
  it('loads the best checkpoint by the validation figure, never comparing it with checkpoints ranked by their test figure', async () => {
    root = mkdtempSync(join(tmpdir(), 'cobalt-models-'));
    checkpoint(root, 'cnn', 'v000001', { metric: { name: 'oosLogLoss', value: 0.1, higherIsBetter: false } });
    checkpoint(root, 'cnn', 'v000002', { metric: { name: 'valLogLoss', value: 0.9, higherIsBetter: false } });
    checkpoint(root, 'cnn', 'v000003', { metric: { name: 'valLogLoss', value: 0.95, higherIsBetter: false } });
    checkpoint(root, 'dqn', 'v000001', { metric: { name: 'heldOutPnl', value: 0.5, higherIsBetter: true } });
    checkpoint(root, 'dqn', 'v000002', { metric: { name: 'valPnl', value: -0.2, higherIsBetter: true } });
    checkpoint(root, 'dqn', 'v000003', { metric: { name: 'valPnl', value: -0.3, higherIsBetter: true } });
    const { config } = loadConfig('configs/default.yaml', {});
    const models = await loadModels({ ...config, models: { ...config.models, checkpointDir: root } }, new SimulatedClock(0), logger);
    pool = models.pool;
    expect(models.loaded).toEqual(['momentum@rule-15m-10bps', 'cnn@v000002', 'dqn@v000002']);
  });

  it('loads the newest of checkpoints that are all ranked by their test figure, not the best test figure', async () => {
    root = mkdtempSync(join(tmpdir(), 'cobalt-models-'));
    checkpoint(root, 'cnn', 'v000001', { metric: { name: 'oosLogLoss', value: 0.1, higherIsBetter: false } });
    checkpoint(root, 'cnn', 'v000002', { metric: { name: 'oosLogLoss', value: 0.9, higherIsBetter: false } });
    checkpoint(root, 'dqn', 'v000001', { metric: { name: 'heldOutPnl', value: 0.5, higherIsBetter: true } });
    checkpoint(root, 'dqn', 'v000002', { metric: { name: 'heldOutPnl', value: -0.2, higherIsBetter: true } });
    const { config } = loadConfig('configs/default.yaml', {});
    const models = await loadModels({ ...config, models: { ...config.models, checkpointDir: root } }, new SimulatedClock(0), logger);
    pool = models.pool;
    expect(models.loaded).toEqual(['momentum@rule-15m-10bps', 'cnn@v000002', 'dqn@v000002']);
  });

  // Review finding 4 (RL side): `input.cnn: null` was read as bound to the running CNN, turning online learning off.
  it('counts a DQN trained with --cnn none (input.cnn null) as bound to no CNN, and runs it without a CNN output', async () => {
    root = mkdtempSync(join(tmpdir(), 'cobalt-models-'));
    const input = { kind: 'bdi-rl-v1', size: 85, window: 30, zeroed: ['cobStats', 'cnnSlot', 'dqnSlot', 'cnnHidden'], closesScale: 100, cnn: null, everyMinutes: 5 };
    checkpoint(root, 'dqn', 'v000003', { input });
    const { config } = loadConfig('configs/default.yaml', {});
    const models = await loadModels({ ...config, models: { ...config.models, checkpointDir: root } }, new SimulatedClock(0), logger);
    pool = models.pool;
    const dqn = models.registry.active('dqn')!;
    const out = await dqn.run(new Float32Array(BDI_LENGTH), { model: 'dqn', version: dqn.version, symbol: 'ETH/USDT', ts: 0, deps: new Map() });
    expect(models.loaded).toContain('dqn@v000003');
    expect(models.cnnBound).toEqual([]);
    expect(out.action).toMatch(/^(BUY|SELL|HOLD)$/);
  });

  // Review: a checkpoint did not record the symbol it was trained on (45745c5), so the bundled ETH/USDT CNN and DQN
  // joined the blend of a SOL/USDT run. Now `input.symbol` (and `input.reference`, when recorded) must be the run's.
  const bundledInput = (dir: string): Record<string, unknown> => (JSON.parse(readFileSync(join(dir, 'checkpoint.json'), 'utf8')) as { input: Record<string, unknown> }).input;
  const trading = (r: string, primary: string, reference = 'BTC/USDT') => {
    const { config } = loadConfig('configs/default.yaml', {});
    return { ...config, symbols: { ...config.symbols, primary, reference }, models: { ...config.models, checkpointDir: r } };
  };

  it('passes over CNN and DQN checkpoints trained on ETH/USDT, the bundled ones included, in a SOL/USDT run', async () => {
    root = mkdtempSync(join(tmpdir(), 'cobalt-models-'));
    checkpoint(root, 'cnn', 'v000002', {});
    checkpoint(root, 'dqn', 'v000002', {});
    const models = await loadModels(trading(root, 'SOL/USDT'), new SimulatedClock(0), logger);
    pool = models.pool;
    expect(models.loaded).toEqual(['momentum@rule-15m-10bps']);
    expect(models.skipped).toEqual([
      'cnn@v000002: trained on ETH/USDT, this run trades SOL/USDT (symbols.primary); passed over',
      'cnn@bundled-v000001: trained on ETH/USDT, this run trades SOL/USDT (symbols.primary); passed over',
      expect.stringMatching(/^cnn: no usable checkpoint under .* nor bundled; not in the blend$/),
      'dqn@v000002: trained on ETH/USDT, this run trades SOL/USDT (symbols.primary); not in the blend',
      'dqn@bundled-v000001: trained on ETH/USDT, this run trades SOL/USDT (symbols.primary); not in the blend',
      expect.stringMatching(/^dqn: no usable checkpoint under .* nor bundled; not in the blend$/),
    ]);
  });

  it('uses the same ETH/USDT checkpoints in an ETH/USDT run', async () => {
    root = mkdtempSync(join(tmpdir(), 'cobalt-models-'));
    checkpoint(root, 'cnn', 'v000002', {});
    checkpoint(root, 'dqn', 'v000002', {});
    const models = await loadModels(trading(root, 'ETH/USDT'), new SimulatedClock(0), logger);
    pool = models.pool;
    expect(models.loaded).toEqual(['momentum@rule-15m-10bps', 'cnn@v000002', 'dqn@v000002']);
    expect(models.skipped).toEqual([]);
  });

  it('loads checkpoints trained on the traded symbol, and falls back to the bundled ones when they were trained on another', async () => {
    root = mkdtempSync(join(tmpdir(), 'cobalt-models-'));
    checkpoint(root, 'cnn', 'v000003', { input: { ...bundledInput(BUNDLED_CNN_DIR), symbol: 'SOL/USDT' } });
    checkpoint(root, 'dqn', 'v000003', { input: { ...bundledInput(BUNDLED_DQN_DIR), symbol: 'SOL/USDT' } });
    const sol = await loadModels(trading(root, 'SOL/USDT'), new SimulatedClock(0), logger);
    await sol.pool?.close();
    const eth = await loadModels(trading(root, 'ETH/USDT'), new SimulatedClock(0), logger);
    pool = eth.pool;
    expect(sol.loaded).toEqual(['momentum@rule-15m-10bps', 'cnn@v000003', 'dqn@v000003']);
    expect(eth.loaded).toEqual(['momentum@rule-15m-10bps', 'cnn@bundled-v000001', 'dqn@bundled-v000001']);
    expect(eth.skipped).toEqual([
      'cnn@v000003: trained on SOL/USDT, this run trades ETH/USDT (symbols.primary); passed over',
      'dqn@v000003: trained on SOL/USDT, this run trades ETH/USDT (symbols.primary); not in the blend',
    ]);
  });

  it('passes over a checkpoint whose recorded reference symbol is not the run\'s', async () => {
    root = mkdtempSync(join(tmpdir(), 'cobalt-models-'));
    checkpoint(root, 'cnn', 'v000005', { input: { ...bundledInput(BUNDLED_CNN_DIR), reference: 'SOL/USDT' } });
    const config = trading(root, 'ETH/USDT');
    const models = await loadModels({ ...config, models: { ...config.models, dqn: { enabled: false } } }, new SimulatedClock(0), logger);
    pool = models.pool;
    expect(models.loaded).toEqual(['momentum@rule-15m-10bps', 'cnn@bundled-v000001']);
    expect(models.skipped).toEqual([
      'cnn@v000005: trained with SOL/USDT as reference symbol, this run\'s reference is BTC/USDT (symbols.reference); passed over',
      'dqn: disabled by models.dqn.enabled',
    ]);
  });

  it('still loads checkpoints written before the symbol was recorded, whatever the run trades', async () => {
    root = mkdtempSync(join(tmpdir(), 'cobalt-models-'));
    const { symbol: _cnn, ...cnnInput } = bundledInput(BUNDLED_CNN_DIR);
    const { symbol: _dqn, ...dqnInput } = bundledInput(BUNDLED_DQN_DIR);
    checkpoint(root, 'cnn', 'v000004', { input: cnnInput });
    checkpoint(root, 'dqn', 'v000004', { input: dqnInput });
    const models = await loadModels(trading(root, 'SOL/USDT'), new SimulatedClock(0), logger);
    pool = models.pool;
    expect(models.loaded).toEqual(['momentum@rule-15m-10bps', 'cnn@v000004', 'dqn@v000004']);
    expect(models.skipped).toEqual([]);
  });

  it('prefers a configured CNN checkpoint that takes the engine input over the bundled one', async () => {
    root = mkdtempSync(join(tmpdir(), 'cobalt-models-'));
    checkpoint(root, 'cnn', 'v000007', {});
    const { config } = loadConfig('configs/default.yaml', {});
    const models = await loadModels({ ...config, models: { ...config.models, checkpointDir: root, dqn: { enabled: false } } }, new SimulatedClock(0), logger);
    pool = models.pool;
    expect(models.loaded).toContain('cnn@v000007');
  });

  // Review findings (online learning 3 and 4). A promoted CNN in `<checkpointDir>/online/cnn/` with its online.json.
  const promoted = (root: string, version: string, provenance: Record<string, unknown>, at: number): void =>
    checkpoint(join(root, 'online'), 'cnn', version, { metric: { name: 'promotedAt', value: at, higherIsBetter: true } }, { 'online.json': JSON.stringify({ promotedAt: at, ...provenance }) });
  const BASE_SHA = fileSha256(join(BUNDLED_CNN_DIR, 'cnn.onnx'));
  const noDqn = (r: string) => {
    const { config } = loadConfig('configs/default.yaml', {});
    return { ...config, models: { ...config.models, checkpointDir: r, dqn: { enabled: false } } };
  };

  // Finding 3: CheckpointStore reuses version numbers, so a deleted v000002 retrained is a new v000002.
  it('passes over a promoted CNN whose base had the same version but another ONNX file', async () => {
    root = mkdtempSync(join(tmpdir(), 'cobalt-models-'));
    checkpoint(root, 'cnn', 'v000002', {});
    promoted(root, 'v000001', { base: 'v000002', baseSha256: 'f'.repeat(64), parent: 'v000002' }, 1);
    const models = await loadModels(noDqn(root), new SimulatedClock(0), logger);
    pool = models.pool;
    expect(models.loaded).toContain('cnn@v000002');
    expect(models.cnn).toMatchObject({ version: 'v000002', base: 'v000002', baseSha256: BASE_SHA });
  });

  it('loads a promoted CNN whose base matches by version and ONNX sha-256, with its parent registered to roll back to', async () => {
    root = mkdtempSync(join(tmpdir(), 'cobalt-models-'));
    checkpoint(root, 'cnn', 'v000002', {});
    promoted(root, 'v000001', { base: 'v000002', baseSha256: BASE_SHA, parent: 'v000002' }, 1);
    const models = await loadModels(noDqn(root), new SimulatedClock(0), logger);
    pool = models.pool;
    expect(models.cnn).toMatchObject({ version: 'online-v000001', base: 'v000002', parent: { version: 'v000002', dir: join(root, 'cnn', 'v000002') } });
    // Finding 4: the dashboard's rollback has somewhere to go after a restart, and the version it goes to runs.
    expect(models.registry.list().find((m) => m.name === 'cnn')).toMatchObject({ active: 'online-v000001', rollbackTo: ['v000002'] });
    expect(models.registry.rollback('cnn', 1)).toMatchObject({ version: 'v000002', rolledBackFrom: 'online-v000001' });
    const out = await models.registry.active('cnn')!.run(new Float32Array(BDI_LENGTH), { model: 'cnn', version: 'v000002', symbol: 'ETH/USDT', ts: 1, deps: new Map() });
    expect(out.probabilities.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
  });

  it('matches a promoted CNN whose online.json records no base sha-256 by version, and says so in the log', async () => {
    root = mkdtempSync(join(tmpdir(), 'cobalt-models-'));
    checkpoint(root, 'cnn', 'v000002', {});
    promoted(root, 'v000001', { base: 'v000002', parent: 'v000002' }, 1);
    const codes: string[] = [];
    const capture = createLogger({ level: 'warn', destination: { write: (line: string) => void codes.push((JSON.parse(line) as { code?: string }).code ?? '') } });
    const models = await loadModels(noDqn(root), new SimulatedClock(0), capture);
    pool = models.pool;
    expect(models.cnn!.version).toBe('online-v000001');
    expect(codes).toContain('ONLINE_BASE_UNVERIFIED');
  });

  // Online learning copies the live checkpoint's `input` into what it promotes (models/online/pipeline.ts), symbol included.
  it('loads a promoted CNN that carries its base\'s symbol in a run on that symbol', async () => {
    root = mkdtempSync(join(tmpdir(), 'cobalt-models-'));
    const input = { ...bundledInput(BUNDLED_CNN_DIR), symbol: 'SOL/USDT' };
    checkpoint(root, 'cnn', 'v000002', { input });
    checkpoint(join(root, 'online'), 'cnn', 'v000001', { input, metric: { name: 'promotedAt', value: 1, higherIsBetter: true } },
      { 'online.json': JSON.stringify({ promotedAt: 1, base: 'v000002', baseSha256: BASE_SHA, parent: 'v000002' }) });
    const config = trading(root, 'SOL/USDT');
    const models = await loadModels({ ...config, models: { ...config.models, dqn: { enabled: false } } }, new SimulatedClock(0), logger);
    pool = models.pool;
    expect(models.cnn).toMatchObject({ version: 'online-v000001', base: 'v000002', parent: { version: 'v000002' } });
  });

  it('registers the promoted parent a promoted CNN names, or the base when that parent was rolled back', async () => {
    root = mkdtempSync(join(tmpdir(), 'cobalt-models-'));
    checkpoint(root, 'cnn', 'v000002', {});
    promoted(root, 'v000001', { base: 'v000002', baseSha256: BASE_SHA, parent: 'v000002' }, 1);
    promoted(root, 'v000002', { base: 'v000002', baseSha256: BASE_SHA, parent: 'online-v000001' }, 2);
    const chained = await loadModels(noDqn(root), new SimulatedClock(0), logger);
    await chained.pool?.close();
    expect(chained.registry.list().find((m) => m.name === 'cnn')).toMatchObject({ active: 'online-v000002', rollbackTo: ['online-v000001'] });
    writeFileSync(join(root, 'online', 'cnn', 'v000001', 'retired.json'), '{}');
    const models = await loadModels(noDqn(root), new SimulatedClock(0), logger);
    pool = models.pool;
    expect(models.registry.list().find((m) => m.name === 'cnn')).toMatchObject({ active: 'online-v000002', rollbackTo: ['v000002'] });
  });
});
