// Blocks: straight-line runs of decoded instructions, found from the instruction at a
// block's first address and kept on that instruction (so a block lives exactly as long
// as its code page's decoded instructions: the reverse map drops both together when the
// page is written).
//
// A block holds only instructions of one physical page and mode, each wholly inside the
// page. Every instruction but the last is "straight": its handler never changes EIP
// (other than falling through), the CPU mode, CS/SS, EFLAGS.IF/TF/RF, the halted state
// or the interrupt shadow, and performs no port I/O — or it is a conditional jump with a
// 32-bit operand size, a side exit: when taken, the block ends there (both executors
// compare EIP with the fall-through address). The last instruction may be anything
// (a branch, a far transfer, a segment load, I/O ...): the block ends after it.
import type { Handler, Insn } from './insn';
import * as A from './ops-alu';
import * as D from './ops-data';
import * as C from './ops-control';

/**
 * Whether the block goes on after `i`: a straight instruction, or a 32-bit Jcc (a side
 * exit; hot loops such as the LZMA decoder's test-and-branch chains become one block).
 */
export function continuesBlock(i: Insn, sideExits: boolean): boolean {
  return isStraight(i.exec) || (sideExits && i.exec === C.jcc && i.osize === 32);
}

/** Most instructions in one block (bounds the work between two interrupt checks). */
export const BLOCK_MAX = 64;

export class Block {
  /** The instructions, in order; all but the last are straight. */
  readonly insns: Insn[];
  /** Bytes from the first instruction's start to the end of the last one. */
  readonly len: number;
  /** Page offset of the first instruction (its linear and physical addresses agree on it). */
  readonly off: number;
  /** Times run by the interpreting executor (the compiler takes over past a threshold). */
  hits = 0;
  /**
   * Successor links: the blocks that followed this one last time (EIP and block), valid
   * while the CPU's codeEpoch equals linkEpoch (anything that could change what CS:EIP
   * fetches bumps the epoch: TLB or code invalidation, CR3/CR0/CR4, mode or CS changes).
   */
  linkEpoch = -1;
  link0Eip = -1;
  link0: Block | null = null;
  link1Eip = -1;
  link1: Block | null = null;
  /** The compiled form (second tier), once hot: a region function (jit.ts) that may hold other blocks of the page too. */
  fn: ((cpu: import('./cpu').Cpu, end: number) => boolean) | null = null;
  constructor(insns: Insn[], off: number) {
    this.insns = insns;
    this.off = off;
    let len = 0;
    for (const i of insns) len += i.len;
    this.len = len;
  }

  /** Records `next` as the successor at EIP `eip` (the older link moves to the second slot; links of another epoch are dropped). */
  link(eip: number, next: Block, epoch: number): void {
    if (this.linkEpoch !== epoch) { this.linkEpoch = epoch; this.link1 = null; this.link1Eip = -1; }
    else { this.link1 = this.link0; this.link1Eip = this.link0Eip; }
    this.link0 = next;
    this.link0Eip = eip;
  }
}

/** Whether the run loop may go straight on to compiled code after a block that ends with handler h. */
export function chainsAfter(h: Handler): boolean {
  if (CHAIN_ENDS.size === 0) initChainEnds();
  return isStraight(h) || CHAIN_ENDS.has(h);
}

/** Control transfers that end a block but leave everything the run loop checks alone. */
const CHAIN_ENDS = new Set<Handler>();
function initChainEnds(): void {
  for (const h of [C.jcc, C.jmpRel, C.callRel, C.retNear, C.jmpE, C.callE, C.loop, C.jcxz]) CHAIN_ENDS.add(h);
}

let straight: Set<Handler> | null = null;
/**
 * Handlers that leave control flow and mode alone (see above). Built lazily: the ops
 * modules and this one import each other through the CPU.
 */
export function isStraight(h: Handler): boolean {
  if (straight === null) {
    straight = new Set<Handler>([
      A.aluEG, A.aluGE, A.aluAI, A.aluEI, A.testEG, A.testAI, A.testEI, A.incZ, A.decZ, A.incE, A.decE, A.notE, A.negE,
      A.shiftE, A.shldrd, A.mulE, A.imul1, A.imul2, A.divE, A.idivE, A.daa, A.das, A.aaa, A.aas, A.aam, A.aad, A.btOp, A.bsfr,
      D.movEG, D.movGE, D.movEI, D.movZI, D.movMoffs, D.movESreg, D.lea, D.movzx, D.movsx, D.xchgEG, D.xchgZ, D.nop,
      D.cbw, D.cwd, D.lahf, D.sahf, D.salc, D.xlat, D.bswap, D.xadd, D.cmpxchg, D.cmpxchg8b, D.cmovcc, D.setcc,
      D.pushZ, D.popZ, D.pushI, D.pushE, D.popE, D.pushSeg, D.pusha, D.popa, D.enter, D.leave,
      C.clc, C.stc, C.cmc, C.cld, C.std,
    ]);
  }
  return straight.has(h);
}

/** Most blocks, and instructions, in one compiled region (Cpu.buildRegion). */
export const REGION_BLOCKS = 32;
export const REGION_INSNS = 384;

/**
 * Page offsets where control can go after block b, as the compiler lays them out: the
 * targets of its 32-bit relative jumps (side exits, JMP, LOOP) and, unless it ends in a
 * JMP or an instruction that transfers control itself, the fall-through. Offsets may lie
 * outside the page (the caller skips them).
 */
export function regionSuccessors(b: Block): number[] {
  const out: number[] = [];
  let pos = b.off;
  for (const i of b.insns) {
    pos += i.len;
    if (i.osize === 32 && (i.exec === C.jcc || i.exec === C.jmpRel || (i.exec === C.loop && i.op === 0xe2 && i.asize === 32))) out.push(pos + i.imm);
  }
  const last = b.insns[b.insns.length - 1];
  const jumps = last.osize === 32 && (last.exec === C.jcc || (last.exec === C.loop && last.op === 0xe2 && last.asize === 32));
  if (jumps || isStraight(last.exec)) out.push(pos);
  return out;
}
