// Blocks: straight-line runs of decoded instructions, found from the instruction at a
// block's first address and kept on that instruction (so a block lives exactly as long
// as its code page's decoded instructions: the reverse map drops both together when the
// page is written).
//
// A block holds only instructions of one physical page and mode, each wholly inside the
// page. Every instruction but the last is "straight": its handler never changes EIP
// (other than falling through), the CPU mode, CS/SS, EFLAGS.IF/TF/RF, the halted state
// or the interrupt shadow, and performs no port I/O. The last instruction may be anything
// (a branch, a far transfer, a segment load, I/O ...): the block ends after it.
import type { Handler, Insn } from './insn';
import * as A from './ops-alu';
import * as D from './ops-data';
import * as C from './ops-control';

/** Most instructions in one block (bounds the work between two interrupt checks). */
export const BLOCK_MAX = 64;

export class Block {
  /** The instructions, in order; all but the last are straight. */
  readonly insns: Insn[];
  /** Bytes from the first instruction's start to the end of the last one. */
  readonly len: number;
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
  /** The compiled form (second tier), once hot. */
  fn: ((cpu: import('./cpu').Cpu) => void) | null = null;
  constructor(insns: Insn[]) {
    this.insns = insns;
    let len = 0;
    for (const i of insns) len += i.len;
    this.len = len;
  }
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
