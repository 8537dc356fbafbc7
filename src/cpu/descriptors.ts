import type { Cpu } from './cpu';
import { AR_DB, AR_P, AR_S, CS, GP, NP, SS, SS_, TS, VM } from './consts';

/**
 * A decoded segment descriptor (SDM Vol.3A §3.4.5). One scratch instance per call
 * site: callers copy what they need before loading another descriptor.
 */
export class Desc {
  lo = 0;
  hi = 0;
  get base(): number { return ((this.lo >>> 16) | ((this.hi & 0xff) << 16) | (this.hi & 0xff000000)) >>> 0; }
  get limit(): number {
    const raw = (this.lo & 0xffff) | (this.hi & 0xf0000);
    return this.hi & (1 << 23) ? ((raw << 12) | 0xfff) >>> 0 : raw;
  }
  /** Access rights word: bits 0-7 = byte 5 (type, S, DPL, P); bits 12-15 = AVL, L, D/B, G. */
  get ar(): number { return (this.hi >>> 8) & 0xf0ff; }
  get type(): number { return (this.hi >>> 8) & 0x0f; }
  get s(): boolean { return (this.hi & (1 << 12)) !== 0; }
  get dpl(): number { return (this.hi >>> 13) & 3; }
  get present(): boolean { return (this.hi & (1 << 15)) !== 0; }
  get isCode(): boolean { return this.s && (this.hi & (1 << 11)) !== 0; }
  get isData(): boolean { return this.s && (this.hi & (1 << 11)) === 0; }
  get conforming(): boolean { return this.isCode && (this.hi & (1 << 10)) !== 0; }
  get readable(): boolean { return this.isData || (this.hi & (1 << 9)) !== 0; }
  get writable(): boolean { return this.isData && (this.hi & (1 << 9)) !== 0; }
  // Gate fields.
  get gateSel(): number { return this.lo >>> 16; }
  get gateOffset(): number { return ((this.lo & 0xffff) | (this.hi & 0xffff0000)) >>> 0; }
  get gateParams(): number { return this.hi & 0x1f; }
}

/** Linear address of the descriptor for `sel`, or -1 when the selector is outside its table. */
export function descAddr(cpu: Cpu, sel: number): number {
  const idx = sel & 0xfff8;
  if (sel & 4) {
    if (cpu.ldtrSel === 0 || idx + 7 > cpu.ldtr.limit) return -1;
    return (cpu.ldtr.base + idx) >>> 0;
  }
  if (idx + 7 > cpu.gdtr.limit) return -1;
  return (cpu.gdtr.base + idx) >>> 0;
}

/** Reads the descriptor for `sel` into `d`; raises #GP(sel) (or `vector`) when outside the table. */
export function loadDesc(cpu: Cpu, sel: number, d: Desc, vector = GP): void {
  const a = descAddr(cpu, sel);
  if (a < 0) cpu.raise(vector, sel & 0xfffc);
  d.lo = cpu.sread32(a);
  d.hi = cpu.sread32((a + 4) >>> 0);
}

/** Reads a descriptor without faulting (for LAR/LSL/VERR/VERW); false when outside the table. */
export function tryLoadDesc(cpu: Cpu, sel: number, d: Desc): boolean {
  const a = descAddr(cpu, sel);
  if (a < 0) return false;
  d.lo = cpu.sread32(a);
  d.hi = cpu.sread32((a + 4) >>> 0);
  return true;
}

/** Sets the accessed bit of a code/data descriptor in memory (SDM Vol.3A §3.4.5.1). */
export function setAccessed(cpu: Cpu, sel: number, d: Desc): void {
  if (d.s && !(d.hi & (1 << 8))) {
    d.hi |= 1 << 8;
    const a = descAddr(cpu, sel);
    cpu.swrite8((a + 5) >>> 0, (d.hi >>> 8) & 0xff);
  }
}

const scratch = new Desc();

/**
 * Loads a data segment register (DS, ES, FS, GS) or SS from `sel`, with the
 * protected-mode checks of MOV/POP (SDM Vol.2B MOV, "Operation"). In real and
 * virtual-8086 mode the base is sel*16 and the rest of the cache is kept, except
 * that VM86 forces the 64 KiB limit and full access.
 */
export function loadSegReg(cpu: Cpu, seg: number, sel: number): void {
  sel &= 0xffff;
  if (!cpu.protectedMode) {
    if (cpu.flags & VM) cpu.setSegCache(seg, sel, sel << 4, 0xffff, AR_P | AR_S | 0x03 | (seg === CS ? 0x08 : 0) | (3 << 5));
    else {
      cpu.segSel[seg] = sel;
      cpu.segBase[seg] = (sel << 4) >>> 0;
      cpu.recomputeSegWindow(seg);
    }
    return;
  }
  const d = scratch;
  if (seg === SS) {
    if ((sel & 0xfffc) === 0) cpu.raise(GP, 0);
    loadDesc(cpu, sel, d);
    if ((sel & 3) !== cpu.cpl || !d.writable || d.dpl !== cpu.cpl) cpu.raise(GP, sel & 0xfffc);
    if (!d.present) cpu.raise(SS_, sel & 0xfffc);
    setAccessed(cpu, sel, d);
    cpu.setSegCache(SS, sel, d.base, d.limit, d.ar);
    return;
  }
  if ((sel & 0xfffc) === 0) {
    // A null selector may be loaded; any later access through it raises #GP(0).
    cpu.segSel[seg] = sel;
    cpu.segAr[seg] = 0;
    cpu.recomputeSegWindow(seg);
    return;
  }
  loadDesc(cpu, sel, d);
  if (!d.s || (d.isCode && !d.readable)) cpu.raise(GP, sel & 0xfffc);
  if (d.isData || !d.conforming) {
    if ((sel & 3) > d.dpl || cpu.cpl > d.dpl) cpu.raise(GP, sel & 0xfffc);
  }
  if (!d.present) cpu.raise(NP, sel & 0xfffc);
  setAccessed(cpu, sel, d);
  cpu.setSegCache(seg, sel, d.base, d.limit, d.ar);
}

/**
 * After a return to an outer privilege level, data segment registers whose DPL is
 * below the new CPL are nulled (SDM Vol.2A RET, "RETURN-TO-OUTER-PRIVILEGE-LEVEL").
 */
export function invalidateOuterSegs(cpu: Cpu, segs: number[]): void {
  for (const s of segs) {
    const ar = cpu.segAr[s];
    const dpl = (ar >>> 5) & 3;
    const isConfCode = (ar & 0x18) === 0x18 && (ar & 0x04) !== 0;
    if ((ar & AR_S) && !isConfCode && dpl < cpu.cpl) {
      cpu.segSel[s] = 0;
      cpu.segAr[s] = 0;
      cpu.recomputeSegWindow(s);
    }
  }
}

/** Reads the inner-level stack pointer for `dpl` from the current TSS (SDM Vol.3A §7.2.1). */
export function tssStack(cpu: Cpu, dpl: number): { ss: number; esp: number } {
  const type = cpu.tr.ar & 0x0f;
  const is32 = (type & 8) !== 0;
  if (is32) {
    const off = 4 + dpl * 8;
    if (off + 5 > cpu.tr.limit) cpu.raise(TS, cpu.trSel & 0xfffc);
    return { esp: cpu.sread32((cpu.tr.base + off) >>> 0), ss: cpu.sread16((cpu.tr.base + off + 4) >>> 0) };
  }
  const off = 2 + dpl * 4;
  if (off + 3 > cpu.tr.limit) cpu.raise(TS, cpu.trSel & 0xfffc);
  return { esp: cpu.sread16((cpu.tr.base + off) >>> 0), ss: cpu.sread16((cpu.tr.base + off + 2) >>> 0) };
}

/** Validates a new inner stack segment from the TSS (the #TS checks of SDM Vol.3A §6.12.1). Returns its descriptor in `d`. */
export function checkInnerSS(cpu: Cpu, ss: number, dpl: number, d: Desc): void {
  if ((ss & 0xfffc) === 0) cpu.raise(TS, 0);
  loadDesc(cpu, ss, d, TS);
  if ((ss & 3) !== dpl || d.dpl !== dpl || !d.writable) cpu.raise(TS, ss & 0xfffc);
  if (!d.present) cpu.raise(SS_, ss & 0xfffc);
}

/**
 * A stack being built on a segment that is not (yet) SS: writes go through
 * explicit limit checks against the new segment's cache values, so everything is
 * validated before any register is committed.
 */
export class StackBuilder {
  base = 0;
  limitMin = 0;
  limitMax = 0;
  sp = 0;
  big = false;
  /** Privilege of the accesses (true: CPL 3 page checks). */
  user = false;
  constructor(private readonly cpu: Cpu) {}
  init(base: number, limit: number, ar: number, sp: number, cpl = 0): void {
    this.base = base;
    this.user = cpl === 3;
    const expandDown = (ar & 0x1c) === 0x14;
    this.big = (ar & AR_DB) !== 0;
    this.limitMin = expandDown ? limit + 1 : 0;
    this.limitMax = expandDown ? (this.big ? 0xffffffff : 0xffff) : limit;
    this.sp = this.big ? sp >>> 0 : sp & 0xffff;
  }
  fromSS(): void {
    const c = this.cpu;
    this.init(c.segBase[SS], c.segLimit[SS], c.segAr[SS], c.r32[4], c.cpl);
  }
  push(size: number, v: number, errSel = 0): void {
    const sp = this.big ? (this.sp - size) >>> 0 : (this.sp - size) & 0xffff;
    if (sp < this.limitMin || sp + size - 1 > this.limitMax) this.cpu.raise(SS_, errSel);
    this.cpu.lwriteAs((this.base + sp) >>> 0, size, v, this.user);
    this.sp = sp;
  }
}

