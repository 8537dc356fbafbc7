// The WebAssembly encoder (src/cpu/wasm-encode.ts): LEB128 against the specification's
// rules and known encodings, module structure that the engine validates and runs, and
// misuse (unbalanced blocks, out-of-range integers) refused before any bytes are built.
import { describe, expect, it } from 'vitest';
import { Code, ModuleBuilder, Op, sleb, uleb, wasmApi } from '../../src/cpu/wasm-encode';

/** Decodes an unsigned/signed LEB128 (a reference for round trips). */
function readLeb(b: number[], signed: boolean): number {
  let v = 0n, shift = 0n, i = 0, byte = 0;
  do { byte = b[i++]; v |= BigInt(byte & 0x7f) << shift; shift += 7n; } while (byte & 0x80);
  expect(i).toBe(b.length);
  if (signed && byte & 0x40) v -= 1n << shift;
  return Number(v);
}

describe('LEB128', () => {
  it('encodes the specification examples and the i32 boundaries', () => {
    expect(uleb(0)).toEqual([0]);
    expect(uleb(127)).toEqual([0x7f]);
    expect(uleb(128)).toEqual([0x80, 0x01]);
    expect(uleb(624485)).toEqual([0xe5, 0x8e, 0x26]);
    expect(uleb(0xffffffff)).toEqual([0xff, 0xff, 0xff, 0xff, 0x0f]);
    expect(sleb(0)).toEqual([0]);
    expect(sleb(-1)).toEqual([0x7f]);
    expect(sleb(63)).toEqual([0x3f]);
    expect(sleb(64)).toEqual([0xc0, 0x00]); // bit 6 set: needs a second byte to stay positive
    expect(sleb(-64)).toEqual([0x40]);
    expect(sleb(-65)).toEqual([0xbf, 0x7f]);
    expect(sleb(-123456)).toEqual([0xc0, 0xbb, 0x78]);
    expect(sleb(0x7fffffff)).toEqual([0xff, 0xff, 0xff, 0xff, 0x07]);
    expect(sleb(-0x80000000)).toEqual([0x80, 0x80, 0x80, 0x80, 0x78]);
    expect(sleb(0xffffffff)).toEqual([0x7f]); // a uint32 is taken as its int32 (i32.const -1)
  });

  it('round-trips, in at most 5 bytes', () => {
    let x = 0x9e3779b9;
    for (let n = 0; n < 2000; n++) {
      x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
      const v = n < 40 ? 2 ** (n % 32) - (n >= 32 ? 1 : 0) : x >>> (n % 32);
      expect(uleb(v).length).toBeLessThanOrEqual(5);
      expect(readLeb(uleb(v), false)).toBe(v);
      expect(readLeb(sleb(v | 0), true)).toBe(v | 0);
    }
  });

  it('refuses what is not an integer of the range', () => {
    for (const bad of [-1, 2 ** 32, 1.5, NaN, Infinity]) expect(() => uleb(bad), String(bad)).toThrow(RangeError);
    for (const bad of [-(2 ** 31) - 1, 2 ** 32, 0.5, NaN]) expect(() => sleb(bad), String(bad)).toThrow(RangeError);
  });
});

describe.skipIf(wasmApi === null)('ModuleBuilder', () => {
  const api = wasmApi!;

  it('builds a module the engine validates and runs: arithmetic, a loop, memory, an imported function', () => {
    const m = new ModuleBuilder();
    const log: number[] = [];
    const note = m.importFunc('env', 'note', 1, 0);
    m.importMemory('env', 'mem', 1);
    // sum(n): s = 0; do { s += n; mem[n*4] = s; note(n); } while (--n); return s ^ 0x80000000
    const sum = new Code()
      .loop()
      .get(1).get(0).op(Op.i32add).set(1)
      .get(0).i32(2).op(Op.i32shl).get(1).store('i32store')
      .get(0).call(note)
      .get(0).i32(1).op(Op.i32sub).tee(0).brIf(0)
      .end()
      .get(1).i32(0x80000000).op(Op.i32xor);
    m.export('sum', m.func(1, 1, 1, sum));
    // load16(a): the unsigned 16-bit load at a + 2 (a static offset)
    m.export('load16', m.func(1, 1, 0, new Code().get(0).load('i32load16U', 2)));
    const bytes = m.bytes();
    expect(api.validate(bytes)).toBe(true);
    const mem = new api.Memory({ initial: 1, maximum: 1 });
    const inst = new api.Instance(new api.Module(bytes), { env: { note: (v: number) => log.push(v), mem } });
    const run = inst.exports.sum as (n: number) => number;
    expect(run(4) >>> 0).toBe((10 ^ 0x80000000) >>> 0);
    expect(log).toEqual([4, 3, 2, 1]);
    const view = new DataView(mem.buffer);
    expect([4, 3, 2, 1].map((n) => view.getInt32(n * 4, true))).toEqual([4, 7, 9, 10]);
    view.setUint16(102, 0xbeef, true);
    expect((inst.exports.load16 as (a: number) => number)(100)).toBe(0xbeef);
  });

  it('shares equal function types and puts imports before the module\'s functions', () => {
    const m = new ModuleBuilder();
    expect(m.type(2, 1)).toBe(0);
    expect(m.type(1, 1)).toBe(1);
    expect(m.type(2, 1)).toBe(0);
    expect(m.importFunc('a', 'f', 2, 1)).toBe(0);
    expect(m.func(2, 1, 0, new Code().get(0).get(1).call(0))).toBe(1);
    expect(() => m.importFunc('a', 'g', 0, 0)).toThrow(/before functions/);
    expect(api.validate(m.bytes())).toBe(true);
  });

  it('refuses unbalanced control structures', () => {
    expect(() => new Code().block().bytes()).toThrow(/not ended/);
    expect(() => new Code().end()).toThrow(/without a block/);
    expect(() => new Code().else()).toThrow(/outside a block/);
    expect(new Code().if().else().end().bytes()).toEqual([0x04, 0x40, 0x05, 0x0b, 0x0b]);
  });

  it('an empty module is the header alone, and valid', () => {
    const b = new ModuleBuilder().bytes();
    expect(Array.from(b)).toEqual([0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0]);
    expect(api.validate(b)).toBe(true);
  });
});
