// The lockstep machine: where code, data and the interrupt tables live in each mode,
// and the state both sides start a stream from. Every access a generated instruction
// can make stays inside three 64 KiB windows (segment limits 0xFFFF), so comparing
// those windows compares all memory writes.
import { Cpu } from '../../cpu/cpu';
import { CS, DS, ES, FS, GS, SS, AR_DB } from '../../cpu/consts';
import type { LockstepMode } from './exclusions';

export const RAM_BYTES = 4 << 20;
/** Code is generated below this offset of the code segment; NOPs follow. */
export const CODE_END = 0xf000;
/** Exception/interrupt handler stubs: vector v enters at code offset STUB_OFF + 4v (all NOPs). */
export const STUB_OFF = 0xf800;
export const WINDOW = 0x10000;

export interface Layout {
  mode: LockstepMode;
  bits: 16 | 32;
  codeBase: number;
  dataBase: number;
  /** SS's window (the data window in real mode; its own in pm32). */
  stackBase: number;
  /** IVT or IDT+GDT. */
  sysBase: number;
  sysLen: number;
  /** The system window's bytes (IVT or IDT + GDT), fixed per mode. */
  sys: Uint8Array;
  /** Puts `cpu` in the stream's mode with the fixed segments (registers are set by the caller). */
  enter(cpu: Cpu, eip: number): void;
}

/**
 * What Cpu.reset() would clear that an instruction stream can change, without reset's
 * full code-cache walk (the harness rewrites code through PhysMemory.dmaWrite, which
 * drops exactly the decoded code it overwrites).
 */
function clearTransient(cpu: Cpu): void {
  cpu.halted = false;
  cpu.inhibitUntil = -1;
  cpu.pendingDbTrap = 0;
  cpu.nmiPending = cpu.nmiBlocked = false;
  cpu.deliveringVector = -1;
  cpu.cr2 = 0;
  cpu.shutdownReason = cpu.guestError = '';
}

const RM_CODE_SEL = 0x3000, RM_DATA_SEL = 0x1000;

function realMode(): Layout {
  const sys = new Uint8Array(0x1000);
  const v = new DataView(sys.buffer);
  for (let vec = 0; vec < 256; vec++) { v.setUint16(vec * 4, STUB_OFF + vec * 4, true); v.setUint16(vec * 4 + 2, RM_CODE_SEL, true); }
  return {
    mode: 'real', bits: 16, codeBase: RM_CODE_SEL << 4, dataBase: RM_DATA_SEL << 4, stackBase: RM_DATA_SEL << 4, sysBase: 0, sysLen: 0x1000, sys,
    enter(cpu, eip) {
      clearTransient(cpu);
      cpu.cr0 = 0x10; // ET; reset's CD/NW are not what a running guest has
      cpu.setupReal(RM_CODE_SEL, eip, RM_DATA_SEL, 0);
      for (const s of [DS, ES, FS, GS]) cpu.setSegCache(s, RM_DATA_SEL, RM_DATA_SEL << 4, 0xffff, 0x93);
      cpu.idtr = { base: 0, limit: 0x3ff };
    },
  };
}

/** A GDT descriptor from base/limit/AR (cpu/consts layout). */
function descriptor(v: DataView, at: number, base: number, limit: number, ar: number): void {
  v.setUint16(at, limit & 0xffff, true);
  v.setUint16(at + 2, base & 0xffff, true);
  v.setUint8(at + 4, (base >>> 16) & 0xff);
  v.setUint8(at + 5, ar & 0xff);
  v.setUint8(at + 6, ((ar >> 8) & 0xf0) | ((limit >>> 16) & 0x0f));
  v.setUint8(at + 7, base >>> 24);
}

// The stack segment has base 0: PVM writes the frame of a protected-mode exception at linear
// ESP whatever SS's base (observed; see README "KVM"), so only a zero-based stack keeps
// delivered faults comparable. IDT and GDT live above the three windows.
const PM_CODE = 0x100000, PM_DATA = 0x200000, PM_STACK = 0, PM_SYS = 0x300000, GDT_AT = PM_SYS + 0x800;
/** GDT entries (selector = index*8): the stream's code and data, plus a few others that random selector loads may pick. */
const PM_GDT: [number, number, number][] = [
  [0, 0, 0], // null
  [PM_CODE, 0xffff, 0x9b | AR_DB], // 0x08 code32, readable, accessed
  [PM_DATA, 0xffff, 0x93 | AR_DB], // 0x10 data32 RW
  [PM_DATA, 0xffff, 0x91 | AR_DB], // 0x18 data read-only
  [PM_DATA, 0x0fff, 0x97], // 0x20 data RW expand-down, 16-bit upper bound
  [PM_DATA, 0xffff, 0xf3 | AR_DB], // 0x28 data DPL3
  [PM_DATA, 0xffff, 0x13 | AR_DB], // 0x30 not present
  [PM_CODE, 0xffff, 0x9b], // 0x38 code16 readable
  [PM_STACK, 0xffff, 0x93 | AR_DB], // 0x40 the stream's stack: data32 RW, base 0
];

function pm32(): Layout {
  const sys = new Uint8Array(0x1000);
  const v = new DataView(sys.buffer);
  for (let vec = 0; vec < 256; vec++) {
    const off = STUB_OFF + vec * 4;
    v.setUint16(vec * 8, off & 0xffff, true);
    v.setUint16(vec * 8 + 2, 0x08, true);
    v.setUint16(vec * 8 + 4, 0x8e00, true); // 32-bit interrupt gate, DPL 0, present
    v.setUint16(vec * 8 + 6, off >>> 16, true);
  }
  PM_GDT.forEach(([b, l, ar], k) => { if (k) descriptor(v, GDT_AT - PM_SYS + k * 8, b, l, ar); });
  return {
    mode: 'pm32', bits: 32, codeBase: PM_CODE, dataBase: PM_DATA, stackBase: PM_STACK, sysBase: PM_SYS, sysLen: 0x1000, sys,
    enter(cpu, eip) {
      clearTransient(cpu);
      cpu.cr0 = 0x11; // PE | ET, no paging (what this project's PVM host runs)
      cpu.gdtr = { base: GDT_AT, limit: PM_GDT.length * 8 - 1 };
      cpu.idtr = { base: PM_SYS, limit: 0x7ff };
      for (const s of [DS, ES, FS, GS]) cpu.setSegCache(s, 0x10, PM_DATA, 0xffff, 0x93 | AR_DB);
      cpu.setSegCache(SS, 0x40, PM_STACK, 0xffff, 0x93 | AR_DB);
      cpu.setSegCache(CS, 0x08, PM_CODE, 0xffff, 0x9b | AR_DB);
      cpu.eip = eip;
      cpu.updateMode();
    },
  };
}

export function layoutFor(mode: LockstepMode): Layout { return mode === 'real' ? realMode() : pm32(); }

/** Selector values random loads are biased towards (the GDT above, with RPLs). */
export const INTERESTING_SELECTORS = [0, 0x08, 0x10, 0x18, 0x20, 0x28, 0x30, 0x38, 0x40, 0x13, 0x2b, 0x48, 0x1000, 0x3000];
