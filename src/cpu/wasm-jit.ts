// EXPERIMENTAL, off by default (TS86_WASM=1, Cpu option wasm): regions compiled to
// WebAssembly instead of JavaScript (bench/wasm-region.ts measures what that can gain).
//
// Scope of this first version: regions whose every instruction is in a small set (32-bit
// MOV, LEA, ALU and TEST without carry-in, Jcc after a known producer in the same block,
// JMP, NOP), run only while paging is off, the data segments used are full-range and the
// whole code page is inside CS (checked by the wrapper on each entry; otherwise the
// region's JavaScript function runs). Guest memory must be PhysMemory.inWasmMemory's.
//
// Protocol (the wrapper and the module agree on the arena's scratch words):
//   in:  [0..7] EAX..EDI, [16+s] base of segment s, [22] the entry page's base (EIP - page
//        offset), [23] the CS limit
//   out: [0..7] EAX..EDI, [8] EIP as an offset from the entry page's base, [9] instructions
//        done, [10] 1 when the code produced flags (then [11..15] op, a, b, x, size for
//        Cpu.setLazy), else 0
// The function returns 1 when it left through a branch or fall-through (the run loop may
// chain), 0 when it stopped before an instruction whose memory operand needs the
// interpreter's accessor (MMIO, a tracked or non-RAM frame, a page-crossing access): that
// instruction has not run, EIP is its address, and the wrapper hands over to the region's
// JavaScript function (which returns at once where EIP is not one of its blocks: the run
// loop then interprets the instruction).
import type { Cpu } from './cpu';
import type { Block } from './block';
import type { Insn } from './insn';
import type { BlockFn } from './jit';
import type { PhysMemory } from '../mmu/physmem';
import * as A from './ops-alu';
import * as D from './ops-data';
import * as C from './ops-control';
import { REG_ZERO } from './consts';
import { Code, ModuleBuilder, Op, uleb, wasmApi } from './wasm-encode';

// Locals: params 0 entry case, 1 room; then the registers and state.
const P_CASE = 0, P_ROOM = 1;
const R0 = 2; // EAX..EDI: 2..9
const L_C = 10, L_FK = 11, L_OP = 12, L_A = 13, L_B = 14, L_X = 15, L_SZ = 16, L_ADDR = 17, L_T = 18, L_CASE = 19;
const NLOCALS = 18; // locals after the 2 params: indices 2..19
const SEG0 = 16;

/** The interpreter's lazy-flag kinds (Cpu.setLazy) of ADD OR ADC SBB AND SUB XOR CMP. */
const ALU_LF = [0, 4, 1, 3, 4, 2, 4, 2];
const ALU_OP = [Op.i32add, Op.i32or, -1, -1, Op.i32and, Op.i32sub, Op.i32xor, Op.i32sub];
type Kind = 'add' | 'sub' | 'logic';
const KIND_OF: (Kind | null)[] = ['add', 'logic', null, null, 'logic', 'sub', 'logic', 'sub'];

/** Whether instruction i has a form here; `known`: the kind of the flag producer before it in its block, if any. */
function supported(i: Insn, known: Kind | null): { ok: boolean; produces?: Kind } {
  const h = i.exec;
  const memOk = i.mod === 3 || i.asize === 32;
  if (h === D.nop) return { ok: true };
  if ((h === D.movGE || h === D.movEG || h === D.movEI) && i.size === 4 && memOk) return { ok: true };
  if (h === D.movZI && i.size === 4) return { ok: true };
  if (h === D.lea && i.osize === 32 && i.asize === 32) return { ok: true };
  if ((h === A.aluEG || h === A.aluGE || h === A.aluEI || h === A.aluAI) && i.size === 4 && memOk) {
    const k = h === A.aluEI ? i.reg : (i.op >> 3) & 7;
    return KIND_OF[k] === null ? { ok: false } : { ok: true, produces: KIND_OF[k]! };
  }
  if ((h === A.testEG || h === A.testEI || h === A.testAI) && i.size === 4 && memOk) return { ok: true, produces: 'logic' };
  if (h === C.jmpRel && i.osize === 32) return { ok: true };
  if (h === C.jcc && i.osize === 32) return { ok: known !== null && condOf(i.op & 15, known) !== null };
  return { ok: false };
}

/** The condition cc (0-15) from a producer of `kind` whose operands are in L_A/L_B/L_X, as code leaving 0/1; null if not here. */
function condOf(cc: number, kind: Kind): number[] | null {
  const a = [0x20, L_A], b = [0x20, L_B], x = [0x20, L_X];
  let e: number[] | null = null;
  switch (cc >> 1) {
    case 0: e = kind === 'logic' ? [0x41, 0] : kind === 'sub'
      ? [...a, ...b, Op.i32xor, ...a, ...x, Op.i32xor, Op.i32and, 0x41, 0, Op.i32ltS]
      : [...a, ...x, Op.i32xor, ...b, ...x, Op.i32xor, Op.i32and, 0x41, 0, Op.i32ltS]; break; // O
    case 1: e = kind === 'logic' ? [0x41, 0] : kind === 'sub' ? [...a, ...b, Op.i32ltU] : [...x, ...a, Op.i32ltU]; break; // B
    case 2: e = [...x, Op.i32eqz]; break; // Z
    case 3: e = kind === 'logic' ? [...x, Op.i32eqz] : kind === 'sub' ? [...a, ...b, Op.i32leU] : [...x, ...a, Op.i32ltU, ...x, Op.i32eqz, Op.i32or]; break; // BE
    case 4: e = [...x, 0x41, 0, Op.i32ltS]; break; // S
    case 5: e = null; break; // P
    case 6: e = kind === 'logic' ? [...x, 0x41, 0, Op.i32ltS] : kind === 'sub' ? [...a, ...b, Op.i32ltS] : null; break; // L
    default: e = kind === 'logic' ? [...x, 0x41, 0, Op.i32leS] : kind === 'sub' ? [...a, ...b, Op.i32leS] : null; break; // LE
  }
  if (e === null) return null;
  return cc & 1 ? [...e, Op.i32eqz] : e;
}

/** The region's case index for each block's page offset. */
export interface WasmRegionInfo { fn: BlockFn; cases: Map<number, number> }

/**
 * Compiles `blocks` (as compileRegion's, the first the hot one) to a WebAssembly function
 * behind a BlockFn wrapper that runs `fallback` whenever the entry conditions do not hold;
 * null when an instruction has no form here or the memory is not a WebAssembly arena.
 */
export function compileRegionWasm(blocks: Block[], mem: PhysMemory, fallback: BlockFn): WasmRegionInfo | null {
  const arena = mem.wasm;
  if (arena === null || wasmApi === null) return null;
  const segs = new Set<number>();
  for (const b of blocks) {
    let known: Kind | null = null;
    for (const i of b.insns) {
      const r = supported(i, known);
      if (!r.ok) return null;
      if (r.produces !== undefined) known = r.produces;
      if (i.mod !== 3 && (i.exec !== D.lea && i.exec !== D.nop)) segs.add(i.seg);
    }
  }
  const cases = new Map<number, number>();
  blocks.forEach((b, k) => cases.set(b.off, k));
  const S = arena.scratchOffset, KIND = arena.kindOffset;
  const n = blocks.length;
  const c = new Code();
  const get = (l: number): Code => c.get(l);

  /** Stores the state and returns `code`; EIP offset T (from the page base), `done` more than L_C instructions done. */
  const exit = (T: number, done: number, ret: number): void => {
    for (let r = 0; r < 8; r++) c.i32(S + r * 4).get(R0 + r).store('i32store');
    c.i32(S + 32).i32(T).store('i32store');
    c.i32(S + 36).get(L_C).i32(done).op(Op.i32add).store('i32store');
    c.i32(S + 40).get(L_FK).store('i32store');
    c.i32(S + 44).get(L_OP).store('i32store');
    c.i32(S + 48).get(L_A).store('i32store');
    c.i32(S + 52).get(L_B).store('i32store');
    c.i32(S + 56).get(L_X).store('i32store');
    c.i32(S + 60).get(L_SZ).store('i32store');
    c.i32(ret).op(Op.return);
  };
  /** The effective address of i's memory operand plus its segment's base, into L_ADDR. */
  const address = (i: Insn): void => {
    c.i32(S + (SEG0 + i.seg) * 4).load('i32load');
    if (i.base !== REG_ZERO) get(R0 + i.base).op(Op.i32add);
    if (i.index !== REG_ZERO) { get(R0 + i.index); if (i.scale) c.i32(i.scale).op(Op.i32shl); c.op(Op.i32add); }
    if (i.disp !== 0) c.i32(i.disp | 0).op(Op.i32add);
    c.set(L_ADDR);
  };
  /** Leaves before instruction k (offset off) unless the 4-byte access at L_ADDR is plain RAM within one page (writes: not tracked either). */
  const guard = (write: boolean, T: number, k: number): void => {
    get(L_ADDR).i32(12).op(Op.i32shrU).load('i32load8U', KIND);
    if (!write) c.i32(1).op(Op.i32and); // reads: RAM (PAGE_MMIO clear); tracked frames are fine
    get(L_ADDR).i32(4095).op(Op.i32and).i32(4092).op(Op.i32gtU).op(Op.i32or);
    c.if(); exit(T, k, 0); c.end();
  };
  /** The E operand's value (32-bit) on the stack; memory: guarded read. */
  const readE = (i: Insn, T: number, k: number): void => {
    if (i.mod === 3) { get(R0 + i.rm); return; }
    address(i); guard(false, T, k); get(L_ADDR).load('i32load');
  };

  // Dispatch: block B_{n-1} { ... block B_0 { br_table } code_0 } code_1 ... inside a loop.
  for (let r = 0; r < 8; r++) c.i32(S + r * 4).load('i32load').set(R0 + r);
  c.get(P_CASE).set(L_CASE);
  c.loop();
  for (let k = 0; k < n; k++) c.block();
  c.get(L_CASE).op(0x0e, ...uleb(n), ...Array.from({ length: n }, (_, k) => uleb(k)).flat(), ...uleb(n - 1));
  for (let bi = 0; bi < n; bi++) {
    c.end(); // code of block bi follows
    const b = blocks[bi];
    /** Nesting below the loop at this point: the blocks bi+1..n-1 still open. */
    const toLoop = (extra: number): number => n - 1 - bi + extra;
    /**
     * An edge to page offset T after `done` instructions of this block: continue in the region
     * or leave. A jump (`from`: its offset) off this page is checked against the CS limit
     * first (the page itself is inside it: the wrapper's entry condition); past it, the code
     * leaves before the jump, which the interpreter then runs (#GP(0) at the jump).
     */
    const edge = (T: number, done: number, extra: number, from = -1): void => {
      if (from >= 0 && (T < 0 || T > 4095)) {
        c.i32(S + 88).load('i32load').i32(T).op(Op.i32add).i32(S + 92).load('i32load').op(Op.i32gtU);
        c.if(); exit(from, done - 1, 0); c.end();
      }
      const tc = cases.get(T);
      if (tc === undefined) { exit(T, done, 1); return; }
      const tb = blocks[tc];
      // Room for the whole target block, else leave with EIP at it.
      get(L_C).i32(done + tb.insns.length).op(Op.i32add).get(P_ROOM).op(Op.i32gtS);
      c.if(); exit(T, done, 1); c.end();
      get(L_C).i32(done).op(Op.i32add).set(L_C);
      c.i32(tc).set(L_CASE).br(toLoop(extra));
    };
    let off = b.off, known: Kind | null = null, ended = false;
    for (let k = 0; k < b.insns.length; k++) {
      const i = b.insns[k], h = i.exec, T = off;
      const next = off + i.len;
      if (h === D.nop) { /* nothing */ }
      else if (h === D.movZI) c.i32(i.imm | 0).set(R0 + (i.op & 7));
      else if (h === D.lea) {
        c.i32(0);
        if (i.base !== REG_ZERO) get(R0 + i.base).op(Op.i32add);
        if (i.index !== REG_ZERO) { get(R0 + i.index); if (i.scale) c.i32(i.scale).op(Op.i32shl); c.op(Op.i32add); }
        if (i.disp !== 0) c.i32(i.disp | 0).op(Op.i32add);
        c.set(R0 + i.reg);
      } else if (h === D.movGE) { readE(i, T, k); c.set(R0 + i.reg); }
      else if (h === D.movEG || h === D.movEI) {
        const val = (): void => { if (h === D.movEG) get(R0 + i.reg); else c.i32(i.imm | 0); };
        if (i.mod === 3) { val(); c.set(R0 + i.rm); }
        else { address(i); guard(true, T, k); get(L_ADDR); val(); c.store('i32store'); }
      } else if (h === A.aluEG || h === A.aluGE || h === A.aluEI || h === A.aluAI || h === A.testEG || h === A.testEI || h === A.testAI) {
        const test = h === A.testEG || h === A.testEI || h === A.testAI;
        const kk = test ? 4 : h === A.aluEI ? i.reg : (i.op >> 3) & 7;
        const writes = !test && kk !== 7;
        // a: the destination (or first operand), b: the source.
        // The operands go to L_A/L_B only once a memory operand has passed its guard: an exit
        // before this instruction reports the previous producer's flags from them.
        if (h === A.aluGE) { readE(i, T, k); c.set(L_T); get(R0 + i.reg).set(L_A); get(L_T).set(L_B); }
        else if (h === A.aluAI || h === A.testAI) { get(R0).set(L_A); c.i32(i.imm | 0).set(L_B); }
        else {
          if (i.mod === 3) get(R0 + i.rm).set(L_A);
          else { address(i); guard(writes, T, k); get(L_ADDR).load('i32load').set(L_A); }
          if (h === A.aluEG || h === A.testEG) get(R0 + i.reg).set(L_B); else c.i32(i.imm | 0).set(L_B);
        }
        get(L_A).get(L_B).op(ALU_OP[kk]).set(L_X);
        if (writes) {
          if (h === A.aluGE) get(L_X).set(R0 + i.reg);
          else if (h === A.aluAI) get(L_X).set(R0);
          else if (i.mod === 3) get(L_X).set(R0 + i.rm);
          else get(L_ADDR).get(L_X).store('i32store');
        }
        c.i32(1).set(L_FK).i32(ALU_LF[kk]).set(L_OP).i32(4).set(L_SZ);
        known = KIND_OF[kk] ?? 'logic';
      } else if (h === C.jmpRel) {
        edge(next + i.imm, k + 1, 0, T);
        ended = true;
      } else if (h === C.jcc) {
        c.op(...condOf(i.op & 15, known!)!);
        c.if(); edge(next + i.imm, k + 1, 1, T); c.end();
        if (k === b.insns.length - 1) { edge(next, k + 1, 0); ended = true; }
      }
      off = next;
    }
    if (!ended) edge(off, b.insns.length, 0);
  }
  c.end(); // loop
  c.i32(0); // unreachable in practice: every path returns or branches
  const m = new ModuleBuilder();
  m.importMemory('e', 'm', arena.memory.buffer.byteLength / 65536);
  m.export('run', m.func(2, 1, NLOCALS, c));
  let run: (cs: number, room: number) => number;
  try {
    const inst = new wasmApi.Instance(new wasmApi.Module(m.bytes()), { e: { m: arena.memory } });
    run = inst.exports.run as typeof run;
  } catch {
    return null;
  }
  const scratch = new Int32Array(arena.memory.buffer, S, 24);
  const segList = [...segs];
  const fn: BlockFn = (cpu: Cpu, end: number): boolean => {
    const eip = cpu.eip, lim = cpu.segLimit[1], off0 = (cpu.segBase[1] + eip) & 4095, base = eip - off0;
    const cs = cases.get(off0);
    let ok = cs !== undefined && !cpu.paging && cpu.a20Mask === 0xffffffff && base >= 0 && base + 4095 <= lim;
    for (let s = 0; ok && s < segList.length; s++) ok = cpu.segFull[segList[s]] === 3;
    if (!ok) return fallback(cpu, end);
    const r = cpu.r32;
    for (let k = 0; k < 8; k++) scratch[k] = r[k];
    for (let s = 0; s < segList.length; s++) scratch[SEG0 + segList[s]] = cpu.segBase[segList[s]];
    scratch[22] = base;
    scratch[23] = lim;
    const room = Math.min(end - cpu.icount, 0x7fffffff);
    const res = run(cs!, room);
    for (let k = 0; k < 8; k++) r[k] = scratch[k];
    cpu.eip = (base + scratch[8]) >>> 0;
    cpu.icount += scratch[9];
    if (scratch[10] !== 0) cpu.setLazy(scratch[11], scratch[12], scratch[13], scratch[14], 4);
    // Stopped before an instruction that needs an accessor: the JavaScript region runs on
    // from there (its slow paths do the access) when that is one of its blocks; otherwise
    // it returns without running anything and the run loop interprets the instruction.
    return res === 1 || (cpu.icount < end && fallback(cpu, end));
  };
  return { fn, cases };
}
