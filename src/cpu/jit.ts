// The second tier: a hot block of decoded instructions compiled to one JavaScript
// function (`new Function`) that V8 then optimises like any other code.
//
// Correctness rules the generated code keeps (the same as Cpu.step):
// - Before any instruction that can fault or calls an interpreter handler, the code stores
//   startEip (the instruction's EIP), EIP (the next instruction's) and icount (counting the
//   instruction), so a fault leaves exactly the state the interpreter would: Cpu.run's catch
//   rewinds EIP to startEip and delivers the exception.
// - Instructions without a hand-written form call the interpreter's own handler with the
//   decoded instruction: one definition of their semantics, called from both tiers. The
//   forms written out here (register moves, 32-bit ALU, INC/DEC, LEA, Jcc, JMP) mirror
//   ops-alu/ops-data/ops-control and are checked against them by test/cpu/jit.test.ts.
// - After every instruction that touches memory or calls a handler, the block returns if
//   the CPU asked running blocks to stop (a write to decoded code, a TLB or mode change, a
//   stop request, an MMIO access: see Cpu.blockAbort), with EIP and icount exact.
// - Lazy flags are stored exactly as the interpreter stores them; a Jcc right after a
//   written-out ALU instruction tests the operands directly instead of re-deriving flags.
import type { Cpu } from './cpu';
import type { Block } from './block';
import type { Insn } from './insn';
import * as A from './ops-alu';
import * as D from './ops-data';
import * as C from './ops-control';
import { ARITH_FLAGS, CF, REG_ZERO } from './consts';

type BlockFn = (cpu: Cpu) => void;

/**
 * Calls an interpreter handler. Every compiled block calls handlers through this one
 * function, so its call site sees every handler (megamorphic) and V8 does not inline the
 * handler bodies into each block: compiling a block stays cheap (a few hundred microseconds
 * rather than tens of milliseconds), which matters when a kernel has thousands of hot blocks.
 */
function callHandler(h: (cpu: Cpu, i: Insn) => void, cpu: Cpu, i: Insn): void { h(cpu, i); }

/** Small, common handlers worth letting V8 inline into a block (called directly). */
const INLINE_OK = new Set<unknown>([D.pushZ, D.popZ, D.movzx, D.movsx, A.shiftE, D.setcc, D.cmovcc, D.pushI, D.xchgZ, D.nop, D.movEI, D.movGE, D.movEG]);

/** Flag producers the compiler tracks for Jcc fusion. */
type FlagOp = 'add' | 'sub' | 'logic' | 'incdec';
interface Flags { op: FlagOp; a: string; b: string; x: string }

const ALU_LF = ['0 /*LF_ADD*/', '4 /*LF_LOGIC*/', '', '', '4 /*LF_LOGIC*/', '2 /*LF_SUB*/', '4 /*LF_LOGIC*/', '2 /*LF_SUB*/'];
const ALU_OPER = ['+', '|', '', '', '&', '-', '^', '-'];
const ALU_KIND: (FlagOp | null)[] = ['add', 'logic', null, null, 'logic', 'sub', 'logic', 'sub'];

/** A 32-bit effective address expression (address size 32). */
function ea32(i: Insn): string {
  const parts: string[] = [];
  if (i.base !== REG_ZERO) parts.push(`r[${i.base}]`);
  if (i.index !== REG_ZERO) parts.push(i.scale ? `(r[${i.index}] << ${i.scale})` : `r[${i.index}]`);
  if (i.disp !== 0 || parts.length === 0) parts.push(String(i.disp | 0));
  return `((${parts.join(' + ')}) >>> 0)`;
}

/** Condition cc (0-15) from a known flag producer, or null when the generic path is needed. */
function fusedCond(cc: number, f: Flags | null): string | null {
  if (f === null) return null;
  const { a, b, x } = f;
  let e: string | null = null;
  switch (cc >> 1) {
    case 0: e = f.op === 'logic' ? 'false' : f.op === 'sub' ? `((((${a} ^ ${b}) & (${a} ^ ${x})) >>> 31) !== 0)` : null; break; // O
    case 1: e = f.op === 'logic' ? 'false' : f.op === 'sub' ? `(${a} < ${b})` : f.op === 'add' ? `(${x} < ${a})` : null; break; // C
    case 2: e = `(${x} === 0)`; break; // Z
    case 3: e = f.op === 'logic' ? `(${x} === 0)` : f.op === 'sub' ? `(${a} <= ${b})` : null; break; // BE
    case 4: e = `((${x} | 0) < 0)`; break; // S
    case 5: e = null; break; // P
    case 6: e = f.op === 'logic' ? `((${x} | 0) < 0)` : f.op === 'sub' ? `((${a} | 0) < (${b} | 0))` : null; break; // L
    default: e = f.op === 'logic' ? `(${x} === 0 || (${x} | 0) < 0)` : f.op === 'sub' ? `((${a} | 0) <= (${b} | 0))` : null; break; // LE
  }
  if (e === null) return null;
  return cc & 1 ? `!${e}` : e;
}

/** Compiles a block; the function runs it from the current EIP (the block's first instruction). */
export function compileBlock(b: Block): BlockFn {
  const names: string[] = [];
  const values: unknown[] = [];
  const ref = (v: unknown): string => { const n = `k${names.length}`; names.push(n); values.push(v); return n; };
  const out: string[] = [];
  const callRef = ref(callHandler);
  const n = b.insns.length;
  let off = 0;
  let flags: Flags | null = null;
  let ended = false;
  for (let k = 0; k < n; k++) {
    const i = b.insns[k];
    const cur = `((e0 + ${off}) >>> 0)`, next = `((e0 + ${off + i.len}) >>> 0)`;
    const last = k === n - 1;
    /** Exact state for a possible fault (and for handlers that read EIP/icount). */
    const sync = `cpu.startEip = ${cur}; cpu.eip = ${next}; cpu.icount = c0 + ${k + 1};`;
    const abort = last ? '' : 'if (cpu.blockAbort || m.mmioHits !== mh) return;';
    const v = `${k}`;
    const h = i.exec;
    const w32 = i.osize === 32 && i.size === 4 && i.asize === 32;
    let code: string | null = null;
    let touches = false; // memory access or handler call: needs sync before and abort check after
    let nf: Flags | null | undefined; // new flag producer (undefined: flags untouched)
    if (!w32 && h !== C.jcc && h !== C.jmpRel) {
      code = null;
    } else if ((h === D.movGE || h === D.movEG) && i.mod === 3) {
      const [dst, src] = h === D.movGE ? [i.reg, i.rm] : [i.rm, i.reg];
      code = `r[${dst}] = r[${src}];`;
    } else if (h === D.movGE) {
      code = `r[${i.reg}] = cpu.read32(${i.seg}, ${ea32(i)});`; touches = true;
    } else if (h === D.movEG) {
      code = `cpu.write32(${i.seg}, ${ea32(i)}, r[${i.reg}]);`; touches = true;
    } else if (h === D.movZI) {
      code = `r[${i.op & 7}] = ${i.imm | 0};`;
    } else if (h === D.lea) {
      code = `r[${i.reg}] = ${ea32(i)};`;
    } else if ((h === A.aluEG || h === A.aluGE || h === A.aluEI || h === A.aluAI || h === A.testEG || h === A.testEI) &&
      (h === A.aluAI || i.mod === 3 || h === A.aluGE)) {
      const kk = h === A.testEG || h === A.testEI ? 4 : h === A.aluEI ? i.reg : (i.op >> 3) & 7;
      if (ALU_KIND[kk] !== null) {
        const test = h === A.testEG || h === A.testEI;
        const dst = h === A.aluAI ? 0 : h === A.aluGE ? i.reg : i.rm;
        let src: string;
        if (h === A.aluEI || h === A.aluAI || h === A.testEI) src = String(i.imm >>> 0);
        else if (h === A.aluGE && i.mod !== 3) { src = `(cpu.read32(${i.seg}, ${ea32(i)}) >>> 0)`; touches = true; }
        else src = `(r[${h === A.aluGE ? i.rm : i.reg}] >>> 0)`;
        const a = `a${v}`, bb = `b${v}`, x = `x${v}`;
        const write = kk !== 7 && !test ? `r[${dst}] = ${x};` : '';
        code = `const ${a} = r[${dst}] >>> 0, ${bb} = ${src}, ${x} = (${a} ${ALU_OPER[kk]} ${bb}) >>> 0; ${write}` +
          `cpu.lfOp = ${ALU_LF[kk]}; cpu.lfA = ${a}; cpu.lfB = ${bb}; cpu.lfRes = ${x}; cpu.lfSize = 4; cpu.lfMask = ${ARITH_FLAGS};`;
        nf = { op: ALU_KIND[kk]!, a, b: bb, x };
      }
    } else if (h === A.incZ || h === A.decZ) {
      const r = i.op & 7, inc = h === A.incZ;
      const a = `a${v}`, x = `x${v}`;
      // INC/DEC keep CF (SDM Vol.2A INC): take it from the previous producer when known.
      const cf = flags === null ? 'cpu.getCF()' : flags.op === 'logic' ? '0' : flags.op === 'sub' ? `(${flags.a} < ${flags.b} ? 1 : 0)` :
        flags.op === 'add' ? `(${flags.x} < ${flags.a} ? 1 : 0)` : `(cpu.flags & ${CF})`;
      code = `const cf${v} = ${cf}; const ${a} = r[${r}] >>> 0, ${x} = (${a} ${inc ? '+' : '-'} 1) >>> 0; r[${r}] = ${x}; ` +
        `cpu.lfOp = ${inc ? 0 : 2}; cpu.lfA = ${a}; cpu.lfB = 1; cpu.lfRes = ${x}; cpu.lfSize = 4; cpu.lfMask = ${ARITH_FLAGS & ~CF}; ` +
        `cpu.flags = (cpu.flags & ${~CF}) | cf${v};`;
      nf = { op: 'incdec', a, b: '1', x };
    } else if ((h === C.jcc || h === C.jmpRel) && i.osize === 32 && last) {
      const cond = h === C.jmpRel ? 'true' : (fusedCond(i.op & 15, flags) ?? `cpu.cond(${i.op & 15})`);
      code = `cpu.startEip = ${cur}; cpu.icount = c0 + ${k + 1}; ` +
        `if (${cond}) { const t = (e0 + ${(off + i.len + i.imm) | 0}) >>> 0; if (t > cpu.segLimit[1]) cpu.raise(13, 0); cpu.eip = t; } else cpu.eip = ${next};`;
      ended = true;
    }
    if (code === null) {
      // The interpreter's handler, with the decoded instruction.
      code = INLINE_OK.has(h) ? `${sync} ${ref(h)}(cpu, ${ref(i)}); ${abort}` : `${sync} ${callRef}(${ref(h)}, cpu, ${ref(i)}); ${abort}`;
      flags = null;
      if (last) ended = true;
    } else {
      if (touches) code = `${sync} ${code} ${abort}`;
      if (nf !== undefined) flags = nf;
    }
    out.push(`  ${code} // ${k}: ${i.def?.mnem ?? '(ud)'}`);
    off += i.len;
  }
  if (!ended) out.push(`  cpu.eip = (e0 + ${off}) >>> 0; cpu.icount = c0 + ${n};`);
  const src = `"use strict";\nreturn function block(cpu) {\n  const r = cpu.r32, m = cpu.mem, e0 = cpu.eip, c0 = cpu.icount, mh = m.mmioHits;\n${out.join('\n')}\n};`;
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  const factory = new Function(...names, src) as (...a: unknown[]) => BlockFn;
  return factory(...values);
}

/** The generated source of a block (for tests and debugging). */
export function blockSource(fn: BlockFn): string { return fn.toString(); }
