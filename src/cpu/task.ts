import type { Cpu } from './cpu';
import { CR0_PG, CR0_TS, CS, DS, ES, FS, GP, GS, NP, NT, SS, SS_, TS, VM } from './consts';
import { Desc, descAddr, loadDesc } from './descriptors';

/** Why a task switch happens: it decides busy bits, NT and the back link (SDM Vol.3A §7.3, Table 7-2). */
export const TS_JMP = 0, TS_CALL = 1, TS_INT = 2, TS_IRET = 3;

const tssDesc = new Desc();
const d = new Desc();

/**
 * Hardware task switch to the TSS named by `sel` (a TSS selector, or the TSS a task
 * gate named). `retEip` is the EIP saved in the outgoing TSS. SDM Vol.3A §7.3.
 */
export function taskSwitch(cpu: Cpu, sel: number, why: number, retEip: number, ext = 0): void {
  // 1-2. The new TSS descriptor: in the GDT, a TSS, present, big enough.
  if (sel & 4) cpu.raise(GP, (sel & 0xfffc) + ext);
  loadDesc(cpu, sel, tssDesc);
  const type = tssDesc.type;
  const wantBusy = why === TS_IRET;
  const okType = wantBusy ? type === 0x3 || type === 0xb : type === 0x1 || type === 0x9;
  if (tssDesc.s || !okType) cpu.raise(why === TS_IRET ? TS : GP, (sel & 0xfffc) + ext);
  if (!tssDesc.present) cpu.raise(NP, (sel & 0xfffc) + ext);
  const new32 = (type & 8) !== 0;
  const newBase = tssDesc.base, newLimit = tssDesc.limit;
  if (newLimit < (new32 ? 0x67 : 0x2b)) cpu.raise(TS, (sel & 0xfffc) + ext);

  // 3. Save the outgoing state into the current TSS.
  const old32 = (cpu.tr.ar & 8) !== 0;
  const ob = cpu.tr.base;
  let eflags = cpu.getEflags();
  if (why === TS_IRET) eflags &= ~NT;
  const r = cpu.r32;
  if (old32) {
    cpu.swrite32(ob + 0x20, retEip);
    cpu.swrite32(ob + 0x24, eflags);
    for (let k = 0; k < 8; k++) cpu.swrite32(ob + 0x28 + k * 4, r[k]);
    for (let s = 0; s < 6; s++) cpu.swrite16(ob + 0x48 + s * 4, cpu.segSel[s]);
  } else {
    cpu.swrite16(ob + 0x0e, retEip);
    cpu.swrite16(ob + 0x10, eflags);
    for (let k = 0; k < 8; k++) cpu.swrite16(ob + 0x12 + k * 2, r[k]);
    for (let s = 0; s < 4; s++) cpu.swrite16(ob + 0x22 + s * 2, cpu.segSel[s]);
  }
  // Clear the busy bit of the old task for JMP and IRET.
  if (why === TS_JMP || why === TS_IRET) {
    const a = descAddr(cpu, cpu.trSel);
    if (a >= 0) cpu.swrite8(a + 5, cpu.sread8(a + 5) & ~0x02);
  }

  // 4. Read the incoming state.
  const nb = newBase;
  let nEip: number, nFlags: number, nCr3 = 0, nLdt: number;
  const nRegs = new Array<number>(8);
  const nSegs = new Array<number>(6).fill(0);
  if (new32) {
    nCr3 = cpu.sread32(nb + 0x1c);
    nEip = cpu.sread32(nb + 0x20);
    nFlags = cpu.sread32(nb + 0x24);
    for (let k = 0; k < 8; k++) nRegs[k] = cpu.sread32(nb + 0x28 + k * 4);
    for (let s = 0; s < 6; s++) nSegs[s] = cpu.sread16(nb + 0x48 + s * 4);
    nLdt = cpu.sread16(nb + 0x60);
  } else {
    nEip = cpu.sread16(nb + 0x0e);
    nFlags = cpu.sread16(nb + 0x10);
    for (let k = 0; k < 8; k++) nRegs[k] = cpu.sread16(nb + 0x12 + k * 2);
    for (let s = 0; s < 4; s++) nSegs[s] = cpu.sread16(nb + 0x22 + s * 2);
    nLdt = cpu.sread16(nb + 0x2a);
  }
  if (why === TS_CALL || why === TS_INT) {
    cpu.swrite16(nb, cpu.trSel);
    nFlags |= NT;
  }
  if (why !== TS_IRET) {
    const a = descAddr(cpu, sel);
    cpu.swrite8(a + 5, cpu.sread8(a + 5) | 0x02);
  }

  // 5. Commit: from here on, faults happen in the context of the new task.
  cpu.trSel = sel;
  cpu.tr = { base: newBase, limit: newLimit, ar: tssDesc.ar | 0x02 };
  cpu.cr0 |= CR0_TS;
  if (new32 && cpu.cr0 & CR0_PG) {
    cpu.loadCr3(nCr3);
  }
  if (nFlags & VM) cpu.fail('task switch into virtual-8086 mode: virtual-8086 mode is not supported yet');
  cpu.setEflags(new32 ? nFlags : (cpu.getEflags() & 0xffff0000) | (nFlags & 0xffff));
  for (let k = 0; k < 8; k++) {
    if (new32) r[k] = nRegs[k]; else cpu.r16[k << 1] = nRegs[k];
  }
  cpu.eip = new32 ? nEip >>> 0 : nEip & 0xffff;
  // Faults from here on are reported in the new task, at its first instruction.
  cpu.startEip = cpu.eip;
  // Selectors first (so the state is consistent even if a descriptor check faults).
  for (let s = 0; s < 6; s++) { cpu.segSel[s] = nSegs[s]; cpu.segAr[s] = 0; cpu.recomputeSegWindow(s); }
  cpu.ldtrSel = nLdt;
  cpu.ldtr = { base: 0, limit: 0, ar: 0 };
  cpu.updateMode();

  // LDT (SDM Vol.3A §7.3 step 13: #TS on an invalid LDT).
  if (nLdt & 0xfffc) {
    if (nLdt & 4) cpu.raise(TS, nLdt & 0xfffc);
    const a = descAddr(cpu, nLdt);
    if (a < 0) cpu.raise(TS, nLdt & 0xfffc);
    d.lo = cpu.sread32(a); d.hi = cpu.sread32(a + 4);
    if (d.s || d.type !== 2) cpu.raise(TS, nLdt & 0xfffc);
    if (!d.present) cpu.raise(TS, nLdt & 0xfffc);
    cpu.ldtr = { base: d.base, limit: d.limit, ar: d.ar };
  }

  // CS: the new CPL is its RPL.
  const csSel = nSegs[CS];
  if ((csSel & 0xfffc) === 0) cpu.raise(TS, 0);
  if (descAddr(cpu, csSel) < 0) cpu.raise(TS, csSel & 0xfffc);
  loadDesc(cpu, csSel, d, TS);
  if (!d.isCode) cpu.raise(TS, csSel & 0xfffc);
  if (d.conforming ? d.dpl > (csSel & 3) : d.dpl !== (csSel & 3)) cpu.raise(TS, csSel & 0xfffc);
  if (!d.present) cpu.raise(NP, csSel & 0xfffc);
  cpu.setSegCache(CS, csSel, d.base, d.limit, d.ar);
  const cpl = csSel & 3;

  // SS.
  const ssSel = nSegs[SS];
  if ((ssSel & 0xfffc) === 0) cpu.raise(TS, 0);
  if (descAddr(cpu, ssSel) < 0) cpu.raise(TS, ssSel & 0xfffc);
  loadDesc(cpu, ssSel, d, TS);
  if (!d.writable || d.dpl !== cpl || (ssSel & 3) !== cpl) cpu.raise(TS, ssSel & 0xfffc);
  if (!d.present) cpu.raise(SS_, ssSel & 0xfffc);
  cpu.setSegCache(SS, ssSel, d.base, d.limit, d.ar);

  // Data segments.
  for (const s of [ES, DS, FS, GS]) {
    const v = nSegs[s];
    if ((v & 0xfffc) === 0) continue;
    if (descAddr(cpu, v) < 0) cpu.raise(TS, v & 0xfffc);
    loadDesc(cpu, v, d, TS);
    if (!d.s || (d.isCode && !d.readable)) cpu.raise(TS, v & 0xfffc);
    if ((d.isData || !d.conforming) && ((v & 3) > d.dpl || cpl > d.dpl)) cpu.raise(TS, v & 0xfffc);
    if (!d.present) cpu.raise(NP, v & 0xfffc);
    cpu.setSegCache(s, v, d.base, d.limit, d.ar);
  }
  cpu.updateMode();
  // A task switch with the new EIP beyond CS's limit faults in the new task.
  if (cpu.eip > cpu.segLimit[CS]) cpu.raise(GP, 0);
}
