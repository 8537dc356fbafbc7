// A fake FpuHost over a plain Uint8Array (flat memory, segments ignored), plus
// small helpers to run instructions by their bytes.

import { CR0_NE, type FpuHost, type FpuInsn } from '../../src/cpu/fpu-iface.js';
import { X87 } from '../../src/cpu/fpu/x87.js';
import { type F80, toBytes80, fromBytes80 } from '../../src/cpu/fpu/softfloat.js';

export class CpuFault extends Error {
  constructor(readonly vector: number) { super(`CPU exception ${vector}`); }
}

export class FakeHost implements FpuHost {
  readonly mem: Uint8Array;
  cr0 = CR0_NE;
  eflags = 0x2;
  ax = -1;
  ferr = false;
  realMode = false;
  /** Accesses at or above this offset fault with #PF (14), to test restartability. */
  faultAbove = Infinity;

  constructor(size = 0x10000) { this.mem = new Uint8Array(size); }

  private check(off: number, len: number): void {
    if (off + len > this.faultAbove) throw new CpuFault(14);
  }
  read8(_s: number, off: number): number { this.check(off, 1); return this.mem[off]!; }
  read16(_s: number, off: number): number { this.check(off, 2); return this.mem[off]! | (this.mem[off + 1]! << 8); }
  read32(_s: number, off: number): number { this.check(off, 4); return (this.read16(0, off) | (this.read16(0, off + 2) << 16)) >>> 0; }
  write8(_s: number, off: number, v: number): void { this.check(off, 1); this.mem[off] = v & 0xff; }
  write16(_s: number, off: number, v: number): void { this.check(off, 2); this.mem[off] = v & 0xff; this.mem[off + 1] = (v >> 8) & 0xff; }
  write32(_s: number, off: number, v: number): void { this.check(off, 4); this.write16(0, off, v & 0xffff); this.write16(0, off + 2, (v >>> 16) & 0xffff); }
  probeWrite(_s: number, off: number, len: number): void { this.check(off, len); }
  probeRead(_s: number, off: number, len: number): void { this.check(off, len); }
  getEflags(): number { return this.eflags; }
  setEflagsZPC(zf: boolean, pf: boolean, cf: boolean): void {
    this.eflags = (this.eflags & ~0x8d5) | (zf ? 0x40 : 0) | (pf ? 0x4 : 0) | (cf ? 0x1 : 0);
  }
  setAX(v: number): void { this.ax = v; }
  raise(vector: number): never { throw new CpuFault(vector); }
  setFerr(asserted: boolean): void { this.ferr = asserted; }

  // --- test helpers
  putF80(off: number, v: F80): void { toBytes80(v, this.mem, off); }
  getF80(off: number): F80 { return fromBytes80(this.mem, off); }
  put32(off: number, v: number): void { this.write32(0, off, v); }
  get32(off: number): number { return this.read32(0, off); }
  put64(off: number, v: bigint): void { this.put32(off, Number(v & 0xffffffffn)); this.put32(off + 4, Number(v >> 32n)); }
  get64(off: number): bigint { return BigInt(this.get32(off)) | (BigInt(this.get32(off + 4)) << 32n); }
}

/** Runs one ESC instruction: op byte, ModRM byte, and for memory forms the offset. */
export function run(fpu: X87, host: FakeHost, op: number, modrm: number, off = 0, osize: 16 | 32 = 32): void {
  const insn: FpuInsn = { op, modrm, seg: 3, off, osize, csSel: 0x08, eip: 0x1000, dsSel: 0x10 };
  fpu.exec(host, insn);
}

/** ModRM for a memory operand with reg field r (mod=0, rm=5 disp32: the core resolves the address). */
export const mem = (r: number): number => (r << 3) | 5;

/** Runs and returns the fault vector, or -1 if none. */
export function runCatch(fpu: X87, host: FakeHost, op: number, modrm: number, off = 0): number {
  try { run(fpu, host, op, modrm, off); return -1; } catch (e) { if (e instanceof CpuFault) return e.vector; throw e; }
}

/** F80 from the hex notation SEEE MMMMMMMMMMMMMMMM. */
export function h80(se: number, m: bigint): F80 { return { s: se >> 15, e: se & 0x7fff, m }; }
export function hex80(v: F80): string {
  return (((v.s << 15) | v.e).toString(16).padStart(4, '0')) + ' ' + v.m.toString(16).padStart(16, '0');
}

/** Loads values onto the stack with FLD m80 (pushes in order: the last ends up in ST(0)). */
export function load(fpu: X87, host: FakeHost, ...vals: F80[]): void {
  for (const v of vals) { host.putF80(0x100, v); run(fpu, host, 0xdb, mem(5), 0x100); }
}
/** Pops ST(0) with FSTP m80 and returns it. */
export function popF80(fpu: X87, host: FakeHost): F80 { run(fpu, host, 0xdb, mem(7), 0x200); return host.getF80(0x200); }
export function setCW(fpu: X87, host: FakeHost, cw: number): void { host.write16(0, 0x300, cw); run(fpu, host, 0xd9, mem(5), 0x300); }

/** Exact F80 of a JS number (via its float64 encoding; no exceptions). */
export function f(x: number): F80 {
  const dv = new DataView(new ArrayBuffer(8));
  dv.setFloat64(0, x, true);
  const bits = dv.getBigUint64(0, true);
  const s = Number(bits >> 63n), e = Number((bits >> 52n) & 0x7ffn), fr = bits & 0xfffffffffffffn;
  if (e === 0x7ff) return { s, e: 0x7fff, m: (1n << 63n) | (fr << 11n) };
  if (e === 0) {
    if (fr === 0n) return { s, e: 0, m: 0n };
    const n = fr.toString(2).length;
    return { s, e: 1 - 1023 - 52 + n - 1 + 16383, m: fr << BigInt(64 - n) };
  }
  return { s, e: e - 1023 + 16383, m: (1n << 63n) | (fr << 11n) };
}
/** JS number of an F80 (rounded to double; for readable assertions on exact values). */
export function num(v: F80): number {
  if (v.e === 0x7fff) return (v.m & ((1n << 63n) - 1n)) ? NaN : v.s ? -Infinity : Infinity;
  const mag = Number(v.m) * Math.pow(2, (v.e === 0 ? 1 : v.e) - 16383 - 63);
  return v.s ? -mag : mag;
}
export const same = (a: F80, b: F80): boolean => a.s === b.s && a.e === b.e && a.m === b.m;
