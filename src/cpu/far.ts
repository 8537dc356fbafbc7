import type { Cpu } from './cpu';
import { AR_DB, CS, DS, ES, FS, GP, GS, IF, IOPL, NP, NT, RF, SS, SS_, VIF, VIP, VM } from './consts';
import { Desc, StackBuilder, checkInnerSS, invalidateOuterSegs, loadDesc, setAccessed, tssStack } from './descriptors';
import { taskSwitch, TS_CALL, TS_IRET, TS_JMP } from './task';

const cd = new Desc();
const gd = new Desc();
const sd = new Desc();

function setRealCS(cpu: Cpu, sel: number, eip: number): void {
  cpu.segSel[CS] = sel & 0xffff;
  cpu.segBase[CS] = (sel & 0xffff) << 4;
  cpu.recomputeSegWindow(CS);
  cpu.eip = eip;
}

/**
 * Real-address (and virtual-8086) mode far JMP/CALL/RET: a target offset beyond the CS
 * limit raises #GP(0) before anything changes (SDM Vol.2A JMP, CALL, RET "Operation",
 * real-address mode branches). Found by the KVM lockstep harness (a 66-prefixed far call).
 */
function checkRealTarget(cpu: Cpu, eip: number): void {
  if (eip > cpu.segLimit[CS]) cpu.raise(GP, 0);
}

/** Checks a direct far target code segment for JMP/CALL (SDM Vol.2A JMP "Far jumps in protected mode"). */
function checkDirectCode(cpu: Cpu, sel: number): void {
  if (cd.conforming) {
    if (cd.dpl > cpu.cpl) cpu.raise(GP, sel & 0xfffc);
  } else if ((sel & 3) > cpu.cpl || cd.dpl !== cpu.cpl) cpu.raise(GP, sel & 0xfffc);
  if (!cd.present) cpu.raise(NP, sel & 0xfffc);
}

/** JMP ptr16:16/32, JMP m16:16/32. */
export function farJump(cpu: Cpu, sel: number, off: number, osize: number): void {
  if (!cpu.protectedMode) {
    const eip = osize === 32 ? off >>> 0 : off & 0xffff;
    checkRealTarget(cpu, eip);
    return setRealCS(cpu, sel, eip);
  }
  if ((sel & 0xfffc) === 0) cpu.raise(GP, 0);
  loadDesc(cpu, sel, cd);
  if (cd.isCode) {
    checkDirectCode(cpu, sel);
    const eip = osize === 32 ? off >>> 0 : off & 0xffff;
    if (eip > cd.limit) cpu.raise(GP, 0);
    setAccessed(cpu, sel, cd);
    cpu.setSegCache(CS, (sel & 0xfffc) | cpu.cpl, cd.base, cd.limit, cd.ar);
    cpu.eip = eip;
    return;
  }
  if (cd.s) cpu.raise(GP, sel & 0xfffc);
  const type = cd.type;
  if (type === 1 || type === 9 || type === 5) {
    if (cd.dpl < cpu.cpl || cd.dpl < (sel & 3)) cpu.raise(GP, sel & 0xfffc);
    if (!cd.present) cpu.raise(NP, sel & 0xfffc);
    const tss = type === 5 ? cd.gateSel : sel;
    return taskSwitch(cpu, tss, TS_JMP, cpu.eip);
  }
  if (type !== 4 && type !== 12) cpu.raise(GP, sel & 0xfffc);
  // Call gate used by JMP: no privilege change allowed.
  if (cd.dpl < cpu.cpl || cd.dpl < (sel & 3)) cpu.raise(GP, sel & 0xfffc);
  if (!cd.present) cpu.raise(NP, sel & 0xfffc);
  gd.lo = cd.lo; gd.hi = cd.hi;
  const tsel = gd.gateSel;
  if ((tsel & 0xfffc) === 0) cpu.raise(GP, 0);
  loadDesc(cpu, tsel, cd);
  if (!cd.isCode) cpu.raise(GP, tsel & 0xfffc);
  if (cd.conforming ? cd.dpl > cpu.cpl : cd.dpl !== cpu.cpl) cpu.raise(GP, tsel & 0xfffc);
  if (!cd.present) cpu.raise(NP, tsel & 0xfffc);
  const eip = type === 12 ? gd.gateOffset : gd.gateOffset & 0xffff;
  if (eip > cd.limit) cpu.raise(GP, 0);
  setAccessed(cpu, tsel, cd);
  cpu.setSegCache(CS, (tsel & 0xfffc) | cpu.cpl, cd.base, cd.limit, cd.ar);
  cpu.eip = eip;
}

/** CALL ptr16:16/32, CALL m16:16/32 (SDM Vol.2A CALL). */
export function farCall(cpu: Cpu, sel: number, off: number, osize: number): void {
  const size = osize === 32 ? 4 : 2;
  if (!cpu.protectedMode) {
    checkRealTarget(cpu, size === 4 ? off >>> 0 : off & 0xffff);
    const sp0 = cpu.r32[4];
    try {
      cpu.push(size, cpu.segSel[CS]);
      cpu.push(size, cpu.eip);
    } catch (e) { cpu.r32[4] = sp0; throw e; }
    return setRealCS(cpu, sel, size === 4 ? off >>> 0 : off & 0xffff);
  }
  if ((sel & 0xfffc) === 0) cpu.raise(GP, 0);
  loadDesc(cpu, sel, cd);
  if (cd.isCode) {
    checkDirectCode(cpu, sel);
    const eip = size === 4 ? off >>> 0 : off & 0xffff;
    const sb = new StackBuilder(cpu);
    sb.fromSS();
    sb.push(size, cpu.segSel[CS]);
    sb.push(size, cpu.eip);
    if (eip > cd.limit) cpu.raise(GP, 0);
    setAccessed(cpu, sel, cd);
    cpu.setSp(sb.sp);
    cpu.setSegCache(CS, (sel & 0xfffc) | cpu.cpl, cd.base, cd.limit, cd.ar);
    cpu.eip = eip;
    return;
  }
  if (cd.s) cpu.raise(GP, sel & 0xfffc);
  const type = cd.type;
  if (type === 1 || type === 9 || type === 5) {
    if (cd.dpl < cpu.cpl || cd.dpl < (sel & 3)) cpu.raise(GP, sel & 0xfffc);
    if (!cd.present) cpu.raise(NP, sel & 0xfffc);
    const tss = type === 5 ? cd.gateSel : sel;
    return taskSwitch(cpu, tss, TS_CALL, cpu.eip);
  }
  if (type !== 4 && type !== 12) cpu.raise(GP, sel & 0xfffc);
  if (cd.dpl < cpu.cpl || cd.dpl < (sel & 3)) cpu.raise(GP, sel & 0xfffc);
  if (!cd.present) cpu.raise(NP, sel & 0xfffc);
  gd.lo = cd.lo; gd.hi = cd.hi;
  const gsize = type === 12 ? 4 : 2;
  const tsel = gd.gateSel;
  if ((tsel & 0xfffc) === 0) cpu.raise(GP, 0);
  loadDesc(cpu, tsel, cd);
  if (!cd.isCode || cd.dpl > cpu.cpl) cpu.raise(GP, tsel & 0xfffc);
  if (!cd.present) cpu.raise(NP, tsel & 0xfffc);
  const eip = gsize === 4 ? gd.gateOffset : gd.gateOffset & 0xffff;
  if (!cd.conforming && cd.dpl < cpu.cpl) {
    // More privileged: new stack from the TSS, copy the parameters (SDM Vol.3A §5.8.5).
    const newCpl = cd.dpl;
    const { ss, esp } = tssStack(cpu, newCpl);
    checkInnerSS(cpu, ss, newCpl, sd);
    const nparams = gd.gateParams;
    const params: number[] = [];
    for (let k = nparams - 1; k >= 0; k--) params.push(cpu.readSz(SS, cpu.spOff(k * gsize), gsize));
    const sb = new StackBuilder(cpu);
    sb.init(sd.base, sd.limit, sd.ar, esp, newCpl);
    const errSel = ss & 0xfffc;
    sb.push(gsize, cpu.segSel[SS], errSel);
    sb.push(gsize, cpu.r32[4], errSel);
    for (const p of params) sb.push(gsize, p, errSel);
    sb.push(gsize, cpu.segSel[CS], errSel);
    sb.push(gsize, cpu.eip, errSel);
    if (eip > cd.limit) cpu.raise(GP, 0);
    setAccessed(cpu, ss, sd);
    cpu.setSegCache(SS, (ss & 0xfffc) | newCpl, sd.base, sd.limit, sd.ar);
    if (sd.ar & AR_DB) cpu.r32[4] = sb.sp; else cpu.r16[8] = sb.sp;
    setAccessed(cpu, tsel, cd);
    cpu.setSegCache(CS, (tsel & 0xfffc) | newCpl, cd.base, cd.limit, cd.ar);
    cpu.eip = eip;
    return;
  }
  const sb = new StackBuilder(cpu);
  sb.fromSS();
  sb.push(gsize, cpu.segSel[CS]);
  sb.push(gsize, cpu.eip);
  if (eip > cd.limit) cpu.raise(GP, 0);
  cpu.setSp(sb.sp);
  setAccessed(cpu, tsel, cd);
  cpu.setSegCache(CS, (tsel & 0xfffc) | cpu.cpl, cd.base, cd.limit, cd.ar);
  cpu.eip = eip;
}

/** RETF [imm16] (SDM Vol.2B RET). */
export function farReturn(cpu: Cpu, osize: number, imm: number): void {
  const size = osize === 32 ? 4 : 2;
  const eip = cpu.readSz(SS, cpu.spOff(0), size);
  const sel = cpu.readSz(SS, cpu.spOff(size), size) & 0xffff;
  if (!cpu.protectedMode) {
    checkRealTarget(cpu, eip);
    cpu.setSp(cpu.spOff(2 * size + imm));
    return setRealCS(cpu, sel, eip);
  }
  if ((sel & 0xfffc) === 0) cpu.raise(GP, 0);
  loadDesc(cpu, sel, cd);
  const rpl = sel & 3;
  if (!cd.isCode || rpl < cpu.cpl) cpu.raise(GP, sel & 0xfffc);
  if (cd.conforming ? cd.dpl > rpl : cd.dpl !== rpl) cpu.raise(GP, sel & 0xfffc);
  if (!cd.present) cpu.raise(NP, sel & 0xfffc);
  if (rpl === cpu.cpl) {
    if (eip > cd.limit) cpu.raise(GP, 0);
    cpu.setSp(cpu.spOff(2 * size + imm));
    setAccessed(cpu, sel, cd);
    cpu.setSegCache(CS, sel, cd.base, cd.limit, cd.ar);
    cpu.eip = eip;
    return;
  }
  // Return to an outer privilege level: pop SS:ESP too.
  const newEsp = cpu.readSz(SS, cpu.spOff(2 * size + imm), size);
  const ssSel = cpu.readSz(SS, cpu.spOff(3 * size + imm), size) & 0xffff;
  if ((ssSel & 0xfffc) === 0) cpu.raise(GP, 0);
  loadDesc(cpu, ssSel, sd);
  if ((ssSel & 3) !== rpl || !sd.writable || sd.dpl !== rpl) cpu.raise(GP, ssSel & 0xfffc);
  if (!sd.present) cpu.raise(SS_, ssSel & 0xfffc);
  if (eip > cd.limit) cpu.raise(GP, 0);
  setAccessed(cpu, sel, cd);
  cpu.setSegCache(CS, sel, cd.base, cd.limit, cd.ar);
  setAccessed(cpu, ssSel, sd);
  cpu.setSegCache(SS, ssSel, sd.base, sd.limit, sd.ar);
  cpu.setSp(((size === 4 ? newEsp : newEsp & 0xffff) + imm) >>> 0);
  if (!(sd.ar & AR_DB)) cpu.r16[8] = (newEsp + imm) & 0xffff;
  cpu.eip = eip;
  invalidateOuterSegs(cpu, [ES, DS, FS, GS]);
}

/** IRET/IRETD (SDM Vol.2A IRET). */
export function interruptReturn(cpu: Cpu, osize: number): void {
  const size = osize === 32 ? 4 : 2;
  if (!(cpu.cr0 & 1)) {
    const eip = cpu.readSz(SS, cpu.spOff(0), size);
    const sel = cpu.readSz(SS, cpu.spOff(size), size) & 0xffff;
    const fl = cpu.readSz(SS, cpu.spOff(2 * size), size);
    if (size === 4 && eip > 0xffff) cpu.raise(GP, 0);
    cpu.setSp(cpu.spOff(3 * size));
    setRealCS(cpu, sel, eip);
    const mask = cpu.eflagsWriteMask(size) & ~(VM | VIF | VIP | RF);
    cpu.setEflags((cpu.getEflags() & ~mask) | (fl & mask));
    return;
  }
  if (cpu.flags & VM) cpu.fail('IRET in virtual-8086 mode: virtual-8086 mode is not supported yet');
  if (cpu.flags & NT) {
    // Return from a nested task through the back link (SDM Vol.3A §7.3).
    const link = cpu.sread16(cpu.tr.base);
    return taskSwitch(cpu, link, TS_IRET, cpu.eip);
  }
  const eip = cpu.readSz(SS, cpu.spOff(0), size);
  const sel = cpu.readSz(SS, cpu.spOff(size), size) & 0xffff;
  const fl = cpu.readSz(SS, cpu.spOff(2 * size), size);
  if (size === 4 && fl & VM && cpu.cpl === 0) {
    cpu.fail('IRET to virtual-8086 mode: virtual-8086 mode is not supported yet');
  }
  if ((sel & 0xfffc) === 0) cpu.raise(GP, 0);
  loadDesc(cpu, sel, cd);
  const rpl = sel & 3;
  if (!cd.isCode || rpl < cpu.cpl) cpu.raise(GP, sel & 0xfffc);
  if (cd.conforming ? cd.dpl > rpl : cd.dpl !== rpl) cpu.raise(GP, sel & 0xfffc);
  if (!cd.present) cpu.raise(NP, sel & 0xfffc);
  const oldCpl = cpu.cpl;
  // Which EFLAGS bits the popped image may change, judged at the old CPL (SDM IRET pseudo-code).
  let mask = 0x3f7fd5 & ~(VM | VIF | VIP);
  if (oldCpl > 0) mask &= ~IOPL;
  if (oldCpl > cpu.iopl()) mask &= ~IF;
  if (size === 2) mask &= 0xffff;
  const newFlags = (cpu.getEflags() & ~mask) | (fl & mask);
  if (rpl === oldCpl) {
    if (eip > cd.limit) cpu.raise(GP, 0);
    cpu.setSp(cpu.spOff(3 * size));
    setAccessed(cpu, sel, cd);
    cpu.setSegCache(CS, sel, cd.base, cd.limit, cd.ar);
    cpu.eip = eip;
    cpu.setEflags(newFlags);
    return;
  }
  const newEsp = cpu.readSz(SS, cpu.spOff(3 * size), size);
  const ssSel = cpu.readSz(SS, cpu.spOff(4 * size), size) & 0xffff;
  if ((ssSel & 0xfffc) === 0) cpu.raise(GP, 0);
  loadDesc(cpu, ssSel, sd);
  if ((ssSel & 3) !== rpl || !sd.writable || sd.dpl !== rpl) cpu.raise(GP, ssSel & 0xfffc);
  if (!sd.present) cpu.raise(SS_, ssSel & 0xfffc);
  if (eip > cd.limit) cpu.raise(GP, 0);
  setAccessed(cpu, sel, cd);
  cpu.setSegCache(CS, sel, cd.base, cd.limit, cd.ar);
  setAccessed(cpu, ssSel, sd);
  cpu.setSegCache(SS, ssSel, sd.base, sd.limit, sd.ar);
  if (sd.ar & AR_DB) cpu.r32[4] = newEsp; else cpu.r16[8] = newEsp;
  cpu.eip = eip;
  cpu.setEflags(newFlags);
  invalidateOuterSegs(cpu, [ES, DS, FS, GS]);
}

