// The architectural state of one interpreter vCPU as a plain, JSON-able object:
// what a snapshot stores, what a restore writes back, and what the state hash
// covers. It lives outside cpu.ts on purpose (cpu.ts is the hot path and changes
// for speed; this file changes only when the architectural state does).
//
// Only architectural state is saved: GPRs (both halves), EIP, EFLAGS with the lazy
// flags materialised, segment registers with their hidden descriptor caches (SDM
// Vol.3A §3.4.3), CR0/2/3/4, EFER, DR0-7, the MSRs the core stores, GDTR/IDTR/LDTR/
// TR (selectors and caches), the interrupt shadow, pending NMI/#DB state, HLT, the
// TSC offset and the x87 unit. Caches (TLB, decoded code, fetch pages, rmap) are
// derived data: a restore drops them all and the CPU refills them from RAM.
import type { Cpu } from './cpu';
import { X87 } from './fpu/x87';

export const CPU_STATE_VERSION = 1;

export interface X87State {
  /** Physical registers R0-R7: sign, biased exponent, 64-bit significand (hex). */
  regs: { s: number; e: number; m: string }[];
  empty: number; top: number; sw: number; cw: number;
  fip: number; fcs: number; fop: number; fdp: number; fds: number;
}

export interface CpuState {
  readonly device: 'cpu';
  readonly version: number;
  /** Low and high 32 bits of the 16 GPRs (unsigned). */
  gpr: number[];
  gprHi: number[];
  eip: number;
  /** EFLAGS with the lazy arithmetic flags materialised. */
  eflags: number;
  seg: { sel: number; base: number; limit: number; ar: number }[];
  gdtr: { base: number; limit: number };
  idtr: { base: number; limit: number };
  ldtr: { sel: number; base: number; limit: number; ar: number };
  tr: { sel: number; base: number; limit: number; ar: number };
  cr0: number; cr2: number; cr3: number; cr4: number; efer: number;
  dr: number[];
  sysenter: { cs: number; esp: number; eip: number };
  /** Other MSRs the core stores: [msr, low, high]. */
  msrs: [number, number, number][];
  /** TSC offset (a decimal bigint: WRMSR/WRTSC can make it any 64-bit value). */
  tscOffset: string;
  icount: number;
  halted: boolean;
  /** Interrupt shadow (STI, MOV SS) as an absolute instruction count. */
  inhibitUntil: number;
  pendingDbTrap: number;
  nmiPending: boolean;
  nmiBlocked: boolean;
  lastException: number;
  a20Mask: number;
  fpu: X87State | null;
}

const u32 = (v: number): number => v >>> 0;

export function saveCpuState(cpu: Cpu): CpuState {
  const seg = [];
  for (let s = 0; s < 6; s++) seg.push({ sel: cpu.segSel[s]! & 0xffff, base: u32(cpu.segBase[s]!), limit: u32(cpu.segLimit[s]!), ar: cpu.segAr[s]! });
  const msrs: [number, number, number][] = [...cpu.msrStore.entries()]
    .map(([k, [lo, hi]]): [number, number, number] => [k, u32(lo), u32(hi)])
    .sort((a, b) => a[0] - b[0]);
  return {
    device: 'cpu', version: CPU_STATE_VERSION,
    gpr: Array.from(cpu.r32.subarray(0, 16), u32),
    gprHi: Array.from(cpu.rhi, u32),
    eip: u32(cpu.eip),
    eflags: cpu.getEflags(),
    seg,
    gdtr: { base: u32(cpu.gdtr.base), limit: cpu.gdtr.limit },
    idtr: { base: u32(cpu.idtr.base), limit: cpu.idtr.limit },
    ldtr: { sel: cpu.ldtrSel, base: u32(cpu.ldtr.base), limit: u32(cpu.ldtr.limit), ar: cpu.ldtr.ar },
    tr: { sel: cpu.trSel, base: u32(cpu.tr.base), limit: u32(cpu.tr.limit), ar: cpu.tr.ar },
    cr0: u32(cpu.cr0), cr2: u32(cpu.cr2), cr3: u32(cpu.cr3), cr4: u32(cpu.cr4), efer: u32(cpu.efer),
    dr: Array.from(cpu.dr, u32),
    sysenter: { cs: u32(cpu.sysenterCs), esp: u32(cpu.sysenterEsp), eip: u32(cpu.sysenterEip) },
    msrs,
    tscOffset: cpu.tscOffset.toString(),
    icount: cpu.icount,
    halted: cpu.halted,
    // An expired shadow is the same as none: normalise so equal states hash equally.
    inhibitUntil: cpu.inhibitUntil > cpu.icount ? cpu.inhibitUntil : -1,
    pendingDbTrap: cpu.pendingDbTrap,
    nmiPending: cpu.nmiPending,
    nmiBlocked: cpu.nmiBlocked,
    lastException: cpu.lastException,
    a20Mask: u32(cpu.a20Mask),
    fpu: cpu.fpu instanceof X87 ? saveX87(cpu.fpu) : null,
  };
}

function saveX87(f: X87): X87State {
  return {
    regs: f.regs.map((r) => ({ s: r.s, e: r.e, m: r.m.toString(16) })),
    empty: f.empty, top: f.top, sw: f.sw, cw: f.cw, fip: f.fip, fcs: f.fcs, fop: f.fop, fdp: f.fdp, fds: f.fds,
  };
}

/** Why `s` is not a CPU state this build can load, or null when it is (checked before anything is changed). */
export function validateCpuState(s: unknown, hasFpu: boolean): string | null {
  if (typeof s !== 'object' || s === null) return 'the CPU state is missing';
  const o = s as Record<string, unknown>;
  if (o.device !== 'cpu') return 'the CPU state is not tagged "cpu"';
  if (o.version !== CPU_STATE_VERSION) return `the CPU state is version ${String(o.version)}; this ts86 reads version ${CPU_STATE_VERSION}`;
  const isU32 = (v: unknown): boolean => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffffffff;
  const arr = (k: string, n: number): boolean => Array.isArray(o[k]) && (o[k] as unknown[]).length === n && (o[k] as unknown[]).every(isU32);
  if (!arr('gpr', 16) || !arr('gprHi', 16) || !arr('dr', 8)) return 'the CPU register arrays are malformed';
  for (const k of ['eip', 'eflags', 'cr0', 'cr2', 'cr3', 'cr4', 'efer', 'pendingDbTrap', 'a20Mask']) if (!isU32(o[k])) return `CPU field ${k} is not a 32-bit value`;
  const segOk = (x: unknown): boolean => typeof x === 'object' && x !== null && ['sel', 'base', 'limit', 'ar'].every((k) => isU32((x as Record<string, unknown>)[k]));
  if (!Array.isArray(o.seg) || o.seg.length !== 6 || !o.seg.every(segOk)) return 'the segment registers are malformed';
  if (!segOk(o.ldtr) || !segOk(o.tr)) return 'LDTR/TR are malformed';
  const dtOk = (x: unknown): boolean => typeof x === 'object' && x !== null && isU32((x as Record<string, unknown>).base) && isU32((x as Record<string, unknown>).limit);
  if (!dtOk(o.gdtr) || !dtOk(o.idtr)) return 'GDTR/IDTR are malformed';
  const se = o.sysenter as Record<string, unknown> | undefined;
  if (!se || !isU32(se.cs) || !isU32(se.esp) || !isU32(se.eip)) return 'the SYSENTER MSRs are malformed';
  if (!Array.isArray(o.msrs) || !o.msrs.every((m) => Array.isArray(m) && m.length === 3 && m.every(isU32))) return 'the MSR list is malformed';
  if (typeof o.tscOffset !== 'string' || !/^-?\d+$/.test(o.tscOffset)) return 'the TSC offset is malformed';
  if (typeof o.icount !== 'number' || !Number.isSafeInteger(o.icount) || o.icount < 0) return 'the instruction count is malformed';
  if (typeof o.inhibitUntil !== 'number' || !Number.isSafeInteger(o.inhibitUntil)) return 'the interrupt shadow is malformed';
  if (typeof o.lastException !== 'number' || !Number.isInteger(o.lastException)) return 'lastException is malformed';
  for (const k of ['halted', 'nmiPending', 'nmiBlocked']) if (typeof o[k] !== 'boolean') return `CPU field ${k} is not a boolean`;
  if (o.fpu === null) return hasFpu ? 'the snapshot has no x87 state but this machine has an FPU' : null;
  if (!hasFpu) return 'the snapshot has x87 state but this machine has no FPU';
  const f = o.fpu as Record<string, unknown>;
  if (typeof f !== 'object') return 'the x87 state is malformed';
  for (const k of ['empty', 'top', 'sw', 'cw', 'fip', 'fcs', 'fop', 'fdp', 'fds']) if (!isU32(f[k])) return `x87 field ${k} is malformed`;
  if (!Array.isArray(f.regs) || f.regs.length !== 8) return 'the x87 registers are malformed';
  for (const r of f.regs as unknown[]) {
    const x = r as Record<string, unknown>;
    if (typeof x !== 'object' || x === null || (x.s !== 0 && x.s !== 1) || !isU32(x.e) || (x.e as number) > 0x7fff || typeof x.m !== 'string' || !/^[0-9a-f]{1,16}$/.test(x.m)) return 'an x87 register is malformed';
  }
  return null;
}

/**
 * Writes a validated state into `cpu`, then drops every cache derived from the old
 * state (TLB, decoded code, fetch pages) and recomputes the mode caches, so the next
 * instruction executes exactly as it would have on the CPU the state came from.
 */
export function loadCpuState(cpu: Cpu, s: CpuState): void {
  const why = validateCpuState(s, cpu.fpu instanceof X87);
  if (why) throw new Error(`loadCpuState: ${why}`);
  for (let k = 0; k < 16; k++) { cpu.r32[k] = s.gpr[k]! | 0; cpu.rhi[k] = s.gprHi[k]! | 0; }
  cpu.eip = s.eip;
  cpu.cr0 = s.cr0; cpu.cr2 = s.cr2; cpu.cr3 = s.cr3; cpu.cr4 = s.cr4; cpu.efer = s.efer;
  // EFLAGS directly (setEflags would apply its write mask and could call updateMode early).
  cpu.flags = s.eflags | 2;
  cpu.lfMask = 0;
  for (let k = 0; k < 6; k++) {
    const g = s.seg[k]!;
    cpu.setSegCache(k, g.sel, g.base, g.limit, g.ar);
  }
  cpu.gdtr = { base: s.gdtr.base, limit: s.gdtr.limit };
  cpu.idtr = { base: s.idtr.base, limit: s.idtr.limit };
  cpu.ldtrSel = s.ldtr.sel; cpu.ldtr = { base: s.ldtr.base, limit: s.ldtr.limit, ar: s.ldtr.ar };
  cpu.trSel = s.tr.sel; cpu.tr = { base: s.tr.base, limit: s.tr.limit, ar: s.tr.ar };
  for (let k = 0; k < 8; k++) cpu.dr[k] = s.dr[k]!;
  cpu.sysenterCs = s.sysenter.cs; cpu.sysenterEsp = s.sysenter.esp; cpu.sysenterEip = s.sysenter.eip;
  cpu.msrStore.clear();
  for (const [k, lo, hi] of s.msrs) cpu.msrStore.set(k, [lo, hi]);
  cpu.tscOffset = BigInt(s.tscOffset);
  cpu.icount = s.icount;
  cpu.halted = s.halted;
  cpu.inhibitUntil = s.inhibitUntil;
  cpu.pendingDbTrap = s.pendingDbTrap;
  cpu.nmiPending = s.nmiPending;
  cpu.nmiBlocked = s.nmiBlocked;
  cpu.lastException = s.lastException;
  cpu.deliveringVector = -1;
  cpu.guestError = '';
  cpu.shutdownReason = '';
  cpu.a20Mask = s.a20Mask;
  if (s.fpu && cpu.fpu instanceof X87) {
    const f = cpu.fpu;
    s.fpu.regs.forEach((r, k) => { f.regs[k] = { s: r.s, e: r.e, m: BigInt(`0x${r.m}`) }; });
    f.empty = s.fpu.empty; f.top = s.fpu.top; f.sw = s.fpu.sw; f.cw = s.fpu.cw;
    f.fip = s.fpu.fip; f.fcs = s.fpu.fcs; f.fop = s.fpu.fop; f.fdp = s.fpu.fdp; f.fds = s.fpu.fds;
  }
  // Derived state: mode bits, segment windows, TLB access masks, debug-register
  // breakpoints, and every cache of translations or decoded code.
  cpu.pagingChanged();
  cpu.updateDebugRegs();
  cpu.flushTlb(true);
  cpu.flushCodeCache();
  cpu.resetFetchPage();
}
