// Addresses typed into the TUI's command line. Numbers are hex (0x optional), as in
// DEBUG.COM and most monitors; "seg:off" is a real-mode style address (seg*16+off);
// register names give their value ("eip" and "esp"/"sp" give the linear address);
// symbols from the symbol table; one "+N" or "-N" offset may follow.
import { CS, SS } from '../../cpu/consts';
import type { Debugger, RegisterSnapshot } from '../debugger';
import { REGISTER_NAMES } from '../debugger';
import type { SymbolTable } from '../symbols';

function term(t: string, dbg: Debugger, symbols: SymbolTable | null): number | null {
  const s = t.trim().replace(/^\$/, '').toLowerCase();
  if (s === '') return null;
  if (s === 'eip' || s === 'ip' || s === 'pc') return dbg.linearOfEip();
  if (s === 'esp' || s === 'sp') return (dbg.cpu.segBase[SS] + (dbg.cpu.stack32 ? dbg.cpu.r32[4] >>> 0 : dbg.cpu.r16[8])) >>> 0;
  if ((REGISTER_NAMES as readonly string[]).includes(s)) return dbg.regs()[s as keyof RegisterSnapshot];
  const sym = symbols?.resolve(t.trim());
  if (sym !== undefined) return sym;
  const seg = /^(?:0x)?([0-9a-f]{1,4}):(?:0x)?([0-9a-f]{1,8})$/.exec(s);
  if (seg) return (parseInt(seg[1], 16) * 16 + parseInt(seg[2], 16)) >>> 0;
  if (s === 'cs:ip' || s === 'cs:eip') return (dbg.cpu.segBase[CS] + dbg.cpu.eip) >>> 0;
  const m = /^(?:0x)?([0-9a-f]{1,8})$/.exec(s);
  return m ? parseInt(m[1], 16) : null;
}

/** The linear address `s` names, or null when it names nothing. */
export function parseAddrExpr(s: string, dbg: Debugger, symbols: SymbolTable | null): number | null {
  const m = /^(.*?[^+-])\s*([+-])\s*(?:0x)?([0-9a-f]+)$/i.exec(s.trim());
  if (m) {
    const base = term(m[1], dbg, symbols);
    if (base === null) return term(s, dbg, symbols);
    const off = parseInt(m[3], 16);
    return (m[2] === '+' ? base + off : base - off) >>> 0;
  }
  return term(s, dbg, symbols);
}
