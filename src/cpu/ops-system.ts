// System instructions: descriptor tables, control/debug registers, MSRs, CPUID, SYSENTER.
import type { Cpu } from './cpu';
import type { Insn } from './insn';
import {
  AR_DB, AR_P, AR_S, CR0_EM, CR0_MP, CR0_PE, CR0_PG, CR0_TS, CR4_PAE, CR4_PCE, CR4_PSE, CR4_TSD, CR4_PGE, CR4_DE,
  CS, EAX, ECX, EDX, ESP, GP, IF, NM, NP, RF, SS, UD, VM, ZF, CR4_OSFXSR, CR4_OSXMMEXCPT, CR0_NE, CR0_WP, CR0_AM, CR0_CD, CR0_NW, CR0_ET,
} from './consts';
import { Desc, loadDesc, tryLoadDesc } from './descriptors';
import { cpuid } from './cpuid';

function requirePM(cpu: Cpu): void { if (!cpu.protectedMode) cpu.raise(UD); }
function requireCpl0(cpu: Cpu): void { if (cpu.cpl !== 0) cpu.raise(GP, 0); }

// ---- descriptor-table registers -------------------------------------------------------------

/** Group 7 (0F 01): SGDT SIDT LGDT LIDT SMSW - LMSW INVLPG. */
export function grp7(cpu: Cpu, i: Insn): void {
  const r = i.reg;
  if (r === 4) { smsw(cpu, i); return; }
  if (r === 6) { lmsw(cpu, i); return; }
  if (i.mod === 3) cpu.raise(UD);
  const off = cpu.ea(i);
  const off2 = i.asize === 32 ? (off + 2) >>> 0 : (off + 2) & 0xffff;
  switch (r) {
    case 0: case 1: {
      const t = r === 0 ? cpu.gdtr : cpu.idtr;
      cpu.probeWrite(i.seg, off, 6);
      cpu.write16(i.seg, off, t.limit);
      // With a 16-bit operand the 386 stores the top base byte as written (we store it; 286 stored 0xff).
      cpu.write32(i.seg, off2, t.base);
      return;
    }
    case 2: case 3: {
      requireCpl0(cpu);
      const limit = cpu.read16(i.seg, off);
      let base = cpu.read32(i.seg, off2);
      if (i.osize === 16) base &= 0x00ffffff;
      if (r === 2) cpu.gdtr = { base, limit }; else cpu.idtr = { base, limit };
      return;
    }
    case 7:
      requireCpl0(cpu);
      cpu.invlpg((cpu.segBase[i.seg] + off) >>> 0);
      return;
    default:
      cpu.raise(UD);
  }
}
function smsw(cpu: Cpu, i: Insn): void {
  if (i.mod === 3) cpu.setReg(i.rm, i.osize === 32 ? 4 : 2, i.osize === 32 ? cpu.cr0 >>> 0 : cpu.cr0 & 0xffff);
  else cpu.write16(i.seg, cpu.ea(i), cpu.cr0 & 0xffff);
}
/** LMSW: loads PE, MP, EM, TS; cannot clear PE (SDM Vol.2A LMSW). */
function lmsw(cpu: Cpu, i: Insn): void {
  requireCpl0(cpu);
  const v = i.mod === 3 ? cpu.r16[i.rm << 1] : cpu.read16(i.seg, cpu.ea(i));
  const cr0 = (cpu.cr0 & ~0xe) | (v & 0xf) | (cpu.cr0 & CR0_PE);
  writeCr0(cpu, cr0);
}

/** Group 6 (0F 00): SLDT STR LLDT LTR VERR VERW. */
export function grp6(cpu: Cpu, i: Insn): void {
  requirePM(cpu);
  const r = i.reg;
  const readSel = (): number => (i.mod === 3 ? cpu.r16[i.rm << 1] : cpu.read16(i.seg, cpu.ea(i)));
  switch (r) {
    case 0: case 1: {
      const v = r === 0 ? cpu.ldtrSel : cpu.trSel;
      if (i.mod === 3) cpu.setReg(i.rm, i.osize === 32 ? 4 : 2, v);
      else cpu.write16(i.seg, cpu.ea(i), v);
      return;
    }
    case 2: { // LLDT
      requireCpl0(cpu);
      const sel = readSel();
      if ((sel & 0xfffc) === 0) { cpu.ldtrSel = 0; cpu.ldtr = { base: 0, limit: 0, ar: 0 }; return; }
      if (sel & 4) cpu.raise(GP, sel & 0xfffc);
      loadDesc(cpu, sel, d);
      if (d.s || d.type !== 2) cpu.raise(GP, sel & 0xfffc);
      if (!d.present) cpu.raise(NP, sel & 0xfffc);
      cpu.ldtrSel = sel;
      cpu.ldtr = { base: d.base, limit: d.limit, ar: d.ar };
      return;
    }
    case 3: { // LTR
      requireCpl0(cpu);
      const sel = readSel();
      if ((sel & 0xfffc) === 0) cpu.raise(GP, 0);
      if (sel & 4) cpu.raise(GP, sel & 0xfffc);
      loadDesc(cpu, sel, d);
      if (d.s || (d.type !== 1 && d.type !== 9)) cpu.raise(GP, sel & 0xfffc);
      if (!d.present) cpu.raise(NP, sel & 0xfffc);
      const a = (cpu.gdtr.base + (sel & 0xfff8) + 5) >>> 0;
      cpu.swrite8(a, cpu.sread8(a) | 0x02); // mark busy
      cpu.trSel = sel;
      cpu.tr = { base: d.base, limit: d.limit, ar: d.ar | 0x02 };
      return;
    }
    case 4: case 5: { // VERR / VERW
      const sel = readSel();
      let ok = (sel & 0xfffc) !== 0 && tryLoadDesc(cpu, sel, d) && d.s;
      if (ok) {
        if (!(d.isCode && d.conforming) && (d.dpl < cpu.cpl || d.dpl < (sel & 3))) ok = false;
        else if (r === 4) ok = d.readable;
        else ok = d.writable;
      }
      cpu.setFlag(ZF, ok);
      return;
    }
    default:
      cpu.raise(UD);
  }
}
const d = new Desc();

/** LAR/LSL (0F 02/03): ZF=1 and the access rights / limit when the descriptor is visible. */
export function larLsl(cpu: Cpu, i: Insn): void {
  requirePM(cpu);
  const sel = i.mod === 3 ? cpu.r16[i.rm << 1] : cpu.read16(i.seg, cpu.ea(i));
  let ok = (sel & 0xfffc) !== 0 && tryLoadDesc(cpu, sel, d);
  if (ok) {
    if (!d.s) {
      // Valid system types (SDM Vol.2A LAR/LSL): LSL excludes gates.
      const t = d.type;
      const larOk = [1, 2, 3, 4, 5, 9, 11, 12].includes(t);
      const lslOk = [1, 2, 3, 9, 11].includes(t);
      ok = i.op === 0x102 ? larOk : lslOk;
      if (ok && (d.dpl < cpu.cpl || d.dpl < (sel & 3))) ok = false;
    } else if (!(d.isCode && d.conforming) && (d.dpl < cpu.cpl || d.dpl < (sel & 3))) ok = false;
  }
  cpu.setFlag(ZF, ok);
  if (!ok) return;
  if (i.op === 0x102) cpu.setReg(i.reg, i.size, i.size === 4 ? (d.hi & 0x00f0ff00) >>> 0 : d.hi & 0xff00);
  else cpu.setReg(i.reg, i.size, i.size === 4 ? d.limit : d.limit & 0xffff);
}

/** ARPL Ew, Gw (63): protected mode only. */
export function arpl(cpu: Cpu, i: Insn): void {
  requirePM(cpu);
  const src = cpu.r16[i.reg << 1];
  const off = i.mod === 3 ? 0 : cpu.ea(i);
  const dst = i.mod === 3 ? cpu.r16[i.rm << 1] : cpu.readRmw(i.seg, off, 2);
  if ((dst & 3) < (src & 3)) {
    const v = (dst & ~3) | (src & 3);
    if (i.mod === 3) cpu.r16[i.rm << 1] = v; else cpu.write16(i.seg, off, v);
    cpu.setFlag(ZF, true);
  } else cpu.setFlag(ZF, false);
}

export function clts(cpu: Cpu): void { requireCpl0(cpu); cpu.cr0 &= ~CR0_TS; }
export function invd(cpu: Cpu): void { requireCpl0(cpu); }
export function ud2(cpu: Cpu): void { cpu.raise(UD); }
export function undefinedOp(cpu: Cpu): void { cpu.raise(UD); }

// ---- control and debug registers ------------------------------------------------------------

const CR0_WRITABLE = (CR0_PE | CR0_MP | CR0_EM | CR0_TS | CR0_NE | CR0_WP | CR0_AM | CR0_NW | CR0_CD | CR0_PG) >>> 0;
const CR4_WRITABLE = CR4_TSD | CR4_DE | CR4_PSE | CR4_PAE | CR4_PGE | CR4_PCE | CR4_OSFXSR | CR4_OSXMMEXCPT;

/** Writes CR0 with the consistency checks of MOV CR0 (SDM Vol.2B MOV CR). */
export function writeCr0(cpu: Cpu, v: number): void {
  v >>>= 0;
  if (v & ~CR0_WRITABLE & ~CR0_ET & 0xffffffff) {
    if ((v & ~(CR0_WRITABLE | CR0_ET)) >>> 0) cpu.raise(GP, 0);
  }
  if (v & CR0_PG && !(v & CR0_PE)) cpu.raise(GP, 0);
  if (v & CR0_NW && !(v & CR0_CD)) cpu.raise(GP, 0);
  const old = cpu.cr0;
  cpu.cr0 = (v | CR0_ET) >>> 0;
  if ((old ^ cpu.cr0) & (CR0_PE | CR0_PG | CR0_WP)) {
    cpu.flushTlb(true);
    cpu.pagingChanged();
  }
  cpu.updateMode(); // CR0.AM feeds alignment checking
}
export function writeCr4(cpu: Cpu, v: number): void {
  if (v & ~CR4_WRITABLE) cpu.raise(GP, 0);
  const old = cpu.cr4;
  cpu.cr4 = v;
  if ((old ^ v) & (CR4_PSE | CR4_PAE | CR4_PGE)) { cpu.flushTlb(true); cpu.pagingChanged(); }
}

/** MOV r32, CRn / MOV CRn, r32 (0F 20 / 0F 22). The mod field is ignored: always a register. */
export function movCr(cpu: Cpu, i: Insn): void {
  if (cpu.flags & VM) cpu.raise(GP, 0);
  requireCpl0(cpu);
  const n = i.reg;
  if (n === 1 || n > 4) cpu.raise(UD);
  if (i.op === 0x120) {
    const v = n === 0 ? cpu.cr0 : n === 2 ? cpu.cr2 : n === 3 ? cpu.cr3 : cpu.cr4;
    cpu.r32[i.rm] = v;
    return;
  }
  const v = cpu.r32[i.rm] >>> 0;
  switch (n) {
    case 0: writeCr0(cpu, v); break;
    case 2: cpu.cr2 = v; break;
    case 3: cpu.loadCr3(v); break;
    default: writeCr4(cpu, v); break;
  }
}

/** MOV r32, DRn / MOV DRn, r32 (0F 21 / 0F 23). DR4/DR5 alias DR6/DR7 unless CR4.DE. */
export function movDr(cpu: Cpu, i: Insn): void {
  if (cpu.flags & VM) cpu.raise(GP, 0);
  requireCpl0(cpu);
  let n = i.reg;
  if (n === 4 || n === 5) {
    if (cpu.cr4 & CR4_DE) cpu.raise(UD);
    n += 2;
  }
  if (i.op === 0x121) {
    cpu.r32[i.rm] = cpu.dr[n];
    return;
  }
  const v = cpu.r32[i.rm] >>> 0;
  if (n === 6) cpu.dr[6] = (v | 0xffff0ff0) >>> 0;
  else if (n === 7) cpu.dr[7] = ((v | 0x400) & ~0xd000) >>> 0;
  else cpu.dr[n] = v;
  cpu.updateDebugRegs();
}

// ---- CPUID, TSC, MSRs, SYSENTER -------------------------------------------------------------

export function cpuidOp(cpu: Cpu): void {
  const [a, b, c, dd] = cpuid(cpu.cpuidPolicy(), cpu.r32[EAX] >>> 0, cpu.r32[ECX] >>> 0);
  cpu.r32[EAX] = a; cpu.r32[3] = b; cpu.r32[ECX] = c; cpu.r32[EDX] = dd;
}
export function rdtsc(cpu: Cpu): void {
  if (cpu.cr4 & CR4_TSD && cpu.cpl !== 0 && cpu.protectedMode) cpu.raise(GP, 0);
  const t = cpu.readTsc();
  cpu.r32[EAX] = Number(t & 0xffffffffn);
  cpu.r32[EDX] = Number((t >> 32n) & 0xffffffffn);
}
export function rdpmc(cpu: Cpu): void {
  if (!(cpu.cr4 & CR4_PCE) && cpu.cpl !== 0 && cpu.cr0 & 1) cpu.raise(GP, 0);
  if ((cpu.r32[ECX] >>> 0) > 1) cpu.raise(GP, 0);
  cpu.r32[EAX] = 0; cpu.r32[EDX] = 0;
}

export const MSR_TSC = 0x10, MSR_APIC_BASE = 0x1b, MSR_SYSENTER_CS = 0x174, MSR_SYSENTER_ESP = 0x175, MSR_SYSENTER_EIP = 0x176;
export const MSR_EFER = 0xc0000080;
/** MSRs we accept and store without giving them meaning (MTRRs, PAT, misc enable, platform id, microcode). */
function storedMsr(m: number): boolean {
  return m === 0x17 || m === 0x8b || m === 0xfe || (m >= 0x200 && m <= 0x20f) || (m >= 0x250 && m <= 0x26f) || m === 0x277 || m === 0x2ff || m === 0x1a0 || m === 0x79;
}

export function rdmsr(cpu: Cpu): void {
  if (cpu.cpl !== 0 || cpu.flags & VM) cpu.raise(GP, 0);
  const m = cpu.r32[ECX] >>> 0;
  let lo = 0, hi = 0;
  switch (m) {
    case MSR_TSC: { const t = cpu.readTsc(); lo = Number(t & 0xffffffffn); hi = Number((t >> 32n) & 0xffffffffn); break; }
    case MSR_SYSENTER_CS: lo = cpu.sysenterCs; break;
    case MSR_SYSENTER_ESP: lo = cpu.sysenterEsp; break;
    case MSR_SYSENTER_EIP: lo = cpu.sysenterEip; break;
    case MSR_EFER: lo = cpu.efer; break;
    default: {
      let found = false;
      for (const h of cpu.msrHandlers) {
        const r = h.rdmsr(m);
        if (r) { [lo, hi] = r; found = true; break; }
      }
      if (!found) {
        if (!storedMsr(m)) cpu.raise(GP, 0);
        const v = cpu.msrStore.get(m);
        if (v) [lo, hi] = v;
      }
    }
  }
  cpu.r32[EAX] = lo;
  cpu.r32[EDX] = hi;
}
export function wrmsr(cpu: Cpu): void {
  if (cpu.cpl !== 0 || cpu.flags & VM) cpu.raise(GP, 0);
  const m = cpu.r32[ECX] >>> 0, lo = cpu.r32[EAX] >>> 0, hi = cpu.r32[EDX] >>> 0;
  switch (m) {
    case MSR_TSC: cpu.writeTsc((BigInt(hi) << 32n) | BigInt(lo)); return;
    case MSR_SYSENTER_CS: cpu.sysenterCs = lo & 0xffff; return;
    case MSR_SYSENTER_ESP: cpu.sysenterEsp = lo; return;
    case MSR_SYSENTER_EIP: cpu.sysenterEip = lo; return;
    case MSR_EFER:
      // Only NXE (bit 11) exists on this 32-bit CPU; everything else is reserved.
      if (lo & ~0x800 || hi) cpu.raise(GP, 0);
      cpu.efer = lo;
      cpu.flushTlb(true);
      cpu.pagingChanged();
      return;
  }
  for (const h of cpu.msrHandlers) if (h.wrmsr(m, lo, hi)) return;
  if (!storedMsr(m) || m === 0x17) cpu.raise(GP, 0);
  cpu.msrStore.set(m, [lo, hi]);
}

/** SYSENTER (SDM Vol.2B): flat CPL0 code and stack from the SYSENTER MSRs. */
export function sysenter(cpu: Cpu): void {
  if (!(cpu.cr0 & CR0_PE)) cpu.raise(GP, 0);
  const cs = cpu.sysenterCs & 0xfffc;
  if (cs === 0) cpu.raise(GP, 0);
  cpu.setEflags(cpu.getEflags() & ~(VM | IF | RF));
  cpu.setSegCache(CS, cs, 0, 0xffffffff, AR_P | AR_S | 0x0b | AR_DB | 0x8000);
  cpu.setSegCache(SS, (cs + 8) & 0xfffc, 0, 0xffffffff, AR_P | AR_S | 0x03 | AR_DB | 0x8000);
  cpu.r32[ESP] = cpu.sysenterEsp;
  cpu.eip = cpu.sysenterEip >>> 0;
  cpu.updateMode();
}
/** SYSEXIT: back to CPL3 flat code at EDX with ESP = ECX. */
export function sysexit(cpu: Cpu): void {
  const cs = cpu.sysenterCs & 0xfffc;
  if (!(cpu.cr0 & CR0_PE) || cs === 0 || cpu.cpl !== 0) cpu.raise(GP, 0);
  cpu.setSegCache(CS, (cs + 16) | 3, 0, 0xffffffff, AR_P | AR_S | 0x0b | 0x60 | AR_DB | 0x8000);
  cpu.setSegCache(SS, (cs + 24) | 3, 0, 0xffffffff, AR_P | AR_S | 0x03 | 0x60 | AR_DB | 0x8000);
  cpu.r32[ESP] = cpu.r32[ECX];
  cpu.eip = cpu.r32[EDX] >>> 0;
  cpu.updateMode();
}

// ---- x87 escape -----------------------------------------------------------------------------

/** D8-DF: #NM when CR0.EM or CR0.TS (SDM Vol.3A Table 2-2); otherwise the x87 unit. */
export function fpuEscape(cpu: Cpu, i: Insn): void {
  if (cpu.cr0 & (CR0_EM | CR0_TS)) cpu.raise(NM);
  const fpu = cpu.fpu;
  if (!fpu) {
    // No coprocessor and CR0.EM=0: the ESC instruction only computes its address, as on a
    // 286/386 without a math coprocessor (the SST 286 vectors show this).
    if (i.mod !== 3) cpu.probeRead(i.seg, cpu.ea(i), escOperandSize(i.op, i.reg));
    return;
  }
  fpu.exec(cpu, {
    op: i.op, modrm: i.modrm, seg: i.seg, off: i.mod === 3 ? 0 : cpu.ea(i), osize: i.osize,
    csSel: cpu.segSel[CS], eip: cpu.startEip, dsSel: cpu.segSel[i.seg],
  });
}
/** Memory operand size of an ESC instruction (for the limit check without a coprocessor). */
function escOperandSize(op: number, reg: number): number {
  switch (op) {
    case 0xd8: case 0xda: return 4;
    case 0xd9: return reg < 4 ? 4 : reg === 5 || reg === 7 ? 2 : 14;
    case 0xdb: return reg < 4 ? 4 : 10;
    case 0xdc: return 8;
    case 0xdd: return reg < 4 ? 8 : reg === 7 ? 2 : 94;
    case 0xde: return 2;
    default: return reg < 4 ? 2 : reg === 5 || reg === 7 ? 8 : 10;
  }
}

/** WAIT/FWAIT: #NM when MP and TS are both set. */
export function fwait(cpu: Cpu): void {
  if ((cpu.cr0 & (CR0_MP | CR0_TS)) === (CR0_MP | CR0_TS)) cpu.raise(NM);
  cpu.fpu?.fwait(cpu);
}

/**
 * FXSAVE/FXRSTOR m512 (0F AE /0, /1; SDM Vol.2A): #NM with CR0.EM or CR0.TS, #GP(0) when
 * the operand is not 16-byte aligned, #UD without an FXSR-capable x87 unit.
 */
export function fxsaveRstor(cpu: Cpu, i: Insn): void {
  const fpu = cpu.fpu;
  if (!fpu || !fpu.hasFxsr || !fpu.fxsave || !fpu.fxrstor) cpu.raise(UD);
  if (cpu.cr0 & (CR0_EM | CR0_TS)) cpu.raise(NM);
  const off = cpu.ea(i);
  if (((cpu.segBase[i.seg] + off) & 15) !== 0) cpu.raise(GP, 0);
  if (i.reg === 0) { cpu.probeWrite(i.seg, off, 512); fpu.fxsave(cpu, i.seg, off); }
  else { cpu.probeRead(i.seg, off, 512); fpu.fxrstor(cpu, i.seg, off); }
}

