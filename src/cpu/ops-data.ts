// Data movement, stack, string and port I/O instructions.
import type { Cpu } from './cpu';
import type { Insn } from './insn';
import { REP_NONE, REP_NZ, REP_Z } from './insn';
import { AF, CF, CS, DF, EAX, EBP, EBX, ECX, EDI, EDX, ES, ESI, ESP, GP, PF, SF, SS, UD, ZF } from './consts';
import { sext, sub, trunc, add } from './ops-alu';
import { loadSegReg } from './descriptors';
import type { AccessSize } from './interfaces';

// ---- MOV and friends ------------------------------------------------------------------------

export function movEG(cpu: Cpu, i: Insn): void { cpu.setE(i, cpu.getReg(i.reg, i.size)); }
export function movGE(cpu: Cpu, i: Insn): void { cpu.setReg(i.reg, i.size, cpu.getE(i)); }
export function movEI(cpu: Cpu, i: Insn): void { cpu.setE(i, trunc(i.imm, i.size)); }
export function movZI(cpu: Cpu, i: Insn): void { cpu.setReg(i.op & 7, i.size, trunc(i.imm, i.size)); }
/** MOV AL/eAX, moffs (A0/A1) and MOV moffs, AL/eAX (A2/A3). */
export function movMoffs(cpu: Cpu, i: Insn): void {
  if (i.op <= 0xa1) cpu.setReg(EAX, i.size, cpu.readSz(i.seg, i.imm, i.size));
  else cpu.writeSz(i.seg, i.imm, i.size, cpu.getReg(EAX, i.size));
}
/** MOV Ew, Sreg: a register destination gets the zero-extended selector with a 32-bit operand. */
export function movESreg(cpu: Cpu, i: Insn): void {
  if (i.reg > 5) cpu.raise(UD);
  const v = cpu.segSel[i.reg];
  if (i.mod === 3) cpu.setReg(i.rm, i.osize === 32 ? 4 : 2, v);
  else cpu.write16(i.seg, cpu.ea(i), v);
}
/** MOV Sreg, Ew. MOV to CS is #UD; MOV SS inhibits interrupts for one instruction. */
export function movSregE(cpu: Cpu, i: Insn): void {
  if (i.reg === CS || i.reg > 5) cpu.raise(UD);
  const v = i.mod === 3 ? cpu.r16[i.rm << 1] : cpu.read16(i.seg, cpu.ea(i));
  loadSegReg(cpu, i.reg, v);
  if (i.reg === SS) cpu.inhibitUntil = cpu.icount + 1;
}
export function lea(cpu: Cpu, i: Insn): void {
  const off = cpu.r32[i.base] + (cpu.r32[i.index] << i.scale) + i.disp;
  cpu.setReg(i.reg, i.size, i.asize === 16 ? off & 0xffff : off >>> 0);
}
/** LDS/LES/LSS/LFS/LGS Gv, Mp. */
export function loadFarPtr(cpu: Cpu, i: Insn): void {
  const seg = i.op === 0xc4 ? ES : i.op === 0xc5 ? 3 : i.op === 0x1b2 ? SS : i.op === 0x1b4 ? 4 : 5;
  const off = cpu.ea(i);
  const v = cpu.readSz(i.seg, off, i.size);
  // The far pointer is one operand: its selector word lies at off + size even past 0xFFFF
  // with 16-bit addressing, where the segment-limit check then faults (#GP/#SS) instead of
  // wrapping to offset 0: the 16-bit wrap applies to the effective address, not to the
  // bytes of an operand (386+; SDM Vol.3A §20.1.3). Found by the KVM lockstep harness.
  const sel = cpu.read16(i.seg, i.asize === 32 ? (off + i.size) >>> 0 : off + i.size);
  loadSegReg(cpu, seg, sel);
  cpu.setReg(i.reg, i.size, v);
  if (seg === SS) cpu.inhibitUntil = cpu.icount + 1;
}
export function movzx(cpu: Cpu, i: Insn): void {
  const src = i.op === 0x1b6 ? 1 : 2;
  const v = i.mod === 3 ? cpu.getReg(i.rm, src) : cpu.readSz(i.seg, cpu.ea(i), src);
  cpu.setReg(i.reg, i.size, v);
}
export function movsx(cpu: Cpu, i: Insn): void {
  const src = i.op === 0x1be ? 1 : 2;
  const v = i.mod === 3 ? cpu.getReg(i.rm, src) : cpu.readSz(i.seg, cpu.ea(i), src);
  cpu.setReg(i.reg, i.size, trunc(sext(v, src), i.size));
}
export function xchgEG(cpu: Cpu, i: Insn): void {
  const s = i.size, g = cpu.getReg(i.reg, s);
  if (i.mod === 3) {
    cpu.setReg(i.reg, s, cpu.getReg(i.rm, s));
    cpu.setReg(i.rm, s, g);
  } else {
    const off = cpu.ea(i);
    const v = cpu.readRmw(i.seg, off, s);
    cpu.writeSz(i.seg, off, s, g);
    cpu.setReg(i.reg, s, v);
  }
}
export function xchgZ(cpu: Cpu, i: Insn): void {
  const r = i.op & 7, s = i.size;
  const t = cpu.getReg(r, s);
  cpu.setReg(r, s, cpu.getReg(EAX, s));
  cpu.setReg(EAX, s, t);
}
export function nop(): void {}
export function cbw(cpu: Cpu, i: Insn): void {
  if (i.osize === 16) cpu.r16[0] = sext(cpu.r8[0], 1) & 0xffff;
  else cpu.r32[EAX] = sext(cpu.r16[0], 2);
}
export function cwd(cpu: Cpu, i: Insn): void {
  if (i.osize === 16) cpu.r16[EDX << 1] = cpu.r16[0] & 0x8000 ? 0xffff : 0;
  else cpu.r32[EDX] = cpu.r32[EAX] >> 31;
}
export function lahf(cpu: Cpu): void { cpu.r8[1] = cpu.getEflags() & 0xd5 | 2; }
export function sahf(cpu: Cpu): void {
  cpu.materializeFlags();
  cpu.flags = (cpu.flags & ~(SF | ZF | AF | PF | CF)) | (cpu.r8[1] & (SF | ZF | AF | PF | CF));
}
/** SALC (D6, undocumented on Intel, present since the 8086): AL := CF ? 0xFF : 0. */
export function salc(cpu: Cpu): void { cpu.r8[0] = cpu.getCF() ? 0xff : 0; }
export function xlat(cpu: Cpu, i: Insn): void {
  const off = i.asize === 32 ? (cpu.r32[EBX] + cpu.r8[0]) >>> 0 : (cpu.r16[EBX << 1] + cpu.r8[0]) & 0xffff;
  cpu.r8[0] = cpu.read8(i.seg, off);
}
export function bswap(cpu: Cpu, i: Insn): void {
  const r = i.op & 7;
  const v = cpu.r32[r];
  if (i.osize === 16) { cpu.r16[r << 1] = 0; return; } // undefined: real parts clear the low word
  cpu.r32[r] = ((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24);
}
export function xadd(cpu: Cpu, i: Insn): void {
  const s = i.size, g = cpu.getReg(i.reg, s);
  if (i.mod === 3) {
    const d = cpu.getReg(i.rm, s);
    const r = add(cpu, d, g, s);
    cpu.setReg(i.reg, s, d);
    cpu.setReg(i.rm, s, r);
  } else {
    const off = cpu.ea(i);
    const d = cpu.readRmw(i.seg, off, s);
    const r = add(cpu, d, g, s);
    cpu.writeSz(i.seg, off, s, r);
    cpu.setReg(i.reg, s, d);
  }
}
/** CMPXCHG E, G: compares with AL/AX/EAX (SDM Vol.2A: the destination is always written for memory). */
export function cmpxchg(cpu: Cpu, i: Insn): void {
  const s = i.size, acc = cpu.getReg(EAX, s);
  if (i.mod === 3) {
    const d = cpu.getReg(i.rm, s);
    sub(cpu, acc, d, s);
    if (acc === d) cpu.setReg(i.rm, s, cpu.getReg(i.reg, s)); else cpu.setReg(EAX, s, d);
  } else {
    const off = cpu.ea(i);
    const d = cpu.readRmw(i.seg, off, s);
    const eq = acc === d;
    cpu.writeSz(i.seg, off, s, eq ? cpu.getReg(i.reg, s) : d);
    sub(cpu, acc, d, s);
    if (!eq) cpu.setReg(EAX, s, d);
  }
}
/** CMPXCHG8B m64 (0F C7 /1). */
export function cmpxchg8b(cpu: Cpu, i: Insn): void {
  const off = cpu.ea(i);
  const off4 = i.asize === 32 ? (off + 4) >>> 0 : (off + 4) & 0xffff;
  cpu.probeWrite(i.seg, off, 8);
  const lo = cpu.read32(i.seg, off), hi = cpu.read32(i.seg, off4);
  cpu.materializeFlags();
  if (lo === cpu.r32[EAX] >>> 0 && hi === cpu.r32[EDX] >>> 0) {
    cpu.write32(i.seg, off, cpu.r32[EBX]);
    cpu.write32(i.seg, off4, cpu.r32[ECX]);
    cpu.flags |= ZF;
  } else {
    cpu.write32(i.seg, off, lo);
    cpu.write32(i.seg, off4, hi);
    cpu.r32[EAX] = lo;
    cpu.r32[EDX] = hi;
    cpu.flags &= ~ZF;
  }
}
export function cmovcc(cpu: Cpu, i: Insn): void {
  const v = cpu.getE(i); // the source is always read (and may fault)
  if (cpu.cond(i.op & 15)) cpu.setReg(i.reg, i.size, v);
  else if (i.size === 4) cpu.r32[i.reg] = cpu.r32[i.reg]; // 32-bit destinations are written either way
}
export function setcc(cpu: Cpu, i: Insn): void { cpu.setE(i, cpu.cond(i.op & 15) ? 1 : 0); }

// ---- stack ----------------------------------------------------------------------------------

export function pushZ(cpu: Cpu, i: Insn): void { cpu.push(i.size, cpu.getReg(i.op & 7, i.size)); }
export function popZ(cpu: Cpu, i: Insn): void {
  const v = cpu.pop(i.size);
  cpu.setReg(i.op & 7, i.size, v);
}
export function pushI(cpu: Cpu, i: Insn): void { cpu.push(i.size, trunc(i.imm, i.size)); }
export function pushE(cpu: Cpu, i: Insn): void { cpu.push(i.size, cpu.getE(i)); }
/** POP Ev: an ESP-based destination address is computed after ESP is incremented (SDM Vol.2B POP). */
export function popE(cpu: Cpu, i: Insn): void {
  const s = i.size;
  const sp0 = cpu.r32[ESP];
  const v = cpu.readSz(SS, cpu.spOff(0), s);
  cpu.setSp(cpu.spOff(s));
  try {
    cpu.setE(i, v);
  } catch (e) {
    cpu.r32[ESP] = sp0;
    throw e;
  }
}
/** PUSH Sreg: with a 32-bit operand the 386+ writes only the low 16 bits of the slot. */
export function pushSeg(cpu: Cpu, i: Insn): void {
  const seg = segOfPushPop(i.op);
  const v = cpu.segSel[seg];
  if (i.size === 4) {
    const off = cpu.spOff(-4);
    cpu.probeWrite(SS, off, 4);
    cpu.write16(SS, off, v);
    cpu.setSp(off);
  } else cpu.push16(v);
}
export function popSeg(cpu: Cpu, i: Insn): void {
  const seg = segOfPushPop(i.op);
  const v = cpu.readSz(SS, cpu.spOff(0), i.size) & 0xffff;
  loadSegReg(cpu, seg, v);
  cpu.setSp(cpu.spOff(i.size));
  if (seg === SS) cpu.inhibitUntil = cpu.icount + 1;
}
function segOfPushPop(op: number): number {
  switch (op) {
    case 0x06: case 0x07: return ES;
    case 0x0e: return CS;
    case 0x16: case 0x17: return SS;
    case 0x1e: case 0x1f: return 3;
    case 0x1a0: case 0x1a1: return 4;
    default: return 5;
  }
}
/** PUSHA/PUSHAD: pushes the SP value from before the instruction. */
export function pusha(cpu: Cpu, i: Insn): void {
  const s = i.size;
  const sp = cpu.getReg(ESP, s);
  const base = cpu.spOff(-8 * s);
  // SP is updated only after all eight stores, so a fault part way leaves it unchanged (restartable).
  const regs = [EAX, ECX, EDX, EBX, -1, EBP, ESI, EDI];
  for (let k = 0; k < 8; k++) {
    const off = cpu.stack32 ? (cpu.r32[ESP] - (k + 1) * s) >>> 0 : (cpu.r32[ESP] - (k + 1) * s) & 0xffff;
    cpu.writeSz(SS, off, s, regs[k] < 0 ? sp : cpu.getReg(regs[k], s));
  }
  cpu.setSp(base);
}
export function popa(cpu: Cpu, i: Insn): void {
  const s = i.size;
  const vals: number[] = [];
  for (let k = 0; k < 8; k++) vals.push(cpu.readSz(SS, cpu.spOff(k * s), s));
  const regs = [EDI, ESI, EBP, -1, EBX, EDX, ECX, EAX];
  for (let k = 0; k < 8; k++) if (regs[k] >= 0) cpu.setReg(regs[k], s, vals[k]);
  cpu.setSp(cpu.spOff(8 * s));
}
/** ENTER imm16, imm8 (SDM Vol.2A ENTER). */
export function enter(cpu: Cpu, i: Insn): void {
  const s = i.size;
  const alloc = i.imm & 0xffff, level = i.imm2 & 0x1f;
  const sp0 = cpu.r32[ESP];
  try {
    const bp = cpu.getReg(EBP, s);
    cpu.push(s, bp);
    const frame = cpu.getReg(ESP, cpu.stack32 ? 4 : 2);
    if (level > 0) {
      let ebp = cpu.stack32 ? cpu.r32[EBP] >>> 0 : cpu.r16[EBP << 1];
      for (let k = 1; k < level; k++) {
        ebp = cpu.stack32 ? (ebp - s) >>> 0 : (ebp - s) & 0xffff;
        cpu.push(s, cpu.readSz(SS, ebp, s));
      }
      cpu.push(s, frame);
    }
    const newSp = cpu.spOff(-alloc);
    // The final stack pointer must be writable (the 386 checks the last byte).
    if (alloc) cpu.probeWrite(SS, newSp, 1);
    cpu.setReg(EBP, s, frame);
    cpu.setSp(newSp);
  } catch (e) {
    cpu.r32[ESP] = sp0;
    throw e;
  }
}
export function leave(cpu: Cpu, i: Insn): void {
  const s = i.size;
  const bp = cpu.stack32 ? cpu.r32[EBP] >>> 0 : cpu.r16[EBP << 1];
  // Real mode: EBP outside 0..FFFFh is #GP, not #SS (SDM Vol.2A LEAVE, real-address mode exceptions).
  if (!(cpu.cr0 & 1) && bp + s - 1 > cpu.segLimit[SS]) cpu.raise(GP, 0);
  const v = cpu.readSz(SS, bp, s);
  if (cpu.stack32) cpu.r32[ESP] = bp; else cpu.r16[ESP << 1] = bp;
  cpu.setSp(cpu.spOff(s));
  cpu.setReg(EBP, s, v);
}

// ---- string instructions --------------------------------------------------------------------

function ptrReg(cpu: Cpu, i: Insn, r: number): number {
  return i.asize === 32 ? cpu.r32[r] >>> 0 : cpu.r16[r << 1];
}
function advance(cpu: Cpu, i: Insn, r: number, n: number): void {
  const d = cpu.flags & DF ? -n : n;
  if (i.asize === 32) cpu.r32[r] = cpu.r32[r] + d; else cpu.r16[r << 1] = cpu.r16[r << 1] + d;
}
function count(cpu: Cpu, i: Insn): number { return i.asize === 32 ? cpu.r32[ECX] >>> 0 : cpu.r16[ECX << 1]; }
function decCount(cpu: Cpu, i: Insn): number {
  if (i.asize === 32) return (cpu.r32[ECX] = cpu.r32[ECX] - 1) >>> 0;
  return (cpu.r16[ECX << 1] = cpu.r16[ECX << 1] - 1);
}

/**
 * Runs one string operation under its REP prefix. Each iteration commits fully
 * (registers updated) before the next, so a fault mid-REP restarts at the faulting
 * iteration with EIP at the instruction (SDM Vol.3A §6.6, Vol.2B REP). To keep
 * interrupt latency bounded, at most `REP_CHUNK` iterations run per step; the
 * instruction then restarts itself.
 */
const REP_CHUNK = 4096;
function repLoop(cpu: Cpu, i: Insn, body: (cpu: Cpu, i: Insn) => void, cond: boolean, fast: RepFast | null = null): void {
  if (i.rep === REP_NONE) { body(cpu, i); return; }
  // The fast path: forward, 32-bit addresses, no data watchpoint (the debugger's).
  const useFast = fast !== null && cpu.repFastEnabled && i.asize === 32 && (cpu.flags & DF) === 0 && cpu.memWatch === null;
  let n = 0;
  while (count(cpu, i) !== 0) {
    let c: number;
    const k = useFast ? fast(cpu, i, REP_CHUNK - n) : 0;
    if (k > 0) {
      n += k - 1; // the iterations it ran, counted as the generic path counts them
      c = cpu.r32[ECX];
    } else {
      body(cpu, i);
      c = decCount(cpu, i);
    }
    if (cond) {
      const zf = cpu.getZF();
      if (i.rep === REP_Z ? !zf : zf) return;
    }
    if (c === 0) return;
    if (++n >= REP_CHUNK) { cpu.eip = cpu.startEip; return; }
  }
}

/**
 * A run of iterations done at once, or 0 for none (the generic path then runs one, with
 * every check, fault and device effect). Each runs only inside one page of each operand,
 * aligned to the element size, through full-range segments, on TLB hits to plain RAM
 * (Cpu.repPhys: not MMIO; writes not to decoded code or page tables, which the rmap must
 * see), so no iteration could fault or touch a device, and the result is the one the
 * iterations would leave one by one (SDM Vol.2B MOVS/STOS/SCAS): the registers advance by
 * the count and ECX drops by it; SCAS leaves the flags of its last compare.
 */
type RepFast = (cpu: Cpu, i: Insn, max: number) => number;

/** Elements of size s from linear address lin to its page end (lin aligned to s). */
function toPageEnd(lin: number, s: number): number { return (4096 - (lin & 4095)) / s; }

function stosFast(cpu: Cpu, i: Insn, max: number): number {
  const s = i.size, edi = cpu.r32[EDI] >>> 0;
  if ((cpu.segFull[ES] & 2) === 0) return 0;
  const lin = (cpu.segBase[ES] + edi) >>> 0;
  if ((lin & (s - 1)) !== 0) return 0;
  const n = Math.min(cpu.r32[ECX] >>> 0, max, toPageEnd(lin, s));
  if (n < 2) return 0;
  const p = cpu.repPhys(lin, true);
  if (p < 0) return 0;
  const m = cpu.mem, v = cpu.getReg(EAX, s);
  if (s === 4) m.ram32.fill(v, p >>> 2, (p >>> 2) + n);
  else if (s === 2) m.ram16.fill(v, p >>> 1, (p >>> 1) + n);
  else m.ram.fill(v, p, p + n);
  cpu.r32[EDI] = edi + n * s;
  cpu.r32[ECX] = cpu.r32[ECX] - n;
  return n;
}

function movsFast(cpu: Cpu, i: Insn, max: number): number {
  const s = i.size, esi = cpu.r32[ESI] >>> 0, edi = cpu.r32[EDI] >>> 0;
  if ((cpu.segFull[i.seg] & 1) === 0 || (cpu.segFull[ES] & 2) === 0) return 0;
  const ls = (cpu.segBase[i.seg] + esi) >>> 0, ld = (cpu.segBase[ES] + edi) >>> 0;
  if (((ls | ld) & (s - 1)) !== 0) return 0;
  const n = Math.min(cpu.r32[ECX] >>> 0, max, toPageEnd(ls, s), toPageEnd(ld, s));
  if (n < 2) return 0;
  const ps = cpu.repPhys(ls, false);
  if (ps < 0) return 0;
  const pd = cpu.repPhys(ld, true);
  if (pd < 0) return 0;
  const bytes = n * s;
  // A destination that starts inside the source, ahead of it, sees the elements this copy
  // wrote (a repeating pattern): copyWithin would copy as if through a buffer instead.
  if (pd > ps && pd < ps + bytes) return 0;
  cpu.mem.ram.copyWithin(pd, ps, ps + bytes);
  cpu.r32[ESI] = esi + bytes;
  cpu.r32[EDI] = edi + bytes;
  cpu.r32[ECX] = cpu.r32[ECX] - n;
  return n;
}

/** REPNE SCASB (strlen, memchr): scans for AL. */
function scasFast(cpu: Cpu, i: Insn, max: number): number {
  if (i.size !== 1 || i.rep !== REP_NZ || (cpu.segFull[ES] & 1) === 0) return 0;
  const edi = cpu.r32[EDI] >>> 0, lin = (cpu.segBase[ES] + edi) >>> 0;
  const n = Math.min(cpu.r32[ECX] >>> 0, max, toPageEnd(lin, 1));
  if (n < 2) return 0;
  const p = cpu.repPhys(lin, false);
  if (p < 0) return 0;
  const ram = cpu.mem.ram, al = cpu.r32[EAX] & 0xff;
  let k = 0;
  while (k < n && ram[p + k] !== al) k++;
  const done = k < n ? k + 1 : n; // iterations run: up to and including the match
  sub(cpu, al, ram[p + done - 1], 1);
  cpu.r32[EDI] = edi + done;
  cpu.r32[ECX] = cpu.r32[ECX] - done;
  return done;
}

function movsBody(cpu: Cpu, i: Insn): void {
  const s = i.size;
  const v = cpu.readSz(i.seg, ptrReg(cpu, i, ESI), s);
  cpu.writeSz(ES, ptrReg(cpu, i, EDI), s, v);
  advance(cpu, i, ESI, s);
  advance(cpu, i, EDI, s);
}
function cmpsBody(cpu: Cpu, i: Insn): void {
  const s = i.size;
  const a = cpu.readSz(i.seg, ptrReg(cpu, i, ESI), s);
  const b = cpu.readSz(ES, ptrReg(cpu, i, EDI), s);
  sub(cpu, a, b, s);
  advance(cpu, i, ESI, s);
  advance(cpu, i, EDI, s);
}
function stosBody(cpu: Cpu, i: Insn): void {
  cpu.writeSz(ES, ptrReg(cpu, i, EDI), i.size, cpu.getReg(EAX, i.size));
  advance(cpu, i, EDI, i.size);
}
function lodsBody(cpu: Cpu, i: Insn): void {
  cpu.setReg(EAX, i.size, cpu.readSz(i.seg, ptrReg(cpu, i, ESI), i.size));
  advance(cpu, i, ESI, i.size);
}
function scasBody(cpu: Cpu, i: Insn): void {
  const s = i.size;
  const b = cpu.readSz(ES, ptrReg(cpu, i, EDI), s);
  sub(cpu, cpu.getReg(EAX, s), b, s);
  advance(cpu, i, EDI, s);
}
function insBody(cpu: Cpu, i: Insn): void {
  const s = i.size, port = cpu.r16[EDX << 1];
  const off = ptrReg(cpu, i, EDI);
  cpu.probeWrite(ES, off, s);
  const v = cpu.io.ioRead(port, s as AccessSize);
  cpu.writeSz(ES, off, s, v);
  advance(cpu, i, EDI, s);
}
function outsBody(cpu: Cpu, i: Insn): void {
  const s = i.size, port = cpu.r16[EDX << 1];
  const v = cpu.readSz(i.seg, ptrReg(cpu, i, ESI), s);
  cpu.io.ioWrite(port, s as AccessSize, v);
  advance(cpu, i, ESI, s);
}
export function movs(cpu: Cpu, i: Insn): void { repLoop(cpu, i, movsBody, false, movsFast); }
export function cmps(cpu: Cpu, i: Insn): void { repLoop(cpu, i, cmpsBody, true); }
export function stos(cpu: Cpu, i: Insn): void { repLoop(cpu, i, stosBody, false, stosFast); }
export function lods(cpu: Cpu, i: Insn): void { repLoop(cpu, i, lodsBody, false); }
export function scas(cpu: Cpu, i: Insn): void { repLoop(cpu, i, scasBody, true, scasFast); }
export function ins(cpu: Cpu, i: Insn): void { cpu.checkIo(cpu.r16[EDX << 1], i.size); repLoop(cpu, i, insBody, false); }
export function outs(cpu: Cpu, i: Insn): void { cpu.checkIo(cpu.r16[EDX << 1], i.size); repLoop(cpu, i, outsBody, false); }

// ---- port I/O -------------------------------------------------------------------------------

export function inOp(cpu: Cpu, i: Insn): void {
  const port = i.op === 0xe4 || i.op === 0xe5 ? i.imm & 0xff : cpu.r16[EDX << 1];
  cpu.checkIo(port, i.size);
  cpu.setReg(EAX, i.size, cpu.io.ioRead(port, i.size as AccessSize));
}
export function outOp(cpu: Cpu, i: Insn): void {
  const port = i.op === 0xe6 || i.op === 0xe7 ? i.imm & 0xff : cpu.r16[EDX << 1];
  cpu.checkIo(port, i.size);
  cpu.io.ioWrite(port, i.size as AccessSize, cpu.getReg(EAX, i.size));
}

