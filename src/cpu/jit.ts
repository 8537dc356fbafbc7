// The second tier: hot code compiled to JavaScript functions (`new Function`) that V8
// then optimises like any other code. The unit is a region: a hot block and the blocks
// its static branches reach on the same code page (see Cpu.buildRegion), compiled into
// one function that dispatches between them on the page offset; a branch to another
// block of the region continues inside the function instead of returning to the run loop.
//
// Two code shapes: a region with a loop keeps guest registers in JS locals; straight-line
// code (run a few times per compile, calling handlers more often) uses the Cpu's register
// array. Both write out the RAM fast path inline.
//
// Correctness rules the generated code keeps (the same as Cpu.step):
// - Registers in locals (r0..r7) are loaded on entry, written back in a `finally` on
//   every exit (return or exception), and around every call of an interpreter handler
//   (written back before, loaded after). A handler that throws leaves the Cpu's registers
//   as it left them (it may have changed some: REP strings); the locals are not written
//   over them.
// - Before any instruction that calls an interpreter handler, the code stores startEip
//   (the instruction's EIP), EIP (the next instruction's) and icount (counting the
//   instruction), so a fault leaves exactly the state the interpreter would: Cpu.run's
//   catch rewinds EIP to startEip and delivers the exception. A memory operand's fast
//   path (aligned, full-range segment, TLB hit, plain RAM: one typed-array access,
//   counted as a TLB hit with paging on) cannot fault; otherwise the Cpu's accessors
//   (Cpu.fr32 ...), passed the instruction's place in its block, sync EIP and icount
//   (Cpu.jitSync) before they can fault, touch a device or drop code.
// - Semantics come from one place. Operand fetch and write-back are written out here;
//   the operation itself is either a few lines mirroring ops-alu/ops-data (checked against
//   the interpreter by test/cpu/jit.test.ts) or a direct call of the interpreter's own
//   operation (A.ALU[k], A.shiftOp, A.incv/decv, A.mulHiU32 ...). Instructions without a
//   form here call the interpreter's handler.
// - After every instruction that calls a handler, or whose memory operand took a slow
//   path (the fast path touches plain RAM only), the function returns if the CPU asked
//   running blocks to stop (a write to decoded code, a TLB or mode change, a stop request,
//   an MMIO access: see Cpu.blockAbort), with EIP and icount exact.
// - A Jcc inside a block is a side exit. A branch (taken or not) to a block of the region
//   continues there while the budget allows that block's whole length and the target
//   passes the CS limit (no check when the whole page does: inLim); otherwise the
//   function returns with EIP and icount exact. Nothing can have asked blocks to stop
//   since the last check, so the edge does not look. No interrupt
//   check is needed at these edges: whether an interrupt is pending changes only through
//   port I/O, MMIO (both end or abort a block) or instructions that end blocks (STI,
//   POPF, IRET, MOV SS ...), and device time advances only between Cpu.run calls.
// - Lazy flags are stored exactly as the interpreter stores them; a Jcc/SETcc/CMOVcc after
//   a known flag producer of the same block tests the operands directly instead of
//   re-deriving flags, and ADC/SBB/INC/DEC take CF from the known producer. A producer's
//   stores are deferred until something can observe flags (a later producer drops them);
//   with the inline fast path they stay deferred across memory operands, whose slow paths
//   store them first.
import type { Cpu } from './cpu';
import { chainsAfter, isStraight, regionSuccessors, type Block } from './block';
import type { Insn } from './insn';
import * as A from './ops-alu';
import * as D from './ops-data';
import * as C from './ops-control';
import { CF, REG_ZERO } from './consts';
import { setFlagsFromString } from 'node:v8';

/** A compiled function: runs from CS:EIP; true when the run loop may chain straight to the next compiled code. */
export type BlockFn = (cpu: Cpu, end: number) => boolean;

/**
 * Calls an interpreter handler. Every compiled function calls handlers through this one
 * function, so its call site sees every handler (megamorphic) and V8 does not inline the
 * handler bodies into each region: compiling stays cheap (a few hundred microseconds
 * rather than tens of milliseconds), which matters when a kernel has thousands of hot blocks.
 */
function callHandler(h: (cpu: Cpu, i: Insn) => void, cpu: Cpu, i: Insn): void { h(cpu, i); }

/** Small, common handlers worth letting V8 inline (called directly). */
const INLINE_OK = new Set<unknown>([D.pushZ, D.popZ, D.movzx, D.movsx, A.shiftE, D.setcc, D.cmovcc, D.pushI, D.xchgZ, D.nop, D.movEI,
  D.movGE, D.movEG, A.mulE, A.imul1, A.imul2, D.cwd, D.cbw]);

/** Flag producers the compiler tracks for condition fusion and carry-in. */
type FlagOp = 'add' | 'sub' | 'logic' | 'incdec' | 'adc' | 'sbb';
interface Flags { op: FlagOp; a: string; b: string; x: string; s: number; cin: string }

/** The interpreter's lazy-flag kinds of ADD OR ADC SBB AND SUB XOR CMP (LF_ADD 0, LF_ADC 1, LF_SUB 2, LF_SBB 3, LF_LOGIC 4). */
const ALU_LF = [0, 4, 1, 3, 4, 2, 4, 2];
const ALU_OPER = ['+', '|', '+', '-', '&', '-', '^', '-'];
const ALU_KIND: FlagOp[] = ['add', 'logic', 'adc', 'sbb', 'logic', 'sub', 'logic', 'sub'];
const MASK = [0, 0xff, 0xffff, 0, 0xffffffff];
const SIGN = [0, 0x80, 0x8000, 0, 0x80000000];

/**
 * A 32-bit effective address expression (address size 32), as int32: an offset of 2^31
 * or more is negative here (the accessors take offsets and 32-bit values modulo 2^32,
 * Cpu.fr32 ...). `>>> 0` would make it a uint32, which V8 keeps as a small integer while
 * the values it has seen fit one and deoptimises the region ("lost precision") the first
 * time one does not: measured, the most frequent deopt of compiled regions.
 */
function ea32(i: Insn): string {
  const parts: string[] = [];
  if (i.base !== REG_ZERO) parts.push(`r${i.base}`);
  if (i.index !== REG_ZERO) parts.push(i.scale ? `(r${i.index} << ${i.scale})` : `r${i.index}`);
  if (i.disp !== 0 || parts.length === 0) parts.push(String(i.disp | 0));
  return `((${parts.join(' + ')}) | 0)`;
}

/** Register operands: the locals r0..r7 hold EAX..EDI as int32. */
function regGet(reg: number, s: number): string {
  if (s === 4) return `(r${reg} >>> 0)`;
  if (s === 2) return `(r${reg} & 65535)`;
  return reg < 4 ? `(r${reg} & 255)` : `((r${reg - 4} >>> 8) & 255)`;
}
/** As regGet, a 32-bit register as int32 (the ALU forms: see ea32 and ult). */
function regGetI(reg: number, s: number): string { return s === 4 ? `r${reg}` : regGet(reg, s); }
function regSet(reg: number, s: number, v: string): string {
  if (s === 4) return `r${reg} = (${v}) | 0;`;
  if (s === 2) return `r${reg} = (r${reg} & -65536) | ((${v}) & 65535);`;
  return reg < 4 ? `r${reg} = (r${reg} & -256) | ((${v}) & 255);` : `r${reg - 4} = (r${reg - 4} & -65281) | (((${v}) & 255) << 8);`;
}
const SPILL = 'r[0] = r0; r[1] = r1; r[2] = r2; r[3] = r3; r[4] = r4; r[5] = r5; r[6] = r6; r[7] = r7;';
const RELOAD = 'r0 = r[0]; r1 = r[1]; r2 = r[2]; r3 = r[3]; r4 = r[4]; r5 = r[5]; r6 = r[6]; r7 = r[7];';

const RD = ['', 'read8', 'read16', '', 'read32'];
const WR = ['', 'write8', 'write16', '', 'write32'];
const FRD = ['', 'fr8', 'fr16', '', 'fr32'];
const FWR = ['', 'fw8', 'fw16', '', 'fw32'];
const RAMV = ['', 'ram', 'ram16', '', 'ram32'];
const SHIFT = ['', '', ' >>> 1', '', ' >>> 2'];

/** Per-compilation state of the emitters. */
interface Gen {
  /**
   * Aligned RAM operands on the fast path (switch ramFast), written out inline with a call
   * of the Cpu's accessor (Cpu.fr32 ...) as the slow path; else the Cpu's checked
   * accessors. Inline in every region: measured against calling the accessor for each
   * access in straight-line regions, the Debian kernel's unrolled BLAKE2s rounds ran at
   * 242 M instructions/s instead of 62-78 (the deferred flags stay deferred across the
   * accesses too) and its boot took ~8 s less, with no change on the embedded boot.
   */
  ramFast: boolean;
  /** Registers in JS locals (regions with a loop), else the Cpu's register array. */
  locals: boolean;
  /**
   * Where the instruction being emitted is, for the accessors' slow paths (Cpu.jitSync):
   * its index k in the block, offset there and length, as k * 65536 + offset * 16 + length.
   */
  pos: number;
  /** Segments whose base/full-range bits the code reads (loaded on entry and after handlers). */
  segs: Set<number>;
  /** A counter for unique temporaries. */
  tmp: number;
  /**
   * Deferred lazy-flag stores (see compileRegion), as statements and as a comma-expression
   * prefix: the accessors' slow paths store them first (they can fault or reach code that
   * reads flags); the inline fast path cannot observe flags and leaves them deferred. Only
   * for instructions marked pure, which set no flags before their last memory access.
   */
  pend: string;
  pendExpr: string;
}

/**
 * An aligned access through a full-range segment hits RAM directly when the TLB entry
 * (or, paging off, the identity table: Cpu.jitTlb) grants it and the frame is plain RAM
 * (reads: the entry's TLB_RAM bit, part of the needed bits; writes: also not tracked by
 * the rmap, PhysMemory.frameKind, loaded per access as tracking changes).
 * Otherwise the Cpu's accessor runs, with all checks, faults and device effects. The
 * segment's part is folded into the needed TLB bits: nr<seg>/nw<seg> carry a bit no
 * entry has (NEVER) when the segment is not full-range or lacks the permission.
 */
function fastCond(g: Gen, seg: number, s: number, off: string, write: boolean, rmw: boolean): string {
  g.segs.add(seg);
  const align = s === 4 ? ' && (l & 3) === 0' : s === 2 ? ' && (l & 1) === 0' : '';
  const need = `${write || rmw ? 'nw' : 'nr'}${seg}`;
  const kind = write ? ` && kind[(p = (te & -4096) | (l & 4095)) >>> 12] === 0` : '';
  return `(l = (sb${seg} + ${off}) | 0, ((te = tlb[l >>> 12]) & ${need}) === ${need}${align}${kind})`;
}
/**
 * A read: the typed-array load when fastCond holds, else `slow` (an accessor call) after
 * the deferred flag stores. A 32-bit value is unsigned, or int32 with `i32` (see ea32).
 */
function fastRead(g: Gen, cond: string, s: number, slow: string, i32: boolean): string {
  const u = s === 4 && !i32;
  return `(${cond} ? (th++, ${RAMV[s]}[(p = (te & -4096) | (l & 4095))${SHIFT[s]}]${u ? ' >>> 0' : ''}) : (ab = true, ${g.pendExpr}${s === 4 && i32 ? `${slow} | 0` : slow}))`;
}
function memRead(g: Gen, seg: number, s: number, off: string, i32 = false): string {
  if (g.ramFast) return fastRead(g, fastCond(g, seg, s, off, false, false), s, `cpu.${FRD[s]}(${seg}, ${off}, ${g.pos}, e0, c0)`, i32);
  return s === 4 ? `(cpu.read32(${seg}, ${off} >>> 0) ${i32 ? '| 0' : '>>> 0'})` : `cpu.${RD[s]}(${seg}, ${off} >>> 0)`;
}
function memWrite(g: Gen, seg: number, s: number, off: string, v: string): string {
  if (!g.ramFast) return `cpu.${WR[s]}(${seg}, ${off} >>> 0, ${s === 4 ? `(${v}) >>> 0` : v});`;
  const w = `w${g.tmp++}`;
  // A 32-bit value as int32 (see ea32); the accessor takes it modulo 2^32.
  return `{ const ${w} = ${s === 4 ? `(${v}) | 0` : v}; if (${fastCond(g, seg, s, off, true, false)}) { th++; ${RAMV[s]}[p${SHIFT[s]}] = ${w}; } else { ab = true; ${g.pend}cpu.${FWR[s]}(${seg}, ${off}, ${w}, ${g.pos}, e0, c0); } }`;
}
function rmwRead(g: Gen, seg: number, s: number, off: string, i32 = false): string {
  if (g.ramFast) return fastRead(g, fastCond(g, seg, s, off, false, true), s, `cpu.frmw(${seg}, ${off}, ${s}, ${g.pos}, e0, c0)`, i32);
  return s === 4 ? `(cpu.readRmw(${seg}, ${off} >>> 0, 4) ${i32 ? '| 0' : '>>> 0'})` : `cpu.readRmw(${seg}, ${off} >>> 0, ${s})`;
}
function trunc(v: string, s: number): string { return s === 4 ? `((${v}) >>> 0)` : `((${v}) & ${MASK[s]})`; }

/** Signed value of a size-s unsigned operand, and its sign test. */
function signed(v: string, s: number): string { return s === 4 ? `(${v} | 0)` : s === 2 ? `((${v} << 16) >> 16)` : `((${v} << 24) >> 24)`; }
function neg(x: string, s: number): string { return s === 4 ? `((${x} | 0) < 0)` : `((${x} & ${SIGN[s]}) !== 0)`; }
/**
 * Unsigned p < q and p <= q. 32-bit operands may be int32 (the ALU forms) or unsigned
 * (others): flipping the sign bit maps both orders onto the signed order of int32.
 */
function ult(p: string, q: string, s: number): string { return s === 4 ? `((${p} ^ -2147483648) < (${q} ^ -2147483648))` : `(${p} < ${q})`; }
function ule(p: string, q: string, s: number): string { return s === 4 ? `((${p} ^ -2147483648) <= (${q} ^ -2147483648))` : `(${p} <= ${q})`; }

/** CF (as 0/1) of a known producer, or null. */
function carryOf(f: Flags | null): string | null {
  if (f === null) return null;
  switch (f.op) {
    case 'logic': return '0';
    case 'sub': return `(${ult(f.a, f.b, f.s)} ? 1 : 0)`;
    case 'add': return `(${ult(f.x, f.a, f.s)} ? 1 : 0)`;
    case 'adc': return `((${f.cin} ? ${ule(f.x, f.a, f.s)} : ${ult(f.x, f.a, f.s)}) ? 1 : 0)`;
    case 'sbb': return `((${f.cin} ? ${ule(f.a, f.b, f.s)} : ${ult(f.a, f.b, f.s)}) ? 1 : 0)`;
    // INC/DEC keep CF: the compiled form has it in a local, the interpreter's left it in cpu.flags.
    default: return f.cin !== '' ? f.cin : `(cpu.flags & ${CF})`;
  }
}

/** Condition cc (0-15) from a known flag producer, or null when the generic path is needed. */
function fusedCond(cc: number, f: Flags | null): string | null {
  if (f === null) return null;
  const { a, b, x, s } = f;
  const top = s * 8 - 1;
  let e: string | null = null;
  switch (cc >> 1) {
    case 0: e = f.op === 'logic' ? 'false' : f.op === 'sub' ? `((((${a} ^ ${b}) & (${a} ^ ${x})) >>> ${top}) !== 0)` :
      f.op === 'add' ? `((((${a} ^ ${x}) & (${b} ^ ${x})) >>> ${top}) !== 0)` : null; break; // O
    case 1: { const c = carryOf(f); e = f.op === 'incdec' || c === null ? null : `(${c} !== 0)`; break; } // C
    case 2: e = `(${x} === 0)`; break; // Z
    case 3: e = f.op === 'logic' ? `(${x} === 0)` : f.op === 'sub' ? ule(a, b, s) : f.op === 'add' ? `(${ult(x, a, s)} || ${x} === 0)` : null; break; // BE
    case 4: e = neg(x, s); break; // S
    case 5: e = null; break; // P
    case 6: e = f.op === 'logic' ? neg(x, s) : f.op === 'sub' ? `(${signed(a, s)} < ${signed(b, s)})` : null; break; // L
    default: e = f.op === 'logic' ? `(${x} === 0 || ${neg(x, s)})` : f.op === 'sub' ? `(${signed(a, s)} <= ${signed(b, s)})` : null; break; // LE
  }
  if (e === null) return null;
  return cc & 1 ? `!${e}` : e;
}

interface Emitted {
  code: string;
  /**
   * Memory access: needs the abort check after, and EIP/icount exact for a fault. With
   * ramFast every access goes through the fast accessors, which sync EIP/icount themselves
   * on their slow path (the only one that can fault, reach a device or drop code), so no
   * sync is emitted up front; code paths that call a handler inside (a 16-bit stack's
   * PUSH/POP) carry the placeholder SYNC.
   */
  touches: boolean;
  /** The new flag producer; undefined: flags untouched; null: unknown. */
  flags?: Flags | null;
  /** Reads no flag state from the Cpu and cannot fault: deferred flag stores may stay deferred across it. */
  pure?: boolean;
  /** A producer's lazy-flag stores, deferred (see compileRegion: dead stores are dropped); with a memory operand, see memProducer. */
  lazy?: string;
  /** The deferred stores depend on the flags before (they follow the pending ones rather than replace them). */
  partial?: boolean;
}

/** The E operand of a ModRM instruction as read and write expressions (memory: offset in local o<k>); a 32-bit read as int32 with i32. */
interface EOperand { pre: string; get: string; set: (v: string) => string; mem: boolean }
function eOperand(g: Gen, i: Insn, s: number, v: string, rmw: boolean, i32 = false): EOperand | null {
  if (i.mod === 3) return { pre: '', get: i32 ? regGetI(i.rm, s) : regGet(i.rm, s), set: (x) => regSet(i.rm, s, x), mem: false };
  if (i.asize !== 32) return null;
  const o = `o${v}`;
  const get = rmw ? rmwRead(g, i.seg, s, o, i32) : memRead(g, i.seg, s, o, i32);
  return { pre: `const ${o} = ${ea32(i)}; `, get, set: (x) => memWrite(g, i.seg, s, o, x), mem: true };
}

/**
 * The generated code of one ALU operation k (ADD OR ADC SBB AND SUB XOR CMP) on a (a
 * register or memory read) and b, writing back through `set` unless CMP/TEST.
 */
function emitAlu(k: number, s: number, aExpr: string, bExpr: string, set: ((x: string) => string) | null, v: string, flags: Flags | null,
  ref: (x: unknown) => string): { code: string; stores: string; needFlush: boolean; flags: Flags } {
  const a = `a${v}`, b = `b${v}`, x = `x${v}`, cin = `ci${v}`;
  const write = set !== null ? set(x) : '';
  const op = ALU_KIND[k];
  let code: string, stores = '', needFlush = false;
  if (s === 4 || k === 1 || k === 4 || k === 6 || k === 0 || k === 5 || k === 7) {
    let carry = '';
    let expr = `${a} ${ALU_OPER[k]} ${b}`;
    if (op === 'adc' || op === 'sbb') {
      const known = carryOf(flags);
      needFlush = known === null;
      carry = `const ${cin} = ${known ?? 'cpu.getCF()'}; `;
      stores = `cpu.lfCin = ${cin}; `;
      expr = `${a} ${ALU_OPER[k]} ${b} ${ALU_OPER[k]} ${cin}`;
    }
    // 32-bit operands and result as int32 (the callers pass int32 reads; see ea32): the lazy
    // flags take them modulo 2^32 (Cpu.lazyBits), the fused conditions through ult/ule.
    code = `${carry}const ${a} = ${aExpr}, ${b} = ${bExpr}, ${x} = ${s === 4 ? `(${expr}) | 0` : trunc(expr, s)}; ${write}`;
    // One call rather than six stores: the same state, less code in every slow path that
    // carries deferred stores (smaller regions for V8 to compile; see compileRegion).
    stores += `cpu.setLazy(${ALU_LF[k]}, ${a}, ${b}, ${x}, ${s});`;
  } else {
    // 8/16-bit ADC/SBB: the interpreter's own operation (it reads CF itself).
    needFlush = true;
    code = `const ${cin} = cpu.getCF(), ${a} = ${aExpr}, ${b} = ${bExpr}, ${x} = ${ref(A.ALU[k])}(cpu, ${a}, ${b}, ${s}); ${write}`;
  }
  return { code, stores, needFlush, flags: { op, a, b, x, s, cin } };
}

/**
 * A stack instruction: its inline form when `cond` holds (a 32-bit stack, ...), else the
 * interpreter's handler with EIP/icount synced and registers spilled around it.
 */
function stackForm(cond: string, fast: string, h: (cpu: Cpu, i: Insn) => void, i: Insn, ref: (x: unknown) => string): Emitted {
  return { code: `if (${cond}) { ${fast} } else { /*SYNC*/ /*SPILL*/ ${ref(h)}(cpu, ${ref(i)}); /*RELOAD*/ }`, touches: true, pure: true };
}

/**
 * A flag producer with a memory operand whose flag stores (`stores`, all the flags) follow
 * its last access: with the inline fast path they are deferred like a register producer's
 * (dropped when a later producer makes them dead; compileRegion emits them before a
 * return after this instruction's slow path); else they follow the code.
 */
function memProducer(g: Gen, code: string, stores: string, flags: Flags | null, pure: boolean): Emitted {
  return g.ramFast ? { code, touches: true, flags, pure, lazy: stores } : { code: code + stores, touches: true, flags, pure };
}

/** Emits one instruction, or null for the interpreter's handler. */
function emitInsn(g: Gen, i: Insn, k: number, flags: Flags | null, ref: (x: unknown) => string): Emitted | null {
  const h = i.exec, s = i.size, v = `${k}`;
  if (i.asize !== 32 && i.mod !== 3 && h !== D.movZI && h !== A.incZ && h !== A.decZ && h !== A.aluAI) return null;
  if (h === D.movGE || h === D.movEG) {
    const e = eOperand(g, i, s, v, false);
    if (e === null) return null;
    return h === D.movGE ? { code: `${e.pre}${regSet(i.reg, s, e.get)}`, touches: e.mem, pure: true } : { code: `${e.pre}${e.set(regGet(i.reg, s))}`, touches: e.mem, pure: true };
  }
  if (h === D.movZI) return { code: regSet(i.op & 7, s, String(s === 4 ? i.imm | 0 : i.imm & MASK[s])), touches: false, pure: true };
  if (h === D.movEI) {
    const e = eOperand(g, i, s, v, false);
    if (e === null) return null;
    return { code: `${e.pre}${e.set(String(s === 4 ? i.imm >>> 0 : i.imm & MASK[s]))}`, touches: e.mem, pure: true };
  }
  if (h === D.lea) return i.osize === 32 && i.asize === 32 ? { code: `r${i.reg} = ${ea32(i)} | 0;`, touches: false, pure: true } : null;
  // NOP, PAUSE, 66 90 and the hint NOPs (0F 19-1F /r, which never access their operand,
  // SDM Vol.2B NOP): nothing. Compilers pad loop heads with them; as handler calls they
  // flushed the deferred flags and, in regions with locals, spilled every register.
  if (h === D.nop) return { code: '', touches: false, pure: true };
  if (h === D.movMoffs) {
    if (i.asize !== 32) return null;
    // MOV AL/AX/EAX, moffs and MOV moffs, AL/AX/EAX (A0-A3): the immediate is the offset,
    // through DS or the override, as D.movMoffs.
    const o = `(${i.imm | 0})`;
    return i.op <= 0xa1
      ? { code: regSet(0, s, memRead(g, i.seg, s, o)), touches: true, pure: true }
      : { code: memWrite(g, i.seg, s, o, regGet(0, s)), touches: true, pure: true };
  }
  if (h === D.movzx || h === D.movsx) {
    const src = i.op === 0x1b6 || i.op === 0x1be ? 1 : 2;
    const e = eOperand(g, i, src, v, false);
    if (e === null) return null;
    const val = h === D.movzx ? e.get : trunc(signed(e.get, src), s);
    return { code: `${e.pre}${regSet(i.reg, s, val)}`, touches: e.mem, pure: true };
  }
  if (h === A.aluEG || h === A.aluGE || h === A.aluEI || h === A.aluAI || h === A.testEG || h === A.testEI || h === A.testAI) {
    const test = h === A.testEG || h === A.testEI || h === A.testAI;
    const kk = test ? 4 : h === A.aluEI ? i.reg : (i.op >> 3) & 7;
    const immE = s === 4 ? String(i.imm | 0) : String(i.imm & MASK[s]);
    const writes = kk !== 7 && !test;
    if (h === A.aluAI || h === A.testAI) {
      const r = emitAlu(kk, s, regGetI(0, s), immE, writes ? (x) => regSet(0, s, x) : null, v, flags, ref);
      return { code: r.code, touches: false, flags: r.flags, lazy: r.stores, pure: !r.needFlush };
    }
    if (h === A.aluGE) {
      const e = eOperand(g, i, s, v, false, true);
      if (e === null) return null;
      const r = emitAlu(kk, s, regGetI(i.reg, s), e.get, writes ? (x) => regSet(i.reg, s, x) : null, v, flags, ref);
      return e.mem ? memProducer(g, `${e.pre}${r.code}`, r.stores, r.flags, !r.needFlush) : { code: r.code, touches: false, flags: r.flags, lazy: r.stores, pure: !r.needFlush };
    }
    // E is the destination (aluEG, aluEI) or the first operand of TEST.
    const e = eOperand(g, i, s, v, writes, true);
    if (e === null) return null;
    const b = h === A.aluEG || h === A.testEG ? regGetI(i.reg, s) : immE;
    const r = emitAlu(kk, s, e.get, b, writes ? e.set : null, v, flags, ref);
    return e.mem ? memProducer(g, `${e.pre}${r.code}`, r.stores, r.flags, !r.needFlush) : { code: r.code, touches: false, flags: r.flags, lazy: r.stores, pure: !r.needFlush };
  }
  if (h === A.incZ || h === A.decZ || h === A.incE || h === A.decE) {
    const inc = h === A.incZ || h === A.incE;
    const e: EOperand | null = h === A.incZ || h === A.decZ ? { pre: '', get: regGet(i.op & 7, s), set: (x) => regSet(i.op & 7, s, x), mem: false } : eOperand(g, i, s, v, true);
    if (e === null) return null;
    const a = `a${v}`, x = `x${v}`;
    const cf = carryOf(flags);
    if (s === 4 && cf !== null) {
      // INC/DEC keep CF (SDM Vol.2A INC): take it from the previous producer.
      const code = `${e.pre}const cf${v} = ${cf}; const ${a} = ${e.get}, ${x} = (${a} ${inc ? '+' : '-'} 1) >>> 0; ${e.set(x)} `;
      const stores = `cpu.setLazyKeepCF(${inc ? 0 : 2}, ${a}, 1, ${x}, 4, cf${v});`;
      const f: Flags = { op: 'incdec', a, b: '1', x, s, cin: `cf${v}` };
      // A register INC/DEC is a deferrable producer like the ALU ones (its CF comes from the
      // previous producer's operands or locals).
      if (!e.mem) return { code, touches: false, flags: f, lazy: stores, pure: true };
      return memProducer(g, code, stores, f, true);
    }
    const code = `${e.pre}const ${a} = ${e.get}, ${x} = ${ref(inc ? A.incv : A.decv)}(cpu, ${a}, ${s}); ${e.set(x)}`;
    return { code, touches: e.mem, flags: { op: 'incdec', a, b: '1', x, s, cin: '' } };
  }
  if (h === A.notE || h === A.negE) {
    const e = eOperand(g, i, s, v, true);
    if (e === null) return null;
    if (h === A.notE) return { code: `${e.pre}${e.set(trunc(`~${e.get}`, s))}`, touches: e.mem, pure: true };
    const a = `a${v}`, x = `x${v}`;
    // A.sub stores NEG's flags before a memory operand is written: not pure then (see compileRegion).
    return { code: `${e.pre}const ${a} = ${e.get}, ${x} = ${ref(A.sub)}(cpu, 0, ${a}, ${s}); ${e.set(x)}`, touches: e.mem, flags: { op: 'sub', a: '0', b: a, x, s, cin: '' }, pure: !e.mem };
  }
  if (h === A.shiftE) {
    const op = i.op;
    const count = op === 0xd0 || op === 0xd1 ? '1' : op === 0xd2 || op === 0xd3 ? '(r1 & 31)' : String(i.imm & 31);
    const e = eOperand(g, i, s, v, true);
    if (e === null) return null;
    const n = `n${v}`, a = `a${v}`;
    if (count === '0') return { code: e.mem ? `${e.pre}${e.get};` : '', touches: e.mem };
    const x = `x${v}`, cf = `f${v}`;
    const bits = s * 8, top = bits - 1, mask = s === 4 ? '>>> 0' : `& ${(1 << bits) - 1}`;
    /**
     * SHL/SHR/SAR of an s-byte value (zero-extended in `a`) by `c` (1 to bits-1; `c1` is
     * c - 1, `cb` bits - c), as A.shiftOp: CF = last bit out, OF from the top bits, AF kept
     * (undefined) except by SAR, SF/ZF/PF lazily from the result. The result in x, CF|OF in
     * cf; the flag stores.
     */
    const shiftCalc = (c: string, c1: string, cb: string): { calc: string; stores: string } => {
      let calc: string;
      if (i.reg === 5) calc = `${x} = ${a} >>> ${c}, ${cf} = ((${a} >>> ${c1}) & 1) | ((${a} >>> ${top}) << 11)`;
      else if (i.reg === 7) {
        const sv = s === 4 ? `(${a} | 0)` : `((${a} << ${32 - bits}) >> ${32 - bits})`;
        calc = `${x} = (${sv} >> ${c}) ${mask}, ${cf} = (${sv} >> ${c1}) & 1`;
      } else calc = `${x} = (${a} << ${c}) ${mask}, ${cf} = ((${a} >>> ${cb}) & 1) | ((((${x} >>> ${top}) ^ (${a} >>> ${cb})) & 1) << 11)`;
      return { calc, stores: `cpu.setLazySZP(${i.reg === 7 ? AF0 : ''}${x}, ${s}, ${cf}${i.reg === 7 ? '' : ` | (cpu.flags & ${0x10})`});` };
    };
    const shiftKind = i.reg === 4 || i.reg === 5 || i.reg === 6 || i.reg === 7;
    if (shiftKind && count !== '(r1 & 31)' && Number(count) < bits) {
      // By a constant 1 to bits-1 (8- and 16-bit shifts by more take A.shiftOp).
      const c = Number(count);
      const { calc, stores } = shiftCalc(String(c), String(c - 1), String(bits - c));
      // On a register the flag stores are deferred like an ALU producer's (dropped when dead):
      // the AF bit they keep is cpu.flags' own, which no deferred store changes.
      if (!e.mem) return { code: `const ${a} = ${e.get}; const ${calc}; ${e.set(x)}`, touches: false, flags: null, lazy: stores, pure: true };
      return { code: `${e.pre}const ${a} = ${e.get}; const ${calc}; ${e.set(x)} ${stores}`, touches: true, flags: null };
    }
    if (s === 4 && (i.reg === 0 || i.reg === 1) && !e.mem && count !== '(r1 & 31)') {
      // ROL/ROR r32 by a constant 1-31, as A.shiftOp: only CF and OF change (SDM Vol.2B
      // RCL/RCR/ROL/ROR: OF defined for a count of 1, the interpreter's rule for any other).
      // The stores read the flags so far, so they are appended to the deferred ones
      // (partial): a later full producer drops both, anything else emits both in order.
      const c = Number(count);
      const rot = i.reg === 0 ? `((${a} << ${c}) | (${a} >>> ${32 - c})) >>> 0` : `((${a} >>> ${c}) | (${a} << ${32 - c})) >>> 0`;
      const cfof = i.reg === 0 ? `(${x} & 1) | ((((${x} >>> 31) ^ ${x}) & 1) << 11)` : `(${x} >>> 31) | ((((${x} >>> 31) ^ (${x} >>> 30)) & 1) << 11)`;
      return { code: `const ${a} = ${e.get}, ${x} = ${rot}; ${e.set(x)}`, touches: false, flags: null, pure: true, partial: true,
        lazy: `cpu.materializeFlags(); cpu.flags = (cpu.flags & ${~(CF | 0x800)}) | ${cfof};` };
    }
    if (count !== '(r1 & 31)') {
      return { code: `${e.pre}const ${a} = ${e.get}; ${e.set(`${ref(A.shiftOp)}(cpu, ${i.reg}, ${a}, ${count}, ${s})`)}`, touches: e.mem, flags: null };
    }
    if (shiftKind && s === 4) {
      // By CL (masked to 5 bits): a count of 0 changes nothing, flags included (SDM Vol.2B
      // SAL/SAR/SHL/SHR), so the flag stores are conditional and not deferred. A memory
      // operand is accessed either way.
      const { calc, stores } = shiftCalc(n, `(${n} - 1)`, `(32 - ${n})`);
      return { code: `${e.pre}const ${n} = ${count}, ${a} = ${e.get}; if (${n} !== 0) { const ${calc}; ${e.set(x)} ${stores} }`, touches: e.mem, flags: null };
    }
    // Count 0 (from CL) changes nothing, flags included, but a memory operand is still accessed.
    return { code: `${e.pre}const ${n} = ${count}, ${a} = ${e.get}; if (${n} !== 0) { ${e.set(`${ref(A.shiftOp)}(cpu, ${i.reg}, ${a}, ${n}, ${s})`)} }`, touches: e.mem, flags: null };
  }
  if (h === D.setcc) {
    const e = eOperand(g, i, 1, v, false);
    if (e === null) return null;
    const fused = fusedCond(i.op & 15, flags);
    return { code: `${e.pre}${e.set(`(${fused ?? `cpu.cond(${i.op & 15})`} ? 1 : 0)`)}`, touches: e.mem, pure: fused !== null };
  }
  if (h === D.cmovcc && s === 4) {
    const e = eOperand(g, i, 4, v, false);
    if (e === null) return null;
    const fused = fusedCond(i.op & 15, flags);
    // The source is always read (and may fault); a 32-bit destination is written either way.
    return { code: `${e.pre}const a${v} = ${e.get}; if (${fused ?? `cpu.cond(${i.op & 15})`}) r${i.reg} = a${v} | 0;`, touches: e.mem, pure: fused !== null };
  }
  if ((h === D.pushZ || h === D.popZ) && s === 4) {
    // As cpu.push32/pop32 with a 32-bit stack (SDM Vol.2B PUSH/POP): write/read at the new
    // or current ESP through SS, then update ESP; POP ESP ends with the popped value.
    // A 16-bit stack (SS.B clear) takes the handler.
    const reg = i.op & 7, o = `o${v}`;
    const fast = h === D.pushZ
      ? `const ${o} = (r4 - 4) | 0; ${memWrite(g, 2, 4, o, `r${reg}`)} r4 = ${o};`
      : `const ${o} = r4, p${v} = ${memRead(g, 2, 4, o)}; r4 = (${o} + 4) | 0; r${reg} = p${v} | 0;`;
    return stackForm('st32', fast, h, i, ref);
  }
  if (h === D.pushE && s === 4) {
    // PUSH r/m32 (FF /6) with a 32-bit stack, as D.pushE: the operand is read first (its
    // address from ESP before the push: PUSH [ESP+4] pushes what was there), then written
    // at ESP - 4, then ESP changes; either access faults with ESP unchanged.
    const e = eOperand(g, i, 4, v, false);
    if (e === null) return null;
    const q = `q${v}`;
    const fast = `${e.pre}const p${v} = ${e.get}, ${q} = (r4 - 4) | 0; ${memWrite(g, 2, 4, q, `p${v}`)} r4 = ${q};`;
    return stackForm('st32', fast, h, i, ref);
  }
  if (h === D.leave && s === 4) {
    // LEAVE with a 32-bit stack in protected mode, as D.leave (SDM Vol.2A LEAVE): EBP is
    // read at SS:EBP, then ESP := EBP + 4 and EBP := the value; a fault leaves both. Real
    // mode (its #GP for EBP past the limit) and 16-bit stacks take the handler.
    const o = `o${v}`;
    const fast = `const ${o} = r5, p${v} = ${memRead(g, 2, 4, o)}; r4 = (${o} + 4) | 0; r5 = p${v} | 0;`;
    return stackForm('st32 && (cpu.cr0 & 1) !== 0', fast, h, i, ref);
  }
  if (h === A.imul2 && s === 4) {
    const e = eOperand(g, i, 4, v, false);
    if (e === null) return null;
    const a = `a${v}`, b = `b${v}`, lo = `x${v}`;
    const other = i.op === 0x1af ? `(r${i.reg} >>> 0)` : String(i.imm >>> 0);
    // As A.imul2: the low half of the signed product; CF=OF=(it does not fit).
    const code = `${e.pre}const ${b} = ${e.get}, ${a} = ${other}, ${lo} = Math.imul(${b}, ${a}) >>> 0; r${i.reg} = ${lo} | 0; `;
    const stores = `cpu.setLazySZP(${AF0}${lo}, 4, ${ref(A.imul32Fits)}(${b}, ${a}, ${lo}) ? 0 : ${CF | 0x800});`;
    return e.mem ? memProducer(g, code, stores, null, true) : { code, touches: false, flags: null, lazy: stores, pure: true };
  }
  if (h === A.mulE && s === 4) {
    const e = eOperand(g, i, 4, v, false);
    if (e === null) return null;
    const a = `a${v}`, b = `b${v}`, lo = `x${v}`, hi = `h${v}`;
    // As A.mulE (EDX:EAX := EAX * E; CF=OF=(EDX != 0); SF/ZF/PF from the low half).
    const code = `${e.pre}const ${b} = ${e.get}, ${a} = r0 >>> 0, ${lo} = Math.imul(${a}, ${b}) >>> 0, ${hi} = ${ref(A.mulHiU32)}(${a}, ${b}); r0 = ${lo} | 0; r2 = ${hi} | 0; `;
    const stores = `cpu.setLazySZP(${AF0}${lo}, 4, ${hi} !== 0 ? ${CF | 0x800} : 0);`;
    return e.mem ? memProducer(g, code, stores, null, true) : { code, touches: false, flags: null, lazy: stores, pure: true };
  }
  return null;
}

/**
 * Marks deferred stores that clear the raw AF bit of cpu.flags (setLazySZP without AF: SAR,
 * MUL, IMUL). When such stores are dropped as dead, that clearing must still happen: a
 * later SHL/SHR keeps the raw bit as its (undefined) AF, as the interpreter's shiftOp does.
 */
const AF0 = '/*AF0*/';

let regionSerial = 0;

/**
 * V8 optimises a function once it has used up its interrupt budget a number of times
 * ("ticks"): 3 plus one per 150 bytes of its bytecode (--bytecode-size-allowance-per-tick),
 * so that big functions are not optimised before their feedback settles. A region is big
 * (up to MAX_SOURCE characters) but each call runs one path through it, so a region of
 * ~10 KiB of bytecode called ~10,000 times ran unoptimised (slower than the block
 * interpreter) for most of its life. The regions are known hot when they are compiled:
 * V8 is told to need only the base ticks. Measured on the Debian boot's kernel phase:
 * time inside compiled functions 34.4 -> 30.6 s, the regions below 10 M instructions/s
 * 14.0 -> 9.5 s. TS86_V8_TIERING=0 leaves V8's defaults.
 */
let v8Tuned = false;
function tuneV8(): void {
  v8Tuned = true;
  if (typeof process === 'undefined' || process.env.TS86_V8_TIERING === '0') return;
  try { setFlagsFromString('--bytecode-size-allowance-per-tick=1000000'); } catch { /* not V8: nothing to tune */ }
}

/** A TLB entry bit no entry has (Cpu.jitTlb): a needed-bits mask with it never matches. */
const NEVER = 0x800;

/** Most characters of generated source per function (see compileRegion). */
const MAX_SOURCE = 24000;

/** The fast-path switches that shape compiled code. */
export interface JitOptions {
  /** Branches to blocks of the same region continue inside the function (switch loops). */
  loops: boolean;
  /** Aligned RAM operands inline (switch ramFast). */
  ramFast: boolean;
  /** Keep every block however long the source (default: up to MAX_SOURCE characters). */
  uncapped?: boolean;
}

/**
 * Compiles a region: blocks of one code page, each knowing its page offset (Block.off),
 * no two at the same offset, the first the hot one. Returns the function and the blocks
 * it holds (a prefix of `blocks`: see MAX_SOURCE); it runs the block at CS:EIP's page
 * offset, which must be one of those (the Cpu sets their fn to it).
 */
export function compileRegion(blocks: Block[], opts: JitOptions): { fn: BlockFn; blocks: Block[] } {
  if (!v8Tuned) tuneV8();
  const names: string[] = [];
  const values: unknown[] = [];
  const ref = (v: unknown): string => {
    const at = values.indexOf(v);
    if (at >= 0) return names[at];
    const n = `k${names.length}`; names.push(n); values.push(v); return n;
  };
  const byOff = new Map<number, Block>();
  for (const b of blocks) byOff.set(b.off, b);
  // A loop: a branch back to a block of the region at or before the branching one.
  const loop = opts.loops && blocks.some((b) => regionSuccessors(b).some((t) => t <= b.off && byOff.has(t)));
  const g: Gen = { ramFast: opts.ramFast, locals: opts.ramFast && loop, pos: 0, segs: new Set([2]), tmp: 0, pend: '', pendExpr: '' };
  const callRef = ref(callHandler);
  const cases: string[] = [];
  /** Characters of code (comments aside) of each block's case. */
  const sizes: number[] = [];

  /**
   * Control reaches page offset T after instruction k of the current block (a jump: the
   * target's limit check applies, with the jump's EIP `cur` for the #GP). Inside the
   * region it continues there when the budget allows the whole target block.
   */
  const edge = (T: number, k: number, jump: boolean, commit: string, cur: string): string => {
    const tb = opts.loops ? byOff.get(T) : undefined;
    // inLim covers targets on this page only (T in 0..4095).
    const lim = jump ? `if (${T >= 0 && T < 4096 ? '!inLim && ' : ''}t > lim) { cpu.startEip = ${cur}; cpu.icount = c0 + ${k + 1}; cpu.raise(13, 0); } ` : '';
    if (tb === undefined) return `{ const t = (base + ${T}) >>> 0; ${lim}${commit}cpu.eip = t; cpu.icount = c0 + ${k + 1}; return true; }`;
    return `{ const t = (base + ${T}) >>> 0; ${lim}${commit}c0 += ${k + 1}; ` +
      `if ((!inLim && t + ${tb.len - 1} > lim) || c0 + ${tb.insns.length} > end) { cpu.eip = t; cpu.icount = c0; return true; } pc = ${T}; continue; }`;
  };

  for (const b of blocks) {
    const out: string[] = [];
    let size = 0;
    const n = b.insns.length;
    out.push(`case ${b.off}: { e0 = (base + ${b.off}) >>> 0;`);
    let off = 0;
    let flags: Flags | null = null;
    let ended = false;
    // Lazy-flag stores of the last register-only ALU producer, not yet emitted: a later
    // producer makes them dead (dropped); anything that can observe flags — a fault point,
    // a handler, code reading the Cpu's flag state, leaving the block — emits them first.
    let pending = '';
    const flush = (): string => { const p = pending; pending = ''; return p; };
    /** What dropping the deferred stores unflushed must still do (see AF0). */
    const residue = (): string => (pending.includes(AF0) ? `cpu.flags &= ${~0x10}; ` : '');
    for (let k = 0; k < n; k++) {
      const i = b.insns[k];
      const cur = `((e0 + ${off}) >>> 0)`, next = `((e0 + ${off + i.len}) >>> 0)`;
      const last = k === n - 1;
      /** Exact state for a possible fault (and for handlers that read EIP/icount). */
      const sync = `cpu.startEip = ${cur}; cpu.eip = ${next}; cpu.icount = c0 + ${k + 1};`;
      // Every instruction that can touch a device, decoded code or the TLB is followed by
      // this check (the last of a block too), so the edges between blocks need none. A
      // memory operand checks only after a slow path (ab): its fast path touches plain RAM.
      const abort = 'if (cpu.blockAbort || m.mmioHits !== mh) return false;';
      const abortSlow = `if (ab) { ab = false; ${abort} }`;
      /** The interpreter's handler, with the decoded instruction; registers go through the Cpu. */
      const viaHandler = (): string => `${sync} /*SPILL*/ ${INLINE_OK.has(h) ? `${ref(h)}(cpu, ${ref(i)});` : `${callRef}(${ref(h)}, cpu, ${ref(i)});`} /*RELOAD*/ /*SEGS*/ ${abort}`;
      const h = i.exec;
      const fall = b.off + off + i.len;
      let code: string;
      if ((h === C.jcc || h === C.jmpRel || (h === C.loop && i.op === 0xe2 && i.asize === 32)) && i.osize === 32) {
        const T = b.off + off + i.len + i.imm;
        if (h === C.jmpRel) {
          code = flush() + edge(T, k, true, '', cur);
        } else {
          const fused = h === C.jcc ? fusedCond(i.op & 15, flags) : null;
          const pre = h === C.jcc && fused === null ? flush() : '';
          // LOOP writes the decremented count only once the target has passed its limit
          // check (as C.loop: a #GP leaves ECX unchanged).
          const isLoop = h === C.loop, commit = isLoop ? `r1 = lc${k}; ` : '';
          const cond = isLoop ? `lc${k} !== 0` : (fused ?? `cpu.cond(${i.op & 15})`);
          code = `${pre}${isLoop ? `const lc${k} = (r1 - 1) | 0; ` : ''}if (${cond}) { ${pending}${edge(T, k, true, commit, cur)} }` +
            (last ? ` ${flush()}${edge(fall, k, false, commit, cur)}` : '');
        }
        if (last) ended = true;
      } else if (((h === C.callRel && i.op === 0xe8) || h === C.retNear) && i.osize === 32 && last) {
        // CALL rel32 and RET/RET imm16 with a 32-bit stack, as C.callRel/C.retNear (SDM
        // Vol.2A CALL, Vol.2B RET): CALL checks its target against the CS limit (#GP(0),
        // nothing pushed), pushes the return address (a fault leaves ESP as it was), then
        // jumps; RET reads the return address (a fault leaves ESP), checks it against the
        // limit (#GP(0), ESP unchanged), then pops it and its imm16. An MMIO or code-dropping
        // slow path ends the function after the instruction, with EIP and icount exact. A
        // 16-bit stack (SS.B clear) takes the handler.
        g.pos = k * 65536 + off * 16 + i.len;
        g.pend = g.pendExpr = '';
        const handler = `if (!st32) { ${viaHandler()} return true; }`;
        const o = `o${k}`;
        if (h === C.callRel) {
          // After the push, inside edge(): t is the target.
          const stop = `if (cpu.blockAbort || m.mmioHits !== mh) { cpu.eip = t; cpu.icount = c0 + ${k + 1}; return false; }`;
          const push = `${g.ramFast ? '' : `${sync} `}const ${o} = (r4 - 4) | 0; ${memWrite(g, 2, 4, o, next)} r4 = ${o}; ${g.ramFast ? `if (ab) { ab = false; ${stop} }` : stop} `;
          code = `${flush()}${handler} ${edge(b.off + off + i.len + i.imm, k, true, push, cur)}`;
        } else {
          const t = `ra${k}`, imm = i.op === 0xc2 ? i.imm & 0xffff : 0;
          code = `${flush()}${handler} ${g.ramFast ? '' : `${sync} `}const ${o} = r4, ${t} = ${memRead(g, 2, 4, o)}; ` +
            `if (${t} > lim) { cpu.startEip = ${cur}; cpu.icount = c0 + ${k + 1}; cpu.raise(13, 0); } ` +
            `r4 = (${o} + ${4 + imm}) | 0; cpu.eip = ${t}; cpu.icount = c0 + ${k + 1}; ${g.ramFast ? abortSlow : abort} return true;`;
        }
        flags = null;
        ended = true;
      } else {
        g.pos = k * 65536 + off * 16 + i.len;
        g.pend = pending;
        g.pendExpr = pending.split(';').map((x) => x.trim()).filter((x) => x !== '').map((x) => `${x}, `).join('');
        let em = emitInsn(g, i, k, flags, ref);
        if (em !== null && em.touches && !em.pure && pending !== '') {
          // Flushed before it instead: its slow paths must not store the deferred flags
          // again (it may have set its own by then, e.g. through A.sub or A.shiftOp).
          g.pend = g.pendExpr = '';
          em = emitInsn(g, i, k, flags, ref);
        }
        if (em === null) {
          code = `${flush()}${viaHandler()}`;
          flags = null;
          if (last) {
            ended = true;
            code += isStraight(h) ? ` ${edge(fall, k, false, '', cur)}` : ` return ${chainsAfter(h)};`;
          }
        } else {
          if (em.touches) {
            // A memory operand: deferred flag stores stay deferred across the inline fast
            // path (the slow paths store them first) unless the instruction reads flags.
            // Its own flag stores (memProducer) are deferred after it: a return after its
            // slow path emits them first.
            const own = g.ramFast ? em.lazy ?? '' : '';
            const check = own !== '' ? `if (ab) { ab = false; if (cpu.blockAbort || m.mmioHits !== mh) { ${own} return false; } }` : abortSlow;
            const res = em.pure && (em.flags !== undefined || own !== '') ? residue() : '';
            if (g.ramFast) code = `${em.pure ? res : flush()}${em.code.replace('/*SYNC*/', `${sync} ${pending} ab = true;`)} ${check}`;
            else code = `${flush()}${sync} ${em.code.replace('/*SYNC*/', '')} ${abort}`;
            if (em.flags !== undefined) pending = ''; // it stored its own flags: the deferred ones are dead
            if (own !== '') pending = own;
          }
          else if (em.lazy !== undefined) { code = (em.pure ? (em.partial ? '' : residue()) : flush()) + em.code; pending = em.partial ? `${pending} ${em.lazy}` : em.lazy; }
          else {
            code = (em.pure ? (em.flags !== undefined ? residue() : '') : flush()) + em.code;
            if (em.flags !== undefined) pending = ''; // it stored its own flags (all of them): the deferred ones are dead
          }
          if (em.flags !== undefined) flags = em.flags;
        }
      }
      const note = ` // ${k}: ${i.def?.mnem ?? '(ud)'}`;
      out.push(`  ${code}${note}`);
      size += code.length + 3;
      off += i.len;
    }
    if (!ended) out.push(`  ${flush()}${edge(b.off + off, n - 1, false, '', '0')}`);
    out.push('}');
    cases.push(out.join('\n'));
    sizes.push(size);
  }
  // V8 optimises only functions below a bytecode size (--max-optimized-bytecode-size,
  // 60 KiB), and big functions take long to optimise: keep the blocks (in their breadth-
  // first order from the hot one) whose code fits MAX_SOURCE, at least the first, and
  // generate again (edges to the dropped blocks must leave the function) before building
  // the function's source.
  let keep = 0;
  const cap = opts.uncapped ? Infinity : MAX_SOURCE;
  for (let sum = 0; keep < blocks.length && (keep === 0 || sum + sizes[keep] <= cap); keep++) sum += sizes[keep];
  if (keep < blocks.length) return compileRegion(blocks.slice(0, keep), opts);
  const segs = [...g.segs].sort();
  const segLoad = segs.map((s) => `sb${s} = cpu.segBase[${s}]; nr${s} = cpu.segFull[${s}] & 1 ? nr : ${NEVER}; nw${s} = cpu.segFull[${s}] & 2 ? nw : ${NEVER};`).join(' ') + ' st32 = cpu.stack32;';
  // Registers in locals only where code loops (straight-line code calls handlers more
  // often, each a write-back and reload): elsewhere the Cpu's register array directly.
  let body = cases.join('\n').split('/*SEGS*/').join(segLoad);
  if (g.locals) body = body.split('/*SPILL*/').join(`${SPILL} live = false;`).split('/*RELOAD*/').join(`${RELOAD} live = true;`);
  else body = body.split('/*SPILL*/').join('').split('/*RELOAD*/').join('').replace(/\br([0-7])\b/g, 'r[$1]');
  // Named after the entry block's page offset and a serial number (profiles tell regions apart).
  // Parenthesised, so that V8 compiles the function with the factory (its heuristic for a
  // function expression called at once) instead of pre-parsing it there and parsing it
  // again on the first call: from compileRegion to the end of the first call, 2.40-2.52 ->
  // 1.67-1.94 ms per 63-instruction region (bench/jit-compile.ts).
  const src = `"use strict";\nreturn (function region_${blocks[0].off.toString(16)}_${++regionSerial}(cpu, end) {\n` +
    `  const r = cpu.r32, m = cpu.mem, mh = m.mmioHits, lim = cpu.segLimit[1];\n` +
    `  const tlb = cpu.jitTlb(), nr = cpu.jitNeed(false), nw = cpu.jitNeed(true), kind = m.frameKind, ram = m.ram, ram16 = m.ram16, ram32 = m.ram32;\n` +
    `  let pc = (cpu.segBase[1] + cpu.eip) & 4095;\n  const base = cpu.eip - pc, inLim = base >= 0 && base + 4095 <= lim;\n` +
    `  let c0 = cpu.icount, e0 = 0, l = 0, te = 0, p = 0, th = 0, live = true, st32 = false, ab = false;\n` +
    `  let ${segs.map((s) => `sb${s} = 0, nr${s} = 0, nw${s} = 0`).join(', ')};\n  ${segLoad}\n` +
    (g.locals ? `  let r0 = r[0], r1 = r[1], r2 = r[2], r3 = r[3], r4 = r[4], r5 = r[5], r6 = r[6], r7 = r[7];\n` : '') +
    `  try {\n  for (;;) {\n  switch (pc) {\n${body}\n  default: cpu.eip = (base + pc) >>> 0; return false;\n  }\n  }\n  } finally { ${g.locals ? `if (live) { ${SPILL} } ` : ''}if (cpu.paging) cpu.statTlbHits += th; }\n});`;
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  const factory = new Function(...names, src) as (...a: unknown[]) => BlockFn;
  return { fn: factory(...values), blocks };
}

/** Compiles one block as a region of its own (tests and the regions-off switch). */
export function compileBlock(b: Block, loops = true, ramFast = true): BlockFn {
  return compileRegion([b], { loops, ramFast }).fn;
}

/** The generated source of a compiled function (for tests and debugging). */
export function blockSource(fn: BlockFn): string { return fn.toString(); }
