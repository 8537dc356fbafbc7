// The TUI's panels as pure functions of the debugger state: each returns the lines of
// one box (styled with chalk). Nothing here reads the terminal or changes the guest.
import { style } from './style';
import { AR_DB, AR_DPL, AR_G, AR_P, AR_S, CS, SS } from '../../cpu/consts';
import type { Debugger, RegisterSnapshot } from '../debugger';
import { describeWalk } from '../../mmu/dump';
import { EFLAGS_BITS, annotateTarget, insnAt, formatAddress } from '../trace';
import type { SymbolTable } from '../symbols';

const hex = (v: number, n = 8): string => (v >>> 0).toString(16).padStart(n, '0');

/** Marks a changed value: inverse video and a trailing '*' (visible without colour). */
export function changed(text: string, isChanged: boolean): string {
  return isChanged ? style.inverse(text) + '*' : text + ' ';
}

export function registersPanel(r: RegisterSnapshot, prev: RegisterSnapshot | null): string[] {
  const cell = (name: keyof RegisterSnapshot, label: string): string =>
    `${label} ${changed(hex(r[name]), prev !== null && prev[name] !== r[name])}`;
  const row = (a: keyof RegisterSnapshot, b: keyof RegisterSnapshot): string => ` ${cell(a, a.toUpperCase().padEnd(3))}   ${cell(b, b.toUpperCase().padEnd(3))}`;
  return [
    row('eax', 'ebx'), row('ecx', 'edx'), row('esi', 'edi'), row('ebp', 'esp'),
    ` ${cell('eip', 'EIP')}   ${cell('eflags', 'EFL')}`,
    row('cr0', 'cr2'), row('cr3', 'cr4'),
  ];
}

export function flagsPanel(dbg: Debugger, r: RegisterSnapshot, prev: RegisterSnapshot | null): string[] {
  const cells = EFLAGS_BITS.slice(0, 9).map(([n, b]) => {
    const on = (r.eflags >>> b) & 1;
    const was = prev ? (prev.eflags >>> b) & 1 : on;
    const t = on ? style.bold(n) : style.dim(n.toLowerCase());
    return on !== was ? style.inverse(t) + '*' : t + ' ';
  });
  const cpu = dbg.cpu;
  const mode = cpu.protectedMode ? (cpu.paging ? 'protected+paging' : 'protected') : dbg.v86 ? 'virtual-8086' : 'real';
  const extra = EFLAGS_BITS.slice(9).filter(([, b]) => (r.eflags >>> b) & 1).map(([n]) => n).join(' ');
  return [
    ' ' + cells.join(' '),
    ` IOPL=${(r.eflags >>> 12) & 3}${extra ? ' ' + extra : ''}  CPL=${cpu.cpl}`,
    ` ${mode}, ${cpu.code32 ? '32' : '16'}-bit code${cpu.halted ? style.yellow(', HALTED') : ''}`,
  ];
}

/** "code RX", "data RW", "data RO, expand-down", or a system type's name. */
export function segmentType(ar: number): string {
  const t = ar & 0xf;
  if (!(ar & AR_S)) {
    const sys: Record<number, string> = { 1: 'TSS16 avail', 2: 'LDT', 3: 'TSS16 busy', 9: 'TSS32 avail', 11: 'TSS32 busy' };
    return sys[t] ?? `system ${t}`;
  }
  if (t & 8) return `code ${t & 2 ? 'RX' : 'X'}${t & 4 ? ' conf' : ''}`;
  return `data ${t & 2 ? 'RW' : 'RO'}${t & 4 ? ' down' : ''}`;
}

export function segmentsPanel(dbg: Debugger, prev: RegisterSnapshot | null, r: RegisterSnapshot): string[] {
  const cpu = dbg.cpu;
  const names: [keyof RegisterSnapshot, number][] = [['cs', 1], ['ss', 2], ['ds', 3], ['es', 0], ['fs', 4], ['gs', 5]];
  const lines = [style.dim('    sel   base     limit    type')];
  for (const [n, s] of names) {
    const ar = cpu.segAr[s];
    const attrs = cpu.protectedMode
      ? `${segmentType(ar)} DPL${(ar & AR_DPL) >>> 5}${ar & AR_P ? '' : ' NP'}${s === CS || s === SS ? (ar & AR_DB ? ' 32' : ' 16') : ''}${ar & AR_G ? ' G' : ''}`
      : dbg.v86 ? 'v86' : 'real mode';
    lines.push(` ${n.toUpperCase()} ${changed(hex(r[n], 4), prev !== null && prev[n] !== r[n])} ${hex(cpu.segBase[s])} ${hex(cpu.segLimit[s])} ${attrs}`);
  }
  lines.push(` GDTR ${hex(cpu.gdtr.base)}/${hex(cpu.gdtr.limit, 4)} IDTR ${hex(cpu.idtr.base)}/${hex(cpu.idtr.limit, 4)}`);
  lines.push(` TR ${hex(cpu.trSel, 4)}@${hex(cpu.tr.base)}  LDTR ${hex(cpu.ldtrSel, 4)}@${hex(cpu.ldtr.base)}`);
  return lines;
}

export function stackPanel(dbg: Debugger, rows: number, symbols: SymbolTable | null): string[] {
  const cpu = dbg.cpu;
  const width = cpu.stack32 ? 4 : 2;
  const sp = cpu.stack32 ? cpu.r32[4] >>> 0 : cpu.r16[8];
  const out: string[] = [];
  for (let k = 0; k < rows; k++) {
    const off = cpu.stack32 ? (sp + k * width) >>> 0 : (sp + k * width) & 0xffff;
    const lin = (cpu.segBase[SS] + off) >>> 0;
    const b = dbg.readLinear(lin, width);
    const v = b.some((x) => x === null) ? null : b.reduce<number>((acc, x, i) => acc + (x ?? 0) * 2 ** (8 * i), 0);
    const sym = v !== null && symbols ? symbols.describe(v) : '';
    const label = k === 0 ? style.bold(cpu.stack32 ? 'ESP' : 'SP ') : `+${(k * width).toString(16)}`.padStart(3);
    out.push(` ${label} ${hex(off, cpu.stack32 ? 8 : 4)}: ${v === null ? '?'.repeat(width * 2) : hex(v, width * 2)}${sym ? `  <${sym}>` : ''}`);
  }
  return out;
}

export type MemUnit = 'b' | 'h' | 'w';

/** Bytes per memory-panel line that fit in `width` columns (16 or 8). */
export function memoryBytesPerLine(width: number): 8 | 16 {
  return width >= 78 ? 16 : 8;
}

/** Hex dump of `rows` lines of `perLine` bytes at linear `addr`, in bytes, halfwords or words, with ASCII. */
export function memoryPanel(dbg: Debugger, addr: number, unit: MemUnit, rows: number, perLine: 8 | 16 = 16): string[] {
  const out: string[] = [];
  const size = unit === 'b' ? 1 : unit === 'h' ? 2 : 4;
  for (let k = 0; k < rows; k++) {
    const a = (addr + k * perLine) >>> 0;
    const b = dbg.readLinear(a, perLine);
    const cells: string[] = [];
    for (let i = 0; i < perLine; i += size) {
      const part = b.slice(i, i + size);
      cells.push(part.some((x) => x === null) ? '??'.repeat(size) : hex(part.reduce<number>((acc, x, j) => acc + (x ?? 0) * 2 ** (8 * j), 0), size * 2));
    }
    const ascii = b.map((x) => (x === null ? ' ' : x >= 0x20 && x < 0x7f ? String.fromCharCode(x) : '.')).join('');
    out.push(` ${hex(a)}: ${cells.join(' ')}  ${style.dim(ascii)}`);
  }
  return out;
}

export function walkPanel(dbg: Debugger, lin: number): string[] {
  const cpu = dbg.cpu;
  if (!cpu.paging) {
    const phys = cpu.peekTranslate(lin);
    return [` linear ${hex(lin)}: paging is off (CR0.PG=0)`, ` => physical ${phys === null ? '?' : hex(phys)}${cpu.a20Mask !== 0xffffffff ? ' (A20 masked)' : ''}`];
  }
  return describeWalk(cpu.mem, cpu.cr3, cpu.cr4, cpu.efer, lin).map((l) => ` ${l}`);
}

export interface DisasmView {
  lines: string[];
  /** Linear address of each line's instruction (null for label lines). */
  addrs: (number | null)[];
}

/**
 * Finds where to start disassembling so that the decode lands on `target` with up to
 * `before` instructions above it. x86 cannot be decoded backwards: first try the
 * addresses known to be instruction starts (where EIP has been), then starts from
 * near to far, keeping the one that synchronises on the target with the most
 * instructions (at most `before`).
 */
export function findDisasmStart(dbg: Debugger, target: number, before: number, known: readonly number[] = [], symbols: SymbolTable | null = null): number {
  // Never start above the symbol the target is in: its start is an instruction boundary.
  const sym = symbols?.lookup(target);
  const floor = sym ? (target - sym.offset) >>> 0 : -1;
  const countTo = (start: number): number => {
    let a = start, n = 0;
    while (((target - a) | 0) > 0 && n <= before * 4) {
      const i = insnAt(dbg, a, (a - dbg.cpu.segBase[CS]) >>> 0);
      if (i.bytes.length === 0) return -1;
      a = (a + i.bytes.length) >>> 0;
      n++;
    }
    return a === target ? n : -1;
  };
  // Known starts: the nearest one that gives `before` instructions or fewer, then widen.
  let best = target, bestN = 0;
  for (const k of known) {
    const back = (target - k) | 0;
    if (back <= 0 || back > 15 * before * 2 || (floor >= 0 && k < floor)) continue;
    const n = countTo(k);
    if (n > bestN && n <= before) { best = k; bestN = n; }
  }
  if (bestN >= before) return best;
  for (let back = 1; back <= before * 8; back++) {
    const start = (target - back) >>> 0;
    if (floor >= 0 && start < floor) break;
    const n = countTo(start);
    if (n > bestN && n <= before) { best = start; bestN = n; }
    if (bestN >= before) break;
  }
  return best;
}

/** The disassembly panel: `rows` lines from linear `start`; EIP, cursor and breakpoints marked. */
export function disasmPanel(dbg: Debugger, start: number, rows: number, cursor: number, symbols: SymbolTable | null): DisasmView {
  const cpu = dbg.cpu;
  const eipLin = dbg.linearOfEip();
  const lines: string[] = [], addrs: (number | null)[] = [];
  let a = start >>> 0;
  while (lines.length < rows) {
    const sym = symbols?.lookup(a);
    if (sym && sym.offset === 0) { lines.push(style.yellow(`<${sym.name}>:`)); addrs.push(null); if (lines.length >= rows) break; }
    const off = (a - cpu.segBase[CS]) >>> 0;
    const i = insnAt(dbg, a, cpu.code32 ? off : off & 0xffff);
    const bp = dbg.hasBreakpoint(a);
    const mark = (bp ? style.red('●') : ' ') + (a === eipLin ? style.green('=>') : a === cursor ? '> ' : '  ');
    const bytes = i.bytes.slice(0, 7).map((b) => hex(b, 2)).join(' ') + (i.bytes.length > 7 ? '+' : '');
    let text = `${formatAddress(cpu.segSel[CS] & 0xffff, i.eip, cpu.code32)}  ${bytes.padEnd(21)}  ${annotateTarget(i, cpu.segBase[CS], symbols)}`;
    if (a === eipLin) text = style.bold(text);
    if (a === cursor && a !== eipLin) text = style.underline(text);
    lines.push(`${mark}${text}`);
    addrs.push(a);
    if (i.bytes.length === 0) break;
    a = (a + i.bytes.length) >>> 0;
  }
  return { lines, addrs };
}
