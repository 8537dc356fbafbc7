// Control transfer and flag instructions.
import type { Cpu } from './cpu';
import type { Insn } from './insn';
import { BP, BR, CF, CS, DF, ECX, GP, IF, OFV, RF, SS, VIF, VIP, VM } from './consts';
import { INT_ICE, INT_SOFT } from './interrupts';
import { farCall, farJump, farReturn, interruptReturn } from './far';
import { sext } from './ops-alu';

function jumpTo(cpu: Cpu, i: Insn, target: number): void {
  const t = i.osize === 32 ? target >>> 0 : target & 0xffff;
  if (t > cpu.segLimit[CS]) cpu.raise(GP, 0);
  cpu.eip = t;
}

export function jcc(cpu: Cpu, i: Insn): void { if (cpu.cond(i.op & 15)) jumpTo(cpu, i, cpu.eip + i.imm); }
export function jmpRel(cpu: Cpu, i: Insn): void { jumpTo(cpu, i, cpu.eip + i.imm); }
export function callRel(cpu: Cpu, i: Insn): void {
  const t = i.osize === 32 ? (cpu.eip + i.imm) >>> 0 : (cpu.eip + i.imm) & 0xffff;
  if (t > cpu.segLimit[CS]) cpu.raise(GP, 0);
  cpu.push(i.size, cpu.eip);
  cpu.eip = t;
}
export function jmpE(cpu: Cpu, i: Insn): void { jumpTo(cpu, i, cpu.getE(i)); }
export function callE(cpu: Cpu, i: Insn): void {
  const t = cpu.getE(i);
  if (t > cpu.segLimit[CS]) cpu.raise(GP, 0);
  cpu.push(i.size, cpu.eip);
  cpu.eip = t;
}
export function retNear(cpu: Cpu, i: Insn): void {
  const s = i.size;
  const t = cpu.readSz(SS, cpu.spOff(0), s);
  if (t > cpu.segLimit[CS]) cpu.raise(GP, 0);
  cpu.setSp(cpu.spOff(s + (i.op === 0xc2 ? i.imm & 0xffff : 0)));
  cpu.eip = t;
}
export function retFar(cpu: Cpu, i: Insn): void { farReturn(cpu, i.osize, i.op === 0xca ? i.imm & 0xffff : 0); }
export function jmpFarImm(cpu: Cpu, i: Insn): void { farJump(cpu, i.imm2, i.imm, i.osize); }
export function callFarImm(cpu: Cpu, i: Insn): void { farCall(cpu, i.imm2, i.imm, i.osize); }
/** JMP/CALL m16:16/32 (FF /5, FF /3). Register forms are #UD. */
export function farIndirect(cpu: Cpu, i: Insn): void {
  const off = cpu.ea(i);
  const o = cpu.readSz(i.seg, off, i.size);
  // As for LDS/LES: the selector word past offset 0xFFFF faults rather than wrapping (see loadFarPtr).
  const sel = cpu.read16(i.seg, i.asize === 32 ? (off + i.size) >>> 0 : off + i.size);
  if (i.reg === 3) farCall(cpu, sel, o, i.osize); else farJump(cpu, sel, o, i.osize);
}
export function iret(cpu: Cpu, i: Insn): void {
  interruptReturn(cpu, i.osize);
  cpu.nmiBlocked = false;
}

export function loop(cpu: Cpu, i: Insn): void {
  const c = i.asize === 32 ? (cpu.r32[ECX] - 1) | 0 : (cpu.r16[ECX << 1] - 1) & 0xffff;
  let take = c !== 0;
  if (i.op === 0xe0) take = take && !cpu.getZF();
  else if (i.op === 0xe1) take = take && cpu.getZF();
  // The count is written only once the branch target has passed its limit check: a #GP
  // from LOOP leaves ECX as it was, like every fault (SDM Vol.3A §6.5). Found by the KVM
  // lockstep harness.
  if (take) jumpTo(cpu, i, cpu.eip + i.imm);
  if (i.asize === 32) cpu.r32[ECX] = c; else cpu.r16[ECX << 1] = c;
}
export function jcxz(cpu: Cpu, i: Insn): void {
  const c = i.asize === 32 ? cpu.r32[ECX] : cpu.r16[ECX << 1];
  if (c === 0) jumpTo(cpu, i, cpu.eip + i.imm);
}

export function intN(cpu: Cpu, i: Insn): void {
  if (cpu.flags & VM && cpu.iopl() < 3) cpu.raise(GP, 0);
  cpu.softwareInterrupt(i.imm & 0xff, INT_SOFT);
}
export function int3(cpu: Cpu): void { cpu.softwareInterrupt(BP, INT_SOFT); }
export function int1(cpu: Cpu): void { cpu.softwareInterrupt(1, INT_ICE); }
export function into(cpu: Cpu): void { if (cpu.getOF()) cpu.softwareInterrupt(OFV, INT_SOFT); }
/** BOUND Gv, Ma: #BR when the index is outside [lower, upper] (signed). */
export function bound(cpu: Cpu, i: Insn): void {
  const s = i.size;
  const off = cpu.ea(i);
  const lo = sext(cpu.readSz(i.seg, off, s), s);
  const hi = sext(cpu.readSz(i.seg, i.asize === 32 ? (off + s) >>> 0 : (off + s) & 0xffff, s), s);
  const v = sext(cpu.getReg(i.reg, s), s);
  if (v < lo || v > hi) cpu.raise(BR);
}
export function hlt(cpu: Cpu): void {
  if (cpu.cpl !== 0) cpu.raise(GP, 0);
  cpu.halted = true;
}

// ---- flags ----------------------------------------------------------------------------------

export function clc(cpu: Cpu): void { cpu.setFlag(CF, false); }
export function stc(cpu: Cpu): void { cpu.setFlag(CF, true); }
export function cmc(cpu: Cpu): void { cpu.setFlag(CF, !cpu.getCF()); }
export function cld(cpu: Cpu): void { cpu.flags &= ~DF; }
export function std(cpu: Cpu): void { cpu.flags |= DF; }
/** CLI/STI: IOPL-sensitive in protected mode (VME/PVI not supported). */
export function cli(cpu: Cpu): void {
  if (cpu.cr0 & 1 && cpu.cpl > cpu.iopl()) cpu.raise(GP, 0);
  cpu.flags &= ~IF;
}
export function sti(cpu: Cpu): void {
  if (cpu.cr0 & 1 && cpu.cpl > cpu.iopl()) cpu.raise(GP, 0);
  // STI shadow: interrupts stay inhibited until after the next instruction (SDM Vol.2B STI).
  if (!(cpu.flags & IF)) cpu.inhibitUntil = cpu.icount + 1;
  cpu.flags |= IF;
}
export function pushf(cpu: Cpu, i: Insn): void {
  if (cpu.flags & VM && cpu.iopl() < 3) cpu.raise(GP, 0);
  const f = cpu.getEflags() & ~(RF | VM);
  cpu.push(i.size, i.size === 4 ? f : f & 0xffff);
}
export function popf(cpu: Cpu, i: Insn): void {
  if (cpu.flags & VM && cpu.iopl() < 3) cpu.raise(GP, 0);
  const v = cpu.readSz(SS, cpu.spOff(0), i.size);
  cpu.setSp(cpu.spOff(i.size));
  const mask = cpu.eflagsWriteMask(i.size) & ~(VM | RF | VIF | VIP);
  const old = cpu.getEflags();
  cpu.setEflags((old & ~mask) | (v & mask));
}

