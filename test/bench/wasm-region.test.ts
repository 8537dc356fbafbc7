// bench/wasm-region.ts compares ts86's JIT with a hand-written wasm translation of the LZMA
// bit loop; its figures mean something only while the translation computes what the guest
// does. Checked here against ts86 at several instruction counts (both branch directions,
// the refill path and the outer re-initialisation every 256 bits are all crossed).
import { describe, expect, it } from 'vitest';
import { ts86, wasmRun } from '../../bench/wasm-region';

describe('bench/wasm-region: the hand-written wasm region', () => {
  it('agrees with ts86 on every register and the probability table at the same instruction count', () => {
    for (const budget of [1, 1000, 7777, 200_000]) {
      const w = wasmRun(budget);
      expect(w.done).toBeGreaterThanOrEqual(budget);
      const ref = ts86(w.done);
      expect(w.regs, `after ${w.done}`).toEqual(ref.regs);
      expect(Buffer.from(w.probs).equals(Buffer.from(ref.probs)), `table after ${w.done}`).toBe(true);
    }
  });

  it('ts86 runs the guest the same on memory inside a WebAssembly.Memory', () => {
    const plain = ts86(300_000), arena = ts86(300_000, true);
    expect(arena.regs).toEqual(plain.regs);
    expect(Buffer.from(arena.probs).equals(Buffer.from(plain.probs))).toBe(true);
  });
});
