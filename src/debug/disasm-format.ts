// Intel-syntax text of one decoded instruction, spelled as GNU objdump -M intel
// (binutils 2.40) spells it. The instruction is decoded by the CPU's own decoder
// (src/cpu/decoder.ts) and its operand forms come from the instruction table
// (src/cpu/table.ts); this module only turns the table's `mnem`/`args` and the
// decoded fields into text. Where objdump's spelling depends on things the table
// does not model (a size suffix when a 66 prefix is present, "shl" for the /6 alias
// of SAL, prefix bytes printed as words), the rule lives here, next to a comment.
import type { Insn } from '../cpu/insn';
import type { OpDef } from '../cpu/table';
import { ESP, REG_ZERO, SEG_NAMES } from '../cpu/consts';
import { fpuMnemonic } from '../cpu/fpu/disasm';

const REG8 = ['al', 'cl', 'dl', 'bl', 'ah', 'ch', 'dh', 'bh'];
const REG16 = ['ax', 'cx', 'dx', 'bx', 'sp', 'bp', 'si', 'di'];
const REG32 = ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi'];

/** Prefix bytes as objdump names them when they are not absorbed by the instruction. */
function prefixName(b: number, code32: boolean): string {
  switch (b) {
    case 0x66: return code32 ? 'data16' : 'data32';
    case 0x67: return code32 ? 'addr16' : 'addr32';
    case 0xf0: return 'lock';
    case 0x26: return 'es';
    case 0x2e: return 'cs';
    case 0x36: return 'ss';
    case 0x3e: return 'ds';
    case 0x64: return 'fs';
    case 0x65: return 'gs';
    default: return '';
  }
}
/** Operand kinds that may be a ModRM memory operand. */
const MEM_ARGS = new Set(['Eb', 'Ew', 'Ed', 'Ev', 'M', 'Mp', 'Ma', 'Mq']);
const SEG_PREFIXES = new Set([0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65]);

/** String instructions whose F3 prefix objdump spells "rep" (the others get "repz"). */
const REP_PLAIN = new Set([0x6c, 0x6d, 0x6e, 0x6f, 0xa4, 0xa5, 0xaa, 0xab, 0xac, 0xad]);
/** Near branches: objdump spells an F2 prefix on them "bnd" (MPX). */
function isBndBranch(op: number, reg: number): boolean {
  return op === 0xc2 || op === 0xc3 || op === 0xe8 || op === 0xe9 || op === 0xeb ||
    (op >= 0x70 && op <= 0x7f) || (op >= 0x180 && op <= 0x18f) || (op === 0xff && (reg === 2 || reg === 4));
}

/**
 * Opcodes whose mnemonic objdump suffixes with w/d when a 66 prefix changes the
 * operand size (pusha → pushaw in 32-bit code, pushad in 16-bit code), because
 * no operand shows the size. The table's "a|b" spelling is not used for these.
 */
const SUFFIX_WITH_66 = new Set([
  0x06, 0x07, 0x0e, 0x16, 0x17, 0x1e, 0x1f, 0x1a0, 0x1a1, 0x1a8, 0x1a9, // push/pop sreg
  0x60, 0x61, 0x9c, 0x9d, 0xcf, // pusha popa pushf popf iret
  0x68, 0x6a, // push imm
  0xc2, 0xc3, 0xca, 0xcb, 0xc8, 0xc9, // ret retf enter leave
  0xe8, 0xe9, // call/jmp rel
]);
/** SGDT/SIDT/LGDT/LIDT: objdump always adds the operand-size suffix. */
function isDescTableOp(op: number, reg: number): boolean { return op === 0x101 && reg < 4; }

/** Ew operands whose register form objdump prints at the operand size (sldt eax, lar eax,ecx). */
function ewRegUsesOsize(op: number, reg: number): boolean {
  return op === 0x8c || op === 0x8e || op === 0x102 || op === 0x103 || (op === 0x100 && reg < 2) || (op === 0x101 && reg === 4);
}

export interface FormatContext {
  /** Raw bytes of the instruction (prefixes included). */
  bytes: Uint8Array;
  /** Linear address of the first byte (for branch targets). */
  addr: number;
  code32: boolean;
  /** A preceding FWAIT is folded into this x87 instruction (fnstsw → fstsw). */
  wait?: boolean;
}

/** Lowercase hex with 0x, as objdump prints immediates and addresses. */
export function hex(v: number): string { return '0x' + (v >>> 0).toString(16); }
function signedHex(v: number): string { return v < 0 ? '-0x' + (-v).toString(16) : '+0x' + v.toString(16); }

/** Table mnemonic → objdump spelling, before prefixes. */
function mnemonic(d: OpDef, i: Insn, has66: boolean): string {
  const op = i.op;
  const [m16, m32] = d.mnem.includes('|') ? d.mnem.split('|') : [d.mnem, d.mnem];
  // JCXZ/JECXZ test CX or ECX by *address* size (SDM Vol.2A JCC); objdump names it so.
  if (op === 0xe3) return i.asize === 32 ? m32 : m16;
  // C0-D3 /6 is an undocumented alias of SHL (the table calls it sal); objdump prints shl.
  if ((op === 0xc0 || op === 0xc1 || (op >= 0xd0 && op <= 0xd3)) && i.reg === 6) return 'shl';
  if (SUFFIX_WITH_66.has(op)) return has66 ? m16 + (i.osize === 16 ? 'w' : 'd') : m16;
  if (isDescTableOp(op, i.reg)) return m16 + (i.osize === 16 ? 'w' : 'd');
  return i.osize === 16 ? m16 : m32;
}

/** The memory operand's address expression ("[ebx+esi*4+0x10]", "es:[bx]", "ds:0x1234"), no size keyword. */
function memExpr(i: Insn, code32: boolean): string {
  const seg = i.segOverride >= 0 ? SEG_NAMES[i.segOverride] + ':' : '';
  if (i.asize === 16) {
    if (i.base === REG_ZERO) return (seg || 'ds:') + hex(i.disp & 0xffff);
    let s = '[' + REG16[i.base];
    if (i.index !== REG_ZERO) s += '+' + REG16[i.index];
    if (i.mod !== 0) s += signedHex((i.disp << 16) >> 16);
    return seg + s + ']';
  }
  const hasSib = i.rm === 4;
  if (!hasSib) {
    if (i.base === REG_ZERO) return (seg || 'ds:') + hex(i.disp);
    return seg + '[' + REG32[i.base] + (i.mod !== 0 ? signedHex(i.disp | 0) : '') + ']';
  }
  // SIB: an absent index (100b) is shown as eiz unless the SIB only exists to name ESP.
  // With neither base nor index, objdump keeps "eiz*1" in 32-bit code (to tell it from
  // the plain disp32 form) but not in 16-bit code with a 67 prefix.
  if (i.base === REG_ZERO && i.index === REG_ZERO && i.scale === 0 && !code32) return (seg || 'ds:') + hex(i.disp);
  const scale = 1 << i.scale;
  const parts: string[] = [];
  if (i.base !== REG_ZERO) parts.push(REG32[i.base]);
  if (i.index !== REG_ZERO) parts.push(REG32[i.index] + '*' + scale);
  else if (!(i.base === ESP && i.scale === 0)) parts.push('eiz*' + scale);
  let s = '[' + parts.join('+');
  if (i.mod !== 0 || i.base === REG_ZERO) s += signedHex(i.disp | 0);
  return seg + s + ']';
}

function regName(n: number, size: 1 | 2 | 4): string {
  return size === 1 ? REG8[n] : size === 2 ? REG16[n] : REG32[n];
}

const PTR: Record<number, string> = { 1: 'BYTE PTR ', 2: 'WORD PTR ', 4: 'DWORD PTR ', 6: 'FWORD PTR ', 8: 'QWORD PTR ' };

/** One operand's text. */
function operand(a: string, i: Insn, ctx: FormatContext, immIdx: { n: number }): string {
  const ov: 2 | 4 = i.osize === 32 ? 4 : 2;
  const nextImm = (): number => (immIdx.n++ === 0 ? i.imm : i.imm2);
  const mask = (v: number, size: number): number => (size === 4 ? v >>> 0 : v & (size === 2 ? 0xffff : 0xff));
  const rmOperand = (regSize: 1 | 2 | 4, memSize: number): string => {
    if (i.mod === 3) return regName(i.rm, regSize);
    return (memSize ? PTR[memSize] : '') + memExpr(i, ctx.code32);
  };
  switch (a) {
    case 'Eb': return rmOperand(1, 1);
    case 'Ew': return rmOperand(ewRegUsesOsize(i.op, i.reg) ? ov : 2, 2);
    case 'Ed': return rmOperand(4, 4);
    case 'Ev': return rmOperand(ov, ov);
    case 'Rd': return REG32[i.rm];
    case 'M': return rmOperand(ov, i.op === 0x101 && i.reg === 7 ? 1 : 0); // objdump: invlpg BYTE PTR
    case 'Mp': return rmOperand(ov, ov + 2);
    case 'Ma': return rmOperand(ov, ov * 2);
    case 'Mq': return rmOperand(ov, 8);
    case 'Gb': return REG8[i.reg];
    case 'Gw': return REG16[i.reg];
    case 'Gv': return regName(i.reg, ov);
    case 'Sw': return i.reg < 6 ? SEG_NAMES[i.reg] : '?'; // objdump's spelling for segment registers 6 and 7
    case 'Cd': return 'cr' + i.reg;
    case 'Dd': return 'dr' + i.reg;
    case 'Zb': return REG8[i.op & 7];
    case 'Zv': return regName(i.op & 7, ov);
    case 'Zd': return regName(i.op & 7, ov); // objdump names BSWAP's register by operand size (bswap ax)
    case 'Ib': return hex(nextImm() & 0xff);
    case 'Iw': return hex(nextImm() & 0xffff);
    case 'Iz': case 'Iv': return hex(mask(nextImm(), ov));
    case 'sIb': return hex(mask(nextImm(), ov));
    case 'Jb': case 'Jz': return hex(branchTarget(i, ctx, nextImm()));
    case 'Ob': case 'Ov': {
      const seg = i.segOverride >= 0 ? SEG_NAMES[i.segOverride] : 'ds';
      return seg + ':' + hex(nextImm());
    }
    case 'Ap': return hex(i.imm2 & 0xffff) + ':' + hex(i.imm);
    case 'Xb': case 'Xv': case 'Xlat': {
      const seg = i.segOverride >= 0 ? SEG_NAMES[i.segOverride] : 'ds';
      const reg = a === 'Xlat' ? (i.asize === 32 ? 'ebx' : 'bx') : (i.asize === 32 ? 'esi' : 'si');
      return PTR[a === 'Xv' ? ov : 1] + seg + ':[' + reg + ']';
    }
    case 'Yb': case 'Yv':
      return PTR[a === 'Yv' ? ov : 1] + 'es:[' + (i.asize === 32 ? 'edi' : 'di') + ']';
    case 'AL': return 'al';
    case 'CL': return 'cl';
    case 'DX': return 'dx';
    case 'eAX': return ov === 4 ? 'eax' : 'ax';
    case '1': return '1';
    default: return a.toLowerCase(); // ES CS SS DS FS GS
  }
}

/**
 * Branch target as objdump computes it: byte displacements wrap at 32 bits; a
 * 16-bit word displacement wraps within the current 64 KiB (or at 64 KiB outright
 * when a 66 prefix made it 16-bit).
 */
function branchTarget(i: Insn, ctx: FormatContext, disp: number): number {
  const next = ctx.addr + i.len;
  if (i.def?.args[0] === 'Jz' && i.osize === 16) {
    const seg = hasPrefix(ctx, i, 0x66) ? 0 : next & ~0xffff;
    return (((next + disp) & 0xffff) | seg) >>> 0;
  }
  return (next + disp) >>> 0;
}

function hasPrefix(ctx: FormatContext, i: Insn, b: number): boolean {
  for (let k = 0; k < i.nprefix; k++) if (ctx.bytes[k] === b) return true;
  return false;
}

/** Whether the instruction's text shows the operand size, absorbing a 66 prefix. */
function usesOperandSize(d: OpDef, i: Insn, ctx: FormatContext): boolean {
  if (i.op === 0x90) return !hasPrefix(ctx, i, 0xf3);
  if (d.fpu) return fpuSized(i, ctx);
  if (SUFFIX_WITH_66.has(i.op) || isDescTableOp(i.op, i.reg) || d.mnem.includes('|')) return i.op !== 0xe3;
  return d.args.some((a) => {
    if (a === 'Ev' || a === 'Gv' || a === 'Zv' || a === 'eAX' || a === 'Iz' || a === 'Iv' || a === 'Jz' || a === 'sIb' ||
      a === 'Ap' || a === 'Mp' || a === 'Ma' || a === 'Xv' || a === 'Yv' || a === 'Ov' || a === 'Zd') return true;
    if (a === 'Ew') return i.mod === 3 && ewRegUsesOsize(i.op, i.reg);
    return false;
  });
}
/** Whether the instruction has an address-size-dependent operand, absorbing a 67 prefix. */
function usesAddressSize(d: OpDef, i: Insn, code32: boolean): boolean {
  if (i.op === 0xe3) return true;
  // A moffs operand never shows its address size, so objdump keeps the prefix word;
  // neither does a 32-bit absolute address in 16-bit code (but [disp16] in 32-bit code does).
  if (d.args.some((a) => a === 'Xb' || a === 'Xv' || a === 'Yb' || a === 'Yv' || a === 'Xlat')) return true;
  const mem = i.mod !== 3 && (d.fpu === true || d.args.some((a) => MEM_ARGS.has(a)));
  if (!mem) return false;
  return !(!code32 && i.asize === 32 && i.base === REG_ZERO && i.index === REG_ZERO);
}
/** Whether a segment override shows up in an operand. */
function usesSegment(d: OpDef, i: Insn): boolean {
  if (d.fpu) return i.mod !== 3;
  return d.args.some((a) => (MEM_ARGS.has(a) && i.mod !== 3) || a === 'Xb' || a === 'Xv' || a === 'Xlat' || a === 'Ob' || a === 'Ov');
}

/**
 * F2/F3 as HLE hints (xacquire/xrelease), as objdump spells them: on a LOCKed
 * read-modify-write of memory, on XCHG with memory (implicitly locked), and F3
 * alone on a MOV store.
 */
function hleForm(d: OpDef, i: Insn, ctx: FormatContext, b: number): string {
  if (i.mod === 3 || !MEM_ARGS.has(d.args[0] ?? '')) return '';
  const name = b === 0xf2 ? 'xacquire' : 'xrelease';
  if (i.op === 0x86 || i.op === 0x87) return name;
  if (d.lockable && hasPrefix(ctx, i, 0xf0)) return name;
  if (b === 0xf3 && (i.op === 0x88 || i.op === 0x89 || i.op === 0xc6 || i.op === 0xc7)) return name;
  return '';
}

/**
 * Prefix words objdump prints before the mnemonic, in byte order: every prefix
 * the instruction does not absorb (a used 66/67/segment prefix shows up in the
 * operands or the mnemonic instead), and LOCK/REP always.
 */
function prefixWords(i: Insn, ctx: FormatContext, d: OpDef | null): string[] {
  const out: string[] = [];
  const n = i.nprefix;
  // Only the last prefix of each kind takes effect; earlier ones are printed.
  let last66 = -1, last67 = -1, lastSeg = -1, lastF2 = -1, lastF3 = -1;
  for (let k = 0; k < n; k++) {
    const b = ctx.bytes[k];
    if (b === 0xf2) lastF2 = k;
    if (b === 0xf3) lastF3 = k;
    if (b === 0x66) last66 = k;
    else if (b === 0x67) last67 = k;
    else if (SEG_PREFIXES.has(b)) lastSeg = k;
  }
  const valid = d !== null && !isBad(d, i);
  const used66 = valid && d !== null && usesOperandSize(d, i, ctx);
  const used67 = valid && d !== null && usesAddressSize(d, i, ctx.code32);
  const usedSeg = valid && d !== null && usesSegment(d, i);
  for (let k = 0; k < n; k++) {
    const b = ctx.bytes[k];
    if (b === 0x66 && k === last66 && used66) continue;
    if (b === 0x67 && k === last67 && used67) continue;
    if (SEG_PREFIXES.has(b) && k === lastSeg && usedSeg) continue;
    // Only the last F2 and the last F3 are spelled for the instruction (rep, bnd, xrelease...); repeats print plainly.
    const live = valid && d !== null && (k === lastF2 || k === lastF3);
    const hle = live && d !== null ? hleForm(d, i, ctx, b) : '';
    if (hle) out.push(hle);
    else if (b === 0xf3) out.push(live && REP_PLAIN.has(i.op) ? 'rep' : live && i.op === 0x90 ? '' : 'repz');
    else if (b === 0xf2) out.push(live && isBndBranch(i.op, i.reg) ? 'bnd' : 'repnz');
    else out.push(prefixName(b, ctx.code32));
  }
  return out.filter((w) => w !== '');
}

/** Encodings the table defines but the CPU rejects with #UD regardless of prefixes; objdump prints (bad). */
export function isBad(d: OpDef | null, i: Insn): boolean {
  return d === null || (d.memOnly === true && i.mod === 3);
}

function fpuText(i: Insn, ctx: FormatContext, mem: string): string {
  return fpuMnemonic(i.op, i.modrm, i.mod === 3 ? null : mem, { wait: ctx.wait === true });
}
/**
 * x87 memory forms without a size keyword (fldenv, fnstenv, frstor, fnsave) have a
 * 14/28- or 94/108-byte operand chosen by the operand size; objdump shows a 66
 * prefix on them as a w/d suffix (fldenvw in 32-bit code, fldenvd in 16-bit code).
 */
function fpuSized(i: Insn, ctx: FormatContext): boolean {
  if (i.mod === 3) return false;
  const t = fpuText(i, ctx, '[x]');
  return !t.includes(' PTR ') && !t.startsWith('(bad)');
}

/** Mnemonic (with prefix words) and operand text of one decoded instruction. */
export function formatInsn(i: Insn, ctx: FormatContext): { mnem: string; ops: string } {
  const d = i.def;
  const pfx = prefixWords(i, ctx, d);
  const join = (m: string): string => [...pfx, m].join(' ');
  if (!d || isBad(d, i)) return { mnem: join('(bad)'), ops: '' };
  if (d.fpu) {
    let text = fpuText(i, ctx, memExpr(i, ctx.code32));
    if (hasPrefix(ctx, i, 0x66) && fpuSized(i, ctx)) text = text.replace(' ', i.osize === 16 ? 'w ' : 'd ');
    const sp = text.indexOf(' ');
    return sp < 0 ? { mnem: join(text), ops: '' } : { mnem: join(text.slice(0, sp)), ops: text.slice(sp + 1) };
  }
  const has66 = hasPrefix(ctx, i, 0x66);
  // 90 is NOP only without prefixes that matter: 66 90 is XCHG (e)AX,(e)AX and F3 90 is PAUSE to objdump.
  if (i.op === 0x90 && hasPrefix(ctx, i, 0xf3)) return { mnem: join('pause'), ops: '' };
  if (i.op === 0x90 && has66) return { mnem: join('xchg'), ops: i.osize === 32 ? 'eax,eax' : 'ax,ax' };
  const m = mnemonic(d, i, has66);
  const immIdx = { n: 0 };
  const ops = d.args.map((a) => operand(a, i, ctx, immIdx));
  return { mnem: join(m), ops: ops.join(',') };
}

/** "mnemonic operands" with objdump's column padding (mnemonic padded to 6, then a space). */
export function joinText(mnem: string, ops: string): string {
  return ops === '' ? mnem : mnem.padEnd(6) + ' ' + ops;
}
