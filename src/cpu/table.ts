// The instruction table: the single source of truth for decoding, execution,
// disassembly and the flag masks the conformance tests use.
//
// Operand forms follow the SDM Vol.2 Appendix A notation:
//   E = ModRM r/m, G = ModRM reg, M = ModRM memory only, S = segment register (reg),
//   C/D = control/debug register (reg), R = ModRM r/m register only,
//   I = immediate (b byte, w word, z word/dword by operand size, sb = byte sign-extended),
//   J = relative offset (b, z), O = moffs (address-size offset), A = far pointer immediate,
//   Z = register in the opcode's low 3 bits, X/Y = string source/destination,
//   size suffix b/w/d/v (v = by operand size), p = far pointer, a = BOUND pair, q = 64-bit.
//   Fixed operands: AL, CL, DX, eAX, ES/CS/SS/DS/FS/GS, 1.
import type { Handler } from './insn';
import * as A from './ops-alu';
import * as D from './ops-data';
import * as C from './ops-control';
import * as S from './ops-system';

export interface OpDef {
  /** 0x00-0xff one-byte opcodes, 0x100-0x1ff for 0F xx. */
  code: number;
  /** ModRM.reg for group members. */
  grp?: number;
  /** Intel mnemonic; "a|b" = 16-bit|32-bit operand-size names (cbw|cwde). */
  mnem: string;
  args: string[];
  exec: Handler;
  /** Flags written, and flags left undefined (letters O D I T S Z A P C). */
  w?: string;
  u?: string;
  /** #UD with a register operand (mod == 3). */
  memOnly?: boolean;
  /** ModRM always names a register (MOV CR/DR): mod is ignored. */
  regOnly?: boolean;
  /** Valid with a LOCK prefix (when the destination is memory). */
  lockable?: boolean;
  /** Has a ModRM byte even though no operand says so. */
  modrm?: boolean;
  /** x87 escape: the FPU decodes the rest. */
  fpu?: boolean;
}

export const TABLE: OpDef[] = [];

function def(code: number, mnem: string, args: string[], exec: Handler, extra: Partial<OpDef> = {}): void {
  TABLE.push({ code, mnem, args, exec, ...extra });
}
function grp(code: number, reg: number, mnem: string, args: string[], exec: Handler, extra: Partial<OpDef> = {}): void {
  TABLE.push({ code, grp: reg, mnem, args, exec, ...extra });
}

const ARITH = 'OSZAPC';
const ALU_NAMES = ['add', 'or', 'adc', 'sbb', 'and', 'sub', 'xor', 'cmp'];
const CC = ['o', 'no', 'b', 'ae', 'e', 'ne', 'be', 'a', 's', 'ns', 'p', 'np', 'l', 'ge', 'le', 'g'];
const ZREG16 = ['ax', 'cx', 'dx', 'bx', 'sp', 'bp', 'si', 'di'];
void ZREG16;

// ---- 00-3F: ALU, segment push/pop, BCD ---------------------------------------------------------
for (let k = 0; k < 8; k++) {
  const b = k << 3, m = ALU_NAMES[k];
  const logic = k === 1 || k === 4 || k === 6;
  const fl = { w: ARITH, u: logic ? 'A' : '', lockable: k !== 7 };
  def(b + 0, m, ['Eb', 'Gb'], A.aluEG, fl);
  def(b + 1, m, ['Ev', 'Gv'], A.aluEG, fl);
  def(b + 2, m, ['Gb', 'Eb'], A.aluGE, { ...fl, lockable: false });
  def(b + 3, m, ['Gv', 'Ev'], A.aluGE, { ...fl, lockable: false });
  def(b + 4, m, ['AL', 'Ib'], A.aluAI, { ...fl, lockable: false });
  def(b + 5, m, ['eAX', 'Iz'], A.aluAI, { ...fl, lockable: false });
}
def(0x06, 'push', ['ES'], D.pushSeg);
def(0x07, 'pop', ['ES'], D.popSeg);
def(0x0e, 'push', ['CS'], D.pushSeg);
def(0x16, 'push', ['SS'], D.pushSeg);
def(0x17, 'pop', ['SS'], D.popSeg);
def(0x1e, 'push', ['DS'], D.pushSeg);
def(0x1f, 'pop', ['DS'], D.popSeg);
def(0x27, 'daa', [], A.daa, { w: ARITH, u: 'O' });
def(0x2f, 'das', [], A.das, { w: ARITH, u: 'O' });
def(0x37, 'aaa', [], A.aaa, { w: ARITH, u: 'OSZP' });
def(0x3f, 'aas', [], A.aas, { w: ARITH, u: 'OSZP' });

// ---- 40-7F -----------------------------------------------------------------------------------
for (let r = 0; r < 8; r++) {
  def(0x40 + r, 'inc', ['Zv'], A.incZ, { w: 'OSZAP' });
  def(0x48 + r, 'dec', ['Zv'], A.decZ, { w: 'OSZAP' });
  def(0x50 + r, 'push', ['Zv'], D.pushZ);
  def(0x58 + r, 'pop', ['Zv'], D.popZ);
}
def(0x60, 'pusha|pushad', [], D.pusha);
def(0x61, 'popa|popad', [], D.popa);
def(0x62, 'bound', ['Gv', 'Ma'], C.bound, { memOnly: true });
def(0x63, 'arpl', ['Ew', 'Gw'], S.arpl, { w: 'Z' });
def(0x68, 'push', ['Iz'], D.pushI);
def(0x69, 'imul', ['Gv', 'Ev', 'Iz'], A.imul2, { w: ARITH, u: 'SZAP' });
def(0x6a, 'push', ['sIb'], D.pushI);
def(0x6b, 'imul', ['Gv', 'Ev', 'sIb'], A.imul2, { w: ARITH, u: 'SZAP' });
def(0x6c, 'ins', ['Yb', 'DX'], D.ins);
def(0x6d, 'ins', ['Yv', 'DX'], D.ins);
def(0x6e, 'outs', ['DX', 'Xb'], D.outs);
def(0x6f, 'outs', ['DX', 'Xv'], D.outs);
for (let cc = 0; cc < 16; cc++) def(0x70 + cc, 'j' + CC[cc], ['Jb'], C.jcc);

// ---- 80-8F -----------------------------------------------------------------------------------
for (let k = 0; k < 8; k++) {
  const logic = k === 1 || k === 4 || k === 6;
  const fl = { w: ARITH, u: logic ? 'A' : '', lockable: k !== 7 };
  grp(0x80, k, ALU_NAMES[k], ['Eb', 'Ib'], A.aluEI, fl);
  grp(0x81, k, ALU_NAMES[k], ['Ev', 'Iz'], A.aluEI, fl);
  grp(0x82, k, ALU_NAMES[k], ['Eb', 'Ib'], A.aluEI, fl);
  grp(0x83, k, ALU_NAMES[k], ['Ev', 'sIb'], A.aluEI, fl);
}
def(0x84, 'test', ['Eb', 'Gb'], A.testEG, { w: ARITH, u: 'A' });
def(0x85, 'test', ['Ev', 'Gv'], A.testEG, { w: ARITH, u: 'A' });
def(0x86, 'xchg', ['Eb', 'Gb'], D.xchgEG, { lockable: true });
def(0x87, 'xchg', ['Ev', 'Gv'], D.xchgEG, { lockable: true });
def(0x88, 'mov', ['Eb', 'Gb'], D.movEG);
def(0x89, 'mov', ['Ev', 'Gv'], D.movEG);
def(0x8a, 'mov', ['Gb', 'Eb'], D.movGE);
def(0x8b, 'mov', ['Gv', 'Ev'], D.movGE);
def(0x8c, 'mov', ['Ew', 'Sw'], D.movESreg);
def(0x8d, 'lea', ['Gv', 'M'], D.lea, { memOnly: true });
def(0x8e, 'mov', ['Sw', 'Ew'], D.movSregE);
grp(0x8f, 0, 'pop', ['Ev'], D.popE);

// ---- 90-9F -----------------------------------------------------------------------------------
def(0x90, 'nop', [], D.nop);
for (let r = 1; r < 8; r++) def(0x90 + r, 'xchg', ['Zv', 'eAX'], D.xchgZ);
def(0x98, 'cbw|cwde', [], D.cbw);
def(0x99, 'cwd|cdq', [], D.cwd);
def(0x9a, 'call', ['Ap'], C.callFarImm);
def(0x9b, 'fwait', [], S.fwait);
def(0x9c, 'pushf|pushfd', [], C.pushf);
def(0x9d, 'popf|popfd', [], C.popf, { w: 'OSZAPCDIT' });
def(0x9e, 'sahf', [], D.sahf, { w: 'SZAPC' });
def(0x9f, 'lahf', [], D.lahf);

// ---- A0-AF -----------------------------------------------------------------------------------
def(0xa0, 'mov', ['AL', 'Ob'], D.movMoffs);
def(0xa1, 'mov', ['eAX', 'Ov'], D.movMoffs);
def(0xa2, 'mov', ['Ob', 'AL'], D.movMoffs);
def(0xa3, 'mov', ['Ov', 'eAX'], D.movMoffs);
def(0xa4, 'movs', ['Yb', 'Xb'], D.movs);
def(0xa5, 'movs', ['Yv', 'Xv'], D.movs);
def(0xa6, 'cmps', ['Xb', 'Yb'], D.cmps, { w: ARITH });
def(0xa7, 'cmps', ['Xv', 'Yv'], D.cmps, { w: ARITH });
def(0xa8, 'test', ['AL', 'Ib'], A.testAI, { w: ARITH, u: 'A' });
def(0xa9, 'test', ['eAX', 'Iz'], A.testAI, { w: ARITH, u: 'A' });
def(0xaa, 'stos', ['Yb', 'AL'], D.stos);
def(0xab, 'stos', ['Yv', 'eAX'], D.stos);
def(0xac, 'lods', ['AL', 'Xb'], D.lods);
def(0xad, 'lods', ['eAX', 'Xv'], D.lods);
def(0xae, 'scas', ['AL', 'Yb'], D.scas, { w: ARITH });
def(0xaf, 'scas', ['eAX', 'Yv'], D.scas, { w: ARITH });

// ---- B0-BF -----------------------------------------------------------------------------------
for (let r = 0; r < 8; r++) {
  def(0xb0 + r, 'mov', ['Zb', 'Ib'], D.movZI);
  def(0xb8 + r, 'mov', ['Zv', 'Iv'], D.movZI);
}

// ---- C0-CF -----------------------------------------------------------------------------------
const SHIFT_NAMES = ['rol', 'ror', 'rcl', 'rcr', 'shl', 'shr', 'sal', 'sar'];
for (let k = 0; k < 8; k++) {
  // Rotates write CF/OF only; shifts write OSZPC with AF undefined. OF is undefined for counts other than 1.
  const rot = k < 4;
  const wr = rot ? 'OC' : 'OSZAPC';
  const u1 = rot ? '' : 'A';
  const un = rot ? 'O' : 'OA';
  grp(0xc0, k, SHIFT_NAMES[k], ['Eb', 'Ib'], A.shiftE, { w: wr, u: un });
  grp(0xc1, k, SHIFT_NAMES[k], ['Ev', 'Ib'], A.shiftE, { w: wr, u: un });
  grp(0xd0, k, SHIFT_NAMES[k], ['Eb', '1'], A.shiftE, { w: wr, u: u1 });
  grp(0xd1, k, SHIFT_NAMES[k], ['Ev', '1'], A.shiftE, { w: wr, u: u1 });
  grp(0xd2, k, SHIFT_NAMES[k], ['Eb', 'CL'], A.shiftE, { w: wr, u: un });
  grp(0xd3, k, SHIFT_NAMES[k], ['Ev', 'CL'], A.shiftE, { w: wr, u: un });
}
def(0xc2, 'ret', ['Iw'], C.retNear);
def(0xc3, 'ret', [], C.retNear);
def(0xc4, 'les', ['Gv', 'Mp'], D.loadFarPtr, { memOnly: true });
def(0xc5, 'lds', ['Gv', 'Mp'], D.loadFarPtr, { memOnly: true });
grp(0xc6, 0, 'mov', ['Eb', 'Ib'], D.movEI);
grp(0xc7, 0, 'mov', ['Ev', 'Iz'], D.movEI);
def(0xc8, 'enter', ['Iw', 'Ib'], D.enter);
def(0xc9, 'leave', [], D.leave);
def(0xca, 'retf', ['Iw'], C.retFar);
def(0xcb, 'retf', [], C.retFar);
def(0xcc, 'int3', [], C.int3);
def(0xcd, 'int', ['Ib'], C.intN);
def(0xce, 'into', [], C.into);
def(0xcf, 'iret|iretd', [], C.iret, { w: 'OSZAPCDIT' });

// ---- D0-DF -----------------------------------------------------------------------------------
def(0xd4, 'aam', ['Ib'], A.aam, { w: ARITH, u: 'OAC' });
def(0xd5, 'aad', ['Ib'], A.aad, { w: ARITH, u: 'OAC' });
def(0xd6, 'salc', [], D.salc);
def(0xd7, 'xlat', ['Xlat'], D.xlat);
for (let k = 0; k < 8; k++) def(0xd8 + k, '(x87)', [], S.fpuEscape, { modrm: true, fpu: true });

// ---- E0-FF -----------------------------------------------------------------------------------
def(0xe0, 'loopne', ['Jb'], C.loop);
def(0xe1, 'loope', ['Jb'], C.loop);
def(0xe2, 'loop', ['Jb'], C.loop);
def(0xe3, 'jcxz|jecxz', ['Jb'], C.jcxz);
def(0xe4, 'in', ['AL', 'Ib'], D.inOp);
def(0xe5, 'in', ['eAX', 'Ib'], D.inOp);
def(0xe6, 'out', ['Ib', 'AL'], D.outOp);
def(0xe7, 'out', ['Ib', 'eAX'], D.outOp);
def(0xe8, 'call', ['Jz'], C.callRel);
def(0xe9, 'jmp', ['Jz'], C.jmpRel);
def(0xea, 'jmp', ['Ap'], C.jmpFarImm);
def(0xeb, 'jmp', ['Jb'], C.jmpRel);
def(0xec, 'in', ['AL', 'DX'], D.inOp);
def(0xed, 'in', ['eAX', 'DX'], D.inOp);
def(0xee, 'out', ['DX', 'AL'], D.outOp);
def(0xef, 'out', ['DX', 'eAX'], D.outOp);
def(0xf1, 'int1', [], C.int1);
def(0xf4, 'hlt', [], C.hlt);
def(0xf5, 'cmc', [], C.cmc, { w: 'C' });
grp(0xf6, 0, 'test', ['Eb', 'Ib'], A.testEI, { w: ARITH, u: 'A' });
grp(0xf6, 1, 'test', ['Eb', 'Ib'], A.testEI, { w: ARITH, u: 'A' });
grp(0xf6, 2, 'not', ['Eb'], A.notE, { lockable: true });
grp(0xf6, 3, 'neg', ['Eb'], A.negE, { w: ARITH, lockable: true });
grp(0xf6, 4, 'mul', ['Eb'], A.mulE, { w: ARITH, u: 'SZAP' });
grp(0xf6, 5, 'imul', ['Eb'], A.imul1, { w: ARITH, u: 'SZAP' });
grp(0xf6, 6, 'div', ['Eb'], A.divE, { w: ARITH, u: ARITH });
grp(0xf6, 7, 'idiv', ['Eb'], A.idivE, { w: ARITH, u: ARITH });
grp(0xf7, 0, 'test', ['Ev', 'Iz'], A.testEI, { w: ARITH, u: 'A' });
grp(0xf7, 1, 'test', ['Ev', 'Iz'], A.testEI, { w: ARITH, u: 'A' });
grp(0xf7, 2, 'not', ['Ev'], A.notE, { lockable: true });
grp(0xf7, 3, 'neg', ['Ev'], A.negE, { w: ARITH, lockable: true });
grp(0xf7, 4, 'mul', ['Ev'], A.mulE, { w: ARITH, u: 'SZAP' });
grp(0xf7, 5, 'imul', ['Ev'], A.imul1, { w: ARITH, u: 'SZAP' });
grp(0xf7, 6, 'div', ['Ev'], A.divE, { w: ARITH, u: ARITH });
grp(0xf7, 7, 'idiv', ['Ev'], A.idivE, { w: ARITH, u: ARITH });
def(0xf8, 'clc', [], C.clc, { w: 'C' });
def(0xf9, 'stc', [], C.stc, { w: 'C' });
def(0xfa, 'cli', [], C.cli, { w: 'I' });
def(0xfb, 'sti', [], C.sti, { w: 'I' });
def(0xfc, 'cld', [], C.cld, { w: 'D' });
def(0xfd, 'std', [], C.std, { w: 'D' });
grp(0xfe, 0, 'inc', ['Eb'], A.incE, { w: 'OSZAP', lockable: true });
grp(0xfe, 1, 'dec', ['Eb'], A.decE, { w: 'OSZAP', lockable: true });
grp(0xff, 0, 'inc', ['Ev'], A.incE, { w: 'OSZAP', lockable: true });
grp(0xff, 1, 'dec', ['Ev'], A.decE, { w: 'OSZAP', lockable: true });
grp(0xff, 2, 'call', ['Ev'], C.callE);
grp(0xff, 3, 'call', ['Mp'], C.farIndirect, { memOnly: true });
grp(0xff, 4, 'jmp', ['Ev'], C.jmpE);
grp(0xff, 5, 'jmp', ['Mp'], C.farIndirect, { memOnly: true });
grp(0xff, 6, 'push', ['Ev'], D.pushE);

// ---- 0F xx -----------------------------------------------------------------------------------
const GRP6 = ['sldt', 'str', 'lldt', 'ltr', 'verr', 'verw'];
for (let k = 0; k < 6; k++) grp(0x100, k, GRP6[k], ['Ew'], S.grp6, k >= 4 ? { w: 'Z' } : {});
grp(0x101, 0, 'sgdt', ['M'], S.grp7, { memOnly: true });
grp(0x101, 1, 'sidt', ['M'], S.grp7, { memOnly: true });
grp(0x101, 2, 'lgdt', ['M'], S.grp7, { memOnly: true });
grp(0x101, 3, 'lidt', ['M'], S.grp7, { memOnly: true });
grp(0x101, 4, 'smsw', ['Ew'], S.grp7);
grp(0x101, 6, 'lmsw', ['Ew'], S.grp7);
grp(0x101, 7, 'invlpg', ['M'], S.grp7, { memOnly: true });
def(0x102, 'lar', ['Gv', 'Ew'], S.larLsl, { w: 'Z' });
def(0x103, 'lsl', ['Gv', 'Ew'], S.larLsl, { w: 'Z' });
def(0x106, 'clts', [], S.clts);
def(0x108, 'invd', [], S.invd);
def(0x109, 'wbinvd', [], S.invd);
def(0x10b, 'ud2', [], S.ud2);
// 0F 19-0F 1F: the reserved hint-NOP space P6-family CPUs execute as NOP Ev (SDM Vol.2B NOP);
// ENDBR32 (F3 0F 1E FB) lands here too.
for (let op = 0x119; op <= 0x11f; op++) def(op, 'nop', ['Ev'], D.nop);
def(0x120, 'mov', ['Rd', 'Cd'], S.movCr, { regOnly: true });
def(0x121, 'mov', ['Rd', 'Dd'], S.movDr, { regOnly: true });
def(0x122, 'mov', ['Cd', 'Rd'], S.movCr, { regOnly: true });
def(0x123, 'mov', ['Dd', 'Rd'], S.movDr, { regOnly: true });
def(0x130, 'wrmsr', [], S.wrmsr);
def(0x131, 'rdtsc', [], S.rdtsc);
def(0x132, 'rdmsr', [], S.rdmsr);
def(0x133, 'rdpmc', [], S.rdpmc);
def(0x134, 'sysenter', [], S.sysenter);
def(0x135, 'sysexit', [], S.sysexit);
for (let cc = 0; cc < 16; cc++) {
  def(0x140 + cc, 'cmov' + CC[cc], ['Gv', 'Ev'], D.cmovcc);
  def(0x180 + cc, 'j' + CC[cc], ['Jz'], C.jcc);
  def(0x190 + cc, 'set' + CC[cc], ['Eb'], D.setcc);
}
def(0x1a0, 'push', ['FS'], D.pushSeg);
def(0x1a1, 'pop', ['FS'], D.popSeg);
def(0x1a2, 'cpuid', [], S.cpuidOp);
def(0x1a3, 'bt', ['Ev', 'Gv'], A.btOp, { w: 'C', u: 'OSAP' });
def(0x1a4, 'shld', ['Ev', 'Gv', 'Ib'], A.shldrd, { w: ARITH, u: 'OA' });
def(0x1a5, 'shld', ['Ev', 'Gv', 'CL'], A.shldrd, { w: ARITH, u: 'OA' });
grp(0x1ae, 0, 'fxsave', ['M'], S.fxsaveRstor, { memOnly: true });
grp(0x1ae, 1, 'fxrstor', ['M'], S.fxsaveRstor, { memOnly: true });
def(0x1a8, 'push', ['GS'], D.pushSeg);
def(0x1a9, 'pop', ['GS'], D.popSeg);
def(0x1ab, 'bts', ['Ev', 'Gv'], A.btOp, { w: 'C', u: 'OSAP', lockable: true });
def(0x1ac, 'shrd', ['Ev', 'Gv', 'Ib'], A.shldrd, { w: ARITH, u: 'OA' });
def(0x1ad, 'shrd', ['Ev', 'Gv', 'CL'], A.shldrd, { w: ARITH, u: 'OA' });
def(0x1af, 'imul', ['Gv', 'Ev'], A.imul2, { w: ARITH, u: 'SZAP' });
def(0x1b0, 'cmpxchg', ['Eb', 'Gb'], D.cmpxchg, { w: ARITH, lockable: true });
def(0x1b1, 'cmpxchg', ['Ev', 'Gv'], D.cmpxchg, { w: ARITH, lockable: true });
def(0x1b2, 'lss', ['Gv', 'Mp'], D.loadFarPtr, { memOnly: true });
def(0x1b3, 'btr', ['Ev', 'Gv'], A.btOp, { w: 'C', u: 'OSAP', lockable: true });
def(0x1b4, 'lfs', ['Gv', 'Mp'], D.loadFarPtr, { memOnly: true });
def(0x1b5, 'lgs', ['Gv', 'Mp'], D.loadFarPtr, { memOnly: true });
def(0x1b6, 'movzx', ['Gv', 'Eb'], D.movzx);
def(0x1b7, 'movzx', ['Gv', 'Ew'], D.movzx);
grp(0x1ba, 4, 'bt', ['Ev', 'Ib'], A.btOp, { w: 'C', u: 'OSAP' });
grp(0x1ba, 5, 'bts', ['Ev', 'Ib'], A.btOp, { w: 'C', u: 'OSAP', lockable: true });
grp(0x1ba, 6, 'btr', ['Ev', 'Ib'], A.btOp, { w: 'C', u: 'OSAP', lockable: true });
grp(0x1ba, 7, 'btc', ['Ev', 'Ib'], A.btOp, { w: 'C', u: 'OSAP', lockable: true });
def(0x1bb, 'btc', ['Ev', 'Gv'], A.btOp, { w: 'C', u: 'OSAP', lockable: true });
def(0x1bc, 'bsf', ['Gv', 'Ev'], A.bsfr, { w: 'Z', u: 'OSAPC' });
def(0x1bd, 'bsr', ['Gv', 'Ev'], A.bsfr, { w: 'Z', u: 'OSAPC' });
def(0x1be, 'movsx', ['Gv', 'Eb'], D.movsx);
def(0x1bf, 'movsx', ['Gv', 'Ew'], D.movsx);
def(0x1c0, 'xadd', ['Eb', 'Gb'], D.xadd, { w: ARITH, lockable: true });
def(0x1c1, 'xadd', ['Ev', 'Gv'], D.xadd, { w: ARITH, lockable: true });
grp(0x1c7, 1, 'cmpxchg8b', ['Mq'], D.cmpxchg8b, { w: 'Z', memOnly: true, lockable: true });
for (let r = 0; r < 8; r++) def(0x1c8 + r, 'bswap', ['Zd'], D.bswap);

const FIXED_REGS = new Set(['DX', 'CL', 'ES', 'CS', 'SS', 'DS', 'FS', 'GS']);
/** Operand kinds that imply a ModRM byte. */
export function needsModrm(d: OpDef): boolean {
  if (d.grp !== undefined || d.modrm) return true;
  // Fixed register operands (DX, CL, ES, CS, SS, DS, FS, GS) start with the same letters but have no ModRM.
  return d.args.some((a) => /^[EGMSCDR]/.test(a) && !FIXED_REGS.has(a));
}

/** Flag letters to an EFLAGS mask. */
export function flagMask(letters: string | undefined): number {
  const bits: Record<string, number> = { O: 0x800, D: 0x400, I: 0x200, T: 0x100, S: 0x80, Z: 0x40, A: 0x10, P: 0x4, C: 0x1 };
  let m = 0;
  for (const ch of letters ?? '') m |= bits[ch] ?? 0;
  return m;
}
