// The x87 FPU of a P6-class processor (SDM Vol.1 chapter 8, Vol.2 instruction pages).
//
// State is kept as the architecture defines it: eight physical 80-bit registers,
// TOP, status/control words, an "empty" bit per physical register (the internal
// abridged tag; the full tag word is computed from register contents when saved,
// SDM Vol.1 §8.1.7), and the last-instruction pointers (§8.1.8-8.1.9).
//
// Exceptions follow the x87 "deferred" model (§8.7, Vol.3A §2.5): an unmasked
// exception sets ES and B in the status word; the *next* waiting x87 instruction
// (or WAIT/FWAIT) then signals #MF when CR0.NE=1, or asserts FERR# (IRQ13 via the
// platform) when CR0.NE=0. Non-waiting forms (FNINIT, FNCLEX, FNSTSW, FNSTCW,
// FNSTENV, FNSAVE) never check.

import {
  CR0_EM, CR0_MP, CR0_NE, CR0_TS, FL_CF, FL_PF, FL_ZF, type FpuHost, type FpuInsn,
} from '../fpu-iface.js';
import {
  type F80, FpEnv, Cls, classify, indefinite, copy, zero, add, mul, div, sqrt, roundInt, toInt, fromInt,
  fromIeee, toIeee, fromBcd, toBcd, compare, scale, xtract, rem, toBytes80, fromBytes80,
  FE_IE, FE_DE, FE_ZE, FE_PE, CMP_GT, CMP_LT, CMP_EQ, CMP_UN, ONE,
} from './softfloat.js';
import { fsin, fcos, fsincos, ftan, fpatan, f2xm1, fyl2x, fyl2xp1, loadConst, trigOutOfRange } from './transcend.js';

// Status word bits (SDM Vol.1 Figure 8-4).
export const SW_IE = 0x0001, SW_DE = 0x0002, SW_ZE = 0x0004, SW_OE = 0x0008, SW_UE = 0x0010, SW_PE = 0x0020;
export const SW_SF = 0x0040, SW_ES = 0x0080, SW_C0 = 0x0100, SW_C1 = 0x0200, SW_C2 = 0x0400, SW_C3 = 0x4000, SW_B = 0x8000;
const SW_CC = SW_C0 | SW_C1 | SW_C2 | SW_C3;

/** WAIT/FWAIT raises #NM only when CR0.MP=1 and CR0.TS=1 (SDM Vol.3A Table 2-2). */
export function waitNeedsNM(cr0: number): boolean { return (cr0 & CR0_MP) !== 0 && (cr0 & CR0_TS) !== 0; }

/**
 * Control-word bits as stored: bits 13-15 read as 0 and bit 6 as 1; the
 * infinity-control bit 12 is kept although it has no effect since the 80387
 * (host-verified: FLDCW FFFF -> FNSTCW 1F7F; SDM Vol.1 §8.1.5).
 */
function fixCW(v: number): number { return (v & 0x1f3f) | 0x0040; }

const VEC_UD = 6, VEC_NM = 7, VEC_MF = 16;

/** Tag values (SDM Vol.1 Figure 8-7). */
const TAG_VALID = 0, TAG_ZERO = 1, TAG_SPECIAL = 2, TAG_EMPTY = 3;

export interface X87Options {
  /** Accept FISTTP (SSE3). A P6 has no SSE3: off means #UD. */
  sse3?: boolean;
}

export class X87 {
  /** Physical registers R0..R7. */
  readonly regs: F80[] = [];
  /** Bit i set: physical register i is empty. */
  empty = 0xff;
  top = 0;
  /** Status word without the TOP field. */
  sw = 0;
  cw = 0x037f;
  /** Last instruction pointer (offset), CS selector, opcode (11 bits), data pointer (offset) and selector. */
  fip = 0; fcs = 0; fop = 0; fdp = 0; fds = 0;
  readonly sse3: boolean;
  /** FXSAVE/FXRSTOR are provided (fxsave/fxrstor below); the core's CPUID reports FXSR from this. */
  readonly hasFxsr = true;
  private readonly env = new FpEnv();
  private readonly buf = new Uint8Array(108);

  constructor(opts: X87Options = {}) {
    this.sse3 = opts.sse3 ?? false;
    for (let i = 0; i < 8; i++) this.regs.push(zero(0));
    this.reset();
  }

  /** Power-on / RESET state (SDM Vol.3A Table 9-1): as FINIT, but registers are +0 and pointers 0. */
  reset(): void {
    for (let i = 0; i < 8; i++) this.regs[i] = zero(0);
    this.cw = 0x0040; // RESET leaves CW = 0040H (Vol.3A Table 9-1); FINIT makes it 037FH
    this.sw = 0; this.top = 0; this.empty = 0xff;
    this.fip = this.fcs = this.fop = this.fdp = this.fds = 0;
  }

  /** FINIT/FNINIT (SDM Vol.2A FINIT): registers keep their contents but are tagged empty. */
  finit(): void {
    this.cw = 0x037f; this.sw = 0; this.top = 0; this.empty = 0xff;
    this.fip = this.fcs = this.fop = this.fdp = this.fds = 0;
  }

  /** Status word as FSTSW returns it. */
  get status(): number { return (this.sw & ~0x3800) | (this.top << 11); }
  set status(v: number) { this.sw = v & ~0x3800 & 0xffff; this.top = (v >> 11) & 7; }

  /** Full tag word (2 bits per physical register). */
  get tagWord(): number {
    let tw = 0;
    for (let i = 0; i < 8; i++) tw |= this.tagOf(i) << (2 * i);
    return tw;
  }
  set tagWord(tw: number) {
    // Only "empty" is kept; the other tags are recomputed from contents (§8.1.7).
    let e = 0;
    for (let i = 0; i < 8; i++) if (((tw >> (2 * i)) & 3) === TAG_EMPTY) e |= 1 << i;
    this.empty = e;
  }
  private tagOf(phys: number): number {
    if (this.empty & (1 << phys)) return TAG_EMPTY;
    const c = classify(this.regs[phys]!);
    return c === Cls.Zero ? TAG_ZERO : c === Cls.Normal ? TAG_VALID : TAG_SPECIAL;
  }

  /** ST(i) accessors. */
  st(i: number): F80 { return this.regs[(this.top + i) & 7]!; }
  isEmpty(i: number): boolean { return (this.empty & (1 << ((this.top + i) & 7))) !== 0; }
  setSt(i: number, v: F80): void { const p = (this.top + i) & 7; this.regs[p] = v; this.empty &= ~(1 << p); }
  private pop(): void { this.empty |= 1 << this.top; this.top = (this.top + 1) & 7; }
  private push(v: F80): void { this.top = (this.top - 1) & 7; this.regs[this.top] = v; this.empty &= ~(1 << this.top); }

  // ---------------------------------------------------------------------------
  // Exceptions

  /** Pending unmasked exception (ES)? */
  get pending(): boolean { return (this.sw & SW_ES) !== 0; }

  /** Records exception flags; unmasked ones set ES and B (SDM Vol.1 §8.1.3.1). */
  private raiseFlags(flags: number): void {
    this.sw |= flags & 0x3f;
    if (flags & ~this.cw & 0x3f) this.sw |= SW_ES | SW_B;
  }
  /** True when the flags contain an unmasked pre-computation exception (no result is stored). */
  private blocked(flags: number, which = FE_IE | FE_DE | FE_ZE): boolean { return (flags & ~this.cw & which) !== 0; }

  /**
   * An unmasked pre-computation exception (IE, DE, ZE) suppresses the operation:
   * only those flags are reported, the destination is untouched (SDM Vol.1 §8.5).
   */
  private abort(env: FpEnv, keep = FE_IE | FE_DE | FE_ZE): void {
    this.setC1(false);
    this.raiseFlags(env.flags & keep);
  }

  /** ES/B follow the flags and masks after CW/SW loads. */
  private recomputeES(host: FpuHost | null): void {
    const was = (this.sw & SW_ES) !== 0;
    if (this.sw & ~this.cw & 0x3f) this.sw |= SW_ES | SW_B;
    else {
      this.sw &= ~(SW_ES | SW_B);
      if (was && host) host.setFerr(false);
    }
  }

  private setC1(v: boolean): void { if (v) this.sw |= SW_C1; else this.sw &= ~SW_C1; }
  private setCC(c3: number, c2: number, c1: number, c0: number): void {
    this.sw = (this.sw & ~SW_CC) | (c0 ? SW_C0 : 0) | (c1 ? SW_C1 : 0) | (c2 ? SW_C2 : 0) | (c3 ? SW_C3 : 0);
  }

  /**
   * Stack overflow / underflow (SDM Vol.1 §8.5.1.1): IE and SF set, C1 = 1 for
   * overflow and 0 for underflow. Returns true when IE is masked (the caller then
   * delivers the masked response, usually the real indefinite).
   */
  private stackFault(overflow: boolean): boolean {
    this.sw |= SW_IE | SW_SF;
    this.setC1(overflow);
    if (this.cw & SW_IE) return true;
    this.sw |= SW_ES | SW_B;
    return false;
  }

  /** Signals a pending unmasked exception at a waiting instruction (SDM Vol.1 §8.7, Vol.3A §2.5 NE). */
  private signalPending(host: FpuHost): void {
    if (!(this.sw & SW_ES)) return;
    if (host.cr0 & CR0_NE) host.raise(VEC_MF);
    host.setFerr(true); // NE=0: FERR# -> IRQ13 (the platform); execution continues
  }

  /** WAIT/FWAIT (opcode 9B), called by the core. */
  fwait(host: FpuHost): void {
    if (waitNeedsNM(host.cr0)) host.raise(VEC_NM);
    this.signalPending(host);
  }

  /** Begins arithmetic: fresh exception accumulator with the current CW. */
  private begin(): FpEnv { this.env.begin(this.cw); return this.env; }
  /** Ends an instruction that produced a rounded result: flags, C1 = round-up. */
  private endRound(env: FpEnv): void {
    this.setC1((env.flags & FE_PE) !== 0 && env.up);
    this.raiseFlags(env.flags);
  }

  // ---------------------------------------------------------------------------
  // Memory helpers (all reads happen before any state change)

  private readF32(h: FpuHost, seg: number, off: number): bigint { return BigInt(h.read32(seg, off) >>> 0); }
  private readQ(h: FpuHost, seg: number, off: number): bigint {
    h.probeRead(seg, off, 8);
    const lo = h.read32(seg, off) >>> 0, hi = h.read32(seg, off + 4) >>> 0;
    return (BigInt(hi) << 32n) | BigInt(lo);
  }
  private readF80(h: FpuHost, seg: number, off: number): F80 {
    h.probeRead(seg, off, 10);
    const b = this.buf;
    for (let k = 0; k < 10; k++) b[k] = h.read8(seg, off + k);
    return fromBytes80(b, 0);
  }
  private writeQ(h: FpuHost, seg: number, off: number, v: bigint): void {
    h.probeWrite(seg, off, 8);
    h.write32(seg, off, Number(v & 0xffffffffn));
    h.write32(seg, off + 4, Number((v >> 32n) & 0xffffffffn));
  }
  private writeBytes(h: FpuHost, seg: number, off: number, b: Uint8Array, n: number): void {
    h.probeWrite(seg, off, n);
    for (let k = 0; k < n; k++) h.write8(seg, off + k, b[k]!);
  }
  private writeF80(h: FpuHost, seg: number, off: number, v: F80): void {
    toBytes80(v, this.buf, 0);
    this.writeBytes(h, seg, off, this.buf, 10);
  }

  // ---------------------------------------------------------------------------
  // Decode

  /** Is this encoding undefined on a P6 (→ #UD)? */
  private undefinedEncoding(op: number, modrm: number): boolean {
    const reg = (modrm >> 3) & 7;
    if (modrm < 0xc0) {
      if (op === 0xd9) return reg === 1;
      if (op === 0xdb) return reg === 4 || reg === 6 || (reg === 1 && !this.sse3);
      if (op === 0xdd) return reg === 5 || (reg === 1 && !this.sse3);
      if (op === 0xdf) return reg === 1 && !this.sse3;
      return false;
    }
    switch (op) {
      case 0xd9:
        if (modrm >= 0xd1 && modrm <= 0xd7) return true;
        return modrm === 0xe2 || modrm === 0xe3 || modrm === 0xe6 || modrm === 0xe7 || modrm === 0xef;
      case 0xda: return modrm >= 0xe0 && modrm !== 0xe9;
      case 0xdb: return (modrm >= 0xe5 && modrm <= 0xe7) || modrm >= 0xf8;
      case 0xdd: return modrm >= 0xf0;
      case 0xde: return modrm >= 0xd8 && modrm <= 0xdf && modrm !== 0xd9;
      case 0xdf: return (modrm >= 0xe1 && modrm <= 0xe7) || modrm >= 0xf8;
      default: return false;
    }
  }

  /** Non-waiting forms: FNINIT, FNCLEX, FNSTSW, FNSTCW, FNSTENV, FNSAVE (and the 8087/287 no-ops). */
  private static noWait(op: number, modrm: number): boolean {
    const reg = (modrm >> 3) & 7;
    if (modrm < 0xc0) return (op === 0xd9 && (reg === 6 || reg === 7)) || (op === 0xdd && (reg === 6 || reg === 7));
    return (op === 0xdb && (modrm >= 0xe0 && modrm <= 0xe4)) || (op === 0xdf && modrm === 0xe0);
  }

  /** Control instructions do not update FIP/FOP/FDP (SDM Vol.1 §8.1.8-8.1.9). */
  private static isControl(op: number, modrm: number): boolean {
    const reg = (modrm >> 3) & 7;
    if (modrm < 0xc0) return (op === 0xd9 && reg >= 4) || (op === 0xdd && (reg === 4 || reg >= 6));
    return (op === 0xdb && modrm >= 0xe0 && modrm <= 0xe4) || (op === 0xdf && modrm === 0xe0);
  }

  /** Executes one ESC instruction (D8..DF). */
  exec(host: FpuHost, i: FpuInsn): void {
    const op = i.op, modrm = i.modrm;
    // CR0.EM=1 or CR0.TS=1: #NM for every ESC instruction (SDM Vol.3A Table 2-2).
    if (host.cr0 & (CR0_EM | CR0_TS)) host.raise(VEC_NM);
    if (this.undefinedEncoding(op, modrm)) host.raise(VEC_UD);
    if (!X87.noWait(op, modrm)) this.signalPending(host);
    if (modrm >= 0xc0) this.execReg(host, op, modrm);
    else this.execMem(host, i, op, (modrm >> 3) & 7);
    // Updated last, so that an instruction abandoned by a memory fault leaves no trace.
    if (!X87.isControl(op, modrm)) {
      this.fcs = i.csSel; this.fip = i.eip; this.fop = ((op & 7) << 8) | modrm;
      if (modrm < 0xc0) { this.fds = i.dsSel; this.fdp = i.off; }
    }
  }

  // ---------------------------------------------------------------------------
  // Arithmetic core

  /** dst op src for the reg-field operation kinds 0,1,4,5,6,7. */
  private arith(env: FpEnv, kind: number, a: F80, b: F80): F80 {
    const p = env.pcBits;
    switch (kind) {
      case 0: return add(env, a, b, false, p);
      case 1: return mul(env, a, b, p);
      case 4: return add(env, a, b, true, p);
      case 5: return add(env, b, a, true, p);
      case 6: return div(env, a, b, p);
      default: return div(env, b, a, p);
    }
  }

  /** ST(dst) := ST(dst) op src; src = null means "an empty register was involved". */
  private arithTo(kind: number, dst: number, srcEmpty: boolean, src: F80, popAfter: boolean, pre = 0): void {
    if (srcEmpty || this.isEmpty(dst)) {
      if (!this.stackFault(false)) return;
      this.setSt(dst, indefinite());
      if (popAfter) this.pop();
      return;
    }
    const env = this.begin();
    env.flags = pre;
    const r = this.arith(env, kind, this.st(dst), src);
    if (this.blocked(env.flags)) { this.abort(env); return; }
    this.setSt(dst, r);
    this.endRound(env);
    if (popAfter) this.pop();
  }

  /** FCOM family: compares ST(0) with src; pops `pops` times. */
  private fcom(src: F80, srcEmpty: boolean, quiet: boolean, pops: number, pre = 0): void {
    if (srcEmpty || this.isEmpty(0)) {
      // "unordered" even when IE is unmasked (host-verified); no pop then
      const masked = this.stackFault(false);
      this.setCC(1, 1, 0, 1);
      if (!masked) return;
    } else {
      const env = this.begin();
      env.flags = pre;
      const c = compare(env, this.st(0), src, quiet);
      // The condition codes are set even when IE/DE is unmasked (host-verified;
      // the SDM says they are left unchanged).
      this.raiseFlags(env.flags);
      this.setCCFromCmp(c);
      if (this.blocked(env.flags)) return;
    }
    for (let k = 0; k < pops; k++) this.pop();
  }
  private setCCFromCmp(c: number): void {
    // C3 C2 C0: > 000, < 001, = 100, unordered 111; C1 = 0 (SDM Vol.2A FCOM Table 3-21).
    if (c === CMP_GT) this.setCC(0, 0, 0, 0);
    else if (c === CMP_LT) this.setCC(0, 0, 0, 1);
    else if (c === CMP_EQ) this.setCC(1, 0, 0, 0);
    else this.setCC(1, 1, 0, 1);
  }

  /** FCOMI/FUCOMI(P): result in ZF, PF, CF (SDM Vol.2A FCOMI Table 3-22). */
  private fcomi(host: FpuHost, i: number, quiet: boolean, popAfter: boolean): void {
    this.setC1(false);
    if (this.isEmpty(0) || this.isEmpty(i)) {
      const masked = this.stackFault(false);
      host.setEflagsZPC(true, true, true); // set even when IE is unmasked (host-verified)
      if (!masked) return;
    } else {
      const env = this.begin();
      const c = compare(env, this.st(0), this.st(i), quiet);
      this.raiseFlags(env.flags);
      host.setEflagsZPC(c === CMP_EQ || c === CMP_UN, c === CMP_UN, c === CMP_LT || c === CMP_UN);
      if (this.blocked(env.flags)) return;
    }
    if (popAfter) this.pop();
  }

  /** Loads a value produced from memory or a constant onto the stack. */
  private pushValue(v: F80, flags: number): void {
    if (!this.isEmpty(7)) {
      if (!this.stackFault(true)) return;
      this.push(indefinite());
      return;
    }
    // Only IE suppresses a load: an unmasked DE (denormal single/double) still
    // loads the normalised value (host-verified).
    if (this.blocked(flags, FE_IE)) { this.raiseFlags(flags); return; }
    this.setC1(false);
    this.raiseFlags(flags);
    this.push(v);
  }

  /** Single-operand ST(0) operation with a rounded result (FSQRT, FRNDINT, transcendentals). */
  private unary(fn: (env: FpEnv, a: F80) => F80): void {
    if (this.isEmpty(0)) {
      if (this.stackFault(false)) this.setSt(0, indefinite());
      return;
    }
    const env = this.begin();
    const r = fn(env, this.st(0));
    if (this.blocked(env.flags)) { this.abort(env); return; }
    this.setSt(0, r);
    this.endRound(env);
  }

  /** ST(1) := fn(ST(1), ST(0)); pop (FPATAN, FYL2X, FYL2XP1). */
  private binaryPop(fn: (env: FpEnv, y: F80, x: F80) => F80): void {
    if (this.isEmpty(0) || this.isEmpty(1)) {
      if (!this.stackFault(false)) return;
      this.setSt(1, indefinite());
      this.pop();
      return;
    }
    const env = this.begin();
    const r = fn(env, this.st(1), this.st(0));
    if (this.blocked(env.flags)) { this.abort(env); return; }
    this.setSt(1, r);
    this.endRound(env);
    this.pop();
  }

  // ---------------------------------------------------------------------------
  // Register forms

  private execReg(host: FpuHost, op: number, modrm: number): void {
    const reg = (modrm >> 3) & 7, i = modrm & 7;
    switch (op) {
      case 0xd8:
        if (reg === 2 || reg === 3) return this.fcom(this.st(i), this.isEmpty(i), false, reg - 2);
        return this.arithTo(reg, 0, this.isEmpty(i), this.st(i), false);
      case 0xdc:
        // DC D0/D8 are aliases of FCOM/FCOMP (undocumented, executed by Intel CPUs).
        if (reg === 2 || reg === 3) return this.fcom(this.st(i), this.isEmpty(i), false, reg - 2);
        // ST(i) := ST(i) op ST(0); the SUB/DIV forms are reversed relative to D8 (Vol.2A FSUB/FDIV opcode tables).
        return this.arithTo(reg >= 4 ? reg ^ 1 : reg, i, this.isEmpty(0), this.st(0), false);
      case 0xde:
        if (reg === 2) return this.fcom(this.st(i), this.isEmpty(i), false, 1); // DE D0+i: FCOMP alias
        if (reg === 3) return this.fcom(this.st(1), this.isEmpty(1), false, 2); // DE D9: FCOMPP
        return this.arithTo(reg >= 4 ? reg ^ 1 : reg, i, this.isEmpty(0), this.st(0), true);
      case 0xd9: return this.execD9(modrm, reg, i);
      case 0xda:
        if (modrm === 0xe9) return this.fcom(this.st(1), this.isEmpty(1), true, 2); // FUCOMPP
        return this.fcmov(host, reg, false, i);
      case 0xdb:
        if (reg < 4) return this.fcmov(host, reg, true, i);
        if (reg === 5) return this.fcomi(host, i, true, false);
        if (reg === 6) return this.fcomi(host, i, false, false);
        switch (modrm) {
          case 0xe0: case 0xe1: case 0xe4: return; // FNENI, FNDISI, FNSETPM: no-ops since the 80287
          case 0xe2: // FNCLEX
            this.sw &= ~(0x3f | SW_SF | SW_ES | SW_B);
            host.setFerr(false);
            return;
          case 0xe3: this.finit(); host.setFerr(false); return; // FNINIT
        }
        return;
      case 0xdd:
        switch (reg) {
          case 0: this.empty |= 1 << ((this.top + i) & 7); return; // FFREE (C0-C3 undefined: unchanged)
          case 1: return this.fxch(i); // DD C8+i alias of FXCH
          case 2: return this.fstReg(i, false);
          case 3: return this.fstReg(i, true);
          case 4: return this.fcom(this.st(i), this.isEmpty(i), true, 0); // FUCOM
          default: return this.fcom(this.st(i), this.isEmpty(i), true, 1); // FUCOMP
        }
      default: // 0xdf
        switch (reg) {
          case 0: this.empty |= 1 << ((this.top + i) & 7); this.pop(); return; // FFREEP
          case 1: return this.fxch(i); // alias
          case 2: case 3: return this.fstReg(i, true); // DF D0/D8 aliases of FSTP
          case 4: host.setAX(this.status); return; // FNSTSW AX
          case 5: return this.fcomi(host, i, true, true);
          default: return this.fcomi(host, i, false, true);
        }
    }
  }

  private fxch(i: number): void {
    const e0 = this.isEmpty(0), ei = this.isEmpty(i);
    if (e0 || ei) {
      if (!this.stackFault(false)) return;
      if (e0) this.setSt(0, indefinite());
      if (ei) this.setSt(i, indefinite());
    } else this.setC1(false);
    const a = this.st(0);
    this.setSt(0, this.st(i));
    this.setSt(i, a);
  }

  private fstReg(i: number, popAfter: boolean): void {
    if (this.isEmpty(0)) {
      if (!this.stackFault(false)) return;
      this.setSt(i, indefinite());
    } else {
      this.setC1(false);
      this.setSt(i, copy(this.st(0)));
    }
    if (popAfter) this.pop();
  }

  private fcmov(host: FpuHost, cond: number, negate: boolean, i: number): void {
    const fl = host.getEflags();
    let t: boolean;
    switch (cond) {
      case 0: t = (fl & FL_CF) !== 0; break;
      case 1: t = (fl & FL_ZF) !== 0; break;
      case 2: t = (fl & (FL_CF | FL_ZF)) !== 0; break;
      default: t = (fl & FL_PF) !== 0; break;
    }
    if (negate) t = !t;
    if (this.isEmpty(0) || this.isEmpty(i)) {
      if (!this.stackFault(false)) return;
      this.setSt(0, indefinite());
      return;
    }
    this.setC1(false);
    if (t) this.setSt(0, copy(this.st(i)));
  }

  private execD9(modrm: number, reg: number, i: number): void {
    if (reg === 0) { // FLD ST(i)
      if (this.isEmpty(i)) {
        if (!this.stackFault(false)) return;
        this.push(indefinite());
        return;
      }
      return this.pushValue(copy(this.st(i)), 0);
    }
    if (reg === 1) return this.fxch(i);
    if (reg === 3) return this.fstReg(i, true); // D9 D8+i: FSTP alias
    switch (modrm) {
      case 0xd0: return; // FNOP
      case 0xe0: case 0xe1: // FCHS, FABS: sign only, no exceptions except underflow
        if (this.isEmpty(0)) { if (this.stackFault(false)) this.setSt(0, indefinite()); return; }
        this.setC1(false);
        { const a = copy(this.st(0)); a.s = modrm === 0xe0 ? a.s ^ 1 : 0; this.setSt(0, a); }
        return;
      case 0xe4: return this.fcom(zero(0), false, false, 0); // FTST
      case 0xe5: return this.fxam();
      case 0xe8: return this.pushValue(copy(ONE), 0);
      case 0xe9: case 0xea: case 0xeb: case 0xec: case 0xed:
        return this.pushValue(loadConst((this.cw >> 10) & 3, modrm - 0xe9), 0);
      case 0xee: return this.pushValue(zero(0), 0);
      case 0xf0: return this.unary(f2xm1);
      case 0xf1: return this.binaryPop(fyl2x);
      case 0xf2: return this.fptan();
      case 0xf3: return this.binaryPop(fpatan);
      case 0xf4: return this.fxtract();
      case 0xf5: return this.fprem(true);
      case 0xf6: this.top = (this.top - 1) & 7; this.setC1(false); return; // FDECSTP
      case 0xf7: this.top = (this.top + 1) & 7; this.setC1(false); return; // FINCSTP
      case 0xf8: return this.fprem(false);
      case 0xf9: return this.binaryPop(fyl2xp1);
      case 0xfa: return this.unary((env, a) => sqrt(env, a, env.pcBits));
      case 0xfb: return this.fsincos();
      case 0xfc: return this.unary(roundInt);
      case 0xfd: return this.fscale();
      case 0xfe: case 0xff: return this.trig(modrm === 0xfe ? fsin : fcos);
    }
  }

  /** FXAM (SDM Vol.2A FXAM Table 3-43): C1 = sign, C3 C2 C0 = class. */
  private fxam(): void {
    const a = this.st(0);
    const s = a.s;
    if (this.isEmpty(0)) return this.setCC(1, 0, s, 1);
    switch (classify(a)) {
      case Cls.Unsupported: return this.setCC(0, 0, s, 0);
      case Cls.QNaN: case Cls.SNaN: return this.setCC(0, 0, s, 1);
      case Cls.Normal: return this.setCC(0, 1, s, 0);
      case Cls.Inf: return this.setCC(0, 1, s, 1);
      case Cls.Zero: return this.setCC(1, 0, s, 0);
      default: return this.setCC(1, 1, s, 0); // denormal (and pseudo-denormal)
    }
  }

  /** FSIN/FCOS: out-of-range operands (|x| >= 2^63) set C2 and leave ST(0) (SDM Vol.2A FSIN). */
  private trig(fn: (env: FpEnv, a: F80) => F80): void {
    if (!this.isEmpty(0) && trigOutOfRange(this.st(0))) { this.sw |= SW_C2; return; }
    this.sw &= ~SW_C2;
    this.unary(fn);
  }

  /**
   * The checks FPTAN and FSINCOS share before computing (they replace ST(0) and push a
   * second result): stack underflow, stack overflow (checked before the out-of-range
   * operand, host-verified), and |x| >= 2^63 (C2 set, ST(0) left). False: nothing to compute.
   */
  private twoResultTrigReady(): boolean {
    if (this.isEmpty(0)) {
      if (this.stackFault(false)) { this.setSt(0, indefinite()); this.push(indefinite()); }
      return false;
    }
    if (!this.isEmpty(7)) {
      if (this.stackFault(true)) { this.setSt(0, indefinite()); this.push(indefinite()); }
      return false;
    }
    if (trigOutOfRange(this.st(0))) { this.sw |= SW_C2; return false; }
    this.sw &= ~SW_C2;
    return true;
  }

  private fptan(): void {
    if (!this.twoResultTrigReady()) return;
    const env = this.begin();
    const r = ftan(env, this.st(0));
    if (this.blocked(env.flags)) { this.abort(env); return; }
    this.setSt(0, r);
    this.endRound(env);
    // A NaN result (NaN operand, or masked invalid) is pushed a second time instead of 1.0 (host-verified).
    const nan = classify(r) === Cls.QNaN;
    this.push(nan ? copy(r) : copy(ONE));
  }

  private fsincos(): void {
    if (!this.twoResultTrigReady()) return;
    const env = this.begin();
    const [s, c] = fsincos(env, this.st(0));
    if (this.blocked(env.flags)) { this.abort(env); return; }
    this.setSt(0, s);
    this.endRound(env);
    this.push(c);
  }

  private fxtract(): void {
    if (this.isEmpty(0)) {
      if (!this.stackFault(false)) return;
      this.setSt(0, indefinite()); this.push(indefinite());
      return;
    }
    if (!this.isEmpty(7)) {
      if (!this.stackFault(true)) return;
      this.setSt(0, indefinite()); this.push(indefinite());
      return;
    }
    const env = this.begin();
    const [e, s] = xtract(env, this.st(0));
    if (this.blocked(env.flags)) { this.abort(env); return; }
    this.setC1(false);
    this.raiseFlags(env.flags);
    this.setSt(0, e);
    this.push(s);
  }

  private fscale(): void {
    if (this.isEmpty(0) || this.isEmpty(1)) {
      if (this.stackFault(false)) this.setSt(0, indefinite());
      return;
    }
    const env = this.begin();
    const r = scale(env, this.st(0), this.st(1));
    if (this.blocked(env.flags)) { this.abort(env); return; }
    this.setSt(0, r);
    this.endRound(env);
  }

  /** FPREM / FPREM1: C2 = incomplete; C0, C3, C1 = Q2, Q1... (SDM Vol.2A FPREM: C0=Q2, C3=Q1, C1=Q0). */
  private fprem(ieee: boolean): void {
    if (this.isEmpty(0) || this.isEmpty(1)) {
      if (this.stackFault(false)) this.setSt(0, indefinite());
      return;
    }
    const env = this.begin();
    const r = rem(env, this.st(0), this.st(1), ieee);
    if (this.blocked(env.flags)) { this.abort(env); return; }
    this.setSt(0, r.r);
    this.raiseFlags(env.flags);
    if (env.flags & FE_IE) { this.sw &= ~SW_C2; return; } // masked invalid: C0/C1/C3 undefined, C2 cleared
    if (r.partial) this.setCC(0, 1, 0, 0); // incomplete: only C2 is defined; Intel clears C0, C1, C3
    else this.setCC(r.q & 2, 0, r.q & 1, r.q & 4);
  }

  // ---------------------------------------------------------------------------
  // Memory forms

  private execMem(host: FpuHost, ins: FpuInsn, op: number, reg: number): void {
    const seg = ins.seg, off = ins.off;
    switch (op) {
      case 0xd8: case 0xdc: case 0xda: case 0xde: {
        let v: F80;
        const env = this.begin();
        if (op === 0xd8) v = fromIeee(env, this.readF32(host, seg, off), 8, 23);
        else if (op === 0xdc) v = fromIeee(env, this.readQ(host, seg, off), 11, 52);
        else if (op === 0xda) v = fromInt(BigInt(host.read32(seg, off) | 0));
        else v = fromInt(BigInt((host.read16(seg, off) << 16) >> 16));
        // An SNaN memory operand is handed to the arithmetic as an SNaN (it raises IE there).
        const loadFlags = env.flags;
        if (loadFlags & FE_IE) v.m &= ~(1n << 62n);
        // A denormal single/double is normalised by the conversion: carry its DE flag.
        // Not when ST(0) is a NaN or unsupported: those take precedence (host-verified).
        const c0 = this.isEmpty(0) ? Cls.Zero : classify(this.st(0));
        const pre = c0 === Cls.QNaN || c0 === Cls.SNaN || c0 === Cls.Unsupported ? 0 : loadFlags & FE_DE;
        if (reg === 2 || reg === 3) return this.fcom(v, false, false, reg - 2, pre);
        return this.arithTo(reg, 0, false, v, false, pre);
      }
      case 0xd9:
        switch (reg) {
          case 0: { const env = this.begin(); const v = fromIeee(env, this.readF32(host, seg, off), 8, 23); return this.pushValue(v, env.flags); }
          case 2: case 3: return this.fstIeee(host, seg, off, 8, 23, reg === 3);
          case 4: return this.fldenv(host, ins);
          case 5: this.cw = fixCW(host.read16(seg, off)); this.recomputeES(host); return; // FLDCW
          case 6: return this.fstenv(host, ins);
          default: host.write16(seg, off, this.cw); return; // FNSTCW
        }
      case 0xdb:
        switch (reg) {
          case 0: return this.pushValue(fromInt(BigInt(host.read32(seg, off) | 0)), 0);
          case 1: return this.fist(host, seg, off, 32, true, true);
          case 2: case 3: return this.fist(host, seg, off, 32, reg === 3, false);
          case 5: return this.pushValue(this.readF80(host, seg, off), 0); // FLD m80: no exceptions besides the stack
          default: return this.fstp80(host, seg, off);
        }
      case 0xdd:
        switch (reg) {
          case 0: { const env = this.begin(); const v = fromIeee(env, this.readQ(host, seg, off), 11, 52); return this.pushValue(v, env.flags); }
          case 1: return this.fist(host, seg, off, 64, true, true);
          case 2: case 3: return this.fstIeee(host, seg, off, 11, 52, reg === 3);
          case 4: return this.frstor(host, ins);
          case 6: return this.fsave(host, ins);
          default: host.write16(seg, off, this.status); return; // FNSTSW m16
        }
      default: // 0xdf
        switch (reg) {
          case 0: return this.pushValue(fromInt(BigInt((host.read16(seg, off) << 16) >> 16)), 0);
          case 1: return this.fist(host, seg, off, 16, true, true);
          case 2: case 3: return this.fist(host, seg, off, 16, reg === 3, false);
          case 4: { // FBLD
            host.probeRead(seg, off, 10);
            const b = this.buf;
            for (let k = 0; k < 10; k++) b[k] = host.read8(seg, off + k);
            return this.pushValue(fromBcd(b), 0);
          }
          case 5: return this.pushValue(fromInt(BigInt.asIntN(64, this.readQ(host, seg, off))), 0);
          case 6: return this.fbstp(host, seg, off);
          default: return this.fist(host, seg, off, 64, true, false);
        }
    }
  }

  private fstIeee(host: FpuHost, seg: number, off: number, eb: number, fb: number, popAfter: boolean): void {
    let bits: bigint;
    let env: FpEnv | null = null;
    const empty = this.isEmpty(0);
    if (empty) {
      if (!(this.cw & SW_IE)) { this.stackFault(false); return; }
      bits = eb === 8 ? 0xffc00000n : 0xfff8000000000000n;
    } else {
      env = this.begin();
      bits = toIeee(env, this.st(0), eb, fb);
      // Unmasked IE/DE/OE/UE: nothing is stored (SDM Vol.1 §4.9.2, FST "Floating-Point Exceptions").
      if (this.blocked(env.flags, FE_IE | FE_DE | 0x08 | 0x10)) { this.abort(env, FE_IE | FE_DE | 0x08 | 0x10); return; }
    }
    if (eb === 8) host.write32(seg, off, Number(bits));
    else this.writeQ(host, seg, off, bits);
    if (empty) this.stackFault(false);
    if (env) this.endRound(env);
    if (popAfter) this.pop();
  }

  private fstp80(host: FpuHost, seg: number, off: number): void {
    if (this.isEmpty(0)) {
      if (!(this.cw & SW_IE)) { this.stackFault(false); return; }
      this.writeF80(host, seg, off, indefinite());
      this.stackFault(false);
    } else {
      this.writeF80(host, seg, off, this.st(0));
      this.setC1(false);
    }
    this.pop();
  }

  private fist(host: FpuHost, seg: number, off: number, bits: number, popAfter: boolean, trunc: boolean): void {
    let v: bigint;
    let env: FpEnv | null = null;
    const indef = -(1n << BigInt(bits - 1));
    const empty = this.isEmpty(0);
    if (empty) {
      if (!(this.cw & SW_IE)) { this.stackFault(false); return; }
      v = indef;
    } else {
      env = this.begin();
      const r = toInt(env, this.st(0), bits, trunc);
      if (this.blocked(env.flags, FE_IE)) { this.abort(env); return; }
      v = r ?? indef;
    }
    if (bits === 16) host.write16(seg, off, Number(v & 0xffffn));
    else if (bits === 32) host.write32(seg, off, Number(v & 0xffffffffn));
    else this.writeQ(host, seg, off, v & 0xffffffffffffffffn);
    if (empty) this.stackFault(false);
    if (env) this.endRound(env);
    if (popAfter) this.pop();
  }

  private fbstp(host: FpuHost, seg: number, off: number): void {
    const b = new Uint8Array(10);
    let env: FpEnv | null = null;
    const empty = this.isEmpty(0);
    if (empty) {
      if (!(this.cw & SW_IE)) { this.stackFault(false); return; }
      b[7] = 0xc0; b[8] = 0xff; b[9] = 0xff;
    } else {
      env = this.begin();
      toBcd(env, this.st(0), b);
      if (this.blocked(env.flags, FE_IE)) { this.abort(env); return; }
    }
    this.writeBytes(host, seg, off, b, 10);
    if (empty) this.stackFault(false);
    if (env) this.endRound(env);
    this.pop();
  }

  // ---------------------------------------------------------------------------
  // Environment (SDM Vol.1 §8.1.10, Figures 8-9..8-12)

  /** Builds the 14/28-byte environment image into this.buf. */
  private envImage(host: FpuHost, osize: 16 | 32): number {
    const b = this.buf;
    b.fill(0, 0, 28);
    const w16 = (o: number, v: number): void => { b[o] = v & 0xff; b[o + 1] = (v >> 8) & 0xff; };
    const w32 = (o: number, v: number): void => { w16(o, v & 0xffff); w16(o + 2, (v >>> 16) & 0xffff); };
    const real = host.realMode;
    if (osize === 32) {
      // Reserved upper halves are written as 1s by Intel processors.
      w32(0, 0xffff0000 | this.cw); w32(4, 0xffff0000 | this.status); w32(8, 0xffff0000 | this.tagWord);
      if (real) {
        const ip = (this.fcs << 4) + this.fip, dp = (this.fds << 4) + this.fdp;
        w32(12, 0xffff0000 | (ip & 0xffff)); w32(16, ((ip >>> 16) << 12) | this.fop);
        w32(20, 0xffff0000 | (dp & 0xffff)); w32(24, (dp >>> 16) << 12);
      } else {
        w32(12, this.fip); w32(16, this.fcs | (this.fop << 16));
        w32(20, this.fdp); w32(24, 0xffff0000 | this.fds);
      }
      return 28;
    }
    w16(0, this.cw); w16(2, this.status); w16(4, this.tagWord);
    if (real) {
      const ip = (this.fcs << 4) + this.fip, dp = (this.fds << 4) + this.fdp;
      w16(6, ip); w16(8, (((ip >>> 16) & 0xf) << 12) | this.fop);
      w16(10, dp); w16(12, ((dp >>> 16) & 0xf) << 12);
    } else {
      w16(6, this.fip); w16(8, this.fcs); w16(10, this.fdp); w16(12, this.fds);
    }
    return 14;
  }

  /** Loads an environment image from this.buf. */
  private loadEnvImage(host: FpuHost, osize: 16 | 32): void {
    const b = this.buf;
    const r16 = (o: number): number => b[o]! | (b[o + 1]! << 8);
    const r32 = (o: number): number => (r16(o) | (r16(o + 2) << 16)) >>> 0;
    const real = host.realMode;
    this.cw = fixCW(r16(0));
    if (osize === 32) {
      this.status = r16(4); this.tagWord = r16(8);
      if (real) {
        this.fip = (r16(12) | ((r32(16) >>> 12) << 16)) >>> 0; this.fcs = 0; this.fop = r16(16) & 0x7ff;
        this.fdp = (r16(20) | ((r32(24) >>> 12) << 16)) >>> 0; this.fds = 0;
      } else {
        this.fip = r32(12); this.fcs = r16(16); this.fop = r16(18) & 0x7ff;
        this.fdp = r32(20); this.fds = r16(24);
      }
    } else {
      this.status = r16(2); this.tagWord = r16(4);
      if (real) {
        this.fip = r16(6) | ((r16(8) >> 12) << 16); this.fcs = 0; this.fop = r16(8) & 0x7ff;
        this.fdp = r16(10) | ((r16(12) >> 12) << 16); this.fds = 0;
      } else {
        this.fip = r16(6); this.fcs = r16(8); this.fdp = r16(10); this.fds = r16(12);
      }
    }
    this.recomputeES(host);
  }

  private fstenv(host: FpuHost, ins: FpuInsn): void {
    const n = this.envImage(host, ins.osize);
    this.writeBytes(host, ins.seg, ins.off, this.buf, n);
    this.cw |= 0x3f; // FSTENV masks all exceptions afterwards (SDM Vol.2A FSTENV)
    this.recomputeES(host); // ... which clears ES and B (host-verified)
  }

  private fldenv(host: FpuHost, ins: FpuInsn): void {
    const n = ins.osize === 32 ? 28 : 14;
    host.probeRead(ins.seg, ins.off, n);
    for (let k = 0; k < n; k++) this.buf[k] = host.read8(ins.seg, ins.off + k);
    this.loadEnvImage(host, ins.osize);
  }

  private fsave(host: FpuHost, ins: FpuInsn): void {
    const n = this.envImage(host, ins.osize);
    host.probeWrite(ins.seg, ins.off, n + 80);
    for (let k = 0; k < n; k++) host.write8(ins.seg, ins.off + k, this.buf[k]!);
    for (let r = 0; r < 8; r++) this.writeF80(host, ins.seg, ins.off + n + 10 * r, this.st(r));
    this.finit(); // FSAVE then initializes the FPU like FNINIT
    host.setFerr(false);
  }

  private frstor(host: FpuHost, ins: FpuInsn): void {
    const n = ins.osize === 32 ? 28 : 14;
    host.probeRead(ins.seg, ins.off, n + 80);
    const regs: F80[] = [];
    for (let r = 0; r < 8; r++) regs.push(this.readF80(host, ins.seg, ins.off + n + 10 * r));
    for (let k = 0; k < n; k++) this.buf[k] = host.read8(ins.seg, ins.off + k);
    this.loadEnvImage(host, ins.osize);
    for (let r = 0; r < 8; r++) this.regs[(this.top + r) & 7] = regs[r]!;
  }

  // ---------------------------------------------------------------------------
  // FXSAVE / FXRSTOR, x87 part of the 512-byte image (SDM Vol.2A FXSAVE Table 3-53).

  fxsave(host: FpuHost, seg: number, off: number): void {
    host.probeWrite(seg, off, 160);
    let ftw = 0;
    for (let r = 0; r < 8; r++) if (!(this.empty & (1 << r))) ftw |= 1 << r; // abridged: 1 = valid
    host.write16(seg, off, this.cw);
    host.write16(seg, off + 2, this.status);
    host.write16(seg, off + 4, ftw); // FTW byte + reserved byte
    host.write16(seg, off + 6, this.fop);
    host.write32(seg, off + 8, this.fip);
    host.write32(seg, off + 12, this.fcs & 0xffff);
    host.write32(seg, off + 16, this.fdp);
    host.write32(seg, off + 20, this.fds & 0xffff);
    host.write32(seg, off + 24, 0); // MXCSR: owned by the SSE unit (none here)
    host.write32(seg, off + 28, 0); // MXCSR_MASK
    for (let r = 0; r < 8; r++) {
      const o = off + 32 + 16 * r;
      this.writeF80(host, seg, o, this.st(r));
      for (let k = 10; k < 16; k++) host.write8(seg, o + k, 0);
    }
  }

  fxrstor(host: FpuHost, seg: number, off: number): void {
    host.probeRead(seg, off, 160);
    const cw = host.read16(seg, off), sw = host.read16(seg, off + 2), ftw = host.read8(seg, off + 4);
    const fop = host.read16(seg, off + 6) & 0x7ff;
    const fip = host.read32(seg, off + 8) >>> 0, fcs = host.read16(seg, off + 12);
    const fdp = host.read32(seg, off + 16) >>> 0, fds = host.read16(seg, off + 20);
    const regs: F80[] = [];
    for (let r = 0; r < 8; r++) regs.push(this.readF80(host, seg, off + 32 + 16 * r));
    this.cw = fixCW(cw); this.status = sw;
    this.empty = ~ftw & 0xff;
    this.fop = fop; this.fip = fip; this.fcs = fcs; this.fdp = fdp; this.fds = fds;
    for (let r = 0; r < 8; r++) this.regs[(this.top + r) & 7] = regs[r]!;
    this.recomputeES(host);
  }
}

