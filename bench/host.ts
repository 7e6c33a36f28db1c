// Host check: how much slower the engine's own code runs right after the engine was idle, on this machine. A live
// engine idles between market messages, so every tick runs after a pause: where this slowdown is large, the loop
// bench's paced figures are this host's, not the engine's (compare them with its flat-out ones).
// Workloads, each a batch of 8 real recorded ETH trade frames through the Binance decoder:
//   json   decodeJson: JSON.parse and field checks (V8's C++ runtime, branchy code)
//   text   decodeText: the byte-level parser (JIT-compiled JavaScript)
// Before each timed batch, in turn (the modes interleave, so load drifts hit them alike):
//   warm        the same workload ran on other frames just before: no pause (a busy engine, flat out)
//   asleep      the thread slept IDLE_MS (setTimeout), as a live engine does between messages
//   busy        the thread spun IDLE_MS in a register-only loop: the CPU never idled, other code did not run
//   touched     asleep, then every cache line of the batch's frames was read: the data is back in cache
//   rehearsed   asleep, then the same workload ran once on other frames: the code has just run
// If `touched` stays slow while `rehearsed` is fast, what the pause cost is the code's warm state (instruction caches,
// branch predictors), not the data; if `busy` is slow too, sleeping is not the cause and spinning will not help.
// One JSON line on stdout: µs per batch p50/p99 per workload and mode, and asleep/warm at p50.
// npm run bench -- host   (HOST_IDLE_MS, default 20; HOST_SAMPLES per mode, default 200)
import { readdirSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { BINANCE_SPOT_DEFAULTS, makeInstrument } from '../engine/types/instrument.ts';
import { nsToMs, type TsMs } from '../engine/types/time.ts';
import { BinanceFrameDecoder, classifyFrame } from '../engine/venues/binance/frames.ts';
import { readRecordingLinesSync } from '../engine/venues/replay/recording.ts';
import { stats } from './lib/probes.ts';

const IDLE_MS = Number(process.env.HOST_IDLE_MS ?? 20);
const SAMPLES = Number(process.env.HOST_SAMPLES ?? 200);
const BATCH = 8;
const DIR = 'data/recordings';

const eth = makeInstrument(BINANCE_SPOT_DEFAULTS['ETH/USDT']!);
const files = readdirSync(DIR).filter((f) => f.startsWith('spot_ethusdt_')).sort().map((f) => `${DIR}/${f}`);
const frames: { text: string; ts: TsMs }[] = [];
for (const l of readRecordingLinesSync(files)) if (classifyFrame(l.text) === 'trade') frames.push({ text: l.text, ts: nsToMs(l.tsLocalNs) });
if (frames.length < 4 * BATCH) throw new Error(`host bench: only ${frames.length} trade frames in ${DIR}`);

const decoder = new BinanceFrameDecoder(eth);
let sink = 0;
const WORKLOADS = {
  json: (at: number): void => {
    for (let i = 0; i < BATCH; i++) {
      const f = frames[(at + i) % frames.length]!;
      if (decoder.decodeJson(f.text, f.ts, 'trade').type === 'malformed') sink++;
    }
  },
  text: (at: number): void => {
    for (let i = 0; i < BATCH; i++) {
      const f = frames[(at + i) % frames.length]!;
      if (decoder.decodeText(f.text, f.ts, 'trade').type === 'malformed') sink++;
    }
  },
};
type Workload = keyof typeof WORKLOADS;
const MODES = ['warm', 'asleep', 'busy', 'touched', 'rehearsed'] as const;
type Mode = (typeof MODES)[number];

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
function spin(ms: number): void {
  const end = performance.now() + ms;
  let x = 0;
  while (performance.now() < end) x++;
  sink += x & 1;
}
// One read per 64-byte line of each frame's characters (two bytes each).
function touch(at: number): void {
  for (let i = 0; i < BATCH; i++) {
    const t = frames[(at + i) % frames.length]!.text;
    for (let k = 0; k < t.length; k += 32) sink += t.charCodeAt(k) & 1;
  }
}

async function before(mode: Mode, w: Workload, at: number): Promise<void> {
  // Other frames than the timed batch's: the code runs, the timed data stays as cold as in `asleep`.
  const rehearse = () => WORKLOADS[w](at + (frames.length >> 1));
  if (mode === 'warm') return rehearse();
  if (mode === 'busy') {
    spin(IDLE_MS);
    return;
  }
  await sleep(IDLE_MS);
  if (mode === 'touched') touch(at);
  if (mode === 'rehearsed') rehearse();
}

// JIT warm-up: every workload compiled and settled before anything is timed.
for (let i = 0; i < 5_000; i++) for (const w of Object.keys(WORKLOADS) as Workload[]) WORKLOADS[w](i * BATCH);

const samples = new Map<string, number[]>();
let at = 0;
for (let s = 0; s < SAMPLES; s++) {
  for (const w of Object.keys(WORKLOADS) as Workload[]) {
    for (const mode of MODES) {
      at += BATCH;
      await before(mode, w, at);
      const t0 = performance.now();
      WORKLOADS[w](at);
      const us = (performance.now() - t0) * 1_000;
      const key = `${w}.${mode}`;
      (samples.get(key) ?? samples.set(key, []).get(key)!).push(us);
    }
  }
}

const out: Record<string, unknown> = { bench: 'host', idleMs: IDLE_MS, samples: SAMPLES, batch: BATCH };
for (const w of Object.keys(WORKLOADS) as Workload[]) {
  const byMode: Record<string, unknown> = {};
  for (const mode of MODES) {
    const s = stats(samples.get(`${w}.${mode}`)!);
    byMode[mode] = { p50: s.p50, p99: s.p99 };
  }
  const p50 = (m: Mode) => stats(samples.get(`${w}.${m}`)!).p50!;
  byMode['asleepOverWarmP50'] = Math.round((p50('asleep') / p50('warm')) * 10) / 10;
  out[w] = byMode;
}
out['sink'] = sink;
process.stdout.write(`${JSON.stringify(out)}\n`);
