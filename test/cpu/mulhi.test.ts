// The BigInt-free 32x32->64 high halves used by MUL/IMUL (both tiers) against BigInt.
import { describe, expect, it } from 'vitest';
import { mulHiS32, mulHiU32 } from '../../src/cpu/ops-alu';

const EDGE = [0, 1, 2, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0x80000001, 0xfffffffe, 0xffffffff, 0x12345678, 0xdeadbeef];

describe('mulHiU32 / mulHiS32', () => {
  it('agree with BigInt on edge values and 20000 random pairs', () => {
    let x = 0x9e3779b9;
    const next = (): number => { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; return x; };
    const pairs: [number, number][] = [];
    for (const a of EDGE) for (const b of EDGE) pairs.push([a, b]);
    for (let k = 0; k < 20000; k++) pairs.push([next(), next()]);
    for (const [a, b] of pairs) {
      const u = Number((BigInt(a) * BigInt(b)) >> 32n);
      const s = Number(BigInt.asUintN(32, (BigInt(a | 0) * BigInt(b | 0)) >> 32n));
      expect(mulHiU32(a, b), `${a} * ${b}`).toBe(u);
      expect(mulHiS32(a | 0, b), `${a | 0} * ${b} signed`).toBe(s);
    }
  });
});
