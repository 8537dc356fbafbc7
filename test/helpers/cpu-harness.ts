// Test harness for the interpreter CPU core: a Cpu over a few MiB of RAM, a fake
// PortIo that records every access, code loading, 32-bit flat protected mode with a
// real GDT and an IDT of 32-bit interrupt gates (every handler is a lone HLT, so a
// fault shows up as a halt at a known address), and real mode with an IVT built the
// same way.
import { Cpu, type CpuOptions } from '../../src/cpu/cpu';
import { PhysMemory } from '../../src/mmu/physmem';
import { Exit, type AccessSize, type PortIo } from '../../src/cpu/interfaces';
import { hasErrorCode } from '../../src/cpu/interrupts';
import { CS, DS, ES, FS, GS, SS, AR_P, AR_S, AR_DB, AR_G } from '../../src/cpu/consts';

export interface IoAccess { dir: 'in' | 'out'; port: number; size: AccessSize; value: number }

/** A PortIo that logs accesses; reads answer from `inputs` (per port, consumed in order) or `fill`. */
export class FakeIo implements PortIo {
  readonly log: IoAccess[] = [];
  readonly inputs = new Map<number, number[]>();
  fill = 0xffffffff;
  ioRead(port: number, size: AccessSize): number {
    const q = this.inputs.get(port);
    const raw = q && q.length ? q.shift()! : this.fill;
    const value = size === 4 ? raw >>> 0 : raw & (size === 2 ? 0xffff : 0xff);
    this.log.push({ dir: 'in', port, size, value });
    return value;
  }
  ioWrite(port: number, size: AccessSize, value: number): void {
    this.log.push({ dir: 'out', port, size, value: value >>> 0 });
  }
}

// Memory map used by every test (physical = linear: no paging).
export const GDT_BASE = 0x0800;
export const IDT_BASE = 0x1000;
/** Exception handler for vector v lives at HANDLERS + 4*v and is a single HLT. */
export const HANDLERS = 0x2000;
export const CODE = 0x10000;
export const DATA = 0x20000;
export const STACK_TOP = 0x90000;
/** Real mode: code segment and handler segment. */
export const REAL_CS = 0x1000;
export const REAL_HANDLER_OFF = 0x0400;

export const SEL_CODE32 = 0x08, SEL_DATA32 = 0x10, SEL_CODE16 = 0x18, SEL_DATA16 = 0x20;
/** A 32-bit TSS (ring-0 stack = STACK_TOP) with an I/O bitmap, and ring-3 flat code/data. */
export const SEL_TSS = 0x28, SEL_CODE32_R3 = 0x33, SEL_DATA32_R3 = 0x3b;
export const TSS_BASE = 0x5000;
/** The I/O permission bitmap starts here (TSS offset 0x68); one bit per port, 1 = denied. */
export const IOMAP = TSS_BASE + 0x68;
export const USER_STACK = 0x80000;

/** Builds a descriptor (SDM Vol.3A §3.4.5) as [lo, hi]. */
export function descriptor(base: number, limit: number, access: number, flags: number): [number, number] {
  const lo = ((base & 0xffff) << 16) | (limit & 0xffff);
  const hi = (base & 0xff000000) | ((flags & 0xf) << 20) | (limit & 0xf0000) | ((access & 0xff) << 8) | ((base >>> 16) & 0xff);
  return [lo >>> 0, hi >>> 0];
}

export interface FaultInfo { vector: number; err: number | null; eip: number; cs: number; eflags: number }

export class Harness {
  readonly mem: PhysMemory;
  readonly io = new FakeIo();
  readonly cpu: Cpu;
  lastExit: Exit = Exit.Budget;

  constructor(mib = 1, opts: CpuOptions = {}) {
    this.mem = PhysMemory.forCpu(mib << 20, undefined, opts.wasm);
    this.cpu = new Cpu(this.mem, this.io, opts);
  }

  // ---- physical memory ----
  /** Copies bytes into RAM and drops decoded code (direct RAM writes bypass the code-write hook). */
  load(addr: number, bytes: readonly number[]): void { this.mem.ram.set(bytes, addr); this.cpu.flushCodeCache(); }
  r8(a: number): number { return this.mem.ram[a]; }
  r16(a: number): number { return this.mem.view.getUint16(a, true); }
  r32(a: number): number { return this.mem.view.getUint32(a, true); }
  w8(a: number, v: number): void { this.mem.ram[a] = v; }
  w16(a: number, v: number): void { this.mem.view.setUint16(a, v, true); }
  w32(a: number, v: number): void { this.mem.view.setUint32(a, v >>> 0, true); }

  // ---- modes ----
  /** 32-bit flat protected mode at `entry`, with a GDT, an IDT of interrupt gates, ESP = STACK_TOP. */
  flat32(code: readonly number[], entry = CODE): this {
    const gdt = [
      [0, 0],
      descriptor(0, 0xfffff, 0x9b, 0xc), // 0x08 code32 flat, accessed
      descriptor(0, 0xfffff, 0x93, 0xc), // 0x10 data32 flat
      descriptor(0, 0xffff, 0x9b, 0x0), // 0x18 code16
      descriptor(0, 0xffff, 0x93, 0x0), // 0x20 data16
      descriptor(TSS_BASE, 0x68 + 0x2000, 0x89, 0x0), // 0x28 32-bit TSS, available
      descriptor(0, 0xfffff, 0xfb, 0xc), // 0x30 code32, DPL 3
      descriptor(0, 0xfffff, 0xf3, 0xc), // 0x38 data32, DPL 3
    ];
    gdt.forEach(([lo, hi], k) => { this.w32(GDT_BASE + 8 * k, lo); this.w32(GDT_BASE + 8 * k + 4, hi); });
    for (let v = 0; v < 256; v++) {
      const off = HANDLERS + 4 * v;
      this.w8(off, 0xf4);
      // 32-bit interrupt gate, DPL 0, present (SDM Vol.3A §6.11, Figure 6-2).
      this.w32(IDT_BASE + 8 * v, ((SEL_CODE32 << 16) | (off & 0xffff)) >>> 0);
      this.w32(IDT_BASE + 8 * v + 4, ((off & 0xffff0000) | 0x8e00) >>> 0);
    }
    const cpu = this.cpu;
    cpu.setupFlat32(entry, SEL_CODE32, SEL_DATA32);
    cpu.gdtr = { base: GDT_BASE, limit: gdt.length * 8 - 1 };
    cpu.idtr = { base: IDT_BASE, limit: 256 * 8 - 1 };
    cpu.r32[4] = STACK_TOP;
    this.load(entry, code);
    return this;
  }

  /**
   * From flat32: load TR with the TSS (ESP0 = STACK_TOP, SS0 = 0x10, every port denied in the
   * bitmap except those in `allowPorts`) and switch to CPL 3 flat segments with ESP = USER_STACK.
   */
  enterRing3(iopl = 0, allowPorts: number[] = []): this {
    for (let a = TSS_BASE; a < IOMAP; a += 4) this.w32(a, 0);
    this.w32(TSS_BASE + 4, STACK_TOP);
    this.w32(TSS_BASE + 8, SEL_DATA32);
    this.w16(TSS_BASE + 0x66, 0x68);
    for (let k = 0; k <= 0x2000; k++) this.w8(IOMAP + k, 0xff);
    for (const p of allowPorts) this.w8(IOMAP + (p >>> 3), this.r8(IOMAP + (p >>> 3)) & ~(1 << (p & 7)));
    const cpu = this.cpu;
    cpu.trSel = SEL_TSS;
    cpu.tr = { base: TSS_BASE, limit: 0x68 + 0x2000, ar: 0x8b };
    this.w8(GDT_BASE + SEL_TSS + 5, 0x8b); // busy
    for (const sg of [DS, ES, FS, GS]) cpu.setSegCache(sg, SEL_DATA32_R3, 0, 0xffffffff, AR_P | AR_S | 0x63 | AR_DB | AR_G);
    cpu.setSegCache(SS, SEL_DATA32_R3, 0, 0xffffffff, AR_P | AR_S | 0x63 | AR_DB | AR_G);
    cpu.setSegCache(CS, SEL_CODE32_R3, 0, 0xffffffff, AR_P | AR_S | 0x6b | AR_DB | AR_G);
    cpu.r32[4] = USER_STACK;
    cpu.setEflags(2 | (iopl << 12));
    return this;
  }

  /** Real mode: code at REAL_CS:ip, SS:SP = 0:0xfff0 (stack in the first segment), IVT handlers at 0:REAL_HANDLER_OFF+4v. */
  real(code: readonly number[], ip = 0x100): this {
    for (let v = 0; v < 256; v++) {
      this.w16(4 * v, REAL_HANDLER_OFF + 4 * v);
      this.w16(4 * v + 2, 0);
      this.w8(REAL_HANDLER_OFF + 4 * v, 0xf4);
    }
    this.cpu.setupReal(REAL_CS, ip, 0x0000, 0xfff0);
    this.cpu.idtr = { base: 0, limit: 0x3ff };
    this.load(REAL_CS * 16 + ip, code);
    return this;
  }

  /** Loads a segment's hidden cache directly (limit tests). Flat-mode code/data attributes by default. */
  setSeg(seg: number, base: number, limit: number, ar = AR_P | AR_S | 0x03 | AR_DB, sel = SEL_DATA32): void {
    this.cpu.setSegCache(seg, sel, base, limit, ar);
  }

  /**
   * Re-arms a flat32 harness for another snippet: loads `code` + HLT at CODE, zeroes the GPRs
   * (then applies `regs`), ESP = STACK_TOP, EFLAGS = `flags`, runs to HLT.
   */
  exec(code: readonly number[], regs: Partial<Record<number, number>> = {}, flags = 0): this {
    this.prepare(code, regs, flags);
    this.runToHalt();
    return this;
  }

  /** Like exec, without running. */
  prepare(code: readonly number[], regs: Partial<Record<number, number>> = {}, flags = 0): this {
    const cpu = this.cpu;
    this.load(CODE, [...code, 0xf4]);
    cpu.r32.fill(0, 0, 8);
    cpu.r32[4] = cpu.cpl === 3 ? USER_STACK : STACK_TOP;
    this.regs(regs);
    cpu.setEflags(flags | 2 | (cpu.getEflags() & 0x3000));
    cpu.halted = false;
    cpu.eip = CODE;
    return this;
  }

  run(budget = 100_000): Exit {
    this.lastExit = this.cpu.run(budget);
    return this.lastExit;
  }

  /** Runs to HLT and fails if it stopped for any other reason or in an exception handler. */
  runToHalt(budget = 100_000): void {
    const e = this.run(budget);
    if (e !== Exit.Halt) throw new Error(`expected Halt, got exit ${e} ${this.cpu.guestError}\n${this.cpu.describe()}`);
    const f = this.faultVector();
    if (f >= 0) {
      const info = this.fault();
      throw new Error(`unexpected exception ${f} err=${info.err} at eip=${info.eip.toString(16)}\n${this.cpu.describe()}`);
    }
  }

  /** The vector whose handler halted, or -1. */
  faultVector(): number {
    const cpu = this.cpu;
    const lin = (cpu.segBase[CS] + cpu.eip - 1) >>> 0;
    const base = cpu.protectedMode ? HANDLERS : REAL_HANDLER_OFF;
    if (lin >= base && lin < base + 1024 && (lin - base) % 4 === 0) return (lin - base) / 4;
    return -1;
  }

  /** Runs until a handler halts and returns the exception frame. */
  runToFault(budget = 100_000): FaultInfo {
    const e = this.run(budget);
    if (e !== Exit.Halt) throw new Error(`expected a fault, got exit ${e} ${this.cpu.guestError}`);
    if (this.faultVector() < 0) throw new Error(`expected a fault, halted normally at ${this.cpu.eip.toString(16)}`);
    return this.fault();
  }

  /** Reads the exception frame at SS:ESP (32-bit gates in protected mode, IP/CS/FLAGS in real mode). */
  fault(): FaultInfo {
    const cpu = this.cpu;
    const vector = this.faultVector();
    if (cpu.protectedMode) {
      let sp = (cpu.segBase[SS] + (cpu.r32[4] >>> 0)) >>> 0;
      let err: number | null = null;
      if (hasErrorCode(vector)) { err = this.r32(sp); sp += 4; }
      return { vector, err, eip: this.r32(sp), cs: this.r32(sp + 4) & 0xffff, eflags: this.r32(sp + 8) };
    }
    const sp = (cpu.segBase[SS] + cpu.r16[8]) >>> 0;
    return { vector, err: null, eip: this.r16(sp), cs: this.r16(sp + 2), eflags: this.r16(sp + 4) };
  }

  // ---- registers ----
  get eax(): number { return this.cpu.r32[0] >>> 0; }
  get ecx(): number { return this.cpu.r32[1] >>> 0; }
  get edx(): number { return this.cpu.r32[2] >>> 0; }
  get ebx(): number { return this.cpu.r32[3] >>> 0; }
  get esp(): number { return this.cpu.r32[4] >>> 0; }
  get ebp(): number { return this.cpu.r32[5] >>> 0; }
  get esi(): number { return this.cpu.r32[6] >>> 0; }
  get edi(): number { return this.cpu.r32[7] >>> 0; }
  reg(r: number): number { return this.cpu.r32[r] >>> 0; }
  setReg(r: number, v: number): void { this.cpu.r32[r] = v; }
  /** Sets several GPRs by number: { 0: eax, 1: ecx, ... }. */
  regs(values: Partial<Record<number, number>>): this {
    for (const [k, v] of Object.entries(values)) if (v !== undefined) this.cpu.r32[Number(k)] = v;
    return this;
  }
  get eflags(): number { return this.cpu.getEflags(); }
  setFlags(v: number): void { this.cpu.setEflags(v | 2); }
}

/** Convenience: a harness in flat 32-bit mode running `code` (which should end in F4). */
export function flat(code: readonly number[], regs: Partial<Record<number, number>> = {}, flags?: number): Harness {
  const h = new Harness().flat32(code);
  h.regs(regs);
  if (flags !== undefined) h.setFlags(flags);
  return h;
}

/** Little-endian bytes of a 32-bit value (for immediates/displacements in encoded instructions). */
export function le32(v: number): number[] { return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff]; }
export function le16(v: number): number[] { return [v & 0xff, (v >>> 8) & 0xff]; }

export { CS, DS, ES, FS, GS, SS, AR_P, AR_S, AR_DB, AR_G };
