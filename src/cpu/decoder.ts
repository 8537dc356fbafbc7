// The decoder: prefixes, opcode, ModRM/SIB, displacement and immediates, all driven
// by the instruction table (src/cpu/table.ts). Decoding never depends on register
// contents, so decoded instructions can be cached by physical address.
import type { Cpu } from './cpu';
import { Insn, REP_NONE, REP_NZ, REP_Z } from './insn';
import { TABLE, needsModrm, type OpDef } from './table';
import { DS, EBP, EBX, EDI, ESI, ESP, GP, REG_ZERO, SS, UD } from './consts';

/** Per-opcode decode information, derived once from the table. */
interface Entry {
  def: OpDef | null;
  group: (OpDef | null)[] | null;
  modrm: boolean;
}

const ENTRIES: Entry[] = [];
for (let c = 0; c < 0x200; c++) ENTRIES.push({ def: null, group: null, modrm: false });
for (const d of TABLE) {
  const e = ENTRIES[d.code];
  if (d.grp !== undefined) {
    if (!e.group) e.group = new Array<OpDef | null>(8).fill(null);
    e.group[d.grp] = d;
    e.modrm = true;
  } else {
    e.def = d;
    e.modrm = needsModrm(d);
  }
}

/** Looks up the table entry for opcode `code` and ModRM.reg. */
export function lookup(code: number, reg: number): OpDef | null {
  const e = ENTRIES[code];
  return e.group ? e.group[reg] : e.def;
}
export function hasModrm(code: number): boolean { return ENTRIES[code].modrm; }

const SIZE1 = new Set(['Eb', 'Gb', 'AL', 'Ob', 'Zb', 'Yb', 'Xb', 'Xlat']);
const SIZE2 = new Set(['Ew', 'Gw', 'Sw']);
const SIZE4 = new Set(['Ed', 'Rd', 'Cd', 'Dd', 'Zd', 'Mq']);
const SKIP = new Set(['DX', '1', 'CL', 'Ib', 'Iw']);

/** Main operand size in bytes for a definition, given the effective operand size. */
export function operandSize(d: OpDef, osize: number): 1 | 2 | 4 {
  for (const a of d.args) {
    if (SIZE1.has(a)) return 1;
    if (SIZE2.has(a)) return 2;
    if (SIZE4.has(a)) return 4;
    if (SKIP.has(a)) continue;
    break;
  }
  return osize === 32 ? 4 : 2;
}

// 16-bit ModRM r/m base/index registers (SDM Vol.2A Table 2-1).
const RM16_BASE = [EBX, EBX, EBP, EBP, ESI, EDI, EBP, EBX];
const RM16_INDEX = [ESI, EDI, ESI, EDI, REG_ZERO, REG_ZERO, REG_ZERO, REG_ZERO];

/** Thrown-away definition used for undefined opcodes: decodes as #UD. */
function raiseUD(cpu: Cpu): void { cpu.raise(UD); }

/**
 * Decodes the instruction at CS:`eip` into `i`. Raises #GP(0) for instructions
 * longer than 15 bytes and lets fetch faults (#GP for the CS limit, #PF) through.
 * Undefined opcodes and invalid LOCK prefixes decode into an instruction that
 * raises #UD when executed, so the fault is taken at execution time, as on hardware.
 */
export function decode(cpu: Cpu, i: Insn, eip: number): void {
  let n = 0;
  const default32 = cpu.code32;
  let osize: 16 | 32 = default32 ? 32 : 16;
  let asize: 16 | 32 = default32 ? 32 : 16;
  let rep = REP_NONE, lock = false, seg = -1;
  let b: number;
  const fetch = (): number => {
    if (n >= 15) cpu.raise(GP, 0);
    return cpu.fetchCode8(eip + n++);
  };
  for (;;) {
    b = fetch();
    if (b === 0x66) osize = default32 ? 16 : 32;
    else if (b === 0x67) asize = default32 ? 16 : 32;
    else if (b === 0xf0) lock = true;
    else if (b === 0xf2) rep = REP_NZ;
    else if (b === 0xf3) rep = REP_Z;
    else if (b === 0x26) seg = 0;
    else if (b === 0x2e) seg = 1;
    else if (b === 0x36) seg = 2;
    else if (b === 0x3e) seg = 3;
    else if (b === 0x64) seg = 4;
    else if (b === 0x65) seg = 5;
    else break;
  }
  i.nprefix = n - 1;
  let code = b;
  if (b === 0x0f) code = 0x100 | fetch();
  i.op = code;
  i.osize = osize;
  i.asize = asize;
  i.rep = rep;
  i.lock = lock;
  i.segOverride = seg;
  i.mode = default32 ? 1 : 0;
  i.modrm = i.mod = i.reg = i.rm = 0;
  i.base = REG_ZERO;
  i.index = REG_ZERO;
  i.scale = 0;
  i.disp = 0;
  i.imm = 0;
  i.imm2 = 0;
  i.seg = seg >= 0 ? seg : DS;

  const e = ENTRIES[code];
  if (e.modrm) {
    const m = fetch();
    i.modrm = m;
    i.mod = m >> 6;
    i.reg = (m >> 3) & 7;
    i.rm = m & 7;
  }
  const d = e.group ? e.group[i.reg] : e.def;
  if (d && d.regOnly) i.mod = 3;
  if (e.modrm && i.mod !== 3) decodeEA(cpu, i, fetch, seg);

  if (!d) {
    i.def = null;
    i.size = osize === 32 ? 4 : 2;
    i.exec = raiseUD;
    i.len = n;
    return;
  }
  i.def = d;
  i.size = operandSize(d, osize);
  // Immediates.
  let immCount = 0;
  for (const a of d.args) {
    let v: number;
    switch (a) {
      case 'Ib': v = fetch(); break;
      case 'sIb': case 'Jb': v = (fetch() << 24) >> 24; break;
      case 'Iw': v = fetch() | (fetch() << 8); break;
      case 'Iz': case 'Iv': v = osize === 32 ? imm32(fetch) : fetch() | (fetch() << 8); break;
      case 'Jz': v = osize === 32 ? imm32(fetch) | 0 : ((fetch() | (fetch() << 8)) << 16) >> 16; break;
      case 'Ob': case 'Ov': v = asize === 32 ? imm32(fetch) : fetch() | (fetch() << 8); break;
      case 'Ap': {
        i.imm = osize === 32 ? imm32(fetch) : fetch() | (fetch() << 8);
        i.imm2 = fetch() | (fetch() << 8);
        continue;
      }
      default: continue;
    }
    if (immCount++ === 0) i.imm = v; else i.imm2 = v;
  }
  i.len = n;
  if ((lock && (!d.lockable || i.mod === 3)) || (d.memOnly && i.mod === 3)) {
    i.exec = raiseUD;
    return;
  }
  i.exec = d.exec;
}

function imm32(fetch: () => number): number {
  return (fetch() | (fetch() << 8) | (fetch() << 16) | (fetch() << 24)) >>> 0;
}

/** ModRM memory operand: base, index, scale, displacement and default segment (SDM Vol.2A §2.1.5). */
function decodeEA(cpu: Cpu, i: Insn, fetch: () => number, seg: number): void {
  void cpu;
  let defSeg = DS;
  if (i.asize === 16) {
    if (i.mod === 0 && i.rm === 6) {
      i.disp = fetch() | (fetch() << 8);
    } else {
      i.base = RM16_BASE[i.rm];
      i.index = RM16_INDEX[i.rm];
      if (i.rm === 2 || i.rm === 3 || i.rm === 6) defSeg = SS;
      if (i.mod === 1) i.disp = (fetch() << 24) >> 24;
      else if (i.mod === 2) i.disp = fetch() | (fetch() << 8);
    }
  } else {
    let base = i.rm;
    if (i.rm === 4) {
      const sib = fetch();
      i.scale = sib >> 6;
      const idx = (sib >> 3) & 7;
      i.index = idx === 4 ? REG_ZERO : idx;
      base = sib & 7;
      if (base === 5 && i.mod === 0) {
        i.base = REG_ZERO;
        i.disp = imm32(fetch) | 0;
      } else {
        i.base = base;
        if (base === ESP || base === EBP) defSeg = SS;
      }
    } else if (i.rm === 5 && i.mod === 0) {
      i.base = REG_ZERO;
      i.disp = imm32(fetch) | 0;
    } else {
      i.base = base;
      if (base === EBP) defSeg = SS;
    }
    if (i.mod === 1) i.disp = (fetch() << 24) >> 24;
    else if (i.mod === 2) i.disp = imm32(fetch) | 0;
  }
  i.seg = seg >= 0 ? seg : defSeg;
}
