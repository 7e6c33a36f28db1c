// The process-wide 429/418 gate per REST origin (engine/venues/rest-gate.ts): which URLs share a gate, how blocks
// combine, and bad input named in the error.
import { describe, expect, it } from 'vitest';
import { SimulatedClock } from '../../../engine/runtime/clock.ts';
import { RestGate, resetRestGates, restGateFor, restOrigin } from '../../../engine/venues/rest-gate.ts';

describe('restOrigin', () => {
  it.each([
    ['https://api.binance.com', 'https://api.binance.com'],
    ['https://api.binance.com:443/api/v3', 'https://api.binance.com'],
    ['http://127.0.0.1:9443/mexc', 'http://127.0.0.1:9443'],
    ['HTTP://LOCALHOST:80/', 'http://localhost'],
  ])('%s is origin %s', (url, origin) => {
    expect(restOrigin(url)).toBe(origin);
  });

  it.each([
    ['api.binance.com', /REST base URL 'api\.binance\.com' is not a URL/],
    ['wss://stream.binance.com:9443', /REST base URL 'wss:\/\/stream\.binance\.com:9443' is not http or https/],
  ])('refuses %s, naming it', (url, msg) => {
    expect(() => restOrigin(url)).toThrow(msg);
  });
});

describe('the gate registry', () => {
  it('gives URLs of one origin one gate, and a block at one origin holds back nothing at another', () => {
    resetRestGates(new SimulatedClock(1_000));
    const sim = restGateFor('http://127.0.0.1:9443');
    const simMexc = restGateFor('http://127.0.0.1:9443/mexc');
    const otherPort = restGateFor('http://127.0.0.1:9444');
    const binance = restGateFor('https://api.binance.com');
    sim.block('banned', 60_000);

    expect(simMexc).toBe(sim);
    expect(restGateFor('https://api.binance.com:443/api/v3')).toBe(binance);
    expect([otherPort.blocked, binance.blocked]).toEqual([undefined, undefined]);
    expect(simMexc.blocked).toEqual({ kind: 'banned', untilMs: 61_000, remainingMs: 60_000 });
  });

  it('starts afresh on reset; clients built before keep the gate they had', () => {
    resetRestGates(new SimulatedClock(0));
    const before = restGateFor('http://127.0.0.1:9443');
    before.block('rateLimited', 1_000);
    resetRestGates(new SimulatedClock(0));
    const after = restGateFor('http://127.0.0.1:9443');

    expect(after).not.toBe(before);
    expect([after.blocked, before.blocked?.kind]).toEqual([undefined, 'rateLimited']);
  });
});

describe('RestGate', () => {
  it('lets calls through until a block, refuses and counts them while it lasts, and lets them through at its end', () => {
    const clock = new SimulatedClock(5_000);
    const gate = new RestGate('http://127.0.0.1:1', clock);
    const first = gate.admit();
    gate.block('rateLimited', 3_000);
    const during = gate.admit();
    clock.advance(3_000);
    const atEnd = gate.admit();

    expect(first).toBeUndefined();
    expect(during).toEqual({ kind: 'rateLimited', untilMs: 8_000, remainingMs: 3_000 });
    expect(atEnd).toBeUndefined();
    expect(gate.counters).toEqual({ sent: 2, refused: 1, blocks: 1 });
  });

  it('keeps the later end of two blocks, and names a ban while it lasts even when a rate limit outlasts it', () => {
    const clock = new SimulatedClock(0);
    const gate = new RestGate('http://127.0.0.1:1', clock);
    gate.block('rateLimited', 50_000);
    gate.block('banned', 20_000);
    gate.block('rateLimited', 10_000); // shorter: changes nothing
    const banned = gate.blocked;
    clock.advance(20_000);
    const limited = gate.blocked;

    expect(banned).toEqual({ kind: 'banned', untilMs: 50_000, remainingMs: 50_000 });
    expect(limited).toEqual({ kind: 'rateLimited', untilMs: 50_000, remainingMs: 30_000 });
  });

  it.each([
    ['a negative duration', 'rateLimited', -1, /REST block of http:\/\/127\.0\.0\.1:1 for -1 ms: the duration must be a finite number >= 0/],
    ['NaN', 'banned', Number.NaN, /for NaN ms/],
    ['an unknown kind', 'throttled', 1_000, /REST block kind 'throttled' is neither 'rateLimited' nor 'banned'/],
  ])('refuses a block of %s, naming it', (_name, kind, ms, msg) => {
    const gate = new RestGate('http://127.0.0.1:1', new SimulatedClock(0));
    expect(() => gate.block(kind as 'banned', ms)).toThrow(msg);
    expect(gate.blocked).toBeUndefined();
  });
});
