// Moving architectural state between the interpreter's Cpu and KVM's structs
// (kvm_regs, kvm_sregs). The Machine keeps its Cpu as the one place the rest of ts86
// reads registers from (dumps, SIGQUIT, --debug-single-step, the lockstep harness), so
// the KVM backend copies the Cpu's entry state into the vCPU at boot and copies the
// vCPU back into the Cpu whenever something wants to look.
import type { Cpu } from '../../cpu/cpu';
import { AR_AVL, AR_DB, AR_G, AR_L, AR_P, AR_S, CS, DS, ES, FS, GS, SS } from '../../cpu/consts';
import { SIZEOF_REGS, SIZEOF_SREGS, SREGS } from './abi';

/** kvm_regs order of the eight legacy GPRs, as Cpu register numbers (EAX=0, ECX=1, EDX=2, EBX=3, ESP=4, EBP=5, ESI=6, EDI=7). */
const REGS_ORDER = [0, 3, 1, 2, 6, 7, 4, 5] as const;
const REG_RIP = 128, REG_RFLAGS = 136;
/** kvm_sregs segment slots for Cpu segment numbers ES, CS, SS, DS, FS, GS. */
const SEG_SLOT: Record<number, number> = { [ES]: SREGS.ES, [CS]: SREGS.CS, [SS]: SREGS.SS, [DS]: SREGS.DS, [FS]: SREGS.FS, [GS]: SREGS.GS };

/** One kvm_segment (24 bytes) from a Cpu-style hidden cache (AR word as in cpu/consts). */
export function writeSegment(v: DataView, at: number, sel: number, base: number, limit: number, ar: number, realMode: boolean): void {
  v.setBigUint64(at, BigInt(base >>> 0), true);
  v.setUint32(at + 8, limit >>> 0, true);
  v.setUint16(at + 12, sel & 0xffff, true);
  v.setUint8(at + 14, ar & 0x0f);
  v.setUint8(at + 15, ar & AR_P ? 1 : 0);
  v.setUint8(at + 16, (ar >> 5) & 3);
  v.setUint8(at + 17, ar & AR_DB ? 1 : 0);
  v.setUint8(at + 18, ar & AR_S ? 1 : 0);
  v.setUint8(at + 19, ar & AR_L ? 1 : 0);
  v.setUint8(at + 20, ar & AR_G ? 1 : 0);
  v.setUint8(at + 21, ar & AR_AVL ? 1 : 0);
  // "unusable" is VMX's name for a segment register loaded with a null selector in
  // protected mode (SDM Vol.3C §24.4.1); in real mode every segment is usable.
  v.setUint8(at + 22, !realMode && !(ar & AR_P) ? 1 : 0);
  v.setUint8(at + 23, 0);
}

/** The AR word (cpu/consts layout) of a kvm_segment. */
export function readSegmentAr(v: DataView, at: number): number {
  let ar = v.getUint8(at + 14) & 0x0f;
  if (v.getUint8(at + 18)) ar |= AR_S;
  ar |= (v.getUint8(at + 16) & 3) << 5;
  if (v.getUint8(at + 15) && !v.getUint8(at + 22)) ar |= AR_P;
  if (v.getUint8(at + 21)) ar |= AR_AVL;
  if (v.getUint8(at + 19)) ar |= AR_L;
  if (v.getUint8(at + 17)) ar |= AR_DB;
  if (v.getUint8(at + 20)) ar |= AR_G;
  return ar;
}

export function regsFromCpu(cpu: Cpu, v: DataView): void {
  for (let i = 0; i < 18; i++) v.setBigUint64(i * 8, 0n, true);
  REGS_ORDER.forEach((r, k) => v.setBigUint64(k * 8, BigInt(cpu.r32[r] >>> 0), true));
  v.setBigUint64(REG_RIP, BigInt(cpu.eip >>> 0), true);
  v.setBigUint64(REG_RFLAGS, BigInt(cpu.getEflags() >>> 0), true);
}

export function regsToCpu(v: DataView, cpu: Cpu): void {
  REGS_ORDER.forEach((r, k) => { cpu.r32[r] = Number(v.getBigUint64(k * 8, true) & 0xffffffffn) | 0; });
  cpu.eip = Number(v.getBigUint64(REG_RIP, true) & 0xffffffffn);
  cpu.setEflags(Number(v.getBigUint64(REG_RFLAGS, true) & 0xffffffffn));
}

export function sregsFromCpu(cpu: Cpu, v: DataView, apicBase: number): void {
  for (let i = 0; i < SIZEOF_SREGS; i += 4) v.setUint32(i, 0, true);
  const real = (cpu.cr0 & 1) === 0;
  for (const s of [ES, CS, SS, DS, FS, GS]) writeSegment(v, SEG_SLOT[s]!, cpu.segSel[s]!, cpu.segBase[s]!, cpu.segLimit[s]!, cpu.segAr[s]!, real);
  writeSegment(v, SREGS.TR, cpu.trSel, cpu.tr.base, cpu.tr.limit, cpu.tr.ar, false);
  // A null LDTR selector means no LDT: KVM must see the LDTR unusable, or it would look
  // selectors with TI=1 up in whatever the hidden cache still describes (found by the
  // lockstep harness: KVM loaded DS from an "LDT" at linear 0).
  writeSegment(v, SREGS.LDT, cpu.ldtrSel, cpu.ldtr.base, cpu.ldtr.limit, (cpu.ldtrSel & 0xfffc) === 0 ? cpu.ldtr.ar & ~AR_P : cpu.ldtr.ar, false);
  // TR must be a present busy TSS and LDTR a present LDT (or unusable) for VM entry
  // (SDM Vol.3C §26.3.1.2); the reset values of Cpu satisfy that.
  v.setBigUint64(SREGS.GDT, BigInt(cpu.gdtr.base >>> 0), true);
  v.setUint16(SREGS.GDT + 8, cpu.gdtr.limit & 0xffff, true);
  v.setBigUint64(SREGS.IDT, BigInt(cpu.idtr.base >>> 0), true);
  v.setUint16(SREGS.IDT + 8, cpu.idtr.limit & 0xffff, true);
  // CD/NW as at reset are legal for VMX guests but slow some hosts down; the boot
  // state a loader hands over never has them.
  v.setBigUint64(SREGS.CR0, BigInt(cpu.cr0 >>> 0), true);
  v.setBigUint64(SREGS.CR2, BigInt(cpu.cr2 >>> 0), true);
  v.setBigUint64(SREGS.CR3, BigInt(cpu.cr3 >>> 0), true);
  v.setBigUint64(SREGS.CR4, BigInt(cpu.cr4 >>> 0), true);
  v.setBigUint64(SREGS.EFER, BigInt(cpu.efer >>> 0), true);
  v.setBigUint64(SREGS.APIC_BASE, BigInt(apicBase), true);
}

export function sregsToCpu(v: DataView, cpu: Cpu): void {
  cpu.cr0 = Number(v.getBigUint64(SREGS.CR0, true) & 0xffffffffn);
  cpu.cr2 = Number(v.getBigUint64(SREGS.CR2, true) & 0xffffffffn);
  cpu.cr3 = Number(v.getBigUint64(SREGS.CR3, true) & 0xffffffffn);
  cpu.cr4 = Number(v.getBigUint64(SREGS.CR4, true) & 0xffffffffn);
  cpu.efer = Number(v.getBigUint64(SREGS.EFER, true) & 0xffffffffn);
  for (const s of [ES, DS, FS, GS, SS, CS]) {
    const at = SEG_SLOT[s]!;
    cpu.setSegCache(s, v.getUint16(at + 12, true), Number(v.getBigUint64(at, true) & 0xffffffffn), v.getUint32(at + 8, true), readSegmentAr(v, at));
  }
  cpu.trSel = v.getUint16(SREGS.TR + 12, true);
  cpu.tr = { base: Number(v.getBigUint64(SREGS.TR, true) & 0xffffffffn), limit: v.getUint32(SREGS.TR + 8, true), ar: readSegmentAr(v, SREGS.TR) };
  cpu.ldtrSel = v.getUint16(SREGS.LDT + 12, true);
  cpu.ldtr = { base: Number(v.getBigUint64(SREGS.LDT, true) & 0xffffffffn), limit: v.getUint32(SREGS.LDT + 8, true), ar: readSegmentAr(v, SREGS.LDT) };
  cpu.gdtr = { base: Number(v.getBigUint64(SREGS.GDT, true) & 0xffffffffn), limit: v.getUint16(SREGS.GDT + 8, true) };
  cpu.idtr = { base: Number(v.getBigUint64(SREGS.IDT, true) & 0xffffffffn), limit: v.getUint16(SREGS.IDT + 8, true) };
  cpu.updateMode();
  for (let s = 0; s < 6; s++) cpu.recomputeSegWindow(s);
  // CR0/CR3/CR4 may have changed under the interpreter's feet: drop its cached translations.
  cpu.flushTlb(true);
}

export function newRegs(): DataView { return new DataView(new ArrayBuffer(SIZEOF_REGS)); }
export function newSregs(): DataView { return new DataView(new ArrayBuffer(SIZEOF_SREGS)); }
