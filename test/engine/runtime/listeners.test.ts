import { describe, expect, it } from 'vitest';
import { Listeners } from '../../../engine/runtime/listeners.ts';

describe('Listeners', () => {
  it('calls callbacks in the order added, and a removed one no more (removing twice removes nothing else)', () => {
    const l = new Listeners<number>();
    const seen: string[] = [];
    const offA = l.add((e) => void seen.push(`a${e}`));
    l.add((e) => void seen.push(`b${e}`));
    l.emit(1);
    offA();
    offA();
    l.emit(2);
    expect(seen).toEqual(['a1', 'b1', 'b2']);
  });
});
