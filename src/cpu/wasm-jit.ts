// The WebAssembly tier (the `wasm` fast path, on by default; TS86_FASTPATHS=-wasm turns it
// off): regions compiled to WebAssembly instead of JavaScript (bench/wasm-region.ts
// measured what that could gain before this was built).
//
// Scope: regions whose every instruction has a form here (wasmForm below: MOV, MOVZX/MOVSX,
// LEA, the ALU operations, TEST, INC/DEC, NOT/NEG, SHL/SHR/SAR by a constant or CL, IMUL
// with a register destination, PUSH/POP of a register or an immediate, CALL rel, RET, JMP,
// Jcc, NOP; every operand size; memory operands with 32-bit addressing), paging on or off
// (operands are translated through the TLB tables, which live in the arena), run while the
// segments used are flat (a stack in use is 32-bit), alignment checking is off and the
// whole code page is inside CS (checked by the wrapper on each entry; otherwise the
// region's JavaScript function runs). Guest memory must be PhysMemory.inWasmMemory's.
//
// Flags follow the interpreter's lazy scheme exactly (Cpu.setLazy, setLazyKeepCF,
// setLazySZP): the module keeps the last producer's kind (L_FK: 1 setLazy, 2 setLazyKeepCF,
// 3 setLazySZP, 0 none: the flags are all in EFLAGS), its operands and result, and the raw
// CF/OF/AF bits of Cpu.flags as the interpreter's updates would leave them (L_EF); it
// starts from the Cpu's lazy state. A flag reader whose producer is a 32-bit ADD/SUB/logic
// operation earlier in its block tests the operands inline; any other reader asks the
// module's second function for the whole flags word.
//
// A region leaving to code that another region covers calls it directly (a tail call
// through a table shared by all regions of the arena, found in an entry map the wrappers
// fill in: see MAP) rather than returning to the run loop.
//
// Protocol: the registers are Cpu.r32, which lives at the start of the arena's scratch area
// (words 0..7 EAX..EDI), read and written in place; the other words (W_* below):
//   in:  segment bases, the entry page's base (EIP - page offset), the CS limit, the code
//        epoch, which segments are flat, the count so far, the lazy flag state
//   out: EIP, the count, the lazy flag state
// The function returns 1 when it left through a branch, fall-through or return (the run
// loop may chain), 0 when it stopped before an instruction whose memory operand needs the
// interpreter's accessor (MMIO, a tracked or non-RAM frame, a page-crossing access) or
// that would fault (a jump or return past the CS limit): that instruction has not run,
// EIP is its address, and the wrapper hands over to the region's JavaScript function
// (which returns at once where EIP is not one of its blocks: the run loop then interprets
// the instruction).
import type { Cpu } from './cpu';
import type { Block } from './block';
import type { Insn } from './insn';
import type { BlockFn } from './jit';
import type { PhysMemory } from '../mmu/physmem';
import * as A from './ops-alu';
import * as D from './ops-data';
import * as C from './ops-control';
import { ARITH_FLAGS, REG_ZERO } from './consts';
import { Code, ModuleBuilder, Op, uleb, wasmApi, type WasmTable } from './wasm-encode';

// Locals of `run`: params 0 entry case, 1 room; then the registers and state.
const P_CASE = 0, P_ROOM = 1;
const R0 = 2; // EAX..EDI: 2..9
const L_C = 10, L_FK = 11, L_OP = 12, L_A = 13, L_B = 14, L_X = 15, L_SZ = 16, L_EF = 17;
const L_ADDR = 18, L_T = 19, L_CASE = 20, L_V = 21, L_U = 22, L_EFL = 23, L_CIN = 24, L_CI = 25, L_CNT = 26;
const L_TLB = 27, L_NR = 28, L_NW = 29, L_TE = 30;
const NLOCALS = 29; // locals after the 2 params: indices 2..30
const SS = 2;
/** Function indices in a region's module. */
const FLAGS_FN = 1, CHAIN_FN = 2;
// Scratch words (index into the arena's scratch area as Int32Array; 0..17 are Cpu.r32).
const W_EIP = 32, W_COUNT = 33, W_FK = 34, W_OP = 35, W_A = 36, W_B = 37, W_X = 38, W_SZ = 39, W_CIN = 40;
const W_EF = 41, W_EFL = 42, W_BASE = 43, W_LIMIT = 44, W_EPOCH = 45, W_SEGOK = 46, W_CHAINS = 47, W_SEG0 = 48, W_TLB = 54, W_NR = 55, W_NW = 56, W_CPL = 57;
/** The lazy-flag state's scratch words and locals: loaded on entry, stored on every exit (a called region continues it). */
const FLAG_STATE: readonly (readonly [number, number])[] = [[W_FK, L_FK], [W_OP, L_OP], [W_A, L_A], [W_B, L_B], [W_X, L_X], [W_SZ, L_SZ], [W_CIN, L_CIN], [W_EF, L_EF]];
/**
 * The entry map (byte offset in the scratch area): MAP_SLOTS slots of 8 words, direct-mapped
 * by the linear address of a block's first instruction: [0] that address, [1] Cpu.codeEpoch
 * when written, [2] the region's index in the shared table, [3] its case, [4] the block's
 * instruction count, [5] the W_SEGOK bits the region needs, [6] the CPL. The code epoch
 * moves on whenever decoded code or a translation may have changed (Cpu.resetFetchPage), so
 * a current slot's address still maps to the code the region was compiled from. A region leaving to an address
 * whose slot is current (same epoch: no code or translation has changed since) calls that
 * region directly (a tail call) instead of returning to the run loop.
 */
const MAP = 0x10000, MAP_SLOTS = 2048, MAP_SHIFT = 21; // slot = (address * 0x9E3779B1) >>> 21
const HASH_MUL = 0x9e3779b1 | 0;
/** W_SEGOK: bit s when segment s is flat (Cpu.segFull 3), bit 6 when the stack is 32-bit. */
const SEGOK_STACK32 = 64;
const ESP = 4;

// The interpreter's lazy-flag kinds (cpu.ts LF_*) and flag bits.
const LF_ADD = 0, LF_ADC = 1, LF_SUB = 2, LF_SBB = 3, LF_LOGIC = 4;
const CF = 0x1, AF = 0x10, OF = 0x800;
/** LF_* of ADD OR ADC SBB AND SUB XOR CMP. */
const ALU_LF = [LF_ADD, LF_LOGIC, LF_ADC, LF_SBB, LF_LOGIC, LF_SUB, LF_LOGIC, LF_SUB];
const ALU_OP = [Op.i32add, Op.i32or, Op.i32add, Op.i32sub, Op.i32and, Op.i32sub, Op.i32xor, Op.i32sub];
const MASK = [0, 0xff, 0xffff, 0, -1];
// i64 opcodes (WebAssembly Core 2.0, 5.4.7) for IMUL's overflow test.
const I64_EXTEND_I32_S = 0xac, I64_MUL = 0x7e, I64_NE = 0x52;

/** What the code has statically: the last flag producer in this block (null: not known here, read the locals). */
interface Fl { fk: 1 | 2 | 3; op: number; size: 1 | 2 | 4 }

const isAlu = (h: unknown): boolean => h === A.aluEG || h === A.aluGE || h === A.aluEI || h === A.aluAI;
const isTest = (h: unknown): boolean => h === A.testEG || h === A.testEI || h === A.testAI;
/** The ALU operation (0-7) of an ALU or TEST instruction. */
const aluKind = (i: Insn): number => (isTest(i.exec) ? 4 : i.exec === A.aluEI ? i.reg : (i.op >> 3) & 7);

/** Whether instruction i has a form here (flags aside: every reader has one). */
export function wasmForm(i: Insn): boolean {
  const h = i.exec;
  if (i.lock) return false;
  const memOk = i.mod === 3 || i.asize === 32;
  if (h === D.nop) return true;
  if (h === D.movGE || h === D.movEG || h === D.movEI) return memOk;
  if (h === D.movZI) return true;
  if (h === D.lea) return i.osize === 32 && i.asize === 32 && i.mod !== 3;
  if (h === D.movzx || h === D.movsx) return memOk;
  if (isAlu(h)) return memOk;
  if (isTest(h)) return memOk;
  if (h === A.incE || h === A.decE || h === A.notE || h === A.negE) return memOk;
  if (h === A.incZ || h === A.decZ) return true;
  if (h === A.shiftE) return memOk && i.reg >= 4;
  if (h === A.imul2) return memOk && i.size !== 1;
  if (h === D.pushZ || h === D.popZ || h === D.pushI) return i.size === 4;
  if (h === C.callRel || h === C.retNear) return i.osize === 32;
  if (h === C.jmpRel || h === C.jcc) return i.osize === 32;
  if (h === D.setcc) return memOk;
  if (h === D.cmovcc) return memOk && i.size !== 1;
  return false;
}

/** Whether an instruction uses the stack (SS must then be flat and 32-bit). */
const usesStack = (h: unknown): boolean => h === D.pushZ || h === D.popZ || h === D.pushI || h === C.callRel || h === C.retNear;

/**
 * The condition cc (0-15) inline, from a 32-bit ADD/SUB/logic producer whose operands are
 * in L_A/L_B/L_X, as code leaving 0/1; null where the flags word is needed (PF, and OF-based
 * conditions after ADD).
 */
function condInline(cc: number, f: Fl): number[] | null {
  if (f.fk !== 1 || f.size !== 4 || (f.op !== LF_ADD && f.op !== LF_SUB && f.op !== LF_LOGIC)) return null;
  const kind = f.op === LF_ADD ? 'add' : f.op === LF_SUB ? 'sub' : 'logic';
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

/** Condition cc from the flags word on the stack (SDM Vol.1 Appendix B), leaving 0/1. */
function condFromWord(c: Code, cc: number): void {
  c.set(L_T);
  const bit = (n: number): void => { c.get(L_T).i32(n).op(Op.i32shrU).i32(1).op(Op.i32and); };
  switch (cc >> 1) {
    case 0: bit(11); break;
    case 1: bit(0); break;
    case 2: bit(6); break;
    case 3: c.get(L_T).i32(0x41).op(Op.i32and).i32(0).op(Op.i32ne); break;
    case 4: bit(7); break;
    case 5: bit(2); break;
    case 6: c.get(L_T).get(L_T).i32(4).op(Op.i32shrU).op(Op.i32xor).i32(7).op(Op.i32shrU).i32(1).op(Op.i32and); break; // SF^OF
    default: c.get(L_T).get(L_T).i32(4).op(Op.i32shrU).op(Op.i32xor).i32(7).op(Op.i32shrU).get(L_T).i32(6).op(Op.i32shrU).op(Op.i32or).i32(1).op(Op.i32and); break;
  }
  if (cc & 1) c.op(Op.i32eqz);
}

/**
 * The module's second function: (fk, op, a, b, x, size, ef, efl, cin) -> the six arithmetic
 * flags as Cpu.getEflags would give them for that lazy state (cpu.ts lazyBits; fk 0: efl).
 */
function flagsFunction(): Code {
  const c = new Code();
  const FK = 0, OPP = 1, A_ = 2, B_ = 3, X = 4, SZ = 5, EF = 6, EFL = 7, CIN = 8, SH = 9, R = 10;
  c.get(FK).op(Op.i32eqz).if().get(EFL).op(Op.return).end();
  c.get(SZ).i32(3).op(Op.i32shl).i32(1).op(Op.i32sub).set(SH);
  // ZF, SF, PF from the result.
  c.get(X).op(Op.i32eqz).i32(6).op(Op.i32shl);
  c.get(X).get(SH).op(Op.i32shrU).i32(1).op(Op.i32and).i32(7).op(Op.i32shl).op(Op.i32or);
  c.get(X).i32(0xff).op(Op.i32and).op(Op.i32popcnt).i32(1).op(Op.i32and).i32(1).op(Op.i32xor).i32(2).op(Op.i32shl).op(Op.i32or);
  c.set(R);
  c.get(FK).i32(3).op(Op.i32eq).if().get(R).get(EF).op(Op.i32or).op(Op.return).end();
  // ADD, ADC: CF from the result (ADC with a carry in: result <= a), OF from the signs.
  c.get(OPP).i32(LF_ADD).op(Op.i32eq).get(OPP).i32(LF_ADC).op(Op.i32eq).op(Op.i32or).if();
  {
    c.get(R).get(X).get(A_).op(Op.i32ltU).get(X).get(A_).op(Op.i32eq).get(CIN).op(Op.i32and).get(OPP).i32(LF_ADC).op(Op.i32eq).op(Op.i32and).op(Op.i32or).op(Op.i32or);
    c.get(A_).get(X).op(Op.i32xor).get(B_).get(X).op(Op.i32xor).op(Op.i32and).get(SH).op(Op.i32shrU).i32(1).op(Op.i32and).i32(11).op(Op.i32shl).op(Op.i32or);
    c.get(A_).get(B_).op(Op.i32xor).get(X).op(Op.i32xor).i32(AF).op(Op.i32and).op(Op.i32or).set(R);
  }
  c.end();
  // SUB, SBB: CF = a < b (SBB with a carry in: a <= b).
  c.get(OPP).i32(LF_SUB).op(Op.i32eq).get(OPP).i32(LF_SBB).op(Op.i32eq).op(Op.i32or).if();
  {
    c.get(R).get(A_).get(B_).op(Op.i32ltU).get(A_).get(B_).op(Op.i32eq).get(CIN).op(Op.i32and).get(OPP).i32(LF_SBB).op(Op.i32eq).op(Op.i32and).op(Op.i32or).op(Op.i32or);
    c.get(A_).get(B_).op(Op.i32xor).get(A_).get(X).op(Op.i32xor).op(Op.i32and).get(SH).op(Op.i32shrU).i32(1).op(Op.i32and).i32(11).op(Op.i32shl).op(Op.i32or);
    c.get(A_).get(B_).op(Op.i32xor).get(X).op(Op.i32xor).i32(AF).op(Op.i32and).op(Op.i32or).set(R);
  }
  c.end();
  // fk 2 (INC/DEC): CF is the kept one.
  c.get(FK).i32(2).op(Op.i32eq).if().get(R).i32(~CF).op(Op.i32and).get(EF).i32(CF).op(Op.i32and).op(Op.i32or).set(R).end();
  c.get(R);
  return c;
}

/** What the regions over one arena share: the function table they call each other through. */
/**
 * `enter(case, room, index)`: the one function JavaScript calls to run region `index` (a tail
 * call through the table), so the call site stays monomorphic and V8 keeps its fast
 * JavaScript-to-WebAssembly call there.
 */
interface ChainState { table: WasmTable; stub: unknown; dead: FinalizationRegistry<number>; enter: (cs: number, room: number, idx: number) => number }
const chainStates = new WeakMap<object, ChainState>();

function chainState(memory: object): ChainState | null {
  let st = chainStates.get(memory);
  if (st !== undefined) return st;
  if (wasmApi === null) return null;
  try {
    // A region whose wrapper was collected (its code was dropped) leaves this in its table
    // slot: a call to it returns 1 with the caller's exit state already stored, so the run
    // loop carries on from the target EIP.
    const m = new ModuleBuilder();
    m.export('stub', m.func(2, 1, 0, new Code().i32(1)));
    const stub = new wasmApi.Instance(new wasmApi.Module(m.bytes()), {}).exports.stub;
    const table = new wasmApi.Table({ initial: 0, element: 'anyfunc' });
    const dead = new FinalizationRegistry<number>((idx) => table.set(idx, stub));
    const d = new ModuleBuilder();
    d.importTable('e', 't', 0);
    const runType = d.type(2, 1);
    d.export('enter', d.func(3, 1, 0, new Code().get(0).get(1).get(2).returnCallIndirect(runType)));
    const enter = new wasmApi.Instance(new wasmApi.Module(d.bytes()), { e: { t: table } }).exports.enter as ChainState['enter'];
    st = { table, stub, dead, enter };
  } catch {
    return null;
  }
  chainStates.set(memory, st);
  return st;
}

/**
 * Compiles `blocks` (as compileRegion's, the first the hot one) to a WebAssembly function
 * behind a BlockFn wrapper that runs `fallback` whenever the entry conditions do not hold;
 * null when an instruction has no form here or the memory is not a WebAssembly arena.
 */
export function compileRegionWasm(blocks: Block[], mem: PhysMemory, fallback: BlockFn): BlockFn | null {
  const arena = mem.wasm;
  if (arena === null || wasmApi === null) return null;
  const segs = new Set<number>();
  for (const b of blocks) {
    for (const i of b.insns) {
      if (!wasmForm(i)) return null;
      if (i.mod !== 3 && i.exec !== D.lea && i.exec !== D.nop && hasModrm(i)) segs.add(i.seg);
      if (usesStack(i.exec)) segs.add(SS);
    }
  }
  const cases = new Map<number, number>();
  blocks.forEach((b, k) => cases.set(b.off, k));
  const S = arena.scratchOffset, KIND = arena.kindOffset;
  const n = blocks.length;
  const c = new Code();
  const get = (l: number): Code => c.get(l);

  /**
   * Stores the state (EIP: page offset T from the page base, or the EIP in local T when
   * `tLocal`; `done` more than L_C instructions done) and returns `ret`; with `chain`, calls
   * the region at the new EIP instead where the entry map has it (the chain function).
   */
  const exit = (T: number, done: number, ret: number, tLocal = false, chain = false): void => {
    for (let r = 0; r < 8; r++) c.i32(S + r * 4).get(R0 + r).store('i32store');
    c.i32(S + W_EIP * 4); if (tLocal) get(T); else c.i32(S + W_BASE * 4).load('i32load').i32(T).op(Op.i32add); c.store('i32store');
    c.i32(S + W_COUNT * 4).get(L_C).i32(done).op(Op.i32add).store('i32store');
    for (const [w, l] of FLAG_STATE) c.i32(S + w * 4).get(l).store('i32store');
    if (chain) c.get(P_ROOM).returnCall(CHAIN_FN);
    else c.i32(ret).op(Op.return);
  };
  /** The effective address of i's memory operand plus its segment's base, into L_ADDR. */
  const address = (i: Insn): void => {
    c.i32(S + (W_SEG0 + i.seg) * 4).load('i32load');
    if (i.base !== REG_ZERO) get(R0 + i.base).op(Op.i32add);
    if (i.index !== REG_ZERO) { get(R0 + i.index); if (i.scale) c.i32(i.scale).op(Op.i32shl); c.op(Op.i32add); }
    if (i.disp !== 0) c.i32(i.disp | 0).op(Op.i32add);
    c.set(L_ADDR);
  };
  /**
   * Translates the linear address in L_ADDR through the TLB (Cpu.jitTlb: the current address
   * space's, or the identity table with paging off) into the physical address, in L_ADDR;
   * leaves before instruction k (offset T) unless the `size`-byte access is a TLB hit with
   * the permission and TLB_RAM (Cpu.jitNeed), inside one page, and for writes on a frame
   * that is not tracked (decoded code, page tables).
   */
  const guard = (write: boolean, size: number, T: number, k: number): void => {
    get(L_ADDR).i32(12).op(Op.i32shrU).i32(2).op(Op.i32shl).get(L_TLB).op(Op.i32add).load('i32load').tee(L_TE);
    get(write ? L_NW : L_NR).op(Op.i32and).get(write ? L_NW : L_NR).op(Op.i32ne);
    if (size > 1) { get(L_ADDR).i32(4095).op(Op.i32and).i32(4096 - size).op(Op.i32gtU).op(Op.i32or); }
    c.if(); exit(T, k, 0); c.end();
    get(L_TE).i32(-4096).op(Op.i32and).get(L_ADDR).i32(4095).op(Op.i32and).op(Op.i32or).set(L_ADDR);
    if (write) { get(L_ADDR).i32(12).op(Op.i32shrU).load('i32load8U', KIND); c.if(); exit(T, k, 0); c.end(); }
  };
  const LOAD = ['', 'i32load8U', 'i32load16U', '', 'i32load'] as const;
  const STORE = ['', 'i32store8', 'i32store16', '', 'i32store'] as const;
  const loadAt = (s: number): void => { c.load(LOAD[s] as 'i32load'); };
  /** Register r's value at size s (8-bit: AL..BH) on the stack. */
  const getReg = (r: number, s: number): void => {
    if (s === 4) get(R0 + r);
    else if (s === 2) get(R0 + r).i32(0xffff).op(Op.i32and);
    else if (r < 4) get(R0 + r).i32(0xff).op(Op.i32and);
    else get(R0 + r - 4).i32(8).op(Op.i32shrU).i32(0xff).op(Op.i32and);
  };
  /** Register r at size s := local `l` (masked to s). */
  const setReg = (r: number, s: number, l: number): void => {
    if (s === 4) { get(l).set(R0 + r); return; }
    if (s === 2) { get(R0 + r).i32(0xffff0000).op(Op.i32and).get(l).i32(0xffff).op(Op.i32and).op(Op.i32or).set(R0 + r); return; }
    const rr = r < 4 ? r : r - 4, sh = r < 4 ? 0 : 8;
    get(R0 + rr).i32(~(0xff << sh)).op(Op.i32and).get(l).i32(0xff).op(Op.i32and);
    if (sh) c.i32(8).op(Op.i32shl);
    c.op(Op.i32or).set(R0 + rr);
  };
  /** Reads the E operand (size s) into local `l`; memory: guarded (a write guard when `rmw`), address in L_ADDR. */
  const readE = (i: Insn, s: number, l: number, T: number, k: number, rmw: boolean): void => {
    if (i.mod === 3) { getReg(i.rm, s); c.set(l); return; }
    address(i); guard(rmw, s, T, k); get(L_ADDR); loadAt(s); c.set(l);
  };
  /** Writes local `l` to the E operand (after readE with rmw, or a guarded address). */
  const writeE = (i: Insn, s: number, l: number): void => {
    if (i.mod === 3) { setReg(i.rm, s, l); return; }
    get(L_ADDR).get(l).store(STORE[s] as 'i32store');
  };
  /** The flags word (arithmetic bits) of the current state on the stack. */
  const flagsWord = (st: Fl | null): void => {
    get(L_FK).get(L_OP).get(L_A).get(L_B).get(L_X).get(L_SZ).get(L_EF).get(L_EFL).get(L_CIN).call(FLAGS_FN);
  };
  /** Condition cc of the current state, 0/1 on the stack. */
  const cond = (cc: number, st: Fl | null): void => {
    const e = st === null ? null : condInline(cc, st);
    if (e !== null) { c.op(...e); return; }
    flagsWord(st); condFromWord(c, cc);
  };
  /** CF of the current state, 0/1 on the stack. */
  const carry = (st: Fl | null): void => {
    if (st !== null && st.fk === 1 && st.size === 4 && (st.op === LF_ADD || st.op === LF_SUB || st.op === LF_LOGIC)) {
      if (st.op === LF_LOGIC) c.i32(0);
      else if (st.op === LF_ADD) get(L_X).get(L_A).op(Op.i32ltU);
      else get(L_A).get(L_B).op(Op.i32ltU);
      return;
    }
    if (st !== null && st.fk !== 1) { get(L_EF).i32(CF).op(Op.i32and); return; }
    flagsWord(st); c.i32(CF).op(Op.i32and);
  };
  /** Records a setLazy producer: op, operands a/b and result from locals. */
  const lazy = (fk: 1 | 2 | 3, op: number, a: number, b: number, x: number, s: number): void => {
    get(a).set(L_A); get(b).set(L_B); get(x).set(L_X);
    c.i32(fk).set(L_FK).i32(op).set(L_OP).i32(s).set(L_SZ);
  };
  const maskTo = (s: number): void => { if (s !== 4) c.i32(MASK[s]).op(Op.i32and); };

  // Dispatch: block B_{n-1} { ... block B_0 { br_table } code_0 } code_1 ... inside a loop.
  // Prologue: the registers, the flag state and the count so far (a region called by
  // another continues its count and flags).
  for (let r = 0; r < 8; r++) c.i32(S + r * 4).load('i32load').set(R0 + r);
  for (const [w, l] of [[W_COUNT, L_C], ...FLAG_STATE, [W_EFL, L_EFL], [W_TLB, L_TLB], [W_NR, L_NR], [W_NW, L_NW]]) c.i32(S + w * 4).load('i32load').set(l);
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
      if (from >= 0) limitCheck(T, from, done - 1);
      const tc = cases.get(T);
      if (tc === undefined) { exit(T, done, 1, false, true); return; }
      const tb = blocks[tc];
      // Room for the whole target block, else leave with EIP at it.
      get(L_C).i32(done + tb.insns.length).op(Op.i32add).get(P_ROOM).op(Op.i32gtS);
      c.if(); exit(T, done, 1); c.end();
      get(L_C).i32(done).op(Op.i32add).set(L_C);
      c.i32(tc).set(L_CASE).br(toLoop(extra));
    };
    /** Leaves before the instruction at `from` (k = `before`) when page offset T is off the page and past the CS limit. */
    const limitCheck = (T: number, from: number, before: number): void => {
      if (T >= 0 && T <= 4095) return;
      c.i32(S + W_BASE * 4).load('i32load').i32(T).op(Op.i32add).i32(S + W_LIMIT * 4).load('i32load').op(Op.i32gtU);
      c.if(); exit(from, before, 0); c.end();
    };
    let off = b.off, st: Fl | null = null, ended = false;
    for (let k = 0; k < b.insns.length; k++) {
      const i = b.insns[k], h = i.exec, T = off, s = i.size;
      const next = off + i.len;
      if (h === D.nop) { /* nothing */ }
      else if (h === D.movZI) { c.i32(i.imm & MASK[s]).set(L_V); setReg(i.op & 7, s, L_V); }
      else if (h === D.lea) {
        c.i32(0);
        if (i.base !== REG_ZERO) get(R0 + i.base).op(Op.i32add);
        if (i.index !== REG_ZERO) { get(R0 + i.index); if (i.scale) c.i32(i.scale).op(Op.i32shl); c.op(Op.i32add); }
        if (i.disp !== 0) c.i32(i.disp | 0).op(Op.i32add);
        c.set(R0 + i.reg);
      } else if (h === D.movGE) { readE(i, s, L_V, T, k, false); setReg(i.reg, s, L_V); }
      else if (h === D.movEG || h === D.movEI) {
        if (h === D.movEG) getReg(i.reg, s); else c.i32(i.imm & MASK[s]);
        c.set(L_V);
        if (i.mod !== 3) { address(i); guard(true, s, T, k); }
        writeE(i, s, L_V);
      } else if (h === D.movzx || h === D.movsx) {
        const from = i.op === 0x1b6 || i.op === 0x1be ? 1 : 2;
        readE(i, from, L_V, T, k, false);
        if (h === D.movsx) { get(L_V).i32(32 - 8 * from).op(Op.i32shl).i32(32 - 8 * from).op(Op.i32shrS).set(L_V); }
        setReg(i.reg, s, L_V);
      } else if (isAlu(h) || isTest(h)) {
        const kk = aluKind(i);
        const writes = !isTest(h) && kk !== 7;
        // Operands into L_V (a, the destination or first operand) and L_U (b); the flag
        // locals change only after every guard has passed (an exit before this instruction
        // reports the previous producer from them).
        if (h === A.aluGE) { readE(i, s, L_U, T, k, false); getReg(i.reg, s); c.set(L_V); }
        else if (h === A.aluAI || h === A.testAI) { getReg(0, s); c.set(L_V); c.i32(i.imm & MASK[s]).set(L_U); }
        else {
          readE(i, s, L_V, T, k, writes);
          if (h === A.aluEG || h === A.testEG) getReg(i.reg, s); else c.i32(i.imm & MASK[s]);
          c.set(L_U);
        }
        const withCarry = kk === 2 || kk === 3;
        if (withCarry) { carry(st); c.set(L_CI); }
        get(L_V).get(L_U).op(ALU_OP[kk]);
        if (withCarry) get(L_CI).op(ALU_OP[kk]);
        maskTo(s); c.set(L_T);
        if (writes) {
          if (h === A.aluGE) setReg(i.reg, s, L_T);
          else if (h === A.aluAI) setReg(0, s, L_T);
          else writeE(i, s, L_T);
        }
        lazy(1, ALU_LF[kk], L_V, L_U, L_T, s);
        if (withCarry) get(L_CI).set(L_CIN);
        st = { fk: 1, op: ALU_LF[kk], size: s };
      } else if (h === A.incE || h === A.decE || h === A.incZ || h === A.decZ) {
        const inc = h === A.incE || h === A.incZ;
        if (h === A.incZ || h === A.decZ) { getReg(i.op & 7, s); c.set(L_V); }
        else readE(i, s, L_V, T, k, true);
        carry(st); c.set(L_U); // CF is kept (SDM Vol.2A INC, DEC)
        get(L_V).i32(1).op(inc ? Op.i32add : Op.i32sub); maskTo(s); c.set(L_T);
        if (h === A.incZ || h === A.decZ) setReg(i.op & 7, s, L_T); else writeE(i, s, L_T);
        get(L_EF).i32(~CF).op(Op.i32and).get(L_U).op(Op.i32or).set(L_EF);
        c.i32(1).set(L_U);
        lazy(2, inc ? LF_ADD : LF_SUB, L_V, L_U, L_T, s);
        st = { fk: 2, op: inc ? LF_ADD : LF_SUB, size: s };
      } else if (h === A.notE || h === A.negE) {
        readE(i, s, L_V, T, k, true);
        if (h === A.notE) { get(L_V).i32(-1).op(Op.i32xor); maskTo(s); c.set(L_T); writeE(i, s, L_T); }
        else {
          c.i32(0).get(L_V).op(Op.i32sub); maskTo(s); c.set(L_T); writeE(i, s, L_T);
          c.i32(0).set(L_U);
          lazy(1, LF_SUB, L_U, L_V, L_T, s);
          st = { fk: 1, op: LF_SUB, size: s };
        }
      } else if (h === A.shiftE) {
        const dyn = i.op === 0xd2 || i.op === 0xd3; // count in CL
        const count = dyn ? -1 : (i.op === 0xd0 || i.op === 0xd1 ? 1 : i.imm) & 0x1f, bits = 8 * s;
        // A memory operand is accessed as a write even with a zero count (no change then,
        // flags included).
        if (count === 0) { if (i.mod !== 3) { address(i); guard(true, s, T, k); } }
        else {
          readE(i, s, L_V, T, k, true);
          if (dyn) { getReg(1, 1); c.i32(0x1f).op(Op.i32and).tee(L_CNT).if(); } else c.i32(count).set(L_CNT);
          const kind = i.reg === 7 ? 'sar' : i.reg === 5 ? 'shr' : 'shl';
          // SDM Vol.2B SAL/SAR/SHL/SHR, counts 1-31; the undefined cases (counts past the
          // size, OF for counts above 1, AF) as ops-alu.ts shiftOp has them. For 8/16-bit
          // operands the formulas below give shiftOp's results at counts past the size too:
          // the value is zero-extended (SHL, SHR) or sign-extended (SAR) to 32 bits.
          if (kind === 'shl') {
            get(L_V).get(L_CNT).op(Op.i32shl); maskTo(s); c.set(L_T);
            if (s === 4) get(L_V).i32(32).get(L_CNT).op(Op.i32sub).op(Op.i32shrU);
            else get(L_V).get(L_CNT).op(Op.i32shl).i32(bits).op(Op.i32shrU);
            c.i32(1).op(Op.i32and).set(L_U); // CF
            get(L_T).i32(bits - 1).op(Op.i32shrU).get(L_U).op(Op.i32xor).i32(1).op(Op.i32and).i32(11).op(Op.i32shl).get(L_U).op(Op.i32or);
          } else if (kind === 'shr') {
            get(L_V).get(L_CNT).op(Op.i32shrU); maskTo(s); c.set(L_T);
            get(L_V).get(L_CNT).i32(1).op(Op.i32sub).op(Op.i32shrU).i32(1).op(Op.i32and);
            get(L_V).i32(bits - 1).op(Op.i32shrU).i32(1).op(Op.i32and).i32(11).op(Op.i32shl).op(Op.i32or);
          } else {
            const sx = 32 - bits;
            get(L_V).i32(sx).op(Op.i32shl).i32(sx).op(Op.i32shrS).set(L_U); // sign-extended
            get(L_U).get(L_CNT).op(Op.i32shrS); maskTo(s); c.set(L_T);
            get(L_U).get(L_CNT).i32(1).op(Op.i32sub).op(Op.i32shrS).i32(1).op(Op.i32and);
          }
          // CF|OF on the stack; SHL/SHR keep the raw AF bit, SAR clears it.
          if (kind !== 'sar') get(L_EF).i32(AF).op(Op.i32and).op(Op.i32or);
          c.set(L_EF);
          writeE(i, s, L_T);
          get(L_T).set(L_X); c.i32(3).set(L_FK).i32(LF_LOGIC).set(L_OP).i32(s).set(L_SZ);
          if (dyn) c.end();
          st = dyn ? null : { fk: 3, op: LF_LOGIC, size: s };
        }
      } else if (h === A.imul2) {
        // IMUL r, r/m (0F AF) and r, r/m, imm (69, 6B): CF=OF=the product does not fit; SF/ZF/PF
        // from the low half, AF cleared (ops-alu.ts setMulFlags).
        readE(i, s, L_U, T, k, false);
        if (i.op === 0x1af) getReg(i.reg, s); else c.i32(i.imm & MASK[s]);
        c.set(L_V);
        if (s === 4) {
          get(L_V).get(L_U).op(Op.i32mul).set(L_T);
          get(L_T).op(I64_EXTEND_I32_S).get(L_V).op(I64_EXTEND_I32_S).get(L_U).op(I64_EXTEND_I32_S).op(I64_MUL).op(I64_NE);
        } else {
          get(L_V).i32(16).op(Op.i32shl).i32(16).op(Op.i32shrS).get(L_U).i32(16).op(Op.i32shl).i32(16).op(Op.i32shrS).op(Op.i32mul).set(L_U);
          get(L_U).i32(0xffff).op(Op.i32and).set(L_T);
          get(L_U).get(L_T).i32(16).op(Op.i32shl).i32(16).op(Op.i32shrS).op(Op.i32ne);
        }
        c.i32(CF | OF).op(Op.i32mul).set(L_EF);
        setReg(i.reg, s, L_T);
        get(L_T).set(L_X); c.i32(3).set(L_FK).i32(LF_LOGIC).set(L_OP).i32(s).set(L_SZ);
        st = { fk: 3, op: LF_LOGIC, size: s };
      } else if (h === D.pushZ || h === D.pushI || h === C.callRel) {
        let target = 0;
        if (h === C.callRel) { target = next + i.imm; limitCheck(target, T, k); }
        c.i32(S + (W_SEG0 + SS) * 4).load('i32load').get(R0 + ESP).i32(4).op(Op.i32sub).op(Op.i32add).set(L_ADDR);
        guard(true, 4, T, k);
        get(L_ADDR);
        if (h === D.pushZ) get(R0 + (i.op & 7)); else if (h === D.pushI) c.i32(i.imm | 0); else c.i32(S + W_BASE * 4).load('i32load').i32(next).op(Op.i32add);
        c.store('i32store');
        get(R0 + ESP).i32(4).op(Op.i32sub).set(R0 + ESP);
        if (h === C.callRel) { edge(target, k + 1, 0); ended = true; }
      } else if (h === D.popZ || h === C.retNear) {
        c.i32(S + (W_SEG0 + SS) * 4).load('i32load').get(R0 + ESP).op(Op.i32add).set(L_ADDR);
        guard(false, 4, T, k);
        get(L_ADDR).load('i32load').set(L_V);
        if (h === D.popZ) {
          get(R0 + ESP).i32(4).op(Op.i32add).set(R0 + ESP);
          get(L_V).set(R0 + (i.op & 7));
        } else {
          // Past the CS limit: #GP(0) at the RET, which the interpreter then raises.
          get(L_V).i32(S + W_LIMIT * 4).load('i32load').op(Op.i32gtU);
          c.if(); exit(T, k, 0); c.end();
          get(R0 + ESP).i32(4 + (i.op === 0xc2 ? i.imm & 0xffff : 0)).op(Op.i32add).set(R0 + ESP);
          exit(L_V, k + 1, 1, true, true);
          ended = true;
        }
      } else if (h === D.setcc) {
        // SETcc r/m8 (SDM Vol.2B SETcc).
        if (i.mod !== 3) { address(i); guard(true, 1, T, k); }
        cond(i.op & 15, st); c.set(L_V);
        writeE(i, 1, L_V);
      } else if (h === D.cmovcc) {
        // CMOVcc r, r/m: the source is read (and may fault) whatever the condition (SDM Vol.2A CMOVcc).
        readE(i, s, L_U, T, k, false);
        cond(i.op & 15, st);
        c.if(); setReg(i.reg, s, L_U); c.end();
      } else if (h === C.jmpRel) {
        edge(next + i.imm, k + 1, 0, T);
        ended = true;
      } else if (h === C.jcc) {
        cond(i.op & 15, st);
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
  m.importTable('e', 't', 0);
  m.importMemory('e', 'm', arena.memory.buffer.byteLength / 65536);
  m.export('run', m.func(2, 1, NLOCALS, c));
  m.func(9, 1, 2, flagsFunction());
  m.func(1, 1, 3, chainFunction(S, m.type(2, 1)));
  const chain = chainState(arena.memory);
  if (chain === null) return null;
  let run: (cs: number, room: number) => number;
  try {
    const inst = new wasmApi.Instance(new wasmApi.Module(m.bytes()), { e: { m: arena.memory, t: chain.table } });
    run = inst.exports.run as typeof run;
  } catch {
    return null;
  }
  const idx = chain.table.grow(1), enter = chain.enter;
  chain.table.set(idx, run);
  const buffer = arena.memory.buffer;
  const scratch = new Int32Array(buffer, S, (MAP >> 2) + MAP_SLOTS * 8);
  // Block offsets in case order: a few cache lines, where a 4096-entry table per region
  // would miss the cache on most calls (the entry block, case 0, is the usual one).
  const offs = Int16Array.from(blocks, (b) => b.off);
  let lastTlb: Int32Array | null = null, lastTlbOff = -1;
  let need = segs.has(SS) ? SEGOK_STACK32 : 0;
  for (const sg of segs) need |= 1 << sg;
  const lens = Int32Array.from(blocks, (b) => b.insns.length);
  const fn: BlockFn = (cpu: Cpu, end: number): boolean => {
    const eip = cpu.eip, lim = cpu.segLimit[1], lin = (cpu.segBase[1] + eip) >>> 0, off0 = lin & 4095, base = eip - off0;
    let cs = 0;
    while (cs < offs.length && offs[cs] !== off0) cs++;
    if (cs === offs.length) cs = -1;
    const sf = cpu.segFull;
    const segok = (sf[0] === 3 ? 1 : 0) | (sf[1] === 3 ? 2 : 0) | (sf[2] === 3 ? 4 : 0) | (sf[3] === 3 ? 8 : 0) | (sf[4] === 3 ? 16 : 0) | (sf[5] === 3 ? 32 : 0) | (cpu.stack32 ? SEGOK_STACK32 : 0);
    const tlb = cpu.jitTlb();
    if (tlb !== lastTlb) { lastTlb = tlb; lastTlbOff = tlb.buffer === buffer ? tlb.byteOffset : -1; }
    if (cs < 0 || lastTlbOff < 0 || cpu.alignCheck || base < 0 || base + 4095 > lim || (segok & need) !== need) {
      cpu.statWasmFallbacks++;
      return fallback(cpu, end);
    }
    const sb = cpu.segBase, epoch = cpu.codeEpoch | 0;
    for (let sg = 0; sg < 6; sg++) scratch[W_SEG0 + sg] = sb[sg];
    scratch[W_BASE] = base;
    scratch[W_LIMIT] = lim;
    scratch[W_EPOCH] = epoch;
    scratch[W_SEGOK] = segok;
    scratch[W_COUNT] = 0;
    scratch[W_CHAINS] = 0;
    scratch[W_TLB] = lastTlbOff;
    scratch[W_NR] = cpu.jitNeed(false);
    scratch[W_NW] = cpu.jitNeed(true);
    scratch[W_CPL] = cpu.cpl;
    // The lazy flag state as it stands (Cpu.setLazy / setLazyKeepCF / setLazySZP, or none).
    const mask = cpu.lfMask;
    scratch[W_EF] = cpu.flags & (CF | OF | AF);
    if (mask === 0) { scratch[W_FK] = 0; scratch[W_EFL] = cpu.flags; }
    else {
      scratch[W_FK] = mask === ARITH_FLAGS ? 1 : mask === (ARITH_FLAGS & ~CF) ? 2 : 3;
      scratch[W_OP] = cpu.lfOp; scratch[W_A] = cpu.lfA; scratch[W_B] = cpu.lfB; scratch[W_X] = cpu.lfRes;
      scratch[W_SZ] = cpu.lfSize; scratch[W_CIN] = cpu.lfCin;
    }
    // This block in the entry map, so that regions leaving to it call it directly.
    const slot = (MAP >> 2) + ((Math.imul(lin, HASH_MUL) >>> MAP_SHIFT) << 3);
    if (scratch[slot] !== (lin | 0) || scratch[slot + 1] !== epoch || scratch[slot + 2] !== idx || scratch[slot + 6] !== cpu.cpl) {
      scratch[slot] = lin; scratch[slot + 1] = epoch; scratch[slot + 2] = idx;
      scratch[slot + 3] = cs; scratch[slot + 4] = lens[cs]; scratch[slot + 5] = need; scratch[slot + 6] = cpu.cpl;
    }
    const room = end - cpu.icount;
    const res = enter(cs, room > 0x7fffffff ? 0x7fffffff : room, idx);
    cpu.eip = scratch[W_EIP] >>> 0;
    const done = scratch[W_COUNT];
    cpu.icount += done;
    cpu.statWasmRuns++;
    cpu.statWasmInsns += done;
    cpu.statWasmChains += scratch[W_CHAINS];
    if (res === 0) cpu.statWasmStops++;
    const fk = scratch[W_FK];
    if (fk !== 0) {
      cpu.flags = (cpu.flags & ~(CF | OF | AF)) | scratch[W_EF];
      const sz = scratch[W_SZ] as 1 | 2 | 4, op = scratch[W_OP];
      if (fk === 1) {
        cpu.setLazy(op, scratch[W_A], scratch[W_B], scratch[W_X], sz);
        if (op === LF_ADC || op === LF_SBB) cpu.lfCin = scratch[W_CIN];
      } else if (fk === 2) cpu.setLazyKeepCF(op, scratch[W_A], scratch[W_B], scratch[W_X], sz, scratch[W_EF] & CF);
      else cpu.setLazySZP(scratch[W_X], sz, scratch[W_EF]);
    }
    // Stopped before an instruction that needs an accessor: the JavaScript region runs on
    // from there (its slow paths do the access) when that is one of its blocks; otherwise
    // it returns without running anything and the run loop interprets the instruction.
    return res === 1 || (cpu.icount < end && fallback(cpu, end));
  };
  // Once the wrapper is gone (its blocks were dropped with their code, which also moved
  // Cpu.codeEpoch on, so no current entry-map slot names it), its table slot gets the stub.
  chain.dead.register(fn, idx);
  return fn;
}

/**
 * The module's third function, `chain(room)`: after an exit has stored the state (W_EIP the
 * new EIP), the region there when the entry map has a current slot for it, room for its
 * block, the segments it needs flat and its page inside CS: a tail call to it; else 1.
 */
function chainFunction(S: number, runType: number): Code {
  const c = new Code();
  const ROOM = 0, TGT = 1, LIN = 2, SLOT = 3;
  const w = (word: number): void => { c.i32(S + word * 4).load('i32load'); };
  const fail = (): void => { c.if().i32(1).op(Op.return).end(); };
  w(W_EIP); c.set(TGT);
  w(W_SEG0 + 1); c.get(TGT).op(Op.i32add).set(LIN);
  c.get(LIN).i32(HASH_MUL).op(Op.i32mul).i32(MAP_SHIFT).op(Op.i32shrU).i32(5).op(Op.i32shl).i32(S + MAP).op(Op.i32add).set(SLOT);
  c.get(SLOT).load('i32load').get(LIN).op(Op.i32ne); fail();
  c.get(SLOT).load('i32load', 4); w(W_EPOCH); c.op(Op.i32ne); fail();
  c.get(SLOT).load('i32load', 24); w(W_CPL); c.op(Op.i32ne); fail();
  w(W_COUNT); c.get(SLOT).load('i32load', 16).op(Op.i32add).get(ROOM).op(Op.i32gtS); fail();
  w(W_SEGOK); c.get(SLOT).load('i32load', 20).op(Op.i32and).get(SLOT).load('i32load', 20).op(Op.i32ne); fail();
  // The target's page base (EIP minus the page offset) must not wrap, and the whole page
  // must be inside the CS limit (the wrapper's entry condition).
  c.get(TGT).get(LIN).i32(4095).op(Op.i32and).op(Op.i32ltU); fail();
  w(W_LIMIT); c.i32(4095).op(Op.i32ltU); fail();
  c.get(TGT).get(LIN).i32(4095).op(Op.i32and).op(Op.i32sub).set(LIN); // LIN := the page base
  c.get(LIN); w(W_LIMIT); c.i32(4095).op(Op.i32sub).op(Op.i32gtU); fail();
  c.i32(S + W_BASE * 4).get(LIN).store('i32store');
  c.i32(S + W_CHAINS * 4); w(W_CHAINS); c.i32(1).op(Op.i32add).store('i32store');
  c.get(SLOT).load('i32load', 12).get(ROOM).get(SLOT).load('i32load', 8).returnCallIndirect(runType);
  return c;
}

/** Whether i has a ModRM memory operand (its segment is then used). */
function hasModrm(i: Insn): boolean {
  const h = i.exec;
  return h !== D.movZI && h !== D.pushZ && h !== D.popZ && h !== D.pushI && h !== C.callRel && h !== C.retNear && h !== C.jmpRel && h !== C.jcc
    && h !== A.incZ && h !== A.decZ && h !== A.aluAI && h !== A.testAI;
}
