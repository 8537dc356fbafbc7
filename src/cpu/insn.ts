import type { Cpu } from './cpu';
import type { OpDef } from './table';
import type { Block } from './block';
import { DS, REG_ZERO } from './consts';

export type Handler = (cpu: Cpu, i: Insn) => void;

export const REP_NONE = 0, REP_Z = 1 /* F3: REP / REPE */, REP_NZ = 2 /* F2: REPNE */;

/**
 * One decoded instruction. The shape is fixed (every field initialised in the
 * constructor) so that the executor's property accesses stay monomorphic.
 * Decoded instructions are cached by physical address and reused, so nothing
 * here may depend on register contents.
 */
export class Insn {
  /** Opcode: 0x000-0x0ff one byte, 0x100-0x1ff for 0F xx. */
  op = 0;
  /** Instruction length in bytes, prefixes included (at most 15). */
  len = 0;
  /** Operand size in bits (16 or 32) after the 66 prefix. */
  osize: 16 | 32 = 32;
  /** Address size in bits (16 or 32) after the 67 prefix. */
  asize: 16 | 32 = 32;
  /** Size in bytes of the main operand (1, 2 or 4). */
  size: 1 | 2 | 4 = 4;
  rep = REP_NONE;
  lock = false;
  /** Segment override (0-5) or -1. */
  segOverride = -1;
  /** ModRM fields (valid when the opcode has a ModRM byte). */
  modrm = 0;
  mod = 0;
  reg = 0;
  rm = 0;
  /** Effective address: base and index register numbers (REG_ZERO when absent), scale shift, displacement, segment. */
  base = REG_ZERO;
  index = REG_ZERO;
  scale = 0;
  disp = 0;
  seg = DS;
  /** Immediates: imm (first, sign- or zero-extended as the form says), imm2 (second: ENTER's Ib, far pointer's selector). */
  imm = 0;
  imm2 = 0;
  /** Decode mode this was decoded in (code32 bit), to validate cache hits. */
  mode = 0;
  /** Number of prefix bytes. */
  nprefix = 0;
  def: OpDef | null = null;
  exec: Handler = noop;
  /** Stored in its page's decoded-instruction cache (so it may start a block). */
  cached = false;
  /** The block starting at this instruction, once built (lives and dies with the cached page). */
  block: Block | null = null;
}

function noop(): void {}
