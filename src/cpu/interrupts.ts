import type { Cpu } from './cpu';
import { AC, CS, GP, IF, NP, NT, RF, SS, TF, VM, AR_DB } from './consts';
import { Desc, StackBuilder, checkInnerSS, loadDesc, tssStack, setAccessed } from './descriptors';
import { taskSwitch, TS_INT } from './task';

/** Interrupt sources: they differ in the DPL check, the EXT bit and error codes. */
export const INT_EXT = 0; // external (INTR/NMI)
export const INT_EXC = 1; // processor exception (may push an error code)
export const INT_SOFT = 2; // INT n, INT3, INTO: gate DPL checked against CPL
export const INT_ICE = 3; // INT1 (F1): like a hardware trap, no DPL check

/** Exceptions that push an error code (SDM Vol.3A Table 6-1). */
export function hasErrorCode(vec: number): boolean {
  return vec === 8 || (vec >= 10 && vec <= 14) || vec === 17;
}

const gate = new Desc();
const cs = new Desc();
const ssd = new Desc();

/**
 * Delivers interrupt/exception `vec`. `retEip` is the return address pushed
 * (the faulting instruction for faults, the next one for traps and INT n).
 * May raise a new fault (the caller escalates to #DF).
 */
export function deliverInterrupt(cpu: Cpu, vec: number, kind: number, err: number, retEip: number): void {
  if (!(cpu.cr0 & 1)) return realModeInterrupt(cpu, vec, retEip);
  if (cpu.flags & VM) cpu.fail(`interrupt ${vec} in virtual-8086 mode: virtual-8086 mode is not supported yet`);
  const ext = kind === INT_EXT || kind === INT_EXC || kind === INT_ICE ? 1 : 0;
  const pushErr = kind === INT_EXC && hasErrorCode(vec) && err >= 0;
  const idtErr = vec * 8 + 2 + ext;
  if (vec * 8 + 7 > cpu.idtr.limit) cpu.raise(GP, idtErr);
  const a = (cpu.idtr.base + vec * 8) >>> 0;
  gate.lo = cpu.sread32(a);
  gate.hi = cpu.sread32((a + 4) >>> 0);
  const type = gate.type;
  if (gate.s || (type !== 5 && type !== 6 && type !== 7 && type !== 14 && type !== 15)) cpu.raise(GP, idtErr);
  if (kind === INT_SOFT && gate.dpl < cpu.cpl) cpu.raise(GP, vec * 8 + 2);
  if (!gate.present) cpu.raise(NP, idtErr);

  if (type === 5) {
    // Task gate: switch tasks; the error code goes on the new task's stack (SDM Vol.3A §6.12.2).
    taskSwitch(cpu, gate.gateSel, TS_INT, retEip, ext);
    if (pushErr) {
      const size = (cpu.tr.ar & 8) ? 4 : 2;
      cpu.push(size, err);
    }
    return;
  }

  const is32 = (type & 8) !== 0;
  const size = is32 ? 4 : 2;
  const sel = gate.gateSel;
  if ((sel & 0xfffc) === 0) cpu.raise(GP, ext);
  loadDesc(cpu, sel, cs);
  if (!cs.isCode || cs.dpl > cpu.cpl) cpu.raise(GP, (sel & 0xfffc) + ext);
  if (!cs.present) cpu.raise(NP, (sel & 0xfffc) + ext);
  const offset = is32 ? gate.gateOffset : gate.gateOffset & 0xffff;
  if (offset > cs.limit) cpu.raise(GP, ext);

  // Fault-class exceptions push EFLAGS with RF set, so that IRET back to the faulting
  // instruction does not re-trigger an instruction breakpoint on it (SDM Vol.3A §17.3.1.1;
  // what VMX/SVM hardware and KVM's event injection do). Traps, aborts, #DB and
  // interrupts push RF as it is. Found by the KVM lockstep harness.
  const oldFlags = cpu.getEflags() | (kind === INT_EXC && isFaultClass(vec) ? RF : 0);
  const oldCs = cpu.segSel[CS];
  const sb = new StackBuilder(cpu);
  if (!cs.conforming && cs.dpl < cpu.cpl) {
    // Inter-privilege: switch to the inner stack from the TSS.
    const newCpl = cs.dpl;
    const { ss, esp } = tssStack(cpu, newCpl);
    checkInnerSS(cpu, ss, newCpl, ssd);
    sb.init(ssd.base, ssd.limit, ssd.ar, esp, newCpl);
    const errSel = ss & 0xfffc;
    sb.push(size, cpu.segSel[SS], errSel);
    sb.push(size, cpu.r32[4], errSel);
    sb.push(size, oldFlags, errSel);
    sb.push(size, oldCs, errSel);
    sb.push(size, retEip, errSel);
    if (pushErr) sb.push(size, err, errSel);
    // Commit.
    setAccessed(cpu, ss, ssd);
    cpu.setSegCache(SS, (ss & 0xfffc) | newCpl, ssd.base, ssd.limit, ssd.ar);
    if (ssd.ar & AR_DB) cpu.r32[4] = sb.sp; else cpu.r16[8] = sb.sp;
    setAccessed(cpu, sel, cs);
    cpu.setSegCache(CS, (sel & 0xfffc) | newCpl, cs.base, cs.limit, cs.ar);
  } else {
    // Same privilege (conforming target, or DPL == CPL).
    if (!cs.conforming && cs.dpl !== cpu.cpl) cpu.raise(GP, (sel & 0xfffc) + ext);
    sb.fromSS();
    sb.push(size, oldFlags);
    sb.push(size, oldCs);
    sb.push(size, retEip);
    if (pushErr) sb.push(size, err);
    cpu.setSp(sb.sp);
    setAccessed(cpu, sel, cs);
    cpu.setSegCache(CS, (sel & 0xfffc) | cpu.cpl, cs.base, cs.limit, cs.ar);
  }
  cpu.eip = offset;
  let f = oldFlags & ~(TF | NT | RF | VM);
  if ((type & 1) === 0) f &= ~IF; // interrupt gate clears IF; trap gate keeps it
  cpu.setEflags(f);
  cpu.updateMode();
}

/** Exception vectors of the fault class (SDM Vol.3A Table 6-1): all but #DB, NMI, #BP, #OF, #DF, 9 and #MC. */
function isFaultClass(vec: number): boolean {
  return vec < 32 && vec !== 1 && vec !== 2 && vec !== 3 && vec !== 4 && vec !== 8 && vec !== 9 && vec !== 18;
}

/** Real-address-mode interrupt through the IVT (SDM Vol.3A §20.1.4). */
function realModeInterrupt(cpu: Cpu, vec: number, retEip: number): void {
  if (vec * 4 + 3 > cpu.idtr.limit) cpu.raise(GP, 0);
  const flags = cpu.getEflags();
  // Push FLAGS, CS, IP; a stack fault part way leaves SP as it was.
  const sp0 = cpu.r32[4];
  try {
    cpu.push16(flags & 0xffff);
    cpu.push16(cpu.segSel[CS]);
    cpu.push16(retEip & 0xffff);
  } catch (e) {
    cpu.r32[4] = sp0;
    throw e;
  }
  const a = (cpu.idtr.base + vec * 4) >>> 0;
  const ip = cpu.lread16(a);
  const sel = cpu.lread16((a + 2) >>> 0);
  cpu.setEflags(flags & ~(IF | TF | AC | RF));
  cpu.segSel[CS] = sel;
  cpu.segBase[CS] = sel << 4;
  cpu.recomputeSegWindow(CS);
  cpu.eip = ip;
}

