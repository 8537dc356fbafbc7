// Integer arithmetic, logic, shifts, multiply/divide, BCD and bit instructions.
// Values handled here are unsigned and masked to the operand size.
import { type Cpu, LF_ADC, LF_ADD, LF_LOGIC, LF_SBB, LF_SUB } from './cpu';
import type { Insn } from './insn';
import { AF, CF, DE, EAX, EDX, OF, ZF } from './consts';

export type Size = 1 | 2 | 4;
const MASK = [0, 0xff, 0xffff, 0, 0xffffffff];
const BITS = [0, 8, 16, 0, 32];
export function trunc(v: number, s: number): number { return s === 4 ? v >>> 0 : v & MASK[s]; }
function msb(v: number, s: number): number { return (v >>> (BITS[s] - 1)) & 1; }
function sext(v: number, s: number): number { return s === 4 ? v | 0 : s === 2 ? (v << 16) >> 16 : (v << 24) >> 24; }

// ---- the eight ALU operations (ModRM.reg order: ADD OR ADC SBB AND SUB XOR CMP) --------------

export type AluFn = (cpu: Cpu, a: number, b: number, s: Size) => number;

export const add: AluFn = (cpu, a, b, s) => { const r = trunc(a + b, s); cpu.setLazy(LF_ADD, a, b, r, s); return r; };
export const or: AluFn = (cpu, a, b, s) => { const r = trunc(a | b, s); cpu.setLazy(LF_LOGIC, a, b, r, s); return r; };
export const adc: AluFn = (cpu, a, b, s) => {
  const c = cpu.getCF();
  const r = trunc(a + b + c, s);
  cpu.lfCin = c;
  cpu.setLazy(LF_ADC, a, b, r, s);
  return r;
};
export const sbb: AluFn = (cpu, a, b, s) => {
  const c = cpu.getCF();
  const r = trunc(a - b - c, s);
  cpu.lfCin = c;
  cpu.setLazy(LF_SBB, a, b, r, s);
  return r;
};
export const and: AluFn = (cpu, a, b, s) => { const r = trunc(a & b, s); cpu.setLazy(LF_LOGIC, a, b, r, s); return r; };
export const sub: AluFn = (cpu, a, b, s) => { const r = trunc(a - b, s); cpu.setLazy(LF_SUB, a, b, r, s); return r; };
export const xor: AluFn = (cpu, a, b, s) => { const r = trunc(a ^ b, s); cpu.setLazy(LF_LOGIC, a, b, r, s); return r; };
export const ALU: AluFn[] = [add, or, adc, sbb, and, sub, xor, sub];

/** ALU op number from the opcode (00-3F: bits 3-5) or from ModRM.reg (group 1). */
function aluIndex(i: Insn): number { return i.op < 0x40 ? (i.op >> 3) & 7 : i.reg; }

/** op E, G  (00,01,08,09,...) — CMP (38/39) does not write. */
export function aluEG(cpu: Cpu, i: Insn): void {
  const k = aluIndex(i), s = i.size;
  const b = cpu.getReg(i.reg, s);
  if (i.mod === 3) {
    const r = ALU[k](cpu, cpu.getReg(i.rm, s), b, s);
    if (k !== 7) cpu.setReg(i.rm, s, r);
  } else {
    const off = cpu.ea(i);
    if (k === 7) { ALU[k](cpu, cpu.readSz(i.seg, off, s), b, s); return; }
    const r = ALU[k](cpu, cpu.readRmw(i.seg, off, s), b, s);
    cpu.writeSz(i.seg, off, s, r);
  }
}
/** op G, E */
export function aluGE(cpu: Cpu, i: Insn): void {
  const k = aluIndex(i), s = i.size;
  const r = ALU[k](cpu, cpu.getReg(i.reg, s), cpu.getE(i), s);
  if (k !== 7) cpu.setReg(i.reg, s, r);
}
/** op AL/eAX, imm */
export function aluAI(cpu: Cpu, i: Insn): void {
  const k = aluIndex(i), s = i.size;
  const r = ALU[k](cpu, cpu.getReg(EAX, s), trunc(i.imm, s), s);
  if (k !== 7) cpu.setReg(EAX, s, r);
}
/** group 1: op E, imm (80, 81, 82, 83) */
export function aluEI(cpu: Cpu, i: Insn): void {
  const k = i.reg, s = i.size, b = trunc(i.imm, s);
  if (i.mod === 3) {
    const r = ALU[k](cpu, cpu.getReg(i.rm, s), b, s);
    if (k !== 7) cpu.setReg(i.rm, s, r);
  } else {
    const off = cpu.ea(i);
    if (k === 7) { ALU[k](cpu, cpu.readSz(i.seg, off, s), b, s); return; }
    cpu.writeSz(i.seg, off, s, ALU[k](cpu, cpu.readRmw(i.seg, off, s), b, s));
  }
}

export function testEG(cpu: Cpu, i: Insn): void { and(cpu, cpu.getE(i), cpu.getReg(i.reg, i.size), i.size); }
export function testAI(cpu: Cpu, i: Insn): void { and(cpu, cpu.getReg(EAX, i.size), trunc(i.imm, i.size), i.size); }
export function testEI(cpu: Cpu, i: Insn): void { and(cpu, cpu.getE(i), trunc(i.imm, i.size), i.size); }

/** Reads the E operand of a read-modify-write instruction (remembering the offset for rmwWrite). */
function rmwRead(cpu: Cpu, i: Insn): number {
  if (i.mod === 3) return cpu.getReg(i.rm, i.size);
  const off = cpu.ea(i);
  cpu.rmwOff = off;
  return cpu.readRmw(i.seg, off, i.size);
}
/** Writes back the E operand read by rmwRead. No closures: nothing is allocated per instruction. */
function rmwWrite(cpu: Cpu, i: Insn, v: number): void {
  if (i.mod === 3) cpu.setReg(i.rm, i.size, v);
  else cpu.writeSz(i.seg, cpu.rmwOff, i.size, v);
}

export function incv(cpu: Cpu, v: number, s: Size): number {
  const cf = cpu.getCF();
  const r = trunc(v + 1, s);
  cpu.setLazyKeepCF(LF_ADD, v, 1, r, s, cf);
  return r;
}
export function decv(cpu: Cpu, v: number, s: Size): number {
  const cf = cpu.getCF();
  const r = trunc(v - 1, s);
  cpu.setLazyKeepCF(LF_SUB, v, 1, r, s, cf);
  return r;
}
export function incE(cpu: Cpu, i: Insn): void { rmwWrite(cpu, i, incv(cpu, rmwRead(cpu, i), i.size)); }
export function decE(cpu: Cpu, i: Insn): void { rmwWrite(cpu, i, decv(cpu, rmwRead(cpu, i), i.size)); }
export function incZ(cpu: Cpu, i: Insn): void { const r = i.op & 7; cpu.setReg(r, i.size, incv(cpu, cpu.getReg(r, i.size), i.size)); }
export function decZ(cpu: Cpu, i: Insn): void { const r = i.op & 7; cpu.setReg(r, i.size, decv(cpu, cpu.getReg(r, i.size), i.size)); }
export function notE(cpu: Cpu, i: Insn): void { rmwWrite(cpu, i, trunc(~rmwRead(cpu, i), i.size)); }
export function negE(cpu: Cpu, i: Insn): void { rmwWrite(cpu, i, sub(cpu, 0, rmwRead(cpu, i), i.size)); }

// ---- shifts and rotates (group 2: ROL ROR RCL RCR SHL SHR SAL SAR) -------------------------------

/**
 * One shift/rotate with a count already masked to 5 bits (SDM Vol.2B SAL/SAR/SHL/SHR,
 * RCL/RCR/ROL/ROR). A zero count changes nothing, flags included.
 */
export function shiftOp(cpu: Cpu, kind: number, v: number, count: number, s: Size): number {
  if (count === 0) return v;
  const bits = BITS[s];
  let r: number, cf: number, of: number;
  switch (kind) {
    case 0: { // ROL
      const c = count & (bits - 1);
      r = c ? trunc((v << c) | (v >>> (bits - c)), s) : v;
      cf = r & 1;
      of = msb(r, s) ^ cf;
      break;
    }
    case 1: { // ROR
      const c = count & (bits - 1);
      r = c ? trunc((v >>> c) | (v << (bits - c)), s) : v;
      cf = msb(r, s);
      of = cf ^ ((r >>> (bits - 2)) & 1);
      break;
    }
    case 2: { // RCL: rotate the (bits+1)-bit quantity CF:v
      const c = count % (bits + 1);
      let cin = cpu.getCF();
      r = v;
      for (let k = 0; k < c; k++) {
        const out = msb(r, s);
        r = trunc((r << 1) | cin, s);
        cin = out;
      }
      cf = cin;
      of = msb(r, s) ^ cf;
      if (c === 0) { cf = cpu.getCF(); }
      break;
    }
    case 3: { // RCR
      const c = count % (bits + 1);
      let cin = cpu.getCF();
      of = msb(v, s) ^ cin;
      r = v;
      for (let k = 0; k < c; k++) {
        const out = r & 1;
        r = trunc((r >>> 1) | (cin << (bits - 1)), s);
        cin = out;
      }
      cf = cin;
      break;
    }
    case 4: case 6: { // SHL/SAL
      r = count < 32 ? trunc(v << count, s) : 0;
      cf = count <= bits ? (v >>> (bits - count)) & 1 : 0;
      of = msb(r, s) ^ cf;
      cpu.setLazySZP(r, s, (cf ? CF : 0) | (of ? OF : 0) | (cpu.flags & AF));
      return r;
    }
    case 5: { // SHR
      r = count < 32 ? trunc(v >>> count, s) : 0;
      cf = count <= bits ? (v >>> (count - 1)) & 1 : 0;
      of = msb(v, s);
      cpu.setLazySZP(r, s, (cf ? CF : 0) | (of ? OF : 0) | (cpu.flags & AF));
      return r;
    }
    default: { // SAR
      const sv = sext(v, s);
      const c = count > bits - 1 ? bits - 1 : count;
      r = trunc(sv >> c, s);
      cf = count >= bits ? (sv >>> 31) & 1 : (sv >> (count - 1)) & 1;
      cpu.setLazySZP(r, s, cf ? CF : 0);
      return r;
    }
  }
  // Rotates change only CF and OF.
  cpu.materializeFlags();
  cpu.flags = (cpu.flags & ~(CF | OF)) | (cf ? CF : 0) | (of ? OF : 0);
  return r;
}

/** Group 2 with count 1 (D0/D1), CL (D2/D3) or imm8 (C0/C1). */
export function shiftE(cpu: Cpu, i: Insn): void {
  const op = i.op;
  const count = (op === 0xd0 || op === 0xd1 ? 1 : op === 0xd2 || op === 0xd3 ? cpu.r8[4] : i.imm) & 0x1f;
  if (count === 0 && i.mod !== 3) {
    // Still a read-modify-write access as far as faults go.
    cpu.readRmw(i.seg, cpu.ea(i), i.size);
    return;
  }
  rmwWrite(cpu, i, shiftOp(cpu, i.reg, rmwRead(cpu, i), count, i.size));
}

/** SHLD/SHRD Ev, Gv, Ib/CL (SDM Vol.2B). */
export function shldrd(cpu: Cpu, i: Insn): void {
  const s = i.size, bits = BITS[s];
  const right = i.op === 0x1ac || i.op === 0x1ad;
  const count = (i.op === 0x1a5 || i.op === 0x1ad ? cpu.r8[4] : i.imm) & 0x1f;
  const src = cpu.getReg(i.reg, s);
  const v = rmwRead(cpu, i);
  {
    if (count === 0) return;
    let r: number, cf: number;
    if (s === 2 && count > 16) {
      // Undefined result (SDM Vol.2B SHLD/SHRD): shift the 32-bit concatenation.
      if (right) { const wide = ((src << 16) | v) >>> 0; r = (wide >>> count) & 0xffff; cf = (wide >>> (count - 1)) & 1; }
      else { const wide = ((v << 16) | src) >>> 0; r = ((wide << count) >>> 16) & 0xffff; cf = (wide >>> (32 - count)) & 1; }
    } else if (right) {
      r = trunc((v >>> count) | (src << (bits - count)), s);
      cf = (v >>> (count - 1)) & 1;
    } else {
      r = trunc((v << count) | (src >>> (bits - count)), s);
      cf = (v >>> (bits - count)) & 1;
    }
    const of = msb(r, s) ^ msb(v, s);
    cpu.setLazySZP(r, s, (cf ? CF : 0) | (of ? OF : 0));
    rmwWrite(cpu, i, r);
  }
}

// ---- multiply and divide --------------------------------------------------------------------

/**
 * High 32 bits of the unsigned 64-bit product a*b (the low half is Math.imul). Exact
 * without BigInt: four 16x16 partial products, each below 2^32, summed in doubles.
 */
export function mulHiU32(a: number, b: number): number {
  a >>>= 0; b >>>= 0;
  const aL = a & 0xffff, aH = a >>> 16, bL = b & 0xffff, bH = b >>> 16;
  const lh = aL * bH, hl = aH * bL;
  const mid = ((aL * bL) >>> 16) + (lh & 0xffff) + (hl & 0xffff);
  return (aH * bH + (lh >>> 16) + (hl >>> 16) + (mid >>> 16)) >>> 0;
}
/** High 32 bits of the signed 64-bit product of two 32-bit values (as an unsigned number). */
export function mulHiS32(a: number, b: number): number {
  // Signed high half = unsigned high half - (a<0 ? b : 0) - (b<0 ? a : 0) (mod 2^32).
  return (mulHiU32(a, b) - (a & 0x80000000 ? b >>> 0 : 0) - (b & 0x80000000 ? a >>> 0 : 0)) >>> 0;
}

function setMulFlags(cpu: Cpu, overflow: boolean, lo: number, s: Size): void {
  // CF=OF=overflow; SF, ZF, AF, PF are undefined: we set SF/ZF/PF from the low half.
  cpu.setLazySZP(trunc(lo, s), s, overflow ? CF | OF : 0);
}

/** MUL E (F6/F7 /4): AX := AL*E, DX:AX := AX*E, EDX:EAX := EAX*E. */
export function mulE(cpu: Cpu, i: Insn): void {
  const s = i.size, v = cpu.getE(i);
  if (s === 1) {
    const p = cpu.r8[0] * v;
    cpu.r16[0] = p;
    setMulFlags(cpu, p > 0xff, p, 1);
  } else if (s === 2) {
    const p = cpu.r16[0] * v;
    cpu.r16[0] = p & 0xffff;
    cpu.r16[EDX << 1] = p >>> 16;
    setMulFlags(cpu, p > 0xffff, p, 2);
  } else {
    const a = cpu.r32[EAX];
    const lo = Math.imul(a, v) >>> 0, hi = mulHiU32(a, v);
    cpu.r32[EAX] = lo;
    cpu.r32[EDX] = hi;
    setMulFlags(cpu, hi !== 0, lo, 4);
  }
}

/** Signed product of two values of size s, low half (unsigned, masked to s). */
function imulLo(a: number, b: number, s: Size): number {
  return s === 4 ? Math.imul(a, b) >>> 0 : trunc(sext(a, s) * sext(b, s), s);
}
/** Signed product of two values of size s, high half (unsigned, masked to s). */
function imulHi(a: number, b: number, s: Size): number {
  return s === 4 ? mulHiS32(a, b) : trunc((sext(a, s) * sext(b, s)) >> BITS[s], s);
}
/** True when the signed product equals the sign extension of its low half (CF=OF=0). */
function imulFits(lo: number, hi: number, s: Size): boolean {
  return hi === (msb(lo, s) ? MASK[s] : 0);
}
/**
 * IMUL Gv, Ev(, imm) 32-bit fit test without the high half: the double product of two
 * int32 values is exact whenever the true product fits in 32 bits, and otherwise has a
 * magnitude of at least 2^31 (rounding is monotonic), so it equals the signed low half
 * exactly when the product fits.
 */
export function imul32Fits(a: number, b: number, lo: number): boolean { return (a | 0) * (b | 0) === (lo | 0); }

/** IMUL E (one operand, F6/F7 /5). */
export function imul1(cpu: Cpu, i: Insn): void {
  const s = i.size, v = cpu.getE(i);
  const a = cpu.getReg(EAX, s);
  const lo = imulLo(a, v, s), hi = imulHi(a, v, s);
  if (s === 1) cpu.r16[0] = (hi << 8) | lo;
  else { cpu.setReg(EAX, s, lo); cpu.setReg(EDX, s, hi); }
  setMulFlags(cpu, !imulFits(lo, hi, s), lo, s);
}

/** IMUL Gv, Ev (0F AF) and IMUL Gv, Ev, imm (69, 6B). */
export function imul2(cpu: Cpu, i: Insn): void {
  const s = i.size;
  const a = i.op === 0x1af ? cpu.getReg(i.reg, s) : trunc(i.imm, s);
  const e = cpu.getE(i);
  const lo = imulLo(e, a, s);
  cpu.setReg(i.reg, s, lo);
  setMulFlags(cpu, !(s === 4 ? imul32Fits(e, a, lo) : imulFits(lo, imulHi(e, a, s), s)), lo, s);
}

/** DIV E (F6/F7 /6): #DE on a zero divisor or a quotient that does not fit (SDM Vol.2A DIV). */
export function divE(cpu: Cpu, i: Insn): void {
  const s = i.size, d = cpu.getE(i);
  if (d === 0) cpu.raise(DE);
  if (s === 1) {
    const n = cpu.r16[0];
    const q = Math.floor(n / d);
    if (q > 0xff) cpu.raise(DE);
    cpu.r16[0] = ((n % d) << 8) | q;
  } else if (s === 2) {
    const n = (cpu.r16[EDX << 1] * 0x10000 + cpu.r16[0]);
    const q = Math.floor(n / d);
    if (q > 0xffff) cpu.raise(DE);
    cpu.r16[0] = q;
    cpu.r16[EDX << 1] = n % d;
  } else {
    const hi = cpu.r32[EDX] >>> 0, lo = cpu.r32[EAX] >>> 0;
    if (hi === 0) {
      cpu.r32[EAX] = Math.floor(lo / d);
      cpu.r32[EDX] = lo % d;
    } else {
      if (hi >= d) cpu.raise(DE);
      const n = (BigInt(hi) << 32n) | BigInt(lo);
      const bd = BigInt(d);
      cpu.r32[EAX] = Number(n / bd);
      cpu.r32[EDX] = Number(n % bd);
    }
  }
  divFlags(cpu);
}

/** IDIV E (F6/F7 /7): quotient truncates toward zero, remainder takes the dividend's sign. */
export function idivE(cpu: Cpu, i: Insn): void {
  const s = i.size, d = sext(cpu.getE(i), s);
  if (d === 0) cpu.raise(DE);
  if (s === 1) {
    const n = (cpu.r16[0] << 16) >> 16;
    const q = Math.trunc(n / d);
    if (q > 127 || q < -128) cpu.raise(DE);
    cpu.r16[0] = (((n % d) & 0xff) << 8) | (q & 0xff);
  } else if (s === 2) {
    const n = ((cpu.r16[EDX << 1] << 16) | cpu.r16[0]) | 0;
    const q = Math.trunc(n / d);
    if (q > 32767 || q < -32768) cpu.raise(DE);
    cpu.r16[0] = q & 0xffff;
    cpu.r16[EDX << 1] = (n % d) & 0xffff;
  } else {
    const n = (BigInt(cpu.r32[EDX]) << 32n) | BigInt(cpu.r32[EAX] >>> 0);
    const bd = BigInt(d);
    const q = n / bd;
    if (q > 0x7fffffffn || q < -0x80000000n) cpu.raise(DE);
    cpu.r32[EAX] = Number(q);
    cpu.r32[EDX] = Number(n % bd);
  }
  divFlags(cpu);
}

/** DIV/IDIV leave all arithmetic flags undefined; we leave them unchanged. */
function divFlags(_cpu: Cpu): void {}

// ---- BCD ------------------------------------------------------------------------------------

/** DAA (SDM Vol.2A). */
export function daa(cpu: Cpu): void {
  const oldAl = cpu.r8[0], oldCf = cpu.getCF();
  let al = oldAl, cf = 0, af = 0;
  if ((al & 0x0f) > 9 || cpu.getAF()) { al = (al + 6) & 0xff; cf = oldCf | (oldAl + 6 > 0xff ? 1 : 0); af = 1; }
  if (oldAl > 0x99 || oldCf) { al = (al + 0x60) & 0xff; cf = 1; } else cf = 0;
  cpu.r8[0] = al;
  cpu.setLazySZP(al, 1, (cf ? CF : 0) | (af ? AF : 0));
}
/** DAS (SDM Vol.2A). */
export function das(cpu: Cpu): void {
  const oldAl = cpu.r8[0], oldCf = cpu.getCF();
  let al = oldAl, cf = 0, af = 0;
  if ((al & 0x0f) > 9 || cpu.getAF()) { al = (al - 6) & 0xff; cf = oldCf | (oldAl < 6 ? 1 : 0); af = 1; }
  if (oldAl > 0x99 || oldCf) { al = (al - 0x60) & 0xff; cf = 1; }
  cpu.r8[0] = al;
  cpu.setLazySZP(al, 1, (cf ? CF : 0) | (af ? AF : 0));
}
/** AAA: AX += 0x106 when adjusting (SDM Vol.2A, 386+ behaviour). */
export function aaa(cpu: Cpu): void {
  let f = 0;
  if ((cpu.r8[0] & 0x0f) > 9 || cpu.getAF()) { cpu.r16[0] = (cpu.r16[0] + 0x106) & 0xffff; f = AF | CF; }
  cpu.r8[0] &= 0x0f;
  cpu.setLazySZP(cpu.r8[0], 1, f);
}
/** AAS: AX -= 6, AH -= 1 when adjusting. */
export function aas(cpu: Cpu): void {
  let f = 0;
  if ((cpu.r8[0] & 0x0f) > 9 || cpu.getAF()) {
    cpu.r16[0] = (cpu.r16[0] - 6) & 0xffff;
    cpu.r8[1] = (cpu.r8[1] - 1) & 0xff;
    f = AF | CF;
  }
  cpu.r8[0] &= 0x0f;
  cpu.setLazySZP(cpu.r8[0], 1, f);
}
/** AAM imm8: #DE when imm8 is 0. */
export function aam(cpu: Cpu, i: Insn): void {
  const b = i.imm & 0xff;
  if (b === 0) cpu.raise(DE);
  const al = cpu.r8[0];
  cpu.r8[1] = Math.floor(al / b);
  cpu.r8[0] = al % b;
  cpu.setLazy(LF_LOGIC, 0, 0, cpu.r8[0], 1);
}
/** AAD imm8. Flags follow the 8-bit addition AL + AH*imm8 (what the hardware computes). */
export function aad(cpu: Cpu, i: Insn): void {
  const t = (cpu.r8[1] * (i.imm & 0xff)) & 0xff;
  const al = cpu.r8[0];
  const r = (al + t) & 0xff;
  cpu.r16[0] = r;
  cpu.setLazy(LF_ADD, al, t, r, 1);
}

// ---- bit test and scan ----------------------------------------------------------------------

/** BT/BTS/BTR/BTC with a register bit offset (0F A3/AB/B3/BB) or imm8 (0F BA /4-7). */
export function btOp(cpu: Cpu, i: Insn): void {
  const s = i.size, bits = BITS[s];
  const kind = i.op === 0x1ba ? i.reg - 4 : i.op === 0x1a3 ? 0 : i.op === 0x1ab ? 1 : i.op === 0x1b3 ? 2 : 3;
  const immForm = i.op === 0x1ba;
  let bitoff = immForm ? i.imm & 0xff : cpu.getReg(i.reg, s);
  let r: number;
  const apply = (v: number): number => {
    const m = 1 << (bitoff & (bits - 1));
    cpu.materializeFlags();
    cpu.flags = (cpu.flags & ~CF) | ((v & m) !== 0 ? CF : 0);
    return kind === 1 ? v | m : kind === 2 ? v & ~m : kind === 3 ? v ^ m : v;
  };
  if (i.mod === 3) {
    r = apply(cpu.getReg(i.rm, s));
    if (kind) cpu.setReg(i.rm, s, trunc(r, s));
    return;
  }
  let off = cpu.ea(i);
  if (!immForm) {
    // A register bit offset addresses memory beyond the operand (signed; SDM Vol.2A BT).
    const sb = sext(bitoff, s);
    const disp = Math.floor(sb / bits) * (bits >> 3);
    off = i.asize === 32 ? (off + disp) >>> 0 : (off + disp) & 0xffff;
    bitoff = ((sb % bits) + bits) % bits;
  }
  if (kind === 0) { apply(cpu.readSz(i.seg, off, s)); return; }
  r = apply(cpu.readRmw(i.seg, off, s));
  cpu.writeSz(i.seg, off, s, trunc(r, s));
}

/** BSF/BSR: ZF=1 and the destination unchanged when the source is zero. */
export function bsfr(cpu: Cpu, i: Insn): void {
  const s = i.size, v = cpu.getE(i);
  cpu.materializeFlags();
  if (v === 0) { cpu.flags |= ZF; return; }
  cpu.flags &= ~ZF;
  const idx = i.op === 0x1bc ? 31 - Math.clz32(v & -v) : 31 - Math.clz32(v);
  cpu.setReg(i.reg, s, idx);
}

export { sext, msb, BITS, MASK };
