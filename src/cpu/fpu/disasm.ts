// x87 (D8..DF) instruction text in the Intel syntax of GNU objdump -M intel.
//
// The caller decodes the ModRM/SIB/displacement and passes the bracket expression
// exactly as objdump prints it after "PTR " (e.g. "[ebx+0x4]", "fs:[eax]",
// "ds:0x1234"); this module supplies the mnemonic and the size keyword. The
// result is "mnemonic operands" with one space; column padding is the caller's.
// Spellings were checked against `objdump -D -b binary -m i386 -M intel`
// (binutils 2.40) by test/fpu/disasm.test.ts.

const ARITH = ['fadd', 'fmul', 'fcom', 'fcomp', 'fsub', 'fsubr', 'fdiv', 'fdivr'];
const IARITH = ['fiadd', 'fimul', 'ficom', 'ficomp', 'fisub', 'fisubr', 'fidiv', 'fidivr'];

type Sz = 'DWORD' | 'QWORD' | 'TBYTE' | 'WORD' | '';
/** Memory forms: [mnemonic, size keyword] per op (D8..DF) and reg field; null = undefined. */
const MEM: ([string, Sz] | null)[][] = [
  ARITH.map((m): [string, Sz] => [m, 'DWORD']),
  [['fld', 'DWORD'], null, ['fst', 'DWORD'], ['fstp', 'DWORD'], ['fldenv', ''], ['fldcw', 'WORD'], ['fnstenv', ''], ['fnstcw', 'WORD']],
  IARITH.map((m): [string, Sz] => [m, 'DWORD']),
  [['fild', 'DWORD'], ['fisttp', 'DWORD'], ['fist', 'DWORD'], ['fistp', 'DWORD'], null, ['fld', 'TBYTE'], null, ['fstp', 'TBYTE']],
  ARITH.map((m): [string, Sz] => [m, 'QWORD']),
  [['fld', 'QWORD'], ['fisttp', 'QWORD'], ['fst', 'QWORD'], ['fstp', 'QWORD'], ['frstor', ''], null, ['fnsave', ''], ['fnstsw', 'WORD']],
  IARITH.map((m): [string, Sz] => [m, 'WORD']),
  [['fild', 'WORD'], ['fisttp', 'WORD'], ['fist', 'WORD'], ['fistp', 'WORD'], ['fbld', 'TBYTE'], ['fild', 'QWORD'], ['fbstp', 'TBYTE'], ['fistp', 'QWORD']],
];

/** D9 E0..FF, DB E0..E7 (no operands). */
const D9_E0 = ['fchs', 'fabs', null, null, 'ftst', 'fxam', null, null,
  'fld1', 'fldl2t', 'fldl2e', 'fldpi', 'fldlg2', 'fldln2', 'fldz', null,
  'f2xm1', 'fyl2x', 'fptan', 'fpatan', 'fxtract', 'fprem1', 'fdecstp', 'fincstp',
  'fprem', 'fyl2xp1', 'fsqrt', 'fsincos', 'frndint', 'fscale', 'fsin', 'fcos'];
const DB_E0 = ['fneni(8087 only)', 'fndisi(8087 only)', 'fnclex', 'fninit', 'fnsetpm(287 only)', 'frstpm(287 only)', null, null];

/** Spellings objdump uses when a WAIT (9B) prefix is folded into the no-wait form. */
const WAIT_FORMS: Record<string, string> = {
  fnstenv: 'fstenv', fnstcw: 'fstcw', fnsave: 'fsave', fnstsw: 'fstsw', fnclex: 'fclex', fninit: 'finit',
};

export interface FpuDisasmOptions {
  /** 16-bit operand size in 32-bit code (66 prefix): objdump adds a "w" to FLDENV/FNSTENV/FRSTOR/FNSAVE. */
  osize16?: boolean;
  /** A preceding 9B (FWAIT) byte was folded in: FNINIT prints as FINIT, etc. */
  wait?: boolean;
}

const st = (i: number): string => `st(${i})`;

/**
 * Intel-syntax text of one x87 instruction. `mem` is the bracket expression for
 * memory forms (ignored for register forms, where it may be null).
 */
export function fpuMnemonic(op: number, modrm: number, mem: string | null, opts: FpuDisasmOptions = {}): string {
  const reg = (modrm >> 3) & 7, rm = modrm & 7;
  const x = op - 0xd8;
  const wait = (m: string): string => (opts.wait && WAIT_FORMS[m]) || m;
  if (modrm < 0xc0) {
    const e = MEM[x]?.[reg];
    const where = mem ?? '';
    if (!e) return `(bad) ${where}`;
    const sz = e[1];
    let m = wait(e[0]);
    if (sz === '' && opts.osize16) m += 'w';
    return sz === '' ? `${m} ${where}` : `${m} ${sz} PTR ${where}`;
  }
  switch (op) {
    case 0xd8:
      if (reg === 2 || reg === 3) return `${ARITH[reg]} ${st(rm)}`;
      return `${ARITH[reg]} st,${st(rm)}`;
    case 0xd9:
      switch (reg) {
        case 0: return `fld ${st(rm)}`;
        case 1: return `fxch ${st(rm)}`;
        case 2: return modrm === 0xd0 ? 'fnop' : '(bad)';
        case 3: return '(bad)';
        default: return D9_E0[modrm - 0xe0] ?? '(bad)';
      }
    case 0xda:
      if (reg < 4) return `${['fcmovb', 'fcmove', 'fcmovbe', 'fcmovu'][reg]} st,${st(rm)}`;
      return modrm === 0xe9 ? 'fucompp' : '(bad)';
    case 0xdb:
      if (reg < 4) return `${['fcmovnb', 'fcmovne', 'fcmovnbe', 'fcmovnu'][reg]} st,${st(rm)}`;
      if (reg === 4) { const m = DB_E0[rm]; return m ? wait(m) : '(bad)'; }
      if (reg === 5) return `fucomi st,${st(rm)}`;
      if (reg === 6) return `fcomi st,${st(rm)}`;
      return '(bad)';
    case 0xdc:
      // DC D0-DF (FCOM2/FCOMP3 aliases) are not decoded by objdump.
      if (reg === 2 || reg === 3) return '(bad)';
      return `${['fadd', 'fmul', '', '', 'fsubr', 'fsub', 'fdivr', 'fdiv'][reg]} ${st(rm)},st`;
    case 0xdd:
      switch (reg) {
        case 0: return `ffree ${st(rm)}`;
        case 2: return `fst ${st(rm)}`;
        case 3: return `fstp ${st(rm)}`;
        case 4: return `fucom ${st(rm)}`;
        case 5: return `fucomp ${st(rm)}`;
        default: return '(bad)';
      }
    case 0xde:
      if (reg === 2) return '(bad)';
      if (reg === 3) return modrm === 0xd9 ? 'fcompp' : '(bad)';
      return `${['faddp', 'fmulp', '', '', 'fsubrp', 'fsubp', 'fdivrp', 'fdivp'][reg]} ${st(rm)},st`;
    default: // 0xdf
      switch (reg) {
        case 0: return `ffreep ${st(rm)}`;
        case 4: return modrm === 0xe0 ? wait('fnstsw') + ' ax' : '(bad)';
        case 5: return `fucomip st,${st(rm)}`;
        case 6: return `fcomip st,${st(rm)}`;
        default: return '(bad)';
      }
  }
}
